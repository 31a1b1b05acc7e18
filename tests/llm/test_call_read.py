"""The read every model call makes first (one db.Script, SQL text) agrees with the ORM queries the API uses for
the same facts: the tenant's active prompt (prompts.resolve) and this month's usage (budgets.month_usage).
On the real database, as the runtime role: it sees the calling tenant's rows only."""

from decimal import Decimal

from app.core.context import TenantContext
from app.core.db import script_connection
from app.llm import ledger
from app.llm.budgets import month_start, month_usage
from app.llm.orchestrator import _LOAD, _Loaded
from app.prompts import service as prompts
from app.prompts.schemas import PromptVersionIn
from tests.llm.scenario import KEY


def _read(tenant_id, run_id=None, step="qualify") -> _Loaded:
    with script_connection() as connection:
        [row] = _LOAD.run(connection, tenant_id, {"prompt_key": KEY, "month_start": month_start(), "step": step,
                                                  "earlier_run_id": run_id})
    return _Loaded._make(row)


def _log(world, step: str, tokens: tuple[int, int], cost: str) -> None:
    ledger.record(ledger.Attempt(
        tenant_id=world.tenant.id, run_id=world.run_id, run_attempt=1, agent="test_llm", step=step, attempt=1,
        purpose="generate", is_retry=False, provider="openai", model="gpt-4o-mini", prompt_key=KEY,
        prompt_version=1, prompt_source="default", request={"system": "s"}, response={"text": "{}"},
        input_tokens=tokens[0], output_tokens=tokens[1], cached_tokens=0, cost_usd=Decimal(cost), latency_ms=1.5,
        status="ok"), max_chars=1000)


def _orm(committed_db, tenant_id):
    with committed_db() as session:
        session.info["tenant_id"] = tenant_id
        return prompts.resolve(session, tenant_id, KEY), month_usage(session, tenant_id)


def test_the_call_read_agrees_with_the_orm_queries_and_sees_its_tenant_only(llm_run, committed_db):
    world, other = llm_run({"provider": "offline"}), llm_run({"provider": "offline"})
    _log(world, "qualify", (1_000, 200), "0.01234567")
    _log(world, "qualify", (30, 4), "0.00000001")
    _log(other, "qualify", (777, 777), "5")

    row = _read(world.tenant.id)
    prompt, usage = _orm(committed_db, world.tenant.id)
    assert row.settings == {"llm": {"provider": "offline"}}
    assert prompts.prompt_from_pointer(KEY, row) == prompt and prompt.source == "default"
    assert (int(row.tokens), Decimal(row.cost_usd)) == (usage.tokens, usage.cost_usd) == (1_234, Decimal("0.01234568"))

    with committed_db() as session:
        session.info["tenant_id"] = world.tenant.id
        prompts.create_version(session, TenantContext.system(world.tenant.id), KEY, PromptVersionIn(
            system="Tenant system prompt for {{ company }}.", user="Qualify {{ lead.company }}."))
        session.commit()
    row = _read(world.tenant.id)
    prompt, _ = _orm(committed_db, world.tenant.id)
    assert prompts.prompt_from_pointer(KEY, row) == prompt and (prompt.source, prompt.version) == ("tenant", 1)
    # The other tenant still follows the default, and its usage is its own.
    other_row = _read(other.tenant.id)
    assert prompts.prompt_from_pointer(KEY, other_row).source == "default"
    assert (int(other_row.tokens), Decimal(other_row.cost_usd)) == (1_554, Decimal(5))


def test_the_call_read_counts_a_steps_earlier_attempts_only_when_asked(llm_run):
    world, other = llm_run({"provider": "offline"}), llm_run({"provider": "offline"})
    _log(world, "qualify", (1, 1), "0")
    _log(world, "qualify", (1, 1), "0")
    _log(world, "draft", (1, 1), "0")
    assert _read(world.tenant.id, world.run_id, "qualify").earlier == 2
    assert _read(world.tenant.id, world.run_id, "draft").earlier == 1
    assert _read(world.tenant.id, None, "qualify").earlier == 0  # a run's first attempt does not ask
    assert _read(other.tenant.id, world.run_id, "qualify").earlier == 0  # another tenant's run: not visible
