"""What the LLM layer adds to a model call, against a zero-latency provider.

(a) raw:    `provider.complete(request)` on the offline provider: no network, no model, microseconds.
(b) layer:  `generate()` with a run context that stores nothing: configuration, prompt and budget check (one
            transaction in one round trip, after the pool's checkout ping), render, circuit breaker (Redis),
            the same provider call, JSON parse and schema validation, the llm_logs row with its usage
            increment (one round trip on the same connection: it follows the read within 0.5 s). This is
            the orchestration overhead the target (< 2 ms median) is about.
(c) + step: `generate()` inside the engine's own ExecutionContext, which also commits the step record.

The calls are interleaved (a, b, c, a, b, c, …) in rounds so that all three see the same machine load, and
the load average is printed: on a shared machine, compare the best round with the median of rounds. The
tenant has budgets, so the budget query runs on every call as in production. A breakdown times each
piece alone. Runs on a scratch database with the workers' commit mode (model calls are made in workers).

Usage:  python -m bench.llm_overhead [--rounds 5] [--calls 400]
"""

import argparse
import os
import statistics
import time
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, Field

from bench._harness import percentile, scratch_database

VARIABLES = {
    "company": "Acme Analytics",
    "lead": {"name": "Ada Lovelace", "company": "Analytical Engines", "email": "ada@engines.example",
             "employees": 120, "industry": "manufacturing", "notes": "Asked for a demo after the webinar."},
    "sources": [{"id": "icp-1", "text": "Manufacturers with 50 to 500 employees, in Europe."}],
    "criteria": [{"name": "company_size", "description": "50 to 500 employees", "weight": 1, "required": False}],
}


class Qualification(BaseModel):
    score: int = Field(ge=0, le=100)
    bucket: Literal["hot", "warm", "cold", "disqualified"]
    reasons: list[str] = Field(min_length=1, max_length=5)
    email_subject: str = Field(max_length=120)
    email_body: str


class PassThroughContext:
    """A RunContext that runs every step and stores nothing: generate() without the engine's step commit."""

    def __init__(self, run_id: uuid.UUID, tenant_id: uuid.UUID):
        self.run_id, self.tenant_id, self.agent, self.attempt = run_id, tenant_id, "bench", 1

    def step(self, name: str, fn: Callable[[Any], Any]) -> Any:
        return fn(None)

    def check_cancelled(self) -> None:
        pass


