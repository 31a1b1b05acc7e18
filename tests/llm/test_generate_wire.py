"""generate() against local servers speaking each provider's wire format, through the official clients.

Real PostgreSQL (llm_logs, llm_usage_daily, run_steps) and Redis (circuit breakers); the only fakes are the
provider servers on 127.0.0.1.
"""

import time
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from app.llm.orchestrator import generate
from app.llm.prices import PRICE_TABLE_VERSION, cost_usd
from app.models import RunStep
from app.prompts.registry import default_prompts
from app.runs.errors import PermanentError, TransientError
from tests.llm.fake_providers import Answer, Fail, FakeProvider, Garbage, Hang
from tests.llm.scenario import GOOD, KEY, MODELS, VARIABLES, Qualification, point, qualify


def test_the_variables_cover_the_shipped_prompt():
    assert default_prompts().latest(KEY).variables <= set(VARIABLES)


@pytest.mark.parametrize("wire", ["openai", "anthropic", "ollama"])
def test_success_records_usage_cost_prompt_and_a_redacted_request(llm_run, llm_settings, wire):
    with FakeProvider(wire, Answer(GOOD, input_tokens=1234, output_tokens=321, cached_tokens=200)) as fake:
        point(llm_settings, fake)
        world = llm_run({"provider": wire})
        generation = qualify(world)

    assert generation.output == Qualification(**GOOD)
    assert (generation.provider, generation.model, generation.offline) == (wire, MODELS[wire], False)
    shipped = default_prompts().latest(KEY).version
    assert (generation.prompt_key, generation.prompt_version, generation.prompt_source) == (KEY, shipped, "default")
    cached = 0 if wire == "ollama" else 200  # Ollama reports no cache
    assert (generation.input_tokens, generation.output_tokens, generation.cached_tokens) == (1234, 321, cached)
    expected_cost = cost_usd(wire, MODELS[wire], input_tokens=1234, output_tokens=321, cached_tokens=cached)
    assert generation.cost_usd == expected_cost and (wire == "ollama") == (expected_cost == 0)

    [row] = world.logs()
    assert (row.provider, row.model, row.status, row.attempt, row.purpose, row.is_retry) == (
        wire, MODELS[wire], "ok", 1, "generate", False)
    assert (row.prompt_key, row.prompt_version, row.prompt_source, row.step, row.agent) == (
        KEY, shipped, "default", "qualify", "test_llm")
    assert (row.input_tokens, row.output_tokens, row.cached_tokens, row.cost_usd) == (1234, 321, cached, expected_cost)
    assert row.price_version == PRICE_TABLE_VERSION and row.latency_ms > 0
    stored_request = str(row.request)
    assert "Analytical Engines" in stored_request
    assert "ada@engines.example" not in stored_request and "[email]" in stored_request
    assert "7946" not in stored_request and "[phone]" in stored_request
    assert row.response["text"]

    # Each client used its structured-output mode, and sent the real e-mail address to the provider.
    [sent] = fake.requests
    schema = Qualification.model_json_schema()
    if wire == "openai":
        assert sent["response_format"]["type"] == "json_schema"
        assert sent["response_format"]["json_schema"]["schema"] == schema
    elif wire == "anthropic":
        assert sent["tool_choice"] == {"type": "tool", "name": "Qualification"}
        assert sent["tools"][0]["input_schema"] == schema
    else:
        assert sent["format"] == schema
    assert "ada@engines.example" in str(sent)


@pytest.mark.parametrize("wire", ["openai", "anthropic"])
def test_429_retry_after_is_honoured(llm_run, llm_settings, wire):
    with FakeProvider(wire, Fail(429, {"retry-after": "0.6"}, "slow down"), Answer(GOOD)) as fake:
        point(llm_settings, fake)
        world = llm_run({"provider": wire})
        started = time.monotonic()
        generation = qualify(world)
        elapsed = time.monotonic() - started

    assert fake.calls == 2 and elapsed >= 0.6
    assert generation.attempts == 2
    first, second = world.logs()
    assert (first.status, first.error_code, first.is_retry, first.input_tokens) == ("error", "rate_limited", False, 0)
    assert "slow down" in first.error
    assert (second.status, second.attempt, second.is_retry) == ("ok", 2, True)


@pytest.mark.parametrize("wire", ["openai", "anthropic", "ollama"])
def test_500_is_retried(llm_run, llm_settings, wire):
    with FakeProvider(wire, Fail(500), Fail(502), Answer(GOOD)) as fake:
        point(llm_settings, fake)
        world = llm_run({"provider": wire})
        generation = qualify(world)
    assert fake.calls == 3 and generation.output.score == 82
    assert [(r.status, r.error_code, r.is_retry) for r in world.logs()] == [
        ("error", "server_error", False), ("error", "server_error", True), ("ok", None, True)]


