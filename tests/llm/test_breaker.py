"""The circuit breaker: opens after consecutive transient failures, is shared through Redis, lets one trial
through after the cooldown, and closes on its success. Time is the breaker's clock, moved by the tests: a
cooldown passes, or does not, whatever the machine's load."""

import uuid

import pytest
import redis

from app.core.embedded import resolved_urls
from app.llm import breaker as breaker_module
from app.llm.breaker import CircuitBreaker, Decision
from tests.llm.fake_providers import Answer, Fail, FakeProvider
from tests.llm.scenario import GOOD, point, qualify


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock(monkeypatch) -> Clock:
    controlled = Clock()
    monkeypatch.setattr(breaker_module, "clock", controlled)
    return controlled


def _breaker(endpoint: str, client: redis.Redis | None = None, cooldown: float = 30) -> CircuitBreaker:
    return CircuitBreaker("openai", endpoint, threshold=3, cooldown_seconds=cooldown, trial_timeout_seconds=5,
                          client=client)


def test_state_is_shared_between_connections_and_one_trial_is_granted(migrated, clock):
    endpoint = f"http://breaker-{uuid.uuid4().hex}"
    first = _breaker(endpoint)
    # A second Redis connection stands for another worker process.
    other = _breaker(endpoint, redis.Redis.from_url(resolved_urls().redis_url))
    assert first.permit().decision is Decision.closed
    first.record_failure()
    other.record_failure()
    assert first.permit().allowed and other.permit().allowed
    assert first.record_failure() == 3
    permit = other.permit()
    assert permit.decision is Decision.open and permit.retry_after == 30

    clock.advance(29.999)
    assert first.permit().decision is Decision.open and first.permit().retry_after == pytest.approx(0.001)
    clock.advance(0.001)
    trials = [first.permit().decision, other.permit().decision, first.permit().decision]
    assert trials == [Decision.trial, Decision.open, Decision.open]
    first.record_failure()  # the trial failed: open again for a whole cooldown
    clock.advance(29)
    assert other.permit().decision is Decision.open
    clock.advance(1)
    assert other.permit().decision is Decision.trial
    other.record_success()
    assert first.permit().decision is Decision.closed and other.permit().decision is Decision.closed


def test_a_success_resets_the_consecutive_count(migrated):
    breaker = _breaker(f"http://breaker-{uuid.uuid4().hex}")
    breaker.record_failure()
    breaker.record_failure()
    breaker.record_success()
    breaker.record_failure()
    breaker.record_failure()
    assert breaker.permit().decision is Decision.closed


def test_an_open_breaker_skips_the_provider_until_a_trial_succeeds(llm_run, llm_settings, clock):
    llm_settings(LLM_BREAKER_FAILURE_THRESHOLD="2", LLM_MAX_RETRIES="1", LLM_BREAKER_COOLDOWN_SECONDS="30")
    with FakeProvider("openai", Fail(503)) as down, FakeProvider("ollama", Answer(GOOD)) as backup:
        point(llm_settings, down, backup)
        world = llm_run({"provider": "openai", "fallback": ["ollama"]})

        assert qualify(world, step="one").provider == "ollama"
        assert down.calls == 2  # two failures opened the breaker

        skipped = qualify(world, step="two")
        assert skipped.provider == "ollama" and down.calls == 2  # not even tried
        assert [r.provider for r in world.logs()][-1] == "ollama"

        down.play(Answer(GOOD))
        clock.advance(30)
        trial = qualify(world, step="three")
        assert trial.provider == "openai" and down.calls == 3
        assert qualify(world, step="four").provider == "openai" and down.calls == 4


def test_permanent_errors_do_not_open_the_breaker(llm_run, llm_settings):
    llm_settings(LLM_BREAKER_FAILURE_THRESHOLD="2")
    with FakeProvider("openai", Fail(401)) as refusing, FakeProvider("ollama", Answer(GOOD)) as backup:
        point(llm_settings, refusing, backup)
        world = llm_run({"provider": "openai", "fallback": ["ollama"]})
        for step in ("a", "b", "c"):
            assert qualify(world, step=step).provider == "ollama"
    assert refusing.calls == 3  # asked every time: a bad key is not an outage
