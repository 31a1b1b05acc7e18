"""The price policy of a negotiation and the guards that hold every offer we make to it, whatever a model
proposed. Plain functions of numbers: no session, no model, tested on their own (tests/negotiation).

How the rules read, in code:

- **The floor and the maximum discount** bound an offer from below: the lowest price is the higher of the
  floor and list × (1 − maximum discount), the latter rounded *up* to the currency's minor unit so that it
  is never past the maximum; and never below one minor unit.
- **Concessions only move one way.** Our *standing offer* is the proposal's list price, or the lowest offer
  we have sent since. Every new offer is strictly below it: an answer that goes back up, or repeats an offer
  we made, is clamped to one minor unit below the standing offer. So sent offers strictly decrease, and
  none is ever the same as an earlier one.
- **Never below what the client asked.** An answer lower than the client's counter-offer is raised to it:
  we never give more than was asked for.
- **Beyond the floor** an answer is refused in code: it is clamped to the lowest price and escalated to a
  reviewer; it is never sent alone. Likewise when the rounds have run out, and when there is no room left
  (the standing offer is already the lowest the policy allows): then code restates the standing offer as
  final, which only a reviewer may send (it is a restatement, never a new price).
- **Past the approval threshold** (a discount off list greater than it), or at the last round, the offer
  waits for a reviewer; otherwise it is sent at once.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import Any, Literal

from app.core import money

HUNDRED = Decimal(100)
CENT = Decimal("0.01")  # percentages are shown and stored to two decimals


class Concession(StrEnum):
    """What we may ask of the client in exchange for a lower price."""

    longer_term = "longer_term"
    upfront_payment = "upfront_payment"
    smaller_scope = "smaller_scope"


@dataclass(frozen=True)
class Policy:
    floor_price: Decimal | None  # absolute, in the deal's currency; None: only the maximum discount bounds it
    max_discount_pct: Decimal
    approval_threshold_pct: Decimal  # a discount greater than this waits for a reviewer
    max_rounds: int
    allowed_concessions: tuple[str, ...]


# When a tenant set none: at most 15 % off list, a reviewer past 10 %, three rounds, every concession.
DEFAULT_POLICY = Policy(floor_price=None, max_discount_pct=Decimal(15), approval_threshold_pct=Decimal(10),
                        max_rounds=3, allowed_concessions=tuple(concession.value for concession in Concession))

OfferStatus = Literal["sent", "pending_review", "escalated"]
# Reasons that make an offer `escalated` (code refused something) rather than merely `pending_review`.
ESCALATING = frozenset({"below_floor", "no_room", "rounds_exhausted"})


@dataclass(frozen=True)
class Reason:
    code: str
    detail: str

    def as_json(self) -> dict[str, str]:
        return {"code": self.code, "detail": self.detail}


@dataclass(frozen=True)
class SettledOffer:
    """What code lets through of a model's answer."""

    amount: Decimal
    concessions: tuple[str, ...]
    clamp_reasons: tuple[Reason, ...] = field(default=())
    review_reasons: tuple[Reason, ...] = field(default=())
    # No new offer was possible: the standing offer is restated as final (only a reviewer may send it).
    final: bool = False

    @property
    def clamped(self) -> bool:
        return bool(self.clamp_reasons)

    @property
    def status(self) -> OfferStatus:
        if any(reason.code in ESCALATING for reason in self.review_reasons):
            return "escalated"
        return "pending_review" if self.review_reasons else "sent"


def _unit(currency: str) -> Decimal:
    return Decimal(1).scaleb(-money.minor_unit(currency))


def _show(amount: Decimal, currency: str) -> str:
    return f"{money.format_amount(money.quantize(amount, currency))} {currency}"


def _pct(value: Decimal) -> str:
    return f"{money.format_amount(value.quantize(CENT, rounding=ROUND_HALF_UP).normalize())} %"


def max_discount_price(list_price: Decimal, policy: Policy) -> Decimal:
    """list × (1 − maximum discount), exactly (not rounded)."""
    return list_price * (HUNDRED - policy.max_discount_pct) / HUNDRED


def lowest_price(list_price: Decimal, currency: str, policy: Policy) -> Decimal:
    """The lowest offer the policy allows: the higher of the floor and the maximum discount's price (rounded
    up to the minor unit, so never past it), and at least one minor unit."""
    bound = max_discount_price(list_price, policy)
    rounded = money.quantize(bound, currency)
    if rounded < bound:
        rounded += _unit(currency)
    return max(rounded, policy.floor_price or Decimal(0), _unit(currency))


def discount_pct(list_price: Decimal, amount: Decimal) -> Decimal:
    """The discount of `amount` off `list_price`, in percent, to two decimals (for display)."""
    if list_price <= 0:
        return Decimal("0.00")
    return ((list_price - amount) * HUNDRED / list_price).quantize(CENT, rounding=ROUND_HALF_UP)


def past_threshold(list_price: Decimal, amount: Decimal, policy: Policy) -> bool:
    """A discount greater than the approval threshold, compared exactly."""
    return amount * HUNDRED < list_price * (HUNDRED - policy.approval_threshold_pct)


def standing_offer(list_price: Decimal, sent_offers: Iterable[Decimal]) -> Decimal:
    """What the client can accept now: the proposal's list price, or the lowest offer we sent since."""
    return min([list_price, *sent_offers])


def allowed_concessions(proposed: Iterable[str], allowed: Iterable[str]) -> tuple[tuple[str, ...], list[str]]:
    """(the proposed concessions that are allowed, once each and in order; those that are not)."""
    permitted = tuple(allowed)
    kept: list[str] = []
    dropped: list[str] = []
    for concession in proposed:
        name = concession.strip().lower()
        if name in permitted:
            if name not in kept:
                kept.append(name)
        elif concession not in dropped:
            dropped.append(concession)
    return tuple(kept), dropped


