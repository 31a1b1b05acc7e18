"""The deal life cycle, in one place: proposal → negotiation → won | lost.

Every stage change goes through `transition`, on a row the caller has locked
(`app.deals.service.get_deal(..., for_update=True)`)."""

from enum import StrEnum

from app.core.lifecycle import IllegalTransition, Lifecycle


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


class IllegalDealTransition(IllegalTransition):
    pass


LIFECYCLE = Lifecycle("A deal", DealStage, TRANSITIONS, attribute="stage", error=IllegalDealTransition)
TERMINAL = LIFECYCLE.terminal
can_transition = LIFECYCLE.can
transition = LIFECYCLE.move
