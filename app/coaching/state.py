"""The coaching life cycles, in one place.

- A coaching card: open → done | dismissed (the coach acted on it, or decided it needs nothing).
- A plan change: proposed → applied (approved, or edited and approved) | rejected (rejected, or its review
  expired) | cancelled (its review or pipeline was cancelled) | stale (the plan moved on to another
  version before it was decided; it can then only be closed, never applied).

Every status change goes through `transition_card` or `transition_change`, on a row the caller has locked."""

from enum import StrEnum

from app.coaching.schemas import PlanChangeStatus
from app.core.errors import Conflict
from app.models import CoachingCard, PlanChange


class CardStatus(StrEnum):
    open = "open"
    done = "done"
    dismissed = "dismissed"


CARD_TRANSITIONS: dict[CardStatus, frozenset[CardStatus]] = {
    CardStatus.open: frozenset({CardStatus.done, CardStatus.dismissed}),
    CardStatus.done: frozenset(),
    CardStatus.dismissed: frozenset(),
}

C = PlanChangeStatus
CHANGE_TRANSITIONS: dict[PlanChangeStatus, frozenset[PlanChangeStatus]] = {
    C.proposed: frozenset({C.applied, C.rejected, C.cancelled, C.stale}),
    C.stale: frozenset(),
    C.applied: frozenset(),
    C.rejected: frozenset(),
    C.cancelled: frozenset(),
}


class IllegalCardTransition(Conflict):
    """A move the card's life cycle does not allow: 409 where it reaches the API."""

    def __init__(self, current: CardStatus, target: CardStatus):
        allowed = ", ".join(sorted(CARD_TRANSITIONS[current])) or "none: it is final"
        super().__init__(f"A coaching card cannot go from '{current}' to '{target}' (from '{current}': {allowed}).",
                         card_status=current.value)
        self.current, self.target = current, target


class IllegalChangeTransition(Conflict):
    def __init__(self, current: PlanChangeStatus, target: PlanChangeStatus):
        super().__init__(f"A plan change cannot go from '{current}' to '{target}'.", change_status=current.value)
        self.current, self.target = current, target


def transition_card(card: CoachingCard, target: CardStatus) -> bool:
    """Move `card` to `target`. True if it moved; False if it already was there (the same PATCH again);
    IllegalCardTransition (409) otherwise."""
    current = CardStatus(card.status)
    if current == target:
        return False
    if target not in CARD_TRANSITIONS[current]:
        raise IllegalCardTransition(current, target)
    card.status = target.value
    return True


def transition_change(change: PlanChange, target: PlanChangeStatus) -> bool:
    """Move `change` to `target`: True if it moved, False if it was there already; IllegalChangeTransition
    (409) otherwise."""
    current = PlanChangeStatus(change.status)
    if current == target:
        return False
    if target not in CHANGE_TRANSITIONS[current]:
        raise IllegalChangeTransition(current, target)
    change.status = target.value
    return True
