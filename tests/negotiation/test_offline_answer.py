"""The offline negotiator (negotiation.counter answered by rules) and the agent's text rules: it meets the
client halfway within the policy, names one allowed concession, states no amount in its message, and code's
price line says what the offer is."""

from decimal import Decimal

import pytest

from app.agents.negotiation import (
    CounterAnswer, answer_counter_offline, amounts_in, message_issues, price_line, without_amounts,
)

D = Decimal


def _variables(*, standing="1000.00", asked="800.00", lowest="850.00", allowed=("longer_term", "upfront_payment",
               "smaller_scope"), offered=(), round_number=1) -> dict:
    return {
        "company": "Acme Analytics",
        "deal": {"client": "Grace Hopper", "company": "Cobol Works", "package": "Growth", "billing_period": "monthly",
                 "currency": "EUR", "list_price": "1000.00", "standing_offer": standing},
        "policy": {"lowest_price": lowest, "floor_price": None, "max_discount_pct": "15.00",
                   "approval_threshold_pct": "10.00", "max_rounds": 3, "allowed_concessions": list(allowed),
                   "round": round_number, "rounds_left": 3 - round_number},
        "history": [],
        "counter_offer": {"round": round_number, "amount": asked, "currency": "EUR",
                          "terms": {"concessions": list(offered)}, "message": "Too expensive."},
    }


def test_it_meets_the_client_halfway_and_asks_for_a_concession():
    answer = answer_counter_offline(_variables())
    assert (answer.amount, answer.concessions) == (D("900.00"), ["upfront_payment"])
    assert answer.message == ("Thank you for your counter-offer, Grace. We cannot go as low as you asked for Growth, "
                              "but we can meet you partway if you can pay upfront for the term. We would be glad to "
                              "get Cobol Works started.")
    assert answer.reasoning.startswith("The client asked 800.00 EUR against our standing offer of 1000.00; halfway is "
                                       "900.00: 900.00 (10.00 % off list), asking for upfront payment.")
    assert answer_counter_offline(_variables()) == answer  # deterministic


def test_it_takes_up_a_concession_the_client_offered_and_otherwise_asks_in_turn():
    assert answer_counter_offline(_variables(offered=["smaller_scope"])).concessions == ["smaller_scope"]
    taken_up = answer_counter_offline(_variables(offered=["smaller_scope"]))
    assert "with the reduced scope you suggested" in taken_up.message
    assert answer_counter_offline(_variables(round_number=2)).concessions == ["longer_term"]
    assert answer_counter_offline(_variables(allowed=(), offered=["smaller_scope"])).concessions == []


def test_it_never_goes_below_the_lowest_price_and_says_when_there_is_no_room():
    held = answer_counter_offline(_variables(asked="500.00"))
    assert held.amount == D("850.00") and "as far as our pricing for Growth allows" in held.message
    assert "below the policy's lowest price of 850.00, so we hold there" in held.reasoning
    none_left = answer_counter_offline(_variables(standing="850.00", asked="700.00"))
    assert none_left.amount == D("850.00") and "already made our best offer" in none_left.message


@pytest.mark.parametrize("case", [{}, {"asked": "500.00"}, {"standing": "850.00"}, {"offered": ["longer_term"]}])
def test_its_messages_state_no_amount(case):
    answer = answer_counter_offline(_variables(**case))
    assert message_issues(answer, {D("1000"), D("800"), D("850"), D("500")}) == []


def test_it_declines_variables_it_cannot_read():
    assert answer_counter_offline({"deal": "?", "policy": {}, "counter_offer": {}}) is None
    broken = _variables()
    del broken["deal"]["standing_offer"]
    assert answer_counter_offline(broken) is None


def test_amounts_in_text_and_the_price_line():
    prices = {D("980"), D("1000")}
    assert amounts_in("We can do 980 if you sign.", prices) == {D("980")}
    assert amounts_in("A 12-month term at €1,050.", prices) == {D("1050")}
    assert amounts_in("A 12-month term works for us.", prices) == set()
    text, dropped = without_amounts("Thanks. We can do 980. Talk soon!", prices)
    assert (text, dropped) == ("Thanks. Talk soon!", ["We can do 980."])
    answer = CounterAnswer(amount=D("980"), message="Our price is EUR 990.", reasoning="x")
    assert message_issues(answer, set()) == ["the message states 990: state no amount of money, the system appends "
                                             "our price line"]
    assert price_line(D("949.99"), "EUR", "monthly", ("upfront_payment", "longer_term"), False) == (
        "Our offer: 949.99 EUR per month, paid upfront for the term and with a longer commitment term.")
    assert price_line(D("850"), "JPY", "one_time", (), True) == (
        "Our offer of 850 JPY (one-time) stands: it is our final offer.")


def test_it_keeps_to_the_maximum_discount_and_leaves_the_floor_to_code():
    # A floor of 950 above the discount's 850: the halfway answer (900) is under the floor, as a model's
    # might be; app.negotiation.policy refuses it (tests/negotiation/test_policy_rules.py).
    variables = _variables(asked="800.00", lowest="950.00")
    answer = answer_counter_offline(variables)
    assert answer is not None and answer.amount == Decimal("900.00")
