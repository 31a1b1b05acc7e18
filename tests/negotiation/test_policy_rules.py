"""The guards of app.negotiation.policy as plain functions: the floor, the maximum discount, concessions that
only move one way, never the same offer twice, never below the client's ask, allowed concessions only, and
when an offer waits for a reviewer. Then a property: whatever the policy, list price, earlier offers and the
model's answer, a new offer is inside the policy and below every offer made before it."""

from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.core import money
from app.negotiation.policy import (
    DEFAULT_POLICY, Policy, discount_pct, from_snapshot, lowest_price, past_threshold, settle_offer, snapshot,
    standing_offer,
)

D = Decimal
POLICY = Policy(floor_price=D("800.00"), max_discount_pct=D(20), approval_threshold_pct=D(10), max_rounds=3,
                allowed_concessions=("longer_term", "upfront_payment"))


def settle(proposed: str, *, policy: Policy = POLICY, sent=(), client: str | None = "700.00", round_number: int = 1,
           concessions=(), list_price: str = "1000.00", currency: str = "EUR"):
    return settle_offer(D(proposed), proposed_concessions=concessions, list_price=D(list_price), currency=currency,
                        policy=policy, sent_offers=[D(amount) for amount in sent],
                        client_amount=D(client) if client else None, round_number=round_number)


def codes(reasons) -> list[str]:
    return [reason.code for reason in reasons]


def test_the_lowest_price_is_the_floor_or_the_maximum_discount_rounded_up():
    assert lowest_price(D("1000.00"), "EUR", POLICY) == D("800.00")
    assert lowest_price(D("1000.00"), "EUR", Policy(D("700"), D(20), D(10), 3, ())) == D("800.00")
    # 999.99 × 0.85 = 849.9915: rounded up, so never past the maximum discount.
    assert lowest_price(D("999.99"), "EUR", DEFAULT_POLICY) == D("850.00")
    assert lowest_price(D("999"), "JPY", DEFAULT_POLICY) == D("850")
    assert lowest_price(D("10.00"), "EUR", Policy(None, D(100), D(100), 3, ())) == D("0.01")  # never nothing


def test_an_answer_inside_the_policy_below_the_threshold_is_sent_as_is():
    offer = settle("950.00")
    assert (offer.amount, offer.status, offer.clamped, offer.final) == (D("950.00"), "sent", False, False)
    assert offer.review_reasons == ()


def test_below_the_floor_is_refused_clamped_to_the_lowest_price_and_escalated():
    offer = settle("500.00")
    assert offer.amount == D("800.00")
    assert codes(offer.clamp_reasons) == ["below_floor", "past_max_discount", "below_client_counter"]
    assert offer.status == "escalated" and "below_floor" in codes(offer.review_reasons)


def test_past_the_maximum_discount_without_a_floor_is_clamped_but_not_escalated():
    offer = settle("700.00", policy=Policy(None, D(20), D(20), 3, ()), client="650.00")
    assert (offer.amount, codes(offer.clamp_reasons), offer.status) == (D("800.00"), ["past_max_discount"], "sent")


def test_past_the_threshold_or_in_the_last_round_waits_for_a_reviewer():
    past = settle("850.00")
    assert (past.status, codes(past.review_reasons)) == ("pending_review", ["past_threshold"])
    assert "15 % off list is past the approval threshold of 10 %" in past.review_reasons[0].detail
    assert settle("900.00").status == "sent"  # exactly at the threshold is not past it
    last = settle("950.00", round_number=3)
    assert (last.status, codes(last.review_reasons)) == ("pending_review", ["last_round"])
    exhausted = settle("950.00", round_number=4)
    assert (exhausted.status, codes(exhausted.review_reasons)) == ("escalated", ["rounds_exhausted"])


def test_concessions_only_move_one_way_an_answer_going_back_up_is_clamped_below_the_standing_offer():
    offer = settle("980.00", sent=["950.00"], round_number=2)
    assert offer.amount == D("949.99") and codes(offer.clamp_reasons) == ["above_standing_offer"]
    above_list = settle("1200.00")
    assert above_list.amount == D("999.99") and codes(above_list.clamp_reasons) == ["above_standing_offer"]


def test_never_the_same_offer_twice():
    repeat = settle("950.00", sent=["950.00"], round_number=2)
    assert repeat.amount == D("949.99") and codes(repeat.clamp_reasons) == ["repeats_offer"]
    list_again = settle("1000.00")  # the proposal's price counts as our first offer
    assert list_again.amount == D("999.99") and codes(list_again.clamp_reasons) == ["repeats_offer"]


def test_never_below_what_the_client_asked():
    offer = settle("880.00", client="900.00")
    assert offer.amount == D("900.00") and codes(offer.clamp_reasons) == ["below_client_counter"]


def test_with_no_room_left_the_standing_offer_is_restated_as_final_and_escalated():
    offer = settle("790.00", sent=["900.00", "800.00"], round_number=3)
    assert (offer.amount, offer.final, offer.status) == (D("800.00"), True, "escalated")
    assert codes(offer.clamp_reasons)[-1] == "no_room" and "no_room" in codes(offer.review_reasons)


