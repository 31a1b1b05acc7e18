"""Money, in one place: ISO 4217 currencies and their minor units, the one rounding helper, and the
Pydantic type for amounts in the API.

Money is a `Decimal` next to its currency, never a float. Amounts are rounded to the currency's minor
unit by `quantize` (half up, away from zero on ties) at the points a domain states, and travel in JSON as
strings ("1250.00"), so no client parses them into a binary float.

The currency table is written out here rather than taken from a library: ISO 4217's minor units change
a handful of times a decade, and the libraries that carry them either have no minor units (pycountry) or
take them from CLDR (Babel, py-moneyed), whose display digits differ from ISO 4217 for several currencies
(IQD, IRR, LAK, LBP, RSD, ...), while invoices (EN 16931) must follow ISO 4217. Fund codes, precious
metals and withdrawn currencies are left out: nobody prices a package in them.
"""

import re
from decimal import ROUND_HALF_UP, Decimal
from typing import Annotated, Any

from collections.abc import Callable

from pydantic import AfterValidator, BeforeValidator, PlainSerializer, ValidationInfo, WithJsonSchema
from pydantic_core import PydanticCustomError

from app.core.errors import UnprocessableEntity

# Active ISO 4217 currencies with two decimals, the usual case.
_TWO_DECIMALS = """
    AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BRL BSD BTN BWP BYN BZD CAD CDF CHF
    CNY COP CRC CUP CVE CZK DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GTQ GYD HKD HNL HTG HUF
    IDR ILS INR IRR JMD KES KGS KHR KPW KYD KZT LAK LBP LKR LRD LSL MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR
    MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD PAB PEN PGK PHP PKR PLN QAR RON RSD RUB SAR SBD SCR SDG SEK SGD
    SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TOP TRY TTD TWD TZS UAH USD UYU UZS VED VES WST XCD XCG
    YER ZAR ZMW ZWG
""".split()
_ZERO_DECIMALS = "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX VND VUV XAF XOF XPF".split()
_THREE_DECIMALS = "BHD IQD JOD KWD LYD OMR TND".split()
_FOUR_DECIMALS = "CLF UYW".split()

MINOR_UNITS: dict[str, int] = {
    **dict.fromkeys(_TWO_DECIMALS, 2), **dict.fromkeys(_ZERO_DECIMALS, 0),
    **dict.fromkeys(_THREE_DECIMALS, 3), **dict.fromkeys(_FOUR_DECIMALS, 4),
}

# What the database holds (NUMERIC(18, 4)): 14 digits before the point, 4 after.
MAX_INTEGER_DIGITS = 14
MAX_DECIMALS = 4
_AMOUNT = re.compile(r"-?\d+(\.\d+)?")
_MAX_TEXT = 64


def check_currency(code: Any) -> str:
    """The ISO 4217 code, upper-cased; ValueError for anything else (the validator of `Currency`)."""
    if not isinstance(code, str):
        raise ValueError("must be an ISO 4217 currency code such as EUR")
    normalised = code.strip().upper()
    if normalised not in MINOR_UNITS:
        raise ValueError(f"'{code}' is not an ISO 4217 currency code this service supports (for example EUR, "
                         "USD, JPY)")
    return normalised


def minor_unit(currency: str) -> int:
    """The number of decimals of `currency`'s minor unit: 2 for EUR, 0 for JPY, 3 for KWD."""
    try:
        return MINOR_UNITS[currency]
    except KeyError:
        raise ValueError(f"'{currency}' is not a supported ISO 4217 currency code") from None


def quantize(amount: Decimal, currency: str) -> Decimal:
    """`amount` rounded half up to `currency`'s minor unit: the one rounding helper."""
    return amount.quantize(Decimal(1).scaleb(-minor_unit(currency)), rounding=ROUND_HALF_UP)


def decimals_of(amount: Decimal) -> int:
    """How many decimals `amount` needs (trailing zeros do not count: 12.50 needs 1)."""
    exponent = amount.normalize().as_tuple().exponent
    assert isinstance(exponent, int)  # a finite number, as every parsed amount is
    return max(0, -exponent)


def fits_currency(amount: Decimal, currency: str) -> Decimal:
    """`amount` at `currency`'s minor unit, if it has no more decimals than that allows; else ValueError.

    Never rounds: an amount with too many decimals is refused, not silently changed."""
    places = minor_unit(currency)
    if decimals_of(amount) > places:
        allowed = "no decimals" if places == 0 else f"at most {places} decimal{'s' if places > 1 else ''}"
        raise ValueError(f"{format_amount(amount.normalize())} has more decimals than {currency} allows ({allowed})")
    return quantize(amount, currency)


def format_amount(amount: Decimal) -> str:
    """Plain decimal notation, never an exponent: Decimal('1E+3') is "1000"."""
    return format(amount, "f")


