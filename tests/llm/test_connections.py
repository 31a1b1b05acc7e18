"""How many pooled connections a model call checks out: one for its read and its log rows while they follow
each other closely, a fresh (pinged) one after a pause longer than the reuse window. Real PostgreSQL; the
only fake is the OpenAI server. The window is set to what each test is about (a pause no loaded machine
reaches, or one every pause exceeds), so the count does not depend on how fast the machine is today."""

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event

from app.core.db import get_engine
from app.llm import orchestrator
from tests.llm.fake_providers import Answer, Fail, FakeProvider
from tests.llm.scenario import GOOD, KEY, VARIABLES, Qualification, point


class StepRunsInline:
    """A RunContext whose steps run and store nothing, so only the model call's own checkouts are counted."""

    def __init__(self, run_id: uuid.UUID, tenant_id: uuid.UUID):
        self.run_id, self.tenant_id, self.agent, self.attempt = run_id, tenant_id, "test_llm", 1

    def step(self, name: str, fn: Callable[[Any], Any]) -> Any:
        return fn(None)

    def check_cancelled(self) -> None:
        pass


@contextmanager
def checkouts() -> Iterator[list[object]]:
    seen: list[object] = []

    def count(dbapi_connection, record, proxy) -> None:
        seen.append(dbapi_connection)

    event.listen(get_engine(), "checkout", count)
    try:
        yield seen
    finally:
        event.remove(get_engine(), "checkout", count)


def _generate(world) -> orchestrator.Generation:
    return orchestrator.generate(StepRunsInline(world.run_id, world.tenant.id), step="qualify", prompt_key=KEY,
                                 variables=VARIABLES, output_model=Qualification)


@pytest.fixture
def scripts_follow_closely(monkeypatch) -> None:
    monkeypatch.setattr(orchestrator, "REUSE_WINDOW_SECONDS", 3600.0)


def test_a_call_reads_and_logs_on_one_checkout(llm_run, scripts_follow_closely):
    world = llm_run({"provider": "offline"})
    with checkouts() as seen:
        generation = _generate(world)
    assert generation.offline and len(seen) == 1
    assert [(row.provider, row.status) for row in world.logs()] == [("offline", "ok")]


def test_retries_and_their_log_rows_share_the_checkout(llm_run, llm_settings, scripts_follow_closely):
    with FakeProvider("openai", Fail(500), Answer(GOOD)) as fake:
        point(llm_settings, fake)
        world = llm_run({"provider": "openai", "budgets": {"monthly_tokens": 1_000_000}})
        with checkouts() as seen:
            _generate(world)
    # The read, the failed attempt's row, the budget check before the retry, the answer's row.
    assert fake.calls == 2 and len(seen) == 1
    assert [row.status for row in world.logs()] == ["error", "ok"]


def test_after_a_pause_longer_than_the_window_a_fresh_connection_is_checked_out(llm_run, monkeypatch):
    monkeypatch.setattr(orchestrator, "REUSE_WINDOW_SECONDS", -1.0)  # every pause is longer
    world = llm_run({"provider": "offline"})
    with checkouts() as seen:
        _generate(world)
    assert len(seen) == 2  # the read's, then the log row's (pinged by the pool)
    assert [row.status for row in world.logs()] == ["ok"]
