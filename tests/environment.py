"""Settings of the test process through its environment, as a deployment sets them."""

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from app.core.config import get_settings


@contextmanager
def process_settings(defaults: dict[str, str], names: tuple[str, ...]) -> Iterator[Callable[..., None]]:
    """Yields configure(NAME=value, …): `names` unset, then `defaults` and the values given, for this process
    until the block ends, when every name is put back as it was."""
    saved = {name: os.environ.get(name) for name in (*defaults, *names)}

    def configure(**values: str) -> None:
        for name in saved:
            os.environ.pop(name, None)
        os.environ.update({**defaults, **values})
        get_settings.cache_clear()

    configure()
    try:
        yield configure
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        get_settings.cache_clear()
