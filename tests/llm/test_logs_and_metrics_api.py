"""GET /api/v1/logs/agents and GET /api/v1/metrics/agents over real model calls and runs."""

import statistics
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from app.auth.permissions import Role
from app.models import AgentRun
from tests.llm.fake_providers import Answer, Fail, FakeProvider
from tests.llm.scenario import GOOD, point, qualify


@pytest.fixture
def calls(llm_run, llm_settings):
    """Tenant A: run 1 (a 500 then an answer, via openai) and run 2 (an answer via anthropic) of agent
    `test_llm`, and run 3 of agent `other` (offline). Tenant B: one call that A must never see."""
    with FakeProvider("openai", Fail(500), Answer(GOOD, 1000, 100)) as openai_fake, \
            FakeProvider("anthropic", Answer(GOOD, 2000, 200, 500)) as anthropic_fake:
        point(llm_settings, openai_fake, anthropic_fake)
        first = llm_run({"provider": "openai"})
        qualify(first)
        second = first.new_run()
        second.set_llm_settings({"provider": "anthropic"})
        qualify(second)
        third = first.new_run(agent="other")
        third.set_llm_settings({})
        qualify(third)
        other_tenant = llm_run({"provider": "openai"})
        qualify(other_tenant)
    return first, second, third, other_tenant


def _get(client, tenant, path: str, role: Role = Role.viewer, **params):
    response = client.get(path, params=params, headers=tenant.headers(role))
    assert response.status_code == 200, response.text
    return response.json()


def test_logs_newest_first_isolated_filtered_and_without_payloads_by_default(client, calls):
    first, second, third, other_tenant = calls
    page = _get(client, first.tenant, "/api/v1/logs/agents")
    items = page["items"]
    assert page["next_cursor"] is None and len(items) == 4
    assert [i["provider"] for i in items] == ["offline", "anthropic", "openai", "openai"]
    assert {i["run_id"] for i in items} == {str(first.run_id), str(second.run_id), str(third.run_id)}
    assert all(i["request"] is None and i["response"] is None for i in items)
    assert Decimal(items[1]["cost_usd"]) == Decimal("0.00255")  # haiku: 1500 x $1 + 500 x $0.10 + 200 x $5 per M

    by_run = _get(client, first.tenant, "/api/v1/logs/agents", run_id=str(first.run_id))["items"]
    assert [(i["status"], i["attempt"], i["is_retry"]) for i in by_run] == [("ok", 2, True), ("error", 1, False)]
    assert [i["provider"] for i in _get(client, first.tenant, "/api/v1/logs/agents", status="error")["items"]] == [
        "openai"]
    assert len(_get(client, first.tenant, "/api/v1/logs/agents", agent="other")["items"]) == 1
    assert len(_get(client, first.tenant, "/api/v1/logs/agents", provider="anthropic")["items"]) == 1
    newest = datetime.fromisoformat(items[0]["created_at"])
    assert _get(client, first.tenant, "/api/v1/logs/agents", since=newest.isoformat())["items"] == items[:1]
    assert _get(client, first.tenant, "/api/v1/logs/agents", until=newest.isoformat())["items"] == items[1:]
    # Another tenant's run id finds nothing, as if it did not exist.
    assert _get(client, first.tenant, "/api/v1/logs/agents", run_id=str(other_tenant.run_id))["items"] == []

    detailed = _get(client, first.tenant, "/api/v1/logs/agents", with_payloads="true", provider="anthropic")
    [call] = detailed["items"]
    assert "[email]" in str(call["request"]) and "ada@engines.example" not in str(call["request"])
    assert call["response"]["text"]


def test_keyset_pages_cover_everything_once(client, calls):
    tenant = calls[0].tenant
    everything = _get(client, tenant, "/api/v1/logs/agents")["items"]
    seen, cursor = [], None
    while True:
        params = {"limit": 1, **({"cursor": cursor} if cursor else {})}
        page = _get(client, tenant, "/api/v1/logs/agents", **params)
        seen += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert [i["id"] for i in seen] == [i["id"] for i in everything]


@pytest.mark.parametrize(("params", "status"), [
    ({"cursor": "not-a-cursor"}, 400),
    ({"status": "exploded"}, 422),
    ({"limit": 0}, 422),
    ({"since": "yesterday"}, 422),
])
def test_bad_log_queries_are_problem_json(client, calls, params, status):
    response = client.get("/api/v1/logs/agents", params=params, headers=calls[0].tenant.headers(Role.viewer))
    assert response.status_code == status
    assert response.headers["content-type"].startswith("application/problem+json")