def parse_amount(value: Any) -> Decimal:
    """A JSON or CSV amount: a string of digits with an optional sign and decimal point, an integer, or a
    Decimal. Floats are refused: a binary float cannot hold most decimal amounts exactly, and a client that
    sends one has already lost precision we cannot see."""
    if isinstance(value, bool):
        raise ValueError("must be a decimal number written as a string, such as \"1250.00\"")
    if isinstance(value, float):
        raise ValueError("must be a string such as \"1250.00\", not a JSON number with a fraction: "
                         "send money amounts as strings")
    if isinstance(value, int):
        amount = Decimal(value)
    elif isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError("must be a finite number")
        amount = value
    elif isinstance(value, str):
        text = value.strip()
        if len(text) > _MAX_TEXT or not _AMOUNT.fullmatch(text):
            raise ValueError(f"'{value[:_MAX_TEXT]}' is not a decimal number such as \"1250.00\"")
        amount = Decimal(text)  # the pattern admits only what Decimal reads
    else:
        raise ValueError("must be a decimal number written as a string, such as \"1250.00\"")
    if decimals_of(amount) > MAX_DECIMALS:
        raise ValueError(f"{format_amount(amount)} has more than {MAX_DECIMALS} decimals")
    if amount and amount.adjusted() >= MAX_INTEGER_DIGITS:
        raise ValueError(f"{format_amount(amount)} is too large (at most {MAX_INTEGER_DIGITS} digits before the "
                         "decimal point)")
    return amount


def _positive(amount: Decimal) -> Decimal:
    if amount <= 0:
        raise ValueError(f"must be greater than zero, not {format_amount(amount)}")
    return amount


def _not_negative(amount: Decimal) -> Decimal:
    if amount < 0:
        raise ValueError(f"may not be negative ({format_amount(amount)})")
    return amount


def _reported(check: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """`check` as a Pydantic validator: its ValueError's message becomes the field's error, unprefixed."""
    def validator(value: Any) -> Any:
        try:
            return check(value)
        except ValueError as exc:
            raise PydanticCustomError("money", "{reason}", {"reason": str(exc)}) from None
    return validator


def fits_sibling_currency(amount: Decimal | None, info: ValidationInfo) -> Decimal | None:
    """A field validator for an amount whose currency is the model's `currency` field, declared before it:
    `_fits = field_validator("list_price")(fits_sibling_currency)`. A missing or invalid currency is that
    field's error, so the amount is then left alone."""
    currency = info.data.get("currency")
    if amount is None or currency is None:
        return amount
    return _reported(lambda value: fits_currency(value, currency))(amount)


_AMOUNT_PATTERN = r"^-?\d{1,14}(\.\d{1,4})?$"
_INPUT_SCHEMA = {
    "type": "string", "pattern": _AMOUNT_PATTERN, "examples": ["1250.00"],
    "description": "A decimal amount as a string (integers are accepted too, floats are not), with no more "
                   "decimals than its currency's minor unit allows",
}
_OUTPUT_SCHEMA = {"type": "string", "pattern": _AMOUNT_PATTERN, "examples": ["1250.00"],
                  "description": "A decimal amount as a string, at its currency's minor unit"}

# An amount in the API: Decimal in code, a string in JSON. Its currency lives in a sibling field, so the
# check against the currency's minor unit is the model's (`fits_currency`), or the service's on a PATCH.
Amount = Annotated[
    Decimal,
    BeforeValidator(_reported(parse_amount)),
    PlainSerializer(format_amount, return_type=str, when_used="json"),
    WithJsonSchema(_INPUT_SCHEMA, mode="validation"),
    WithJsonSchema(_OUTPUT_SCHEMA, mode="serialization"),
]
PositiveAmount = Annotated[Amount, AfterValidator(_reported(_positive))]
NonNegativeAmount = Annotated[Amount, AfterValidator(_reported(_not_negative))]
Currency = Annotated[
    str,
    BeforeValidator(_reported(check_currency)),
    WithJsonSchema({"type": "string", "pattern": "^[A-Z]{3}$", "examples": ["EUR"],
                    "description": "ISO 4217 currency code"}),
]


class InvalidMoney(UnprocessableEntity):
    """An amount that does not fit its currency, found where the schema alone could not see it (a PATCH
    of the amount alone, checked against the stored currency). Rendered like a validation error."""

    title = "Validation failed"

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}.", errors=[{"field": field, "message": message,
                                                          "type": "money"}])


# US dollars as a fixed-point string with the 8 decimals stored ("0.00255000", never "2.55E-3"): what model
# calls cost, from the price table of app.llm.
Usd = Annotated[Decimal, PlainSerializer(lambda value: f"{value:.8f}", return_type=str, when_used="json")]


def checked(amount: Decimal, currency: str, field: str) -> Decimal:
    """`fits_currency` for services: the amount at the currency's minor unit, or InvalidMoney (422)."""
    try:
        return fits_currency(amount, currency)
    except ValueError as exc:
        raise InvalidMoney(field, str(exc)) from None
