"""Money: the currency table, the one rounding helper and the API amount type."""

import json
import re
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError, field_validator

from app.core import money
from app.core.money import Amount, Currency, InvalidMoney, NonNegativeAmount, PositiveAmount


class Priced(BaseModel):
    currency: Currency
    price: PositiveAmount

    _fits = field_validator("price")(money.fits_sibling_currency)


class Balance(BaseModel):
    currency: Currency
    total: NonNegativeAmount
    change: Amount | None = None

    _fits = field_validator("total", "change")(money.fits_sibling_currency)


def _errors(model: type[BaseModel], data: dict) -> list[tuple[tuple, str]]:
    with pytest.raises(ValidationError) as caught:
        model.model_validate(data)
    return [(error["loc"], error["msg"]) for error in caught.value.errors()]


@pytest.mark.parametrize(("currency", "places"), [("EUR", 2), ("USD", 2), ("GBP", 2), ("CHF", 2), ("JPY", 0),
                                                   ("KRW", 0), ("ISK", 0), ("KWD", 3), ("BHD", 3), ("TND", 3),
                                                   ("CLF", 4)])
def test_minor_units_follow_iso_4217(currency, places):
    assert money.minor_unit(currency) == places


def test_an_unknown_currency_has_no_minor_unit():
    with pytest.raises(ValueError, match="XYZ"):
        money.minor_unit("XYZ")


@pytest.mark.parametrize(("amount", "currency", "expected"), [
    ("12.345", "EUR", "12.35"), ("12.344", "EUR", "12.34"), ("-12.345", "EUR", "-12.35"), ("0.005", "USD", "0.01"),
    ("2.5", "JPY", "3"), ("-2.5", "JPY", "-3"), ("1.0005", "KWD", "1.001"), ("7", "EUR", "7.00"),
])
def test_quantize_rounds_half_up_to_the_minor_unit(amount, currency, expected):
    result = money.quantize(Decimal(amount), currency)
    assert money.format_amount(result) == expected


def test_amounts_are_written_without_an_exponent():
    assert money.format_amount(Decimal("1E+3")) == "1000"
    assert money.format_amount(Decimal("1E-4")) == "0.0001"


def test_the_model_checks_the_amount_against_its_currency():
    assert _errors(Priced, {"currency": "EUR", "price": "12.345"}) == [
        (("price",), "12.345 has more decimals than EUR allows (at most 2 decimals)")]
    assert _errors(Priced, {"currency": "JPY", "price": "100.5"}) == [
        (("price",), "100.5 has more decimals than JPY allows (no decimals)")]
    assert _errors(Priced, {"currency": "KWD", "price": "1.2345"}) == [
        (("price",), "1.2345 has more decimals than KWD allows (at most 3 decimals)")]


def test_amounts_are_kept_at_the_minor_unit_and_serialised_as_strings():
    assert Priced.model_validate({"currency": "eur", "price": "12.5"}).model_dump_json() == \
        '{"currency":"EUR","price":"12.50"}'
    assert Priced.model_validate({"currency": "JPY", "price": 1200}).model_dump_json() == \
        '{"currency":"JPY","price":"1200"}'
    # Trailing zeros beyond the minor unit do not make a value unrepresentable.
    assert Priced.model_validate({"currency": "EUR", "price": "3.1000"}).price == Decimal("3.10")
    assert Priced.model_validate({"currency": "KWD", "price": " 1.5 "}).model_dump(mode="json")["price"] == "1.500"


@pytest.mark.parametrize(("value", "message"), [
    (12.5, "not a JSON number with a fraction"),
    (True, "written as a string"),
    ("12,50", "is not a decimal number"),
    ("1e3", "is not a decimal number"),
    ("NaN", "is not a decimal number"),
    ("", "is not a decimal number"),
    ("12.34567", "more than 4 decimals"),
    ("123456789012345", "too large"),
    ([1], "written as a string"),
])
def test_malformed_amounts_are_refused_with_a_clear_message(value, message):
    [(location, text)] = _errors(Priced, {"currency": "EUR", "price": value})
    assert location == ("price",) and message in text


def test_signs_are_checked_where_the_type_says():
    assert _errors(Priced, {"currency": "EUR", "price": "0"}) == [(("price",), "must be greater than zero, not 0")]
    assert _errors(Priced, {"currency": "EUR", "price": "-1"}) == [(("price",), "must be greater than zero, not -1")]
    assert _errors(Balance, {"currency": "EUR", "total": "-0.01"}) == [(("total",), "may not be negative (-0.01)")]
    assert Balance.model_validate({"currency": "EUR", "total": "0", "change": "-3.5"}).change == Decimal("-3.50")


def test_an_invalid_currency_is_that_fields_error_alone():
    assert _errors(Priced, {"currency": "EURO", "price": "12.345"}) == [
        (("currency",), "'EURO' is not an ISO 4217 currency code this service supports (for example EUR, USD, JPY)")]


def test_the_json_schema_says_amounts_are_strings():
    schema = Priced.model_json_schema(mode="serialization")["properties"]["price"]
    assert schema["type"] == "string"
    assert Priced.model_json_schema()["properties"]["currency"]["pattern"] == "^[A-Z]{3}$"


def test_services_get_a_422_problem_for_an_amount_that_does_not_fit():
    assert money.checked(Decimal("12.3"), "EUR", "list_price") == Decimal("12.30")
    with pytest.raises(InvalidMoney) as caught:
        money.checked(Decimal("12.3"), "JPY", "list_price")
    assert caught.value.status == 422
    assert caught.value.extra["errors"] == [{"field": "list_price", "type": "money",
                                             "message": "12.3 has more decimals than JPY allows (no decimals)"}]


currencies = st.sampled_from(sorted(money.MINOR_UNITS))
amounts = st.decimals(min_value=Decimal("-99999999999999"), max_value=Decimal("99999999999999"), places=4,
                      allow_nan=False, allow_infinity=False)


@given(amounts, currencies)
def test_quantize_is_the_nearest_amount_at_the_minor_unit(amount, currency):
    result = money.quantize(amount, currency)
    unit = Decimal(1).scaleb(-money.minor_unit(currency))
    assert result.as_tuple().exponent == -money.minor_unit(currency)
    assert abs(result - amount) <= unit / 2
    assert money.quantize(result, currency) == result
    # Half up: a tie goes away from zero, so rounding is symmetric around zero.
    assert money.quantize(-amount, currency) == -result


@given(amounts, currencies)
def test_an_amount_fits_its_currency_exactly_when_quantize_would_not_change_it(amount, currency):
    fits = money.quantize(amount, currency) == amount
    try:
        value = Balance.model_validate({"currency": currency, "total": "0", "change": money.format_amount(amount)})
    except ValidationError:
        assert not fits
    else:
        assert fits and value.change == amount


@given(amounts, currencies)
def test_an_amount_survives_its_json_round_trip(amount, currency):
    value = money.quantize(amount, currency)
    dumped = Balance(currency=currency, total=abs(value), change=value).model_dump_json()
    assert Balance.model_validate_json(dumped) == Balance(currency=currency, total=abs(value), change=value)
    written = json.loads(dumped)
    assert re.fullmatch(r"-?\d+(\.\d+)?", written["change"]) and re.fullmatch(r"\d+(\.\d+)?", written["total"])
