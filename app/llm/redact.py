"""Redaction of what llm_logs keeps: prompts and completions carry leads' emails and phone numbers, and a
pasted credential must never reach a log table that every viewer of the tenant can read.

Rules run in a fixed order, most specific first, so a key that contains digits is reported as a key and not
as a phone number. Each match is replaced by a typed marker (`[email]`, `[phone]`, `[card]`, `[secret]`), so
a reader still sees what kind of value was there. Values under keys that name a credential
(`api_key`, `authorization`, …) are replaced whole, whatever they look like.
"""

import re
from collections.abc import Callable
from functools import lru_cache
from typing import Any

SECRET = "[secret]"

_SECRET_PATTERNS = [
    # Provider keys: OpenAI (sk-…, sk-proj-…), Anthropic (sk-ant-…), AWS access key ids, GitHub, Slack.
    r"\bsk-[A-Za-z0-9_-]{16,}",
    r"\bAKIA[0-9A-Z]{16}\b",
    r"\bgh[pousr]_[A-Za-z0-9]{30,}",
    r"\bxox[abprs]-[A-Za-z0-9-]{10,}",
    # Agentline's own API keys: al_<prefix>_<secret>.
    r"\bal_[0-9a-f]{12}_[A-Za-z0-9_-]{20,}",
    # JSON Web Tokens (three base64url parts, the first two JSON objects starting with '{"').
    r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}",
]
_SECRET = re.compile("|".join(f"(?:{pattern})" for pattern in _SECRET_PATTERNS))
# "Bearer abc…", "api_key=abc…", "password: hunter2": keep the label, drop the value. Only "Bearer" may be
# followed by a bare space; "token budget" or "password reset" in prose must survive.
_LABELLED_SECRET = re.compile(
    r"(?i)\b(bearer)(\s+)(?=[A-Za-z0-9._~+/-]{8,})[A-Za-z0-9._~+/-]+=*"
    r"|\b(api[_-]?key|access[_-]?token|secret|password|passwd|token)(\s*[:=]\s*)[^\s\"',;]{4,}"
)
_EMAIL = re.compile(r"(?<![\w.+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b")
# 13 to 19 digits, optionally grouped by single spaces or dashes: every card number length in use.
_CARD_CANDIDATE = re.compile(r"(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d-])")
# International (+country) or grouped national numbers. Digits are counted afterwards (8 to 15, E.164).
_PHONE_CANDIDATE = re.compile(
    r"(?<![\w+-])(?:\+\d{1,3}[ .-]?)?(?:\(\d{1,4}\)[ .-]?)?\d{2,4}(?:[ .-]\d{2,8}){1,4}(?![\w-])"
    r"|(?<![\w+-])\+\d{8,15}\b"
)
_DATE = re.compile(r"\d{4}[.-]\d{1,2}[.-]\d{1,2}|\d{1,2}[.-]\d{1,2}[.-]\d{4}")
_SECRET_KEY_NAMES = re.compile(r"(?i)(api[_-]?key|authorization|password|passwd|secret|access[_-]?token|"
                               r"refresh[_-]?token|cookie)")