def timed_once(fn: Callable[[], object]) -> float:
    started = time.perf_counter()
    fn()
    return (time.perf_counter() - started) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--calls", type=int, default=400, help="calls of each kind per round")
    parser.add_argument("--warmup", type=int, default=100)
    args = parser.parse_args()

    with scratch_database(redis_db=6):
        from app.core.config import get_settings
        from app.core.context import TenantContext
        from app.core.db import get_sessionmaker, script_connection, session_scope, use_worker_commit_mode
        from app.llm import ledger
        from app.llm.breaker import CircuitBreaker
        from app.llm.budgets import month_start
        from app.llm.orchestrator import _LOAD, generate
        from app.llm.providers import ModelRequest, get_provider
        from app.llm.structured import parse_answer, schema_of
        from app.models import AgentRun, Tenant
        from app.prompts import service as prompts
        from app.runs.executor import ExecutionContext, Heartbeat

        use_worker_commit_mode()
        settings = get_settings()
        tenant_id, run_id = uuid.uuid4(), uuid.uuid4()
        with session_scope(tenant_id) as session:
            session.add(Tenant(id=tenant_id, name="Bench", slug=f"bench-{tenant_id.hex[:8]}", settings={"llm": {
                "provider": "offline", "budgets": {"monthly_tokens": 10**12, "monthly_cost_usd": "1000000"}}}))
            session.flush()
            session.add(AgentRun(id=run_id, tenant_id=tenant_id, agent="bench", status="running", input={},
                                 attempt=1, max_attempts=1, requested_by_type="system"))
        with session_scope(tenant_id) as session:
            run = session.get(AgentRun, run_id)
            prompt = prompts.resolve(session, tenant_id, "sdr.qualify")
        engine_ctx = ExecutionContext(run_id, tenant_id, "bench", 1, TenantContext.system(tenant_id), Heartbeat(run),
                                      get_sessionmaker())
        bare_ctx = PassThroughContext(run_id, tenant_id)

        rendered = prompt.render(VARIABLES)
        name, schema = schema_of(Qualification)
        request = ModelRequest(model="offline-rules-1", system=rendered.system, messages=(("user", rendered.user),),
                               schema_name=name, json_schema=schema, temperature=0.2, max_output_tokens=1024,
                               variables=VARIABLES)
        provider = get_provider("offline", "offline-rules-1", settings)
        response = provider.complete(request)
        breaker = CircuitBreaker("offline", provider.endpoint, threshold=5, cooldown_seconds=30,
                                 trial_timeout_seconds=35)
        counter = iter(range(10**9))

        def raw() -> None:
            provider.complete(request)

        def layer() -> None:
            generate(bare_ctx, step="call", prompt_key="sdr.qualify", variables=VARIABLES, output_model=Qualification)

        def with_step() -> None:
            generate(engine_ctx, step=f"call-{next(counter)}", prompt_key="sdr.qualify", variables=VARIABLES,
                     output_model=Qualification)

        def load() -> None:
            # What generate() reads first, the way it reads it: one script on a pooled connection.
            with script_connection() as connection:
                _LOAD.run(connection, tenant_id, {"prompt_key": "sdr.qualify", "month_start": month_start(),
                                                  "step": "call", "earlier_run_id": None})

        def checkout() -> None:
            with script_connection():
                pass

        def breaker_check() -> None:
            if breaker.permit().needs_reset:
                breaker.record_success()

        def log_write() -> None:
            ledger.record(ledger.Attempt(
                tenant_id=tenant_id, run_id=run_id, run_attempt=1, agent="bench", step="log", attempt=1,
                purpose="generate", is_retry=False, provider="offline", model="offline-rules-1",
                prompt_key="sdr.qualify", prompt_version=1, prompt_source="default", request=request.as_log(),
                response={"text": response.text}, input_tokens=0, output_tokens=0, cached_tokens=0,
                cost_usd=Decimal(0), latency_ms=0.01, status="ok"), max_chars=settings.llm_log_max_chars)

        def step_record() -> None:
            engine_ctx.step(f"noop-{next(counter)}", lambda _session: {"ok": True})

        kinds = {"(a) raw provider call": raw, "(b) generate(), orchestration": layer,
                 "(c) generate() + engine step": with_step}
        pieces = {
            "render prompt": lambda: prompt.render(VARIABLES),
            "parse + validate answer": lambda: parse_answer(response.text, Qualification),
            "pool checkout (ping) alone": checkout,
            "settings + prompt + usage (1 txn)": load,
            "circuit breaker (Redis)": breaker_check,
            "llm_logs + usage (1 txn)": log_write,
            "step record (engine, 1 txn)": step_record,
        }
        for fn in (*kinds.values(), *pieces.values()):
            for _ in range(args.warmup):
                fn()

        load_before = os.getloadavg()[0]
        rounds: list[dict[str, list[float]]] = []
        for _ in range(args.rounds):
            samples: dict[str, list[float]] = {label: [] for label in kinds}
            for _ in range(args.calls):
                for label, fn in kinds.items():
                    samples[label].append(timed_once(fn))
            rounds.append(samples)
        breakdown = {label: [timed_once(fn) for _ in range(args.calls)] for label, fn in pieces.items()}
        load_after = os.getloadavg()[0]

    def medians(label: str) -> list[float]:
        return [statistics.median(r[label]) for r in rounds]

    raw_m, layer_m, step_m = (medians(label) for label in kinds)
    overhead = [b - a for a, b in zip(raw_m, layer_m)]
    with_step = [c - a for a, c in zip(raw_m, step_m)]
    print(f"{args.rounds} rounds x {args.calls} calls of each kind (after {args.warmup} warm-up); provider: offline; "
          f"load average {load_before:.1f} -> {load_after:.1f} on {os.cpu_count()} CPUs")
    print(f"{'':36}{'median ms':>10}{'p95 ms':>10}   (all rounds)")
    for label in kinds:
        everything = [v for r in rounds for v in r[label]]
        print(f"{label:36}{statistics.median(everything):10.3f}{percentile(everything, 95):10.3f}")
    for label, values in breakdown.items():
        print(f"  {label:34}{statistics.median(values):10.3f}{percentile(values, 95):10.3f}")
    print(f"orchestration overhead (b)-(a), per-round medians: {', '.join(f'{v:.3f}' for v in overhead)} ms")
    print(f"  best round {min(overhead):.3f} ms, median of rounds {statistics.median(overhead):.3f} ms")
    print(f"with the engine's step commit (c)-(a): best round {min(with_step):.3f} ms, "
          f"median of rounds {statistics.median(with_step):.3f} ms")
    print(f"ratio (b)/(a), median of rounds: {statistics.median(b / a for a, b in zip(raw_m, layer_m)):.0f}x")


if __name__ == "__main__":
    main()