@pytest.mark.parametrize("wire", ["openai", "anthropic", "ollama"])
def test_a_timeout_is_cut_at_the_configured_limit_and_retried(llm_run, llm_settings, wire):
    with FakeProvider(wire, Hang(3), Answer(GOOD)) as fake:
        point(llm_settings, fake)
        llm_settings(LLM_TIMEOUT_SECONDS="0.5")
        world = llm_run({"provider": wire})
        generation = qualify(world)
    timed_out, ok = world.logs()
    assert (timed_out.status, timed_out.error_code) == ("error", "timeout")
    assert 400 <= timed_out.latency_ms < 2500
    assert ok.status == "ok" and generation.output.bucket == "hot"


@pytest.mark.parametrize("wire", ["openai", "anthropic", "ollama"])
def test_malformed_output_gets_one_repair_with_the_errors(llm_run, llm_settings, wire):
    with FakeProvider(wire, Answer('{"score": 82, "bucket": "scorching"', output_tokens=9), Answer(GOOD)) as fake:
        point(llm_settings, fake)
        world = llm_run({"provider": wire})
        generation = qualify(world)

    assert generation.repaired and generation.output == Qualification(**GOOD)
    assert generation.confidence < 1
    invalid, repaired = world.logs()
    assert (invalid.status, invalid.error_code, invalid.purpose, invalid.output_tokens) == (
        "invalid_output", "schema_validation", "generate", 9)
    assert "not valid JSON" in invalid.error
    assert (repaired.status, repaired.purpose, repaired.is_retry) == ("ok", "repair", False)
    repair_body = str(fake.requests[1])
    assert "rejected for these reasons" in repair_body and '"bucket": "scorching"' in repair_body


def test_still_invalid_after_the_repair_is_permanent_and_stores_no_step(llm_run, llm_settings, committed_db):
    bad = {"score": 500, "bucket": "hot", "reasons": []}
    with FakeProvider("openai", Answer(bad)) as fake:
        point(llm_settings, fake)
        world = llm_run({"provider": "openai"})
        with pytest.raises(PermanentError) as failure:
            qualify(world)
    assert failure.value.code == "output_invalid" and "score" in failure.value.message
    assert fake.calls == 2
    assert [(r.status, r.purpose) for r in world.logs()] == [("invalid_output", "generate"), ("invalid_output", "repair")]
    with committed_db() as session:
        session.info["tenant_id"] = world.tenant.id
        assert session.scalar(select(func.count()).select_from(RunStep).where(RunStep.run_id == world.run_id)) == 0


def test_business_validators_get_the_repair_and_remaining_issues_lower_confidence(llm_run, llm_settings):
    def bucket_matches_score(answer: Qualification) -> list[str]:
        return [] if answer.bucket != "hot" or answer.score >= 80 else [
            f"bucket 'hot' needs a score of 80 or more, not {answer.score}"]

    inconsistent = {**GOOD, "score": 40}
    with FakeProvider("openai", Answer(inconsistent), Answer(GOOD)) as fake:
        point(llm_settings, fake)
        world = llm_run({"provider": "openai"})
        fixed = qualify(world, validators=[bucket_matches_score])
        assert fixed.repaired and fixed.issues == [] and fixed.output.score == 82
        assert "needs a score of 80" in str(fake.requests[1])

        fake.play(Answer(inconsistent))
        stubborn = qualify(world, step="qualify-again", validators=[bucket_matches_score])
    assert stubborn.output.score == 40 and len(stubborn.issues) == 1
    assert stubborn.confidence < fixed.confidence
    assert [r.error_code for r in world.logs()][-2:] == ["business_rules", "business_rules"]


def test_fallback_to_the_next_provider_when_one_is_down(llm_run, llm_settings):
    with FakeProvider("openai", Fail(503)) as down, FakeProvider("anthropic", Answer(GOOD, 50, 10)) as up:
        point(llm_settings, down, up)
        world = llm_run({"provider": "openai", "fallback": ["anthropic:claude-opus-4-5"]})
        generation = qualify(world)

    assert down.calls == 3 and up.calls == 1  # 1 + LLM_MAX_RETRIES, then the fallback
    assert (generation.provider, generation.model, generation.fell_back) == ("anthropic", "claude-opus-4-5", True)
    rows = world.logs()
    assert [(r.provider, r.status, r.is_retry) for r in rows] == [
        ("openai", "error", False), ("openai", "error", True), ("openai", "error", True), ("anthropic", "ok", True)]
    assert rows[-1].cost_usd == Decimal("0.0005")  # 50 x $5/M + 10 x $25/M


def test_a_wait_longer_than_allowed_moves_on_instead_of_sleeping(llm_run, llm_settings):
    with FakeProvider("openai", Fail(429, {"retry-after": "120"})) as limited, \
            FakeProvider("ollama", Answer(GOOD)) as local:
        point(llm_settings, limited, local)
        world = llm_run({"provider": "openai", "fallback": ["ollama"]})
        started = time.monotonic()
        generation = qualify(world)
    assert time.monotonic() - started < 3 and limited.calls == 1
    assert generation.provider == "ollama"


