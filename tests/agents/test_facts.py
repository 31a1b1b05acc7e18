"""Facts read out of text by rules: numbers, company-size ranges, sentences, stems, countries."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.agents import facts


def test_numbers_are_values_whatever_their_notation():
    assert facts.numbers_in("1,000 users, 1000 seats, 2.50 or 2,5 hours, 30% less") == {
        Decimal(1000), Decimal("2.5"), Decimal(30)}
    assert facts.numbers_in("Revenue grew 12.") == {Decimal(12)}


def test_digits_glued_to_letters_are_names_not_numbers():
    assert facts.numbers_in("B2B teams in Q3 with H1 goals") == set()
    assert facts.numbers_in("") == set()


@given(st.integers(min_value=0, max_value=10**9))
def test_any_integer_written_with_or_without_separators_is_found(number):
    assert facts.numbers_in(f"about {number} and {number:,} again") == {Decimal(number)}


@pytest.mark.parametrize(("text", "bounds"), [
    ("We sell to manufacturers with 50 to 500 employees.", (50, 500)),
    ("Companies between 1,000 and 5,000 people", (1000, 5000)),
    ("teams of 20-200 staff", (20, 200)),
    ("200+ employees", (200, None)),
    ("at least 50 employees", (50, None)),
    ("For teams of up to 50 seats.", (None, 50)),
    ("fewer than 10k employees", (None, 10000)),
    ("No size is mentioned here, only 30% savings.", None),
])
def test_size_ranges(text, bounds):
    assert facts.size_range(text) == bounds


def test_in_and_near_a_range():
    assert facts.in_range(50, (50, 500)) and facts.in_range(10**6, (200, None)) and facts.in_range(1, (None, 50))
    assert not facts.in_range(501, (50, 500))
    assert facts.near_range(700, (50, 500)) and facts.near_range(30, (50, 500))
    assert not facts.near_range(800, (50, 500)) and not facts.near_range(100, (50, 500))
    assert facts.describe_range((50, None)) == "at least 50"


def test_passages_carry_their_heading_and_join_wrapped_lines():
    text = ("# Ideal customer profile\n\nWe sell to manufacturers. Our buyers are COOs!\n- Europe only\n"
            "- Teams that sit all day cut stress by 23%\n  across 14 teams.\n\n## Who is not a fit\n"
            "1. Single-site retail.")
    assert facts.passages(text) == [
        ("Ideal customer profile", "We sell to manufacturers."), ("Ideal customer profile", "Our buyers are COOs!"),
        ("Ideal customer profile", "Europe only"),
        ("Ideal customer profile", "Teams that sit all day cut stress by 23% across 14 teams."),
        ("Who is not a fit", "Single-site retail."),
    ]
    assert facts.sentences("One. Two\nthree.") == ["One.", "Two three."]


def test_stems():
    assert facts.stem("manufacturers") == facts.stem("manufacturing") == "manufactur"
    assert facts.mentions_all("We sell to mid-sized manufacturers", "Manufacturing")
    assert not facts.mentions_all("We sell to logistics firms", "financial services")


def test_countries_and_regions():
    assert facts.country_served("Mid-sized companies in the DACH region", "AT") == "dach"
    assert facts.country_served("We serve Europe.", "DE") == "europe"
    assert facts.country_served("We serve Europe.", "US") is None
    assert facts.country_served("Customers in the US and CA", "US") == "US"
    assert facts.names_a_region("Only North America for now") and not facts.names_a_region("Any sector")
    assert facts.country_phrase("NL") == "the Netherlands" and facts.country_phrase("DE") == "Germany"
    assert facts.country_name("XX") == "XX"