def review_reasons(amount: Decimal, *, list_price: Decimal, currency: str, policy: Policy, round_number: int,
                   clamp_codes: Iterable[str] = ()) -> tuple[Reason, ...]:
    """Why an offer of `amount` in round `round_number` must wait for a reviewer (nothing: it is sent)."""
    codes = set(clamp_codes)
    reasons: list[Reason] = []
    if "below_floor" in codes:
        reasons.append(Reason("below_floor", "the model's price was below the floor; code refused it and raised "
                                             "the offer to the lowest price the policy allows"))
    if "no_room" in codes:
        reasons.append(Reason("no_room", "no lower offer is possible within the policy; the standing offer is "
                                         "restated as final"))
    if round_number > policy.max_rounds:
        reasons.append(Reason("rounds_exhausted", f"round {round_number} is past the policy's "
                                                  f"{policy.max_rounds} rounds"))
    elif round_number == policy.max_rounds:
        reasons.append(Reason("last_round", f"round {round_number} is the last of {policy.max_rounds}"))
    if past_threshold(list_price, amount, policy):
        reasons.append(Reason("past_threshold", f"{_pct(discount_pct(list_price, amount))} off list is past the "
                                                f"approval threshold of {_pct(policy.approval_threshold_pct)}"))
    return tuple(reasons)


def settle_offer(proposed: Decimal, *, proposed_concessions: Sequence[str] = (), list_price: Decimal, currency: str,
                 policy: Policy, sent_offers: Sequence[Decimal] = (), client_amount: Decimal | None = None,
                 round_number: int) -> SettledOffer:
    """Our offer from the model's `proposed` price: held inside the policy (see the module's docstring), with
    every change recorded as a clamp reason and what makes it wait for a reviewer as a review reason."""
    unit = _unit(currency)
    standing = standing_offer(list_price, sent_offers)
    lowest = lowest_price(list_price, currency, policy)
    lower = max(lowest, client_amount) if client_amount is not None else lowest
    upper = standing - unit
    clamps: list[Reason] = []

    amount = money.quantize(proposed, currency)
    if amount != proposed:
        clamps.append(Reason("rounded", f"{money.format_amount(proposed)} rounded to the minor unit of {currency}"))
    if policy.floor_price is not None and amount < policy.floor_price:
        clamps.append(Reason("below_floor", f"{_show(amount, currency)} is below the floor of "
                                            f"{_show(policy.floor_price, currency)}"))
    if amount < max_discount_price(list_price, policy):
        off = _pct(discount_pct(list_price, amount))
        clamps.append(Reason("past_max_discount", f"{_show(amount, currency)} is {off} off list, past the maximum of "
                                                  f"{_pct(policy.max_discount_pct)}"))
    if client_amount is not None and amount < client_amount:
        clamps.append(Reason("below_client_counter", f"{_show(amount, currency)} is below the client's own "
                                                     f"counter-offer of {_show(client_amount, currency)}"))
    if amount in sent_offers or amount == standing:
        clamps.append(Reason("repeats_offer", f"{_show(amount, currency)} repeats an offer already made (the "
                                              "proposal's price counts); every offer must be lower than the last"))
    elif amount > standing:
        clamps.append(Reason("above_standing_offer", f"{_show(amount, currency)} is above our standing offer of "
                                                     f"{_show(standing, currency)}; concessions only move one way"))

    final = lower > upper
    if final:
        clamps.append(Reason("no_room", f"our standing offer of {_show(standing, currency)} is already the lowest "
                                        f"the policy and the client's counter-offer leave room for"))
        amount = standing
    else:
        amount = min(max(amount, lower), upper)

    concessions, dropped = allowed_concessions(proposed_concessions, policy.allowed_concessions)
    if dropped:
        clamps.append(Reason("concession_not_allowed", f"not allowed by the policy: {', '.join(dropped)}"))
    reasons = review_reasons(amount, list_price=list_price, currency=currency, policy=policy,
                             round_number=round_number, clamp_codes=(reason.code for reason in clamps))
    return SettledOffer(amount=amount, concessions=concessions, clamp_reasons=tuple(clamps), review_reasons=reasons,
                        final=final)


def snapshot(policy: Policy, *, list_price: Decimal, currency: str, source: str) -> dict[str, Any]:
    """The policy in force for one deal, as a round records it (JSON)."""
    floor = policy.floor_price
    return {
        "source": source,
        "floor_price": money.format_amount(money.quantize(floor, currency)) if floor is not None else None,
        "max_discount_pct": money.format_amount(policy.max_discount_pct.quantize(CENT)),
        "approval_threshold_pct": money.format_amount(policy.approval_threshold_pct.quantize(CENT)),
        "max_rounds": policy.max_rounds,
        "allowed_concessions": list(policy.allowed_concessions),
        "list_price": money.format_amount(money.quantize(list_price, currency)),
        "currency": currency,
        "lowest_price": money.format_amount(lowest_price(list_price, currency, policy)),
    }


def from_snapshot(data: dict[str, Any]) -> Policy:
    floor = data.get("floor_price")
    return Policy(floor_price=Decimal(floor) if floor is not None else None,
                  max_discount_pct=Decimal(data["max_discount_pct"]),
                  approval_threshold_pct=Decimal(data["approval_threshold_pct"]), max_rounds=int(data["max_rounds"]),
                  allowed_concessions=tuple(data.get("allowed_concessions") or ()))