def _luhn_valid(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 1:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def _card(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group())
    # Order numbers and ids are long digit runs too; only a number passing the card checksum is a card.
    return "[card]" if _luhn_valid(digits) else match.group()


def _labelled_secret(match: re.Match[str]) -> str:
    label, separator = (match.group(1), match.group(2)) if match.group(1) else (match.group(3), match.group(4))
    return f"{label}{separator}{SECRET}"


def _phone(match: re.Match[str]) -> str:
    text = match.group()
    digits = sum(char.isdigit() for char in text)
    if not 8 <= digits <= 15 or _DATE.fullmatch(text):
        return text
    return "[phone]"


_SECRET_PREFIXES = ("sk-", "AKIA", "ghp_", "gho_", "ghu_", "ghs_", "ghr_", "xox", "al_", "eyJ")
_SECRET_LABELS = ("bearer", "api_key", "api-key", "apikey", "access_token", "access-token", "secret", "passw",
                  "token")
# Cheap scans that every match of the rule's pattern must also match: the patterns' lookarounds make them
# slow to run over long prompts, and most prompt text contains no candidate at all.
_LONG_DIGIT_RUN = re.compile(r"\d[\d -]{11,}\d")
_PHONE_LIKE_RUN = re.compile(r"\d[\d ().+-]{6,}\d")

def _has_secret_label(text: str) -> bool:
    lowered = text.lower()
    return any(label in lowered for label in _SECRET_LABELS)


_Rule = tuple[Callable[[str], bool], re.Pattern[str], str | Callable[[re.Match[str]], str]]
_RULES: list[_Rule] = [
    (lambda text: any(prefix in text for prefix in _SECRET_PREFIXES), _SECRET, SECRET),
    (_has_secret_label, _LABELLED_SECRET, _labelled_secret),
    (lambda text: "@" in text, _EMAIL, "[email]"),
]
# Every card number is also a phone-like run (the run's characters and length include the card's), so text
# without a phone-like run skips both rules on one scan.
_DIGIT_RULES: list[_Rule] = [
    (lambda text: _LONG_DIGIT_RUN.search(text) is not None, _CARD_CANDIDATE, _card),
    (lambda text: _PHONE_LIKE_RUN.search(text) is not None, _PHONE_CANDIDATE, _phone),
]


def redact_text(text: str) -> str:
    return _redact_text(text, _ANYTHING)


# For `_redact_text`: which pre-checks can pass, the three `_RULES` then the digit rules' common one.
_ANYTHING = (True, True, True, True)


def _redact_text(text: str, possible: tuple[bool, ...]) -> str:
    """`possible[i]` False: rule i's pre-check fails on every string of the value being redacted, so on this
    one too as long as no earlier rule has changed it (a replacement may contain what a later check looks
    for, `[secret]` for instance); then the check is not run again."""
    original = text
    for (may_match, pattern, replacement), maybe in zip(_RULES, possible):
        if (maybe or text != original) and may_match(text):
            text = pattern.sub(replacement, text)
    if (possible[3] or text != original) and _PHONE_LIKE_RUN.search(text) is not None:
        for may_match, pattern, replacement in _DIGIT_RULES:
            if may_match(text):
                text = pattern.sub(replacement, text)
    return text


@lru_cache(maxsize=1024)
def _secret_key(key: str) -> bool:
    """Field names are few and repeat on every call."""
    return _SECRET_KEY_NAMES.search(key) is not None


def redact(value: Any) -> Any:
    """A copy of a JSON-like value with every string redacted and credential-named fields blanked.

    The rules' pre-checks run once over all the value's strings joined (a string's candidate is one of the
    joined text, and the newline between strings starts none), not once per string: a request is a handful
    of strings, most of which have no candidate for any rule."""
    strings: list[str] = []
    _strings(value, strings)
    if not strings:
        return _redacted(value, _ANYTHING)
    joined = "\n".join(strings)
    possible = (*(may_match(joined) for may_match, _, _ in _RULES), _PHONE_LIKE_RUN.search(joined) is not None)
    return _redacted(value, possible)


def _strings(value: Any, out: list[str]) -> None:
    if isinstance(value, str):
        out.append(value)
    elif isinstance(value, dict):
        for item in value.values():
            _strings(item, out)
    elif isinstance(value, (list, tuple)):
        for item in value:
            _strings(item, out)


def _redacted(value: Any, possible: tuple[bool, ...]) -> Any:
    if isinstance(value, str):
        return _redact_text(value, possible)
    if isinstance(value, dict):
        return {
            key: SECRET if isinstance(key, str) and _secret_key(key) and item else _redacted(item, possible)
            for key, item in value.items()
        }
    if isinstance(value, (list, tuple)):
        return [_redacted(item, possible) for item in value]
    return value
