"""Facts read out of text by rules, for the agents' guardrails and their offline answers: the numbers a
text states, company-size ranges ("50 to 500 employees"), sentences, word stems, countries and regions.

Plain functions of strings, deterministic, with their own tests (tests/agents/test_facts.py). They are
deliberately simple: a guardrail built on them errs on the side of asking (a repair, a reviewer), and an
offline answer built on them only has to read plausibly.
"""

import re
from decimal import Decimal, InvalidOperation

# A number as prose writes it: 120, 1,000, 2.5, 30 (in 30%). Digits glued to a letter before them are a
# name, not a quantity (B2B, Q3, H1).
_NUMBER = re.compile(r"(?<![A-Za-z0-9.,])\d+(?:[.,]\d+)*")
_THOUSANDS = re.compile(r"^\d{1,3}(?:,\d{3})+(?:\.\d+)?$")


def numbers_in(text: str) -> set[Decimal]:
    """Every number `text` states, as values: "1,000" and "1000" are the same number, "2.50" is 2.5."""
    found: set[Decimal] = set()
    for match in _NUMBER.finditer(text):
        value = _value(match.group().rstrip(".,"))
        if value is not None:
            found.add(value)
    return found


def _value(token: str) -> Decimal | None:
    if _THOUSANDS.match(token) or ("," in token and "." in token):
        token = token.replace(",", "")
    elif token.count(",") == 1 and "." not in token:
        token = token.replace(",", ".")  # a decimal comma: 2,5
    elif "," in token:
        token = token.replace(",", "")
    try:
        return Decimal(token).normalize()
    except InvalidOperation:
        return None


# --- company sizes ----------------------------------------------------------------------------------

_COUNT = r"(\d{1,3}(?:,\d{3})+|\d+)(k)?"
_UNIT = r"\s*\+?\s*(?:employees|people|staff|ftes?|seats|users|headcount|person)"
_BETWEEN = re.compile(rf"(?:between\s+)?{_COUNT}\s*(?:-|–|—|to|and)\s*{_COUNT}{_UNIT}", re.IGNORECASE)
_AT_LEAST = re.compile(rf"(?:at least|more than|over|above|minimum of|from|min\.?)\s+{_COUNT}{_UNIT}", re.IGNORECASE)
_PLUS = re.compile(rf"{_COUNT}\s*\+{_UNIT}", re.IGNORECASE)
_AT_MOST = re.compile(rf"(?:up to|fewer than|less than|under|below|at most|maximum of|max\.?)\s+{_COUNT}{_UNIT}",
                      re.IGNORECASE)

SizeRange = tuple[int | None, int | None]


def _count(digits: str, thousands: str | None) -> int:
    return int(digits.replace(",", "")) * (1000 if thousands else 1)


def size_range(text: str) -> SizeRange | None:
    """The first company-size range `text` states, as (low, high) with None for an open end:
    "50 to 500 employees" → (50, 500), "200+ employees" → (200, None), "up to 50 seats" → (None, 50)."""
    found: list[tuple[int, SizeRange]] = []
    if match := _BETWEEN.search(text):
        found.append((match.start(), (_count(match[1], match[2]), _count(match[3], match[4]))))
    if match := _AT_LEAST.search(text):
        found.append((match.start(), (_count(match[1], match[2]), None)))
    if match := _PLUS.search(text):
        found.append((match.start(), (_count(match[1], match[2]), None)))
    if match := _AT_MOST.search(text):
        found.append((match.start(), (None, _count(match[1], match[2]))))
    return min(found)[1] if found else None


def in_range(size: int, bounds: SizeRange) -> bool:
    low, high = bounds
    return (low is None or size >= low) and (high is None or size <= high)


def near_range(size: int, bounds: SizeRange, tolerance: float = 0.5) -> bool:
    """Outside the range, but by less than `tolerance` of the nearer bound."""
    low, high = bounds
    if low is not None and size < low:
        return size >= low * (1 - tolerance)
    if high is not None and size > high:
        return size <= high * (1 + tolerance)
    return False


def describe_range(bounds: SizeRange) -> str:
    low, high = bounds
    if low is not None and high is not None:
        return f"{low} to {high}"
    return f"at least {low}" if low is not None else f"at most {high}"


# --- words and sentences ----------------------------------------------------------------------------

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_HEADING = re.compile(r"^\s*#+\s*")
_LIST_ITEM = re.compile(r"^\s*(?:[-*+>]|\d+[.)])\s+")
_WORD = re.compile(r"[a-z0-9]+")
_SUFFIXES = ("ing", "ers", "ies", "er", "es", "s")
STOP_WORDS = frozenset(
    "a an and are as at be by for from has have in is it its of on or our the their they this to we with you your"
    .split())


def passages(text: str) -> list[tuple[str, str]]:
    """(heading, sentence) for every sentence of `text`, in order: Markdown headings are not sentences but
    the context of those under them ("Who is not a fit"); list items and paragraphs are split into
    sentences, and a line wrapped inside a sentence is joined to it."""
    blocks: list[tuple[str, str]] = []
    heading, joinable = "", False
    for line in text.splitlines():
        if not line.strip():
            joinable = False
        elif _HEADING.match(line):
            heading, joinable = _HEADING.sub("", line).strip(), False
        elif joinable and not _LIST_ITEM.match(line):
            blocks[-1] = (heading, f"{blocks[-1][1]} {line.strip()}")
        else:
            blocks.append((heading, _LIST_ITEM.sub("", line).strip()))
            joinable = True
    return [(context, sentence.strip()) for context, block in blocks
            for sentence in _SENTENCE_END.split(block) if sentence.strip()]


