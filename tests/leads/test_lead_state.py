"""The lead life cycle: new → qualified | disqualified → contacted → proposal → won | lost."""

import pytest

from app.core.errors import Conflict
from app.leads.state import TERMINAL, TRANSITIONS, IllegalLeadTransition, LeadStatus, transition
from app.models import Lead

S = LeadStatus
LEGAL = {(S.new, S.qualified), (S.new, S.disqualified), (S.qualified, S.contacted), (S.contacted, S.proposal),
         (S.proposal, S.won), (S.proposal, S.lost)}


@pytest.mark.parametrize(("current", "target"), [(a, b) for a in S for b in S if a != b])
def test_only_the_documented_moves_are_allowed(current, target):
    lead = Lead(status=current.value)
    if (current, target) in LEGAL:
        assert transition(lead, target) is True
        assert lead.status == target
    else:
        with pytest.raises(IllegalLeadTransition) as caught:
            transition(lead, target)
        assert lead.status == current
        assert isinstance(caught.value, Conflict) and caught.value.status == 409


@pytest.mark.parametrize("status", list(S))
def test_moving_to_the_current_status_is_a_no_op(status):
    lead = Lead(status=status.value)
    assert transition(lead, status) is False
    assert lead.status == status


def test_the_final_statuses():
    assert TERMINAL == {S.disqualified, S.won, S.lost}
    assert set(TRANSITIONS) == set(S)
