"""The email state machine: the one table of legal moves."""

import pytest

from app.email.state import TERMINAL, TRANSITIONS, EmailStatus, can_transition

S = EmailStatus


def test_the_life_of_an_email():
    assert TRANSITIONS[S.draft] == {S.approved, S.rejected, S.cancelled}
    assert TRANSITIONS[S.approved] == {S.sent, S.suppressed, S.failed, S.cancelled}
    assert TERMINAL == {S.sent, S.suppressed, S.failed, S.rejected, S.cancelled}


@pytest.mark.parametrize("terminal", sorted(TERMINAL))
def test_a_finished_email_never_moves_again(terminal):
    assert not any(can_transition(terminal, target) for target in EmailStatus)


@pytest.mark.parametrize("target", [S.sent, S.suppressed, S.failed])
def test_only_an_approved_email_can_be_sent_or_refused(target):
    assert [state for state in EmailStatus if can_transition(state, target)] == [S.approved]
