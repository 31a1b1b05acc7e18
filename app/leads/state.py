"""The lead life cycle, in one place: new → qualified | disqualified → contacted → proposal → won | lost.

Every status change of a lead, by a person (PATCH) or by an agent's side effect (qualification, the first
email sent, an approved proposal), goes through `transition`. It checks and sets the loaded row: the
caller holds the row's lock (`app.leads.service.get_lead(..., for_update=True)`), so two writers cannot
both move a lead out of the same status.
"""

from enum import StrEnum

from app.core.errors import Conflict
from app.models import Lead


class LeadStatus(StrEnum):
    new = "new"
    qualified = "qualified"
    disqualified = "disqualified"
    contacted = "contacted"
    proposal = "proposal"
    won = "won"
    lost = "lost"


S = LeadStatus
TRANSITIONS: dict[LeadStatus, frozenset[LeadStatus]] = {
    S.new: frozenset({S.qualified, S.disqualified}),
    S.qualified: frozenset({S.contacted}),
    S.disqualified: frozenset(),
    S.contacted: frozenset({S.proposal}),
    S.proposal: frozenset({S.won, S.lost}),
    S.won: frozenset(),
    S.lost: frozenset(),
}
TERMINAL = frozenset(status for status, targets in TRANSITIONS.items() if not targets)


class IllegalLeadTransition(Conflict):
    """A move the life cycle does not allow: 409 where it reaches the API."""

    def __init__(self, current: LeadStatus, target: LeadStatus):
        allowed = ", ".join(sorted(TRANSITIONS[current])) or "none: it is final"
        super().__init__(f"A lead cannot go from '{current}' to '{target}' (from '{current}': {allowed}).")
        self.current, self.target = current, target


def can_transition(current: LeadStatus, target: LeadStatus) -> bool:
    return target in TRANSITIONS[current]


def transition(lead: Lead, target: LeadStatus) -> bool:
    """Move `lead` to `target`. True if it moved; False if it already was there (a repeated side effect
    is a no-op); IllegalLeadTransition (409) for a move the life cycle does not allow."""
    current = LeadStatus(lead.status)
    if current == target:
        return False
    if not can_transition(current, target):
        raise IllegalLeadTransition(current, target)
    lead.status = target.value
    return True