def test_metrics_per_agent_and_day_computed_in_sql(client, calls, committed_db):
    first = calls[0]
    today = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)
    yesterday = today - timedelta(days=1)
    durations = {"succeeded": [1.0, 2.0, 3.0, 10.0], "failed": [5.0], "dead_lettered": [7.0]}
    with committed_db() as session:
        session.info["tenant_id"] = first.tenant.id
        for status, seconds in durations.items():
            for value in seconds:
                session.add(AgentRun(id=uuid.uuid4(), tenant_id=first.tenant.id, agent="test_llm", status=status,
                                     input={}, attempt=1, max_attempts=3, requested_by_type="system",
                                     created_at=yesterday, started_at=yesterday,
                                     finished_at=yesterday + timedelta(seconds=value)))
        session.add(AgentRun(id=uuid.uuid4(), tenant_id=first.tenant.id, agent="test_llm", status="queued",
                             input={}, attempt=0, max_attempts=3, requested_by_type="system", created_at=yesterday))
        session.commit()

    metrics = _get(client, first.tenant, "/api/v1/metrics/agents", since=str(yesterday.date()),
                   until=str(today.date()))
    agents = {a["agent"]: a for a in metrics["agents"]}
    assert set(agents) == {"test_llm", "other"}
    llm = agents["test_llm"]
    # The fixture's two runs are still 'running' today; the six finished ones and a queued one are yesterday's.
    assert llm["runs"] == {"dead_lettered": 1, "failed": 1, "queued": 1, "running": 2, "succeeded": 4}
    assert llm["runs_total"] == 9 and llm["success_rate"] == round(4 / 6, 4)
    finished = sorted(v for values in durations.values() for v in values)
    quantiles = statistics.quantiles(finished, n=100, method="inclusive")  # what percentile_cont computes
    assert llm["latency"]["p50_ms"] == pytest.approx(statistics.median(finished) * 1000)
    assert llm["latency"]["p95_ms"] == pytest.approx(quantiles[94] * 1000)
    assert (llm["model_calls"], llm["failed_model_calls"]) == (3, 1)
    assert llm["tokens"] == {"input": 3000, "output": 300, "cached": 500}
    logs = _get(client, first.tenant, "/api/v1/logs/agents", agent="test_llm")["items"]
    assert Decimal(llm["cost_usd"]) == sum(Decimal(i["cost_usd"]) for i in logs)

    yesterday_figures, today_figures = llm["days"]
    assert yesterday_figures["day"] == str(yesterday.date()) and yesterday_figures["model_calls"] == 0
    assert yesterday_figures["latency"]["p50_ms"] == llm["latency"]["p50_ms"]
    assert today_figures["runs"] == {"running": 2} and today_figures["latency"] == {"p50_ms": None, "p95_ms": None}
    assert today_figures["tokens"] == llm["tokens"]

    only_other = _get(client, first.tenant, "/api/v1/metrics/agents", agent="other")
    assert [a["agent"] for a in only_other["agents"]] == ["other"]
    assert only_other["agents"][0]["cost_usd"] == "0.00000000"
    # Tenant B sees its own figures only.
    assert [a["runs_total"] for a in _get(client, calls[3].tenant, "/api/v1/metrics/agents")["agents"]] == [1]


@pytest.mark.parametrize(("params", "status"), [
    ({"since": "2026-05-02", "until": "2026-05-01"}, 400),
    ({"since": "2020-01-01", "until": "2026-01-01"}, 400),
    ({"since": "not-a-day"}, 422),
    # Days at the calendar's edges: the period's end (the next day) or its default start would not exist.
    ({"until": "9999-12-31"}, 422),
    ({"since": "9999-12-31", "until": "9999-12-31"}, 422),
    ({"until": "0001-01-05"}, 422),
])
def test_bad_metric_periods_are_problem_json(client, db, params, status):
    from tests.builders import make_tenant

    tenant = make_tenant(db)
    response = client.get("/api/v1/metrics/agents", params=params, headers=tenant.headers(Role.viewer))
    assert response.status_code == status and response.json()["status"] == status


@pytest.mark.parametrize("params", [
    {"until": "9999-12-31T23:59:59-05:00"}, {"since": "0001-01-01T00:00:00+05:00"},
    {"since": "9999-12-31T23:59:59.999999", "until": "0001-01-01T00:00:00"},
])
def test_log_periods_at_the_calendars_edges_are_answered(client, db, params):
    from tests.builders import make_tenant

    tenant = make_tenant(db)
    response = client.get("/api/v1/logs/agents", params=params, headers=tenant.headers(Role.viewer))
    assert response.status_code in (200, 422), response.text


def test_reading_logs_and_metrics_needs_a_login(client):
    assert client.get("/api/v1/logs/agents").status_code == 401
    assert client.get("/api/v1/metrics/agents").status_code == 401


def test_a_runs_detail_lists_its_model_calls_and_another_tenant_gets_404(client, calls):
    first, other_tenant = calls[0], calls[3]
    detail = _get(client, first.tenant, f"/api/v1/runs/{first.run_id}")
    assert [(c["attempt"], c["status"], c["error_code"], c["provider"]) for c in detail["model_calls"]] == [
        (1, "error", "server_error", "openai"), (2, "ok", None, "openai")]
    assert "[email]" in str(detail["model_calls"][1]["request"])
    response = client.get(f"/api/v1/runs/{first.run_id}", headers=other_tenant.tenant.headers(Role.owner))
    assert response.status_code == 404
