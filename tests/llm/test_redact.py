import pytest

from app.llm.redact import redact, redact_text


@pytest.mark.parametrize(("text", "expected"), [
    ("write to jane.doe+sales@acme.co.uk today", "write to [email] today"),
    ("CC: a@b.io, x_y@sub.example.org", "CC: [email], [email]"),
    ("call +1 (415) 555-2671 now", "call [phone] now"),
    ("office 030 1234567, mobile +44 7700 900123", "office [phone], mobile [phone]"),
    ("whatsapp +491701234567", "whatsapp [phone]"),
    ("US 415-555-2671.", "US [phone]."),
    ("card 4111 1111 1111 1111 exp 12/27", "card [card] exp 12/27"),
    ("amex 3782-822463-10005", "amex [card]"),
    ("key sk-proj-AbCdEfGhIjKlMnOpQrStUv123", "key [secret]"),
    ("anthropic sk-ant-api03-abcdefghijklmnopqrstu", "anthropic [secret]"),
    ("aws AKIAIOSFODNN7EXAMPLE ok", "aws [secret] ok"),
    ("gh ghp_abcdefghijklmnopqrstuvwxyz0123456789", "gh [secret]"),
    ("ours al_0123456789ab_Zm9vYmFyYmF6cXV4cXV1eDEyMzQ", "ours [secret]"),
    ("Authorization: Bearer abc.def-ghi_jkl", "Authorization: Bearer [secret]"),
    ("api_key=abcd1234 and password: hunter22", "api_key=[secret] and password: [secret]"),
    ("jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NSJ9.c2lnbmF0dXJlLXZhbHVl", "jwt [secret]"),
])
def test_sensitive_values_are_replaced_by_typed_markers(text, expected):
    assert redact_text(text) == expected


@pytest.mark.parametrize("text", [
    "Invoice INV-2024-000123 due on 2024-01-15 (or 15.01.2024) at 10:30",
    "Order 1234567890123 for 12000.00 EUR, 1 500 units",  # 13 digits, not a valid card number
    "Server 192.168.1.100 answered in 250 ms; version 2.14.3",
    "The token budget is exhausted; the password reset link expired.",
    "Score 82/100, bucket hot, 120 employees, uuid 550e8400-e29b-41d4-a716-446655440000",
])
def test_ordinary_business_text_is_left_alone(text):
    assert redact_text(text) == text


def test_structures_are_walked_and_credential_fields_blanked():
    value = {
        "messages": [{"role": "user", "content": "lead ada@engines.example"}],
        "headers": {"Authorization": "Basic dXNlcjpwYXNz", "X-Trace": "t-1"},
        "api_key": "anything at all",
        "max_tokens": 512,
        "nested": [("tuple", "call +1 415 555 2671")],
    }
    assert redact(value) == {
        "messages": [{"role": "user", "content": "lead [email]"}],
        "headers": {"Authorization": "[secret]", "X-Trace": "t-1"},
        "api_key": "[secret]",
        "max_tokens": 512,
        "nested": [["tuple", "call [phone]"]],
    }


SAMPLES = [
    "write to jane.doe+sales@acme.co.uk today", "call +1 (415) 555-2671 now", "card 4111 1111 1111 1111 exp 12/27",
    "key sk-proj-AbCdEfGhIjKlMnOpQrStUv123", "aws AKIAIOSFODNN7EXAMPLE ok", "api_key=abcd1234 and password: hunter22",
    "Authorization: Bearer abc.def-ghi_jkl", "Order 1234567890123 for 12000.00 EUR, 1 500 units",
    "The token budget is exhausted; the password reset link expired.", "Score 82/100, bucket hot",
    "secret", "=abcd1234", "sk-", "4111 1111", "1111 1111", "", "plain words only",
]


def _per_string(value):
    """The reference: every string redacted on its own, with every pre-check."""
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {k: "[secret]" if k in ("api_key", "Authorization") and v else _per_string(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_per_string(item) for item in value]
    return value


@pytest.mark.parametrize("first", range(len(SAMPLES)))
def test_a_structure_is_redacted_exactly_as_each_of_its_strings_alone(first):
    # Pre-checks run once over a structure's strings joined: the result must not depend on the neighbours.
    for second in range(len(SAMPLES)):
        for value in ({"system": SAMPLES[first], "messages": [{"role": "user", "content": SAMPLES[second]}],
                       "n": 3, "api_key": "x"},
                      [SAMPLES[first], SAMPLES[second]], (SAMPLES[second], {"x": SAMPLES[first]}),
                      SAMPLES[first] + SAMPLES[second]):
            assert redact(value) == _per_string(value), value
