"""Every setting is documented: .env.example and docs/configuration.md name each Settings field."""

import re

import pytest

from app.core.config import PROJECT_ROOT, Settings

DOCUMENTS = (".env.example", "docs/configuration.md")


@pytest.mark.parametrize("document", DOCUMENTS)
def test_every_setting_is_documented(document):
    text = (PROJECT_ROOT / document).read_text()
    named = set(re.findall(r"\b[A-Z][A-Z0-9_]{2,}\b", text))
    missing = sorted(name.upper() for name in Settings.model_fields if name.upper() not in named)
    assert not missing, f"{document} does not document: {', '.join(missing)}"


def test_env_example_shows_the_real_defaults():
    """`# NAME=value` lines in .env.example carry the default the code uses (scalars only)."""
    shown = dict(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=(.*)$", (PROJECT_ROOT / ".env.example").read_text(), re.M))
    wrong = []
    for name, field in Settings.model_fields.items():
        default = field.default
        if name.upper() not in shown or not isinstance(default, (bool, int, float, str)) or default is None:
            continue
        value = shown[name.upper()].strip()
        expected = str(default).lower() if isinstance(default, bool) else str(default)
        if value.lower() != expected.lower() and not (isinstance(default, float) and _same_number(value, default)):
            wrong.append(f"{name.upper()}={value} (default {default})")
    assert not wrong, "stale defaults in .env.example: " + "; ".join(wrong)


def _same_number(text: str, number: float) -> bool:
    try:
        return float(text) == number
    except ValueError:
        return False
