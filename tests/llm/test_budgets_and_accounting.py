"""Accounting: llm_logs sums equal what the providers reported, to the cent; budgets stop calls and runs."""

from decimal import Decimal

import pytest
from sqlalchemy import func, select

from app.core.context import TenantContext
from app.llm.budgets import BudgetExceeded, InvalidLlmConfig, check_budget, ensure_can_enqueue, month_usage
from app.llm.prices import cost_usd
from app.models import LlmLog, LlmUsageDaily
from app.runs.errors import PermanentError
from tests.llm.fake_providers import Answer, Fail, FakeProvider
from tests.llm.scenario import GOOD, point, qualify

# (input, output, cached) as each fake reports them, deliberately odd numbers.
OPENAI_USAGE = [(1537, 211, 0), (98_765, 4_321, 65_536), (3, 1, 0), (250_001, 12_345, 1_024)]
ANTHROPIC_USAGE = [(777, 333, 111), (45_678, 9_876, 40_000), (12, 7, 0)]


def test_token_and_cost_sums_equal_the_providers_reports_to_the_cent(llm_run, llm_settings, committed_db):
    with FakeProvider("openai", *[Answer(GOOD, *u) for u in OPENAI_USAGE]) as openai_fake, \
            FakeProvider("anthropic", Fail(500), *[Answer(GOOD, *u) for u in ANTHROPIC_USAGE]) as anthropic_fake:
        point(llm_settings, openai_fake, anthropic_fake)
        world = llm_run({"provider": "openai", "model": "gpt-4.1"})
        for index in range(len(OPENAI_USAGE)):
            qualify(world, step=f"openai-{index}")
        world.set_llm_settings({"provider": "anthropic", "model": "claude-haiku-4-5"})
        for index in range(len(ANTHROPIC_USAGE)):
            qualify(world, step=f"anthropic-{index}")

    reported = [("openai", "gpt-4.1", u) for u in OPENAI_USAGE] + [
        ("anthropic", "claude-haiku-4-5", u) for u in ANTHROPIC_USAGE]
    expected_tokens = sum(i + o for _, _, (i, o, _) in reported)
    # Priced by hand from the table's per-million rates, independently of app.llm.prices.
    per_million = {"gpt-4.1": (Decimal("2.00"), Decimal("0.50"), Decimal("8.00")),
                   "claude-haiku-4-5": (Decimal("1.00"), Decimal("0.10"), Decimal("5.00"))}
    expected_cost = sum(((i - c) * per_million[m][0] + c * per_million[m][1] + o * per_million[m][2])
                        / Decimal(1_000_000) for _, m, (i, o, c) in reported)

    with committed_db() as session:
        session.info["tenant_id"] = world.tenant.id
        tokens, cached, cost, rows, errors = session.execute(
            select(func.sum(LlmLog.input_tokens + LlmLog.output_tokens), func.sum(LlmLog.cached_tokens),
                   func.sum(LlmLog.cost_usd), func.count(), func.count().filter(LlmLog.status == "error"))
            .where(LlmLog.tenant_id == world.tenant.id)).one()
        usage_tokens, usage_cost, usage_calls, usage_failed = session.execute(
            select(func.sum(LlmUsageDaily.input_tokens + LlmUsageDaily.output_tokens),
                   func.sum(LlmUsageDaily.cost_usd), func.sum(LlmUsageDaily.calls),
                   func.sum(LlmUsageDaily.failed_calls)).where(LlmUsageDaily.tenant_id == world.tenant.id)).one()
        month = month_usage(session, world.tenant.id)

    assert tokens == expected_tokens == usage_tokens == month.tokens
    assert cached == sum(c for _, _, (_, _, c) in reported)
    assert cost.quantize(Decimal("0.01")) == expected_cost.quantize(Decimal("0.01"))
    assert abs(cost - expected_cost) < Decimal("0.0000001")  # per-row rounding at 1e-8 only
    assert cost == usage_cost == month.cost_usd
    assert (rows, errors, usage_calls, usage_failed) == (8, 1, 8, 1)
    assert cost == sum(cost_usd(p, m, input_tokens=i, output_tokens=o, cached_tokens=c) for p, m, (i, o, c) in reported)


