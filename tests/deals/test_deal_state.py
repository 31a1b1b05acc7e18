"""The deal life cycle: proposal → negotiation → won | lost."""

import pytest

from app.deals.state import TERMINAL, DealStage, IllegalDealTransition, transition
from app.models import Deal

S = DealStage
LEGAL = {(S.proposal, S.negotiation), (S.negotiation, S.won), (S.negotiation, S.lost)}


@pytest.mark.parametrize(("current", "target"), [(a, b) for a in S for b in S if a != b])
def test_only_the_documented_moves_are_allowed(current, target):
    deal = Deal(stage=current.value)
    if (current, target) in LEGAL:
        assert transition(deal, target) is True
        assert deal.stage == target
    else:
        with pytest.raises(IllegalDealTransition) as caught:
            transition(deal, target)
        assert deal.stage == current and caught.value.status == 409


def test_moving_to_the_current_stage_is_a_no_op_and_won_and_lost_are_final():
    deal = Deal(stage="negotiation")
    assert transition(deal, S.negotiation) is False
    assert TERMINAL == {S.won, S.lost}
