"""Named points for fault-injection tests (in the manner of FoundationDB's and TiKV's failpoints).

`AGENTLINE_FAILPOINTS=outbox.after_commit` makes the process die with SIGKILL semantics (os._exit, no
cleanup, no flush) when it reaches that point. A test in the same process may instead run an action there
(`acting`): hold one request at a point while another arrives, so a race becomes a sequence that happens
the same way on every run. Unset in every real deployment; reading one environment variable and looking in
an empty dict is the whole cost.
"""

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager

_ACTIVE = frozenset(filter(None, os.environ.get("AGENTLINE_FAILPOINTS", "").split(",")))
_ACTIONS: dict[str, Callable[[], None]] = {}


def failpoint(name: str) -> None:
    if name in _ACTIVE:
        os._exit(137)
    action = _ACTIONS.get(name)
    if action is not None:
        action()


@contextmanager
def acting(name: str, action: Callable[[], None]) -> Iterator[None]:
    """Run `action` in whichever thread reaches the point `name`, until the block ends."""
    _ACTIONS[name] = action
    try:
        yield
    finally:
        _ACTIONS.pop(name, None)