def test_only_allowed_concessions_are_kept():
    offer = settle("950.00", concessions=["upfront_payment", "Upfront_Payment", "free_training", "smaller_scope"])
    assert offer.concessions == ("upfront_payment",)
    assert codes(offer.clamp_reasons) == ["concession_not_allowed"] and offer.status == "sent"
    assert "free_training, smaller_scope" in offer.clamp_reasons[0].detail


def test_a_model_price_with_too_many_decimals_is_rounded_and_says_so():
    offer = settle("950.005")
    assert offer.amount == D("950.01") and codes(offer.clamp_reasons) == ["rounded"]


def test_money_in_currencies_without_cents():
    offer = settle_offer(D("95000.5"), list_price=D("100000"), currency="JPY", policy=DEFAULT_POLICY,
                         client_amount=D("80000"), round_number=1)
    assert offer.amount == D("95001") and offer.status == "sent"


def test_discounts_and_thresholds_are_exact():
    assert discount_pct(D("1000.00"), D("850.00")) == D("15.00")
    assert discount_pct(D("3.00"), D("2.00")) == D("33.33")
    assert past_threshold(D("1000.00"), D("899.99"), POLICY) and not past_threshold(D("1000.00"), D("900.00"), POLICY)
    assert standing_offer(D("1000"), []) == D("1000") and standing_offer(D("1000"), [D("950"), D("900")]) == D("900")


def test_a_snapshot_reads_back_as_the_policy():
    data = snapshot(POLICY, list_price=D("1000"), currency="EUR", source="package")
    assert data == {"source": "package", "floor_price": "800.00", "max_discount_pct": "20.00",
                    "approval_threshold_pct": "10.00", "max_rounds": 3,
                    "allowed_concessions": ["longer_term", "upfront_payment"], "list_price": "1000.00",
                    "currency": "EUR", "lowest_price": "800.00"}
    assert from_snapshot(data) == POLICY


# --- the property -----------------------------------------------------------------------------------

CURRENCIES = st.sampled_from(["EUR", "JPY", "KWD"])
PERCENT = st.decimals(min_value=0, max_value=100, places=2)


@st.composite
def negotiations(draw):
    currency = draw(CURRENCIES)
    unit = D(1).scaleb(-money.minor_unit(currency))
    list_price = draw(st.integers(min_value=1, max_value=10**9)) * unit
    max_discount = draw(PERCENT)
    threshold = draw(st.decimals(min_value=0, max_value=max_discount, places=2))
    floor = draw(st.none() | st.integers(min_value=0, max_value=int(list_price / unit) * 2).map(lambda n: n * unit))
    policy = Policy(floor, max_discount, threshold, draw(st.integers(1, 20)),
                    tuple(draw(st.sets(st.sampled_from(["longer_term", "upfront_payment", "smaller_scope"])))))
    answers = draw(st.lists(st.decimals(min_value=-10**3, max_value=list_price * 2, places=4,
                                        allow_nan=False, allow_infinity=False), min_size=1, max_size=8))
    asks = draw(st.lists(st.decimals(min_value=0, max_value=list_price, places=4), min_size=len(answers),
                         max_size=len(answers)))
    return currency, list_price, policy, answers, asks


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(negotiations())
def test_every_new_offer_is_inside_the_policy_and_below_every_earlier_one(case):
    currency, list_price, policy, answers, asks = case
    sent: list[D] = []
    for round_number, (answer, ask) in enumerate(zip(answers, asks, strict=True), start=1):
        client = money.quantize(ask, currency)
        offer = settle_offer(answer, proposed_concessions=["upfront_payment", "smaller_scope"], list_price=list_price,
                             currency=currency, policy=policy, sent_offers=sent, client_amount=client,
                             round_number=round_number)
        assert set(offer.concessions) <= set(policy.allowed_concessions)
        assert offer.amount == money.quantize(offer.amount, currency)
        if offer.final:
            # No lower offer fits: our standing offer, restated, never sent without a reviewer.
            assert offer.amount == standing_offer(list_price, sent) and offer.status == "escalated"
            continue
        assert offer.amount <= list_price
        assert policy.floor_price is None or offer.amount >= policy.floor_price
        assert offer.amount * 100 >= list_price * (100 - policy.max_discount_pct)
        assert offer.amount >= client
        assert all(offer.amount < earlier for earlier in sent)
        assert offer.amount not in sent and offer.amount < list_price
        assert offer.clamped or offer.amount == answer  # any change is recorded
        # The floor is compared with the answer at the currency's minor unit (-0.0001 EUR is 0.00, at a floor of 0).
        if policy.floor_price is not None and money.quantize(answer, currency) < policy.floor_price:
            assert offer.status == "escalated"  # refused in code: never sent alone
        if offer.status == "sent":
            assert not past_threshold(list_price, offer.amount, policy) and round_number < policy.max_rounds
            sent.append(offer.amount)
        elif offer.status == "pending_review" and round_number % 2:
            sent.append(offer.amount)  # a reviewer approved it


@pytest.mark.parametrize("answer", ["-1", "0", "1E+9"])
def test_absurd_answers_end_inside_the_policy(answer):
    offer = settle(answer, client=None)
    assert D("800.00") <= offer.amount <= D("999.99")
