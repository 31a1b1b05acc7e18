"""Writing llm_logs: one row per call attempt, each in its own short transaction.

Its own transaction, because the attempt happened whatever becomes of the step that made it: a step that
fails (and rolls back) must still leave its failed and retried attempts, and their cost, on the books.
The same transaction adds the attempt to llm_usage_daily, so budgets and metrics always equal the sums
over llm_logs. Both rows take their day from the transaction's `now()`, so they cannot disagree on it.
"""

import json
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import Date, bindparam, cast, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert

from app.core.db import session_scope
from app.llm.metrics import LLM_CALLS, LLM_COST, LLM_LATENCY, LLM_TOKENS
from app.llm.prices import PRICE_TABLE_VERSION
from app.llm.redact import redact
from app.models import LlmLog, LlmUsageDaily

LOGS, USAGE = LlmLog.__table__, LlmUsageDaily.__table__
_LOG_COLUMNS = ("tenant_id", "run_id", "run_attempt", "agent", "step", "attempt", "purpose", "is_retry", "provider",
                "model", "prompt_key", "prompt_version", "prompt_source", "request", "response", "input_tokens",
                "output_tokens", "cached_tokens", "cost_usd", "price_version", "latency_ms", "status", "error_code",
                "error")
_USAGE_COLUMNS = ("calls", "failed_calls", "input_tokens", "output_tokens", "cached_tokens", "cost_usd")


def _record_statement():
    """One statement for both rows, built once with bind parameters: it runs for every attempt, and building
    and caching a fresh statement each time would cost more than its database round trip. The log row and
    the usage increment are dated by the same transaction's now()."""
    logged = (LOGS.insert().values({name: bindparam(name, type_=LOGS.c[name].type) for name in _LOG_COLUMNS})
              .returning(LOGS.c.id).cte("logged"))
    usage = {name: bindparam(f"usage_{name}", type_=USAGE.c[name].type) for name in _USAGE_COLUMNS}
    return (
        pg_insert(USAGE)
        .values(tenant_id=bindparam("tenant_id"), day=cast(func.timezone("UTC", func.now()), Date),
                agent=bindparam("usage_agent"), provider=bindparam("provider"), **usage)
        .on_conflict_do_update(index_elements=["tenant_id", "day", "agent", "provider"],
                               set_={name: USAGE.c[name] + value for name, value in usage.items()})
        .returning(select(logged.c.id).scalar_subquery())
        .add_cte(logged)
    )


_RECORD = _record_statement()


@dataclass(frozen=True)
class Attempt:
    tenant_id: uuid.UUID
    run_id: uuid.UUID | None
    run_attempt: int | None
    agent: str | None
    step: str | None
    attempt: int
    purpose: str
    is_retry: bool
    provider: str
    model: str
    prompt_key: str
    prompt_version: int
    prompt_source: str
    request: dict[str, Any]
    response: dict[str, Any] | None
    input_tokens: int
    output_tokens: int
    cached_tokens: int
    cost_usd: Decimal
    latency_ms: float
    status: str
    error_code: str | None = None
    error: str | None = None


def _bounded(value: dict[str, Any] | None, limit: int) -> dict[str, Any] | None:
    if value is None:
        return None
    cleaned = redact(value)
    text = json.dumps(cleaned, ensure_ascii=False, default=str)
    if len(text) <= limit:
        return cleaned
    return {"truncated": True, "chars": len(text), "head": text[:limit]}


def record(attempt: Attempt, *, max_chars: int) -> int:
    """Store one attempt (redacted, bounded) and add it to the daily usage; returns the llm_logs id."""
    values = {
        **{name: getattr(attempt, name) for name in _LOG_COLUMNS if name not in ("price_version", "error")},
        "request": _bounded(attempt.request, max_chars), "response": _bounded(attempt.response, max_chars),
        "price_version": PRICE_TABLE_VERSION, "error": attempt.error[:2000] if attempt.error else None,
        "usage_agent": attempt.agent or "", "usage_calls": 1, "usage_failed_calls": int(attempt.status != "ok"),
        "usage_input_tokens": attempt.input_tokens, "usage_output_tokens": attempt.output_tokens,
        "usage_cached_tokens": attempt.cached_tokens, "usage_cost_usd": attempt.cost_usd,
    }
    # In a worker this commit follows WORKER_SYNCHRONOUS_COMMIT like the rest of an attempt's bookkeeping.
    with session_scope(attempt.tenant_id) as session:
        log_id = session.execute(_RECORD, values).scalar_one()
    _observe(attempt)
    return log_id


def _observe(attempt: Attempt) -> None:
    tenant, agent, provider = str(attempt.tenant_id), attempt.agent or "", attempt.provider
    LLM_CALLS.labels(provider, attempt.status).inc()
    LLM_LATENCY.labels(provider).observe(attempt.latency_ms / 1000)
    uncached = max(attempt.input_tokens - attempt.cached_tokens, 0)
    for kind, count in (("input", uncached), ("cached_input", attempt.cached_tokens), ("output", attempt.output_tokens)):
        if count:
            LLM_TOKENS.labels(tenant, agent, provider, kind).inc(count)
    if attempt.cost_usd:
        LLM_COST.labels(tenant, agent, provider).inc(float(attempt.cost_usd))