def test_a_spent_token_budget_stops_the_next_call_before_it_is_made(llm_run, llm_settings, committed_db):
    with FakeProvider("openai", Answer(GOOD, input_tokens=120, output_tokens=40)) as fake:
        point(llm_settings, fake)
        world = llm_run({"provider": "openai", "budgets": {"monthly_tokens": 150}})
        qualify(world, step="first")
        with pytest.raises(PermanentError) as spent:
            qualify(world, step="second")
    assert spent.value.code == "budget_exceeded"
    assert "160 of 150 tokens" in spent.value.message and "monthly_tokens" in spent.value.message
    assert fake.calls == 1 and len(world.logs()) == 1

    with committed_db() as session:
        session.info["tenant_id"] = world.tenant.id
        with pytest.raises(BudgetExceeded) as refused:
            ensure_can_enqueue(session, TenantContext.system(world.tenant.id))
    assert refused.value.status == 402 and "160 of 150" in refused.value.detail


def test_a_cost_budget_is_checked_before_every_attempt_including_retries(llm_run, llm_settings, committed_db):
    # gpt-4o: 100k output tokens cost $1.00; the budget is $1.00, so the first answer spends it.
    with FakeProvider("openai", Answer({"score": 500}, input_tokens=0, output_tokens=100_000),
                      Answer(GOOD)) as fake:
        point(llm_settings, fake)
        world = llm_run({"provider": "openai", "model": "gpt-4o", "budgets": {"monthly_cost_usd": "1.00"}})
        with pytest.raises(PermanentError) as spent:
            qualify(world)
    # The invalid answer spent the budget: its repair attempt was refused before reaching the provider.
    assert fake.calls == 1 and spent.value.code == "budget_exceeded"
    assert "$1.00 of $1.00" in spent.value.message
    with committed_db() as session:
        session.info["tenant_id"] = world.tenant.id
        with pytest.raises(PermanentError):
            check_budget(session, world.tenant.id)


def test_within_budget_and_valid_settings_enqueue_fine(llm_run, committed_db):
    world = llm_run({"provider": "offline", "budgets": {"monthly_tokens": 10, "monthly_cost_usd": "0.01"}})
    with committed_db() as session:
        session.info["tenant_id"] = world.tenant.id
        ensure_can_enqueue(session, TenantContext.system(world.tenant.id))
        check_budget(session, world.tenant.id)


@pytest.mark.parametrize(("llm", "fragment"), [
    ({"provider": "gemini"}, "provider"),
    ({"budgets": {"monthly_tokens": -1}}, "monthly_tokens"),
    ({"fallback": ["openai:gpt-4o", 42]}, "fallback"),
    ({"provider": "langchain", "model": "not-registered"}, "not registered"),
])
def test_invalid_llm_settings_refuse_the_enqueue_with_422(llm_run, committed_db, llm, fragment):
    world = llm_run(llm)
    with committed_db() as session:
        session.info["tenant_id"] = world.tenant.id
        with pytest.raises(InvalidLlmConfig) as invalid:
            ensure_can_enqueue(session, TenantContext.system(world.tenant.id))
    assert invalid.value.status == 422 and fragment in invalid.value.detail


def test_prometheus_counts_tokens_and_cost_by_tenant_agent_and_provider(llm_run, llm_settings):
    from prometheus_client import REGISTRY

    with FakeProvider("openai", Answer(GOOD, input_tokens=1000, output_tokens=100, cached_tokens=400)) as fake:
        point(llm_settings, fake)
        world = llm_run({"provider": "openai"})
        generation = qualify(world)
    labels = {"tenant": str(world.tenant.id), "agent": "test_llm", "provider": "openai"}
    tokens = {kind: REGISTRY.get_sample_value("agentline_llm_tokens_total", {**labels, "kind": kind})
              for kind in ("input", "cached_input", "output")}
    assert tokens == {"input": 600, "cached_input": 400, "output": 100}
    cost = REGISTRY.get_sample_value("agentline_llm_cost_usd_total", labels)
    assert cost == pytest.approx(float(generation.cost_usd))
