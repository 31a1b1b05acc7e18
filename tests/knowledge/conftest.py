import pytest

from app.core.config import get_settings


@pytest.fixture
def settings_env(monkeypatch):
    """Set environment settings for this test (the in-process API and services read them)."""

    def apply(**values: str) -> None:
        for name, value in values.items():
            monkeypatch.setenv(name.upper(), value)
        get_settings.cache_clear()

    yield apply
    monkeypatch.undo()
    get_settings.cache_clear()
