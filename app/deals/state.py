"""The deal life cycle, in one place: proposal → negotiation → won | lost.

Every stage change goes through `transition`, on a row the caller has locked
(`app.deals.service.get_deal(..., for_update=True)`)."""

from enum import StrEnum

from app.core.errors import Conflict
from app.models import Deal


class DealStage(StrEnum):
    proposal = "proposal"
    negotiation = "negotiation"
    won = "won"
    lost = "lost"


S = DealStage
TRANSITIONS: dict[DealStage, frozenset[DealStage]] = {
    S.proposal: frozenset({S.negotiation}),
    S.negotiation: frozenset({S.won, S.lost}),
    S.won: frozenset(),
    S.lost: frozenset(),
}
TERMINAL = frozenset(stage for stage, targets in TRANSITIONS.items() if not targets)


class IllegalDealTransition(Conflict):
    """A move the life cycle does not allow: 409 where it reaches the API."""

    def __init__(self, current: DealStage, target: DealStage):
        allowed = ", ".join(sorted(TRANSITIONS[current])) or "none: it is final"
        super().__init__(f"A deal cannot go from '{current}' to '{target}' (from '{current}': {allowed}).")
        self.current, self.target = current, target


def can_transition(current: DealStage, target: DealStage) -> bool:
    return target in TRANSITIONS[current]


def transition(deal: Deal, target: DealStage) -> bool:
    """Move `deal` to `target`. True if it moved; False if it already was there (a repeated side effect is
    a no-op); IllegalDealTransition (409) for a move the life cycle does not allow."""
    current = DealStage(deal.stage)
    if current == target:
        return False
    if not can_transition(current, target):
        raise IllegalDealTransition(current, target)
    deal.stage = target.value
    return True
