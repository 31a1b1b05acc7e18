"""The coaching life cycles, in one place.

- A coaching card: open → done | dismissed (the coach acted on it, or decided it needs nothing).
- A plan change: proposed → applied (approved, or edited and approved) | rejected (rejected, or its review
  expired) | cancelled (its review or pipeline was cancelled) | stale (the plan moved on to another
  version before it was decided; it can then only be closed, never applied).

Every status change goes through `transition_card` or `transition_change`, on a row the caller has locked."""

from enum import StrEnum

from app.coaching.schemas import PlanChangeStatus
from app.core.lifecycle import IllegalTransition, Lifecycle


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


class IllegalCardTransition(IllegalTransition):
    pass


class IllegalChangeTransition(IllegalTransition):
    pass


CARD_LIFECYCLE = Lifecycle("A coaching card", CardStatus, CARD_TRANSITIONS, attribute="status",
                           error=IllegalCardTransition, problem_key="card_status")
CHANGE_LIFECYCLE = Lifecycle("A plan change", PlanChangeStatus, CHANGE_TRANSITIONS, attribute="status",
                             error=IllegalChangeTransition, problem_key="change_status")
# Move a card / a plan change: True if it moved, False if it was there already (the same PATCH again),
# a 409 (the error above, naming the current status) for a move its life cycle does not allow.
transition_card = CARD_LIFECYCLE.move
transition_change = CHANGE_LIFECYCLE.move
