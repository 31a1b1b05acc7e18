"""The run list, model-call log and agent-metric queries at a million rows: plans and timings.

Builds a scratch database with one busy tenant (1,000,000 llm_logs rows and 1,000,000 agent_runs over 90
days, five agents, three providers) beside 49 small ones, fills llm_usage_daily from the logs as the
ledger would, then runs the API's own service functions as that tenant (runtime role, RLS on), captures
every SQL statement they send, and prints EXPLAIN (ANALYZE, BUFFERS) for each with its time.

Usage:  python -m bench.llm_queries [--rows 1000000] [--plans]
"""

import argparse
import time
import uuid
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import create_engine, event, text

from bench._harness import scratch_database

POPULATE = """
INSERT INTO tenants (id, name, slug, timezone, settings, created_at, updated_at)
SELECT CASE WHEN n = 0 THEN CAST(:busy AS uuid) ELSE gen_random_uuid() END, 'T' || n, 'bench-' || n || '-' || :tag,
       'UTC', '{}', now(), now()
FROM generate_series(0, 49) AS n;

INSERT INTO agent_runs (id, tenant_id, agent, status, input, attempt, max_attempts, queued_at, created_at,
                        updated_at, started_at, finished_at, requested_by_type, overridden, cancel_requested)
SELECT gen_random_uuid(), t.id, (ARRAY['sdr','sales','negotiation','finance','coaching'])[1 + n % 5],
       CASE WHEN n % 50 = 0 THEN 'failed' WHEN n % 97 = 0 THEN 'dead_lettered' ELSE 'succeeded' END,
       '{}', 1, 4, ts, ts, ts, ts, ts + make_interval(secs => 0.5 + (n % 400) / 10.0), 'system', false, false
FROM (SELECT id, CASE WHEN id = CAST(:busy AS uuid) THEN :rows ELSE :rows / 1000 END AS runs FROM tenants) t,
     LATERAL generate_series(1, t.runs) AS n,
     LATERAL (SELECT now() - make_interval(secs => (n::float8 / t.runs) * 90 * 86400)) AS at(ts);

INSERT INTO llm_logs (tenant_id, run_id, run_attempt, agent, step, attempt, purpose, is_retry, provider, model,
                      prompt_key, prompt_version, prompt_source, request, response, input_tokens, output_tokens,
                      cached_tokens, cost_usd, price_version, latency_ms, status, error_code, created_at)
SELECT r.tenant_id, r.id, 1, r.agent, 'generate', 1, 'generate', false,
       (ARRAY['openai','anthropic','ollama'])[1 + abs(hashtext(r.id::text)) % 3], 'm', r.agent || '.v', 1,
       'default', '{"messages": []}', '{"text": "{}"}', 1000 + abs(hashtext(r.id::text)) % 3000, 200, 100,
       0.00123456, '2026-11.1', 850.5,
       CASE WHEN abs(hashtext(r.id::text)) % 100 < 2 THEN 'error'
            WHEN abs(hashtext(r.id::text)) % 100 < 3 THEN 'invalid_output' ELSE 'ok' END,
       NULL, r.created_at
FROM agent_runs r;

INSERT INTO llm_usage_daily (tenant_id, day, agent, provider, calls, failed_calls, input_tokens, output_tokens,
                             cached_tokens, cost_usd)
SELECT tenant_id, (created_at AT TIME ZONE 'UTC')::date, coalesce(agent, ''), provider, count(*),
       count(*) FILTER (WHERE status <> 'ok'), sum(input_tokens), sum(output_tokens), sum(cached_tokens),
       sum(cost_usd)
FROM llm_logs GROUP BY 1, 2, 3, 4;

VACUUM ANALYZE agent_runs;
VACUUM ANALYZE llm_logs;
VACUUM ANALYZE llm_usage_daily;
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000, help="llm_logs rows (and runs) of the busy tenant")
    parser.add_argument("--plans", action="store_true", help="print whole plans, not just their top lines")
    args = parser.parse_args()
    busy = uuid.uuid4()
    with scratch_database(redis_db=6) as urls:
        owner = create_engine(urls["MIGRATION_DATABASE_URL"], isolation_level="AUTOCOMMIT")
        started = time.perf_counter()
        with owner.connect() as connection:
            for statement in filter(str.strip, POPULATE.split(";\n")):
                connection.execute(text(statement), {"busy": str(busy), "rows": args.rows, "tag": busy.hex[:6]})
            counts = connection.execute(text(
                "SELECT (SELECT count(*) FROM llm_logs), (SELECT count(*) FROM llm_logs WHERE tenant_id = :t), "
                "(SELECT count(*) FROM agent_runs WHERE tenant_id = :t)"), {"t": str(busy)}).one()
        owner.dispose()
        print(f"populated in {time.perf_counter() - started:.0f} s: llm_logs {counts[0]:,} rows, "
              f"busy tenant {counts[1]:,} logs and {counts[2]:,} runs")
        explain_service_queries(busy, args.plans)


def explain_service_queries(tenant_id: uuid.UUID, whole_plans: bool) -> None:
    from app.core.context import TenantContext
    from app.core.db import get_engine, session_scope
    from app.llm import service
    from app.llm.budgets import month_usage
    from app.llm.repository import LogFilters
    from app.runs import service as runs
    from app.runs.state import RunStatus

    ctx = TenantContext.system(tenant_id)
    with session_scope(tenant_id) as session:
        first = service.list_model_calls(session, ctx, LogFilters(), limit=50, cursor=None, with_payloads=False)
        deep = first
        for _ in range(200):  # 10,000 rows in: keyset pages cost the same at any depth
            deep = service.list_model_calls(session, ctx, LogFilters(), limit=50, cursor=deep.next_cursor,
                                            with_payloads=False)
        some_run = first.items[0].run_id
        _, deep_runs = runs.list_runs(session, ctx, limit=50)
        for _ in range(200):
            _, deep_runs = runs.list_runs(session, ctx, limit=50, cursor=deep_runs)
        last_week = datetime.now(UTC) - timedelta(days=7)
    cases = {
        "logs: first page": lambda s: service.list_model_calls(s, ctx, LogFilters(), limit=50, cursor=None,
                                                               with_payloads=False),
        "logs: page 201 (keyset)": lambda s: service.list_model_calls(s, ctx, LogFilters(), limit=50,
                                                                      cursor=deep.next_cursor, with_payloads=False),
        "logs: agent=finance": lambda s: service.list_model_calls(s, ctx, LogFilters(agent="finance"), limit=50,
                                                                  cursor=None, with_payloads=False),
        "logs: provider=ollama, last 7 days": lambda s: service.list_model_calls(
            s, ctx, LogFilters(provider="ollama", since=last_week), limit=50, cursor=None, with_payloads=False),
        "logs: status=error (2%)": lambda s: service.list_model_calls(s, ctx, LogFilters(status="error"), limit=50,
                                                                      cursor=None, with_payloads=True),
        "logs: one run": lambda s: service.list_model_calls(s, ctx, LogFilters(run_id=some_run), limit=50,
                                                            cursor=None, with_payloads=True),
        "logs: a 1-hour window 30 days ago": lambda s: service.list_model_calls(
            s, ctx, LogFilters(since=datetime.now(UTC) - timedelta(days=30),
                               until=datetime.now(UTC) - timedelta(days=30) + timedelta(hours=1)),
            limit=50, cursor=None, with_payloads=False),
        "runs: first page": lambda s: runs.list_runs(s, ctx, limit=50),
        "runs: page 201 (keyset)": lambda s: runs.list_runs(s, ctx, limit=50, cursor=deep_runs),
        "runs: status=failed (2%)": lambda s: runs.list_runs(s, ctx, limit=50, status=RunStatus.failed),
        "runs: agent=finance, page 201": lambda s: runs.list_runs(s, ctx, limit=50, agent="finance",
                                                                 cursor=deep_runs),
        "metrics: 30 days, all agents": lambda s: service.agent_metrics(s, ctx, since=None, until=None, agent=None),
        "metrics: 7 days, one agent": lambda s: service.agent_metrics(
            s, ctx, since=date.today() - timedelta(days=6), until=None, agent="sdr"),
        "budget: this month's usage": lambda s: month_usage(s, tenant_id),
    }
    engine = get_engine()
    for label, run in cases.items():
        captured: list[tuple[str, object]] = []

        def capture(conn, cursor, statement, parameters, context, executemany):
            if statement.lstrip().upper().startswith("SELECT") and "set_config" not in statement:
                captured.append((statement, parameters))

        event.listen(engine, "before_cursor_execute", capture)
        try:
            with session_scope(tenant_id) as session:
                started = time.perf_counter()
                run(session)
                elapsed = (time.perf_counter() - started) * 1000
        finally:
            event.remove(engine, "before_cursor_execute", capture)
        print(f"\n=== {label}: {elapsed:.1f} ms end to end (the service call, {len(captured)} queries)")
        with session_scope(tenant_id) as session:
            raw = session.connection().connection.driver_connection
            for statement, parameters in captured:
                plan = [row[0] for row in raw.execute("EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters)]
                interesting = plan if whole_plans else [
                    line for line in plan
                    if any(word in line for word in ("Scan", "Execution Time", "Sort Method", "Aggregate"))][:6]
                print("\n".join("    " + line for line in interesting))


if __name__ == "__main__":
    main()