def sentences(text: str) -> list[str]:
    return [sentence for _, sentence in passages(text)]


def stem(word: str) -> str:
    """A crude English stem, enough to meet "manufacturers" with "manufacturing"."""
    word = word.lower()
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            return word[:-len(suffix)]
    return word


def stems(text: str) -> list[str]:
    return [stem(word) for word in _WORD.findall(text.lower()) if word not in STOP_WORDS]


def mentions_all(text: str, phrase: str) -> bool:
    """True when every significant word of `phrase` appears in `text`, up to its stem."""
    wanted = set(stems(phrase))
    return bool(wanted) and wanted <= set(stems(text))


# --- countries and regions --------------------------------------------------------------------------

# ISO 3166-1 alpha-2 → (name, the regions a sales team says it covers). The countries a B2B team is
# likely to write in an ICP; a code outside the table is judged by the code alone.
_EU = ("europe", "european", "eu", "emea")
COUNTRIES: dict[str, tuple[str, tuple[str, ...]]] = {
    "AT": ("Austria", (*_EU, "dach")), "BE": ("Belgium", (*_EU, "benelux")), "BG": ("Bulgaria", _EU),
    "HR": ("Croatia", _EU), "CY": ("Cyprus", _EU), "CZ": ("Czechia", _EU), "DK": ("Denmark", (*_EU, "nordics")),
    "EE": ("Estonia", (*_EU, "baltics")), "FI": ("Finland", (*_EU, "nordics")), "FR": ("France", _EU),
    "DE": ("Germany", (*_EU, "dach")), "GR": ("Greece", _EU), "HU": ("Hungary", _EU), "IE": ("Ireland", _EU),
    "IT": ("Italy", _EU), "LV": ("Latvia", (*_EU, "baltics")), "LT": ("Lithuania", (*_EU, "baltics")),
    "LU": ("Luxembourg", (*_EU, "benelux")), "MT": ("Malta", _EU), "NL": ("Netherlands", (*_EU, "benelux")),
    "PL": ("Poland", _EU), "PT": ("Portugal", _EU), "RO": ("Romania", _EU), "SK": ("Slovakia", _EU),
    "SI": ("Slovenia", _EU), "ES": ("Spain", _EU), "SE": ("Sweden", (*_EU, "nordics")),
    "NO": ("Norway", ("europe", "european", "emea", "nordics")),
    "IS": ("Iceland", ("europe", "european", "emea", "nordics")),
    "CH": ("Switzerland", ("europe", "european", "emea", "dach")),
    "GB": ("United Kingdom", ("europe", "european", "emea", "uk", "britain")),
    "US": ("United States", ("north america", "americas", "usa")), "CA": ("Canada", ("north america", "americas")),
    "MX": ("Mexico", ("latin america", "latam", "americas")), "BR": ("Brazil", ("latin america", "latam", "americas")),
    "AR": ("Argentina", ("latin america", "latam", "americas")),
    "CL": ("Chile", ("latin america", "latam", "americas")),
    "CO": ("Colombia", ("latin america", "latam", "americas")),
    "AU": ("Australia", ("apac", "anz")), "NZ": ("New Zealand", ("apac", "anz")), "JP": ("Japan", ("apac", "asia")),
    "SG": ("Singapore", ("apac", "asia")), "IN": ("India", ("apac", "asia")), "CN": ("China", ("apac", "asia")),
    "KR": ("South Korea", ("apac", "asia")), "AE": ("United Arab Emirates", ("emea", "middle east")),
    "IL": ("Israel", ("emea", "middle east")), "ZA": ("South Africa", ("emea", "africa")),
}
REGION_WORDS = frozenset(region for _, regions in COUNTRIES.values() for region in regions) | frozenset(
    name.lower() for name, _ in COUNTRIES.values())


def _has_phrase(text: str, phrase: str) -> bool:
    return re.search(rf"(?<![a-z]){re.escape(phrase)}(?![a-z])", text) is not None


def country_name(code: str) -> str:
    return COUNTRIES.get(code.upper(), (code.upper(), ()))[0]


_WITH_ARTICLE = frozenset({"GB", "US", "NL", "AE"})


def country_phrase(code: str) -> str:
    """The country's name as a sentence uses it: "Germany", "the Netherlands"."""
    return f"the {country_name(code)}" if code.upper() in _WITH_ARTICLE else country_name(code)


def country_served(text: str, code: str) -> str | None:
    """The words of `text` that name country `code` or a region it is in ("Germany", "DACH"), if any."""
    lowered = text.lower()
    name, regions = COUNTRIES.get(code.upper(), (code.upper(), ()))
    for phrase in (name.lower(), *regions):
        if _has_phrase(lowered, phrase):
            return phrase
    if re.search(rf"(?<![A-Za-z]){re.escape(code.upper())}(?![A-Za-z])", text):
        return code.upper()
    return None


def names_a_region(text: str) -> bool:
    lowered = text.lower()
    return any(_has_phrase(lowered, phrase) for phrase in REGION_WORDS)
