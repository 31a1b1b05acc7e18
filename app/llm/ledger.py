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

from sqlalchemy import Date, cast, func, insert
from sqlalchemy.dialects.postgresql import insert as pg_insert

from app.core.db import session_scope
from app.llm.metrics import LLM_CALLS, LLM_COST, LLM_LATENCY, LLM_TOKENS
from app.llm.prices import PRICE_TABLE_VERSION
from app.llm.redact import redact
from app.models import LlmLog, LlmUsageDaily


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
    failed = attempt.status != "ok"
    with session_scope(attempt.tenant_id) as session:
        log_id = session.execute(insert(LlmLog).values(
            tenant_id=attempt.tenant_id, run_id=attempt.run_id, run_attempt=attempt.run_attempt,
            agent=attempt.agent, step=attempt.step, attempt=attempt.attempt, purpose=attempt.purpose,
            is_retry=attempt.is_retry, provider=attempt.provider, model=attempt.model,
            prompt_key=attempt.prompt_key, prompt_version=attempt.prompt_version,
            prompt_source=attempt.prompt_source, request=_bounded(attempt.request, max_chars),
            response=_bounded(attempt.response, max_chars), input_tokens=attempt.input_tokens,
            output_tokens=attempt.output_tokens, cached_tokens=attempt.cached_tokens, cost_usd=attempt.cost_usd,
            price_version=PRICE_TABLE_VERSION, latency_ms=attempt.latency_ms, status=attempt.status,
            error_code=attempt.error_code, error=attempt.error[:2000] if attempt.error else None,
        ).returning(LlmLog.id)).scalar_one()
        usage = {"calls": 1, "failed_calls": int(failed), "input_tokens": attempt.input_tokens,
                 "output_tokens": attempt.output_tokens, "cached_tokens": attempt.cached_tokens,
                 "cost_usd": attempt.cost_usd}
        table = LlmUsageDaily.__table__
        utc_today = cast(func.timezone("UTC", func.now()), Date)
        session.execute(
            pg_insert(LlmUsageDaily).values(
                tenant_id=attempt.tenant_id, day=utc_today,
                agent=attempt.agent or "", provider=attempt.provider, **usage)
            .on_conflict_do_update(index_elements=["tenant_id", "day", "agent", "provider"],
                                   set_={name: table.c[name] + value for name, value in usage.items()})
        )
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
