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
from functools import lru_cache
from typing import Any

import psycopg

from app.core.db import Script, script_connection
from app.llm.metrics import LLM_CALLS, LLM_COST, LLM_LATENCY, LLM_TOKENS
from app.llm.prices import PRICE_TABLE_VERSION
from app.llm.redact import redact

# Both rows in one round trip: the log row, then its usage added to the day's row, both dated by the
# transaction's now(). `request` and `response` arrive as JSON text (serialised already, to bound their size).
_RECORD = Script("""
WITH logged AS (
  INSERT INTO llm_logs (tenant_id, run_id, run_attempt, agent, step, attempt, purpose, is_retry, provider, model,
                        prompt_key, prompt_version, prompt_source, request, response, input_tokens, output_tokens,
                        cached_tokens, cost_usd, price_version, latency_ms, status, error_code, error)
  VALUES (%(tenant_id)s::uuid, %(run_id)s::uuid, %(run_attempt)s::integer, %(agent)s::text, %(step)s::text,
          %(attempt)s::integer, %(purpose)s::text, %(is_retry)s::boolean, %(provider)s::text, %(model)s::text,
          %(prompt_key)s::text, %(prompt_version)s::integer, %(prompt_source)s::text, %(request)s::jsonb,
          %(response)s::jsonb, %(input_tokens)s::integer, %(output_tokens)s::integer, %(cached_tokens)s::integer,
          %(cost_usd)s::numeric, %(price_version)s::text, %(latency_ms)s::double precision, %(status)s::text,
          %(error_code)s::text, %(error)s::text)
  RETURNING id
)
INSERT INTO llm_usage_daily AS usage (tenant_id, day, agent, provider, calls, failed_calls, input_tokens,
                                      output_tokens, cached_tokens, cost_usd)
VALUES (%(tenant_id)s::uuid, timezone('UTC', now())::date, coalesce(%(agent)s::text, ''), %(provider)s::text, 1,
        (%(status)s::text <> 'ok')::integer, %(input_tokens)s::integer, %(output_tokens)s::integer,
        %(cached_tokens)s::integer, %(cost_usd)s::numeric)
ON CONFLICT (tenant_id, day, agent, provider) DO UPDATE SET
  calls = usage.calls + excluded.calls, failed_calls = usage.failed_calls + excluded.failed_calls,
  input_tokens = usage.input_tokens + excluded.input_tokens,
  output_tokens = usage.output_tokens + excluded.output_tokens,
  cached_tokens = usage.cached_tokens + excluded.cached_tokens, cost_usd = usage.cost_usd + excluded.cost_usd
RETURNING (SELECT id FROM logged)
""")


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


def _bounded(value: dict[str, Any] | None, limit: int) -> str | None:
    """The value redacted, as JSON text; past `limit` characters, a note with the head of that text."""
    if value is None:
        return None
    text = json.dumps(redact(value), ensure_ascii=False, default=str)
    if len(text) <= limit:
        return text
    return json.dumps({"truncated": True, "chars": len(text), "head": text[:limit]}, ensure_ascii=False)


def record(attempt: Attempt, *, max_chars: int, connection: psycopg.Connection | None = None) -> int:
    """Store one attempt (redacted, bounded) and add it to the daily usage; returns the llm_logs id. On
    `connection` (a driver connection in no transaction) if given, else on one checked out of the pool."""
    values = {
        "run_id": attempt.run_id, "run_attempt": attempt.run_attempt, "agent": attempt.agent, "step": attempt.step,
        "attempt": attempt.attempt, "purpose": attempt.purpose, "is_retry": attempt.is_retry,
        "provider": attempt.provider, "model": attempt.model, "prompt_key": attempt.prompt_key,
        "prompt_version": attempt.prompt_version, "prompt_source": attempt.prompt_source,
        "request": _bounded(attempt.request, max_chars), "response": _bounded(attempt.response, max_chars),
        "input_tokens": attempt.input_tokens, "output_tokens": attempt.output_tokens,
        "cached_tokens": attempt.cached_tokens, "cost_usd": attempt.cost_usd, "price_version": PRICE_TABLE_VERSION,
        "latency_ms": attempt.latency_ms, "status": attempt.status, "error_code": attempt.error_code,
        "error": attempt.error[:2000] if attempt.error else None,
    }
    # In a worker this commit follows WORKER_SYNCHRONOUS_COMMIT like the rest of an attempt's bookkeeping.
    if connection is None:
        with script_connection() as checked_out:
            ((log_id,),) = _RECORD.run(checked_out, attempt.tenant_id, values)
    else:
        ((log_id,),) = _RECORD.run(connection, attempt.tenant_id, values)
    _observe(attempt)
    return log_id


# Metric children, looked up once per label set: `.labels()` validates and locks on every call.
_calls = lru_cache(maxsize=256)(LLM_CALLS.labels)
_latency = lru_cache(maxsize=64)(LLM_LATENCY.labels)
_tokens = lru_cache(maxsize=4096)(LLM_TOKENS.labels)
_cost = lru_cache(maxsize=4096)(LLM_COST.labels)


def _observe(attempt: Attempt) -> None:
    tenant, agent, provider = str(attempt.tenant_id), attempt.agent or "", attempt.provider
    _calls(provider, attempt.status).inc()
    _latency(provider).observe(attempt.latency_ms / 1000)
    uncached = max(attempt.input_tokens - attempt.cached_tokens, 0)
    for kind, count in (("input", uncached), ("cached_input", attempt.cached_tokens), ("output", attempt.output_tokens)):
        if count:
            _tokens(tenant, agent, provider, kind).inc(count)
    if attempt.cost_usd:
        _cost(tenant, agent, provider).inc(float(attempt.cost_usd))
