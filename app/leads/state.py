"""The lead life cycle, in one place: new → qualified | disqualified → contacted → proposal → won | lost.

Every status change of a lead, by a person (PATCH) or by an agent's side effect (qualification, the first
email sent, an approved proposal), goes through `transition`. It checks and sets the loaded row: the
caller holds the row's lock (`app.leads.service.get_lead(..., for_update=True)`), so two writers cannot
both move a lead out of the same status.
"""

from enum import StrEnum

from app.core.lifecycle import IllegalTransition, Lifecycle


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


class IllegalLeadTransition(IllegalTransition):
    pass


LIFECYCLE = Lifecycle("A lead", LeadStatus, TRANSITIONS, attribute="status", error=IllegalLeadTransition)
TERMINAL = LIFECYCLE.terminal
can_transition = LIFECYCLE.can
transition = LIFECYCLE.move