def test_every_provider_down_is_transient_with_the_shortest_retry_after(llm_run, llm_settings):
    with FakeProvider("openai", Fail(429, {"retry-after": "30"})) as openai_fake, \
            FakeProvider("anthropic", Fail(529, {"retry-after": "45"})) as anthropic_fake:
        point(llm_settings, openai_fake, anthropic_fake)
        world = llm_run({"provider": "openai", "fallback": ["anthropic"]})
        with pytest.raises(TransientError) as failure:
            qualify(world)
    assert failure.value.code == "llm_unavailable" and failure.value.retry_after == 30
    assert openai_fake.calls == 1 and anthropic_fake.calls == 1


@pytest.mark.parametrize(("fail", "code"), [
    (Fail(401, message="bad key"), "auth_failed"),
    (Fail(404, message="no such model"), "model_not_found"),
    (Fail(429, message="You exceeded your current quota", code="insufficient_quota"), "insufficient_quota"),
])
def test_permanent_provider_errors_are_not_retried(llm_run, llm_settings, fail, code):
    with FakeProvider("openai", fail) as fake:
        point(llm_settings, fake)
        world = llm_run({"provider": "openai"})
        with pytest.raises(PermanentError) as failure:
            qualify(world)
    assert fake.calls == 1 and failure.value.code == "llm_request_rejected"
    assert [(r.status, r.error_code) for r in world.logs()] == [("error", code)]


def test_a_completed_step_does_not_call_the_model_again(llm_run, llm_settings):
    with FakeProvider("anthropic", Answer(GOOD)) as fake:
        point(llm_settings, fake)
        world = llm_run({"provider": "anthropic"})
        first = qualify(world, attempt=1)
        again = qualify(world, attempt=2)
    assert fake.calls == 1 and again == first and len(world.logs()) == 1


def test_a_tenant_prompt_version_is_sent_and_recorded(llm_run, llm_settings, committed_db):
    from app.core.context import TenantContext
    from app.prompts import service
    from app.prompts.schemas import PromptVersionIn

    with FakeProvider("openai", Answer(GOOD)) as fake:
        point(llm_settings, fake)
        world = llm_run({"provider": "openai"})
        with committed_db() as session:
            session.info["tenant_id"] = world.tenant.id
            service.create_version(session, TenantContext.system(world.tenant.id), KEY, PromptVersionIn(
                system="Tenant system prompt for {{ company }}.", user="Qualify {{ lead.company }}."))
            session.commit()
        generation = qualify(world)
    assert (generation.prompt_source, generation.prompt_version) == ("tenant", 1)
    messages = fake.requests[0]["messages"]
    assert messages[0] == {"role": "system", "content": "Tenant system prompt for Acme Analytics."}
    assert messages[1] == {"role": "user", "content": "Qualify Analytical Engines."}
    [row] = world.logs()
    assert (row.prompt_source, row.prompt_version) == ("tenant", 1)


def test_a_missing_variable_fails_loudly_before_any_call(llm_run, llm_settings):
    with FakeProvider("openai", Answer(GOOD)) as fake:
        point(llm_settings, fake)
        world = llm_run({"provider": "openai"})
        with pytest.raises(PermanentError) as failure:
            generate(world.context(), step="qualify", prompt_key=KEY, variables={"company": "Acme", "lead": {}},
                     output_model=Qualification)
    assert failure.value.code == "prompt_variable_missing" and "'sources'" in failure.value.message
    assert fake.calls == 0 and world.logs() == []


def test_an_unknown_prompt_or_a_broken_configuration_is_permanent(llm_run, llm_settings):
    world = llm_run({"provider": "openai", "temperature": 9})
    with pytest.raises(PermanentError) as config_error:
        qualify(world)
    assert config_error.value.code == "llm_config_invalid" and "temperature" in config_error.value.message
    world.set_llm_settings({})
    with pytest.raises(PermanentError) as unknown:
        generate(world.context(), step="x", prompt_key="no.such", variables={}, output_model=Qualification)
    assert unknown.value.code == "prompt_not_found"


def test_offline_is_the_default_and_says_so(llm_run):
    world = llm_run()
    generation = qualify(world)
    assert (generation.provider, generation.offline, generation.cost_usd) == ("offline", True, Decimal(0))
    assert generation.confidence <= 0.5
    assert all(reason.startswith("[offline]") for reason in generation.output.reasons)
    assert generation == qualify(world.new_run())  # deterministic: same inputs, same answer
    [row] = world.logs()
    assert (row.provider, row.model, row.status, row.cost_usd) == ("offline", "offline-rules-1", "ok", 0)


@pytest.mark.parametrize("wire", ["openai", "anthropic", "ollama"])
def test_a_reply_in_no_known_format_is_a_logged_transient_failure(llm_run, llm_settings, wire):
    with FakeProvider(wire, Garbage(), Answer(GOOD)) as fake:
        point(llm_settings, fake)
        world = llm_run({"provider": wire})
        generation = qualify(world)
    assert fake.calls == 2 and generation.output.score == 82
    garbled, ok = world.logs()
    assert (garbled.status, garbled.error_code) == ("error", "provider_error") and ok.status == "ok"
