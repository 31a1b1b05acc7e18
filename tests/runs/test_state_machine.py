import pytest

from app.runs.executor import backoff_seconds
from app.runs.state import OVERRIDE_TARGETS, TERMINAL, TRANSITIONS, IllegalTransition, RunStatus, can_transition


def test_every_status_has_its_transitions_declared():
    assert set(TRANSITIONS) == set(RunStatus)


@pytest.mark.parametrize("current,target", [
    (RunStatus.queued, RunStatus.succeeded), (RunStatus.succeeded, RunStatus.queued),
    (RunStatus.rejected, RunStatus.queued), (RunStatus.failed, RunStatus.running),
    (RunStatus.awaiting_review, RunStatus.running), (RunStatus.dead_lettered, RunStatus.running),
])
def test_illegal_moves_are_refused(current, target):
    assert not can_transition(current, target)


def test_only_running_runs_finish_by_themselves():
    finishers = {status for status, targets in TRANSITIONS.items() if targets & {RunStatus.succeeded}}
    assert finishers == {RunStatus.running, RunStatus.awaiting_review}
    assert RunStatus.awaiting_review not in TERMINAL and OVERRIDE_TARGETS <= TERMINAL


def test_illegal_transition_names_both_states():
    error = IllegalTransition(RunStatus.succeeded, RunStatus.running)
    assert "succeeded" in str(error) and "running" in str(error)


def test_backoff_is_full_jitter_under_an_exponential_ceiling_and_respects_retry_after():
    for attempt in range(1, 8):
        samples = [backoff_seconds(attempt) for _ in range(200)]
        ceiling = min(300.0, 2.0 * 2 ** (attempt - 1))
        assert all(0 <= s <= ceiling for s in samples)
        assert max(samples) > ceiling * 0.5  # jitter spreads over the range, not a fixed delay
    assert all(backoff_seconds(1, retry_after=30) >= 30 for _ in range(50))
