"""The life cycle of a round in `negotiation_history`, in one place.

A client's move is `received` and stays so. Our offer is made `sent` (within the policy: the client sees it
at once), `pending_review` (past the approval threshold, or the last round) or `escalated` (code refused the
model's price, there was no room left, or the rounds ran out); a reviewer then sends or refuses it, and an
offer still waiting when the client accepts or walks away is `superseded`:

    pending_review | escalated ──▶ sent | refused | superseded
"""

from enum import StrEnum

from app.core.errors import Conflict
from app.models import NegotiationRound


class Side(StrEnum):
    client = "client"
    agent = "agent"


class ClientMove(StrEnum):
    counter = "counter"
    accept = "accept"
    walk_away = "walk_away"


OFFER_KIND = "offer"  # the kind of every round of ours


class RoundStatus(StrEnum):
    received = "received"
    sent = "sent"
    pending_review = "pending_review"
    escalated = "escalated"
    refused = "refused"
    superseded = "superseded"


S = RoundStatus
WAITING = frozenset({S.pending_review, S.escalated})
TRANSITIONS: dict[RoundStatus, frozenset[RoundStatus]] = {
    S.received: frozenset(),
    S.sent: frozenset(),
    S.pending_review: frozenset({S.sent, S.refused, S.superseded}),
    S.escalated: frozenset({S.sent, S.refused, S.superseded}),
    S.refused: frozenset(),
    S.superseded: frozenset(),
}


class IllegalRoundTransition(Conflict):
    def __init__(self, current: RoundStatus, target: RoundStatus):
        super().__init__(f"The offer is {current.value}; it cannot become {target.value}.", offer_status=current.value)
        self.current, self.target = current, target


def transition(row: NegotiationRound, target: RoundStatus) -> bool:
    """Move our offer to `target`. True if it moved, False if it already was there (a repeated decision is a
    no-op); IllegalRoundTransition (409) otherwise. The caller holds the row's lock."""
    current = RoundStatus(row.status)
    if current == target:
        return False
    if target not in TRANSITIONS[current]:
        raise IllegalRoundTransition(current, target)
    row.status = target.value
    return True
