"""Run-engine throughput against raw Celery, measured in one run on the same broker, pool and concurrency.

(a) raw: no-op Celery tasks (acks_late, prefetch 1, prefork) → tasks/s and send→done latency.
(b) engine: `echo` runs through the HTTP API, the outbox, a worker and PostgreSQL → runs/s and
    POST→terminal latency.
(c) the durable work of (b) without HTTP or Celery: runs accepted and executed in this process → CPU per
    run, and the ratio (b)/(a) could reach at most with a free HTTP layer.
Prints medians and p99s and the ratio (b)/(a). Usage:  python -m bench.throughput [--runs 1000] [--concurrency 2]
"""

import argparse
import http.client
import json
import statistics
import threading
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import redis
from sqlalchemy import create_engine, make_url, text

from bench._harness import CpuMeter, Processes, percentile, scratch_database, wait_for


def measure_raw(urls: dict[str, str], procs: Processes, tasks: int, concurrency: int) -> dict[str, float]:
    from bench.noop_app import app

    done = redis.Redis.from_url(urls["REDIS_URL"])
    procs.celery("noop-worker", "bench.noop_app", "worker", "-P", "prefork", "-c", str(concurrency), "-Q", "bench",
                 "--without-gossip", "--without-mingle", "--without-heartbeat", "--loglevel", "WARNING")
    app.send_task("bench.noop", args=["warmup"], queue="bench")
    wait_for(lambda: done.hexists("bench:done", "warmup"), 60, "the raw worker")
    done.delete("bench:done")
    meter = CpuMeter(procs, _database(urls))
    meter.begin()
    sent: dict[str, float] = {}
    for i in range(tasks):
        marker = f"t{i}"
        sent[marker] = time.time()
        app.send_task("bench.noop", args=[marker], queue="bench")
    wait_for(lambda: done.hlen("bench:done") >= tasks, 300, "raw tasks")
    finished = {k.decode(): float(v) for k, v in done.hgetall("bench:done").items()}
    cpu = meter.per_item_ms(tasks)
    latencies = [finished[m] - sent[m] for m in sent]
    return {"per_second": tasks / (max(finished.values()) - min(sent.values())),
            "p50_ms": percentile(latencies, 50) * 1000, "p99_ms": percentile(latencies, 99) * 1000, "cpu": cpu}


def measure_engine(urls: dict[str, str], procs: Processes, runs: int, concurrency: int, clients: int) -> dict[str, float]:
    from app.core.db import session_scope
    from app.core.security import create_token
    from app.tenants.service import create_tenant

    with session_scope() as session:
        tenant, owner = create_tenant(session, name="Bench", admin_email="bench@bench.example.com",
                                      admin_password=uuid.uuid4().hex, slug=f"bench-{uuid.uuid4().hex[:6]}")
    headers = {"Authorization": f"Bearer {create_token(owner.id, tenant.id, 'access')[0]}"}
    port = 18700 + uuid.uuid4().int % 200
    base = f"http://127.0.0.1:{port}"
    # Generous limits: the benchmark measures the engine, not the tenant's rate limit or concurrency cap.
    env = {"RATE_LIMIT_PER_SECOND": "100000", "RATE_LIMIT_BURST": "100000", "TENANT_MAX_RUNNING_RUNS": "1000"}
    procs.spawn("api", ["-m", "uvicorn", "app.main:create_app", "--factory", "--port", str(port),
                        "--log-level", "warning"], **env)
    procs.celery("engine-worker", "workers.celery_app", "worker", "-P", "prefork", "-c", str(concurrency),
                 "-Q", "agents.echo", "--without-gossip", "--without-mingle", "--without-heartbeat",
                 "--loglevel", "WARNING", **env)
    procs.celery("beat", "workers.celery_app", "beat", "--schedule",
                 str(procs.logs / "beat-schedule"), "--loglevel", "WARNING", **env)

    def ready() -> bool:
        try:
            return httpx.get(f"{base}/ready", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    wait_for(ready, 60, "the API")
    engine = create_engine(urls["MIGRATION_DATABASE_URL"])  # the owner reads across tenants for the tally

    # This round's tenant only: runs of earlier rounds (and of (c)) must neither count nor be deleted.
    def finished_count() -> int:
        with engine.connect() as connection:
            return connection.execute(text(
                "SELECT count(*) FROM agent_runs WHERE tenant_id = :tenant "
                "AND status IN ('succeeded','failed','dead_lettered')"), {"tenant": tenant.id}).scalar()

    # The load generator: one keep-alive http.client connection per client thread (httpx cost the
    # benchmark process more CPU per request than some of what is measured, on the same two cores).
    local = threading.local()

    def post(message: str) -> tuple[float, str]:
        connection = getattr(local, "connection", None)
        if connection is None:
            connection = local.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        started = time.time()
        connection.request("POST", "/api/v1/agents/echo/run", json.dumps({"input": {"message": message}}),
                           {**headers, "Content-Type": "application/json"})
        response = connection.getresponse()
        body = response.read()
        if response.status != 202:
            raise SystemExit(f"POST returned {response.status}: {body[:500]!r}")
        return started, json.loads(body)["id"]

    for i in range(20):
        post(f"warmup {i}")
    wait_for(lambda: finished_count() >= 20, 60, "the engine worker")
    with engine.begin() as connection:
        # A table that was never analysed is planned by guesswork, and a guess may pick a tenant index
        # over the primary key for a single-run lookup; autovacuum would analyse it within a minute.
        connection.execute(text("ANALYZE agent_runs, run_steps, run_events, outbox"))
        connection.execute(text("DELETE FROM agent_runs WHERE tenant_id = :tenant"), {"tenant": tenant.id})
    meter = CpuMeter(procs, _database(urls))
    meter.begin()
    with ThreadPoolExecutor(max_workers=clients) as pool:
        posted = {run_id: started for started, run_id in pool.map(post, (f"m{i}" for i in range(runs)))}
    wait_for(lambda: finished_count() >= runs, 600, "echo runs")
    cpu = meter.per_item_ms(runs)
    with engine.connect() as connection:
        rows = connection.execute(text(
            "SELECT id::text, status, extract(epoch FROM finished_at)::float8 FROM agent_runs WHERE tenant_id = :tenant"),
            {"tenant": tenant.id}).all()
    engine.dispose()
    assert all(status == "succeeded" for _, status, _ in rows), "a benchmark run did not succeed"
    latencies = [finished - posted[run_id] for run_id, _, finished in rows]
    return {"per_second": runs / (max(f for *_, f in rows) - min(posted.values())),
            "p50_ms": percentile(latencies, 50) * 1000, "p99_ms": percentile(latencies, 99) * 1000, "cpu": cpu}


def measure_durable_work(urls: dict[str, str], procs: Processes, runs: int, clients: int) -> dict[str, float]:
    """(c): what a run costs beyond an HTTP request and a Celery delivery, by the engine's own functions in
    this process: runs accepted by `clients` threads (the run, its event and its outbox record committed,
    published and confirmed in batches by the publisher thread, as in the API), then executed (claim,
    two steps, outcome) one after the other."""
    from app.core import db, outbox
    from app.core.context import TenantContext
    from app.core.redis import get_redis
    from app.runs import executor, service
    from app.tenants.service import create_tenant

    with db.session_scope() as session:
        tenant, _ = create_tenant(session, name="Bench (c)", admin_email="c@bench.example.com",
                                  admin_password=uuid.uuid4().hex, slug=f"bench-c-{uuid.uuid4().hex[:6]}")
    ctx = TenantContext.system(tenant.id)

    def accept(message: str) -> uuid.UUID:
        with db.session_scope(tenant.id) as session:
            return service.create_run(session, ctx, "echo", {"message": message}).id

    meter = CpuMeter(procs, _database(urls))  # this process, PostgreSQL and Redis: it spawns nothing
    meter.begin()
    outbox.start_publisher()
    try:
        with ThreadPoolExecutor(max_workers=clients) as pool:
            ids = list(pool.map(accept, (f"c{i}" for i in range(runs))))
    finally:
        outbox.stop_publisher()
    get_redis().delete("agents.echo")  # the published messages: executed here instead
    db.use_worker_commit_mode()  # as a worker process commits
    for run_id in ids:
        if executor.execute(run_id, tenant.id, "bench") != "succeeded":
            raise SystemExit("a durable-work run did not succeed")
    return {"cpu": meter.per_item_ms(runs)}


def _database(urls: dict[str, str]) -> str:
    return make_url(urls["DATABASE_URL"]).database


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=2, help="worker pool processes (both sides)")
    parser.add_argument("--clients", type=int, default=8, help="concurrent HTTP clients posting runs")
    parser.add_argument("--repeat", type=int, default=3, help="measure each side this many times; medians reported")
    args = parser.parse_args()
    raw, eng = [], []
    with scratch_database() as urls, tempfile.TemporaryDirectory() as logs:
        for _ in range(args.repeat):
            procs = Processes(Path(logs))
            try:
                raw.append(measure_raw(urls, procs, args.runs, args.concurrency))
            finally:
                procs.stop()
            procs = Processes(Path(logs))
            try:
                eng.append(measure_engine(urls, procs, args.runs, args.concurrency, args.clients))
            finally:
                procs.stop()
        durable = measure_durable_work(urls, Processes(Path(logs)), args.runs, args.clients)

    def med(results: list[dict[str, float]], key: str) -> float:
        return statistics.median(r[key] for r in results)

    print(f"runs per side: {args.runs} x {args.repeat}, pool: prefork x {args.concurrency}, clients: {args.clients}")
    print(f"{'':28}{'per second':>12}{'p50 ms':>10}{'p99 ms':>10}")
    print(f"{'(a) raw Celery no-op':28}{med(raw, 'per_second'):12.1f}{med(raw, 'p50_ms'):10.1f}{med(raw, 'p99_ms'):10.1f}")
    print(f"{'(b) echo runs via API':28}{med(eng, 'per_second'):12.1f}{med(eng, 'p50_ms'):10.1f}{med(eng, 'p99_ms'):10.1f}")
    print(f"throughput ratio (b)/(a): {med(eng, 'per_second') / med(raw, 'per_second'):.2f}")
    groups = sorted({group for result in raw + eng for group in result["cpu"]})
    raw_total = statistics.median(sum(r["cpu"].values()) for r in raw)
    if groups:
        print("CPU ms per task (a) / per run (b), by process group, medians (the wall time above is 2 CPUs' worth):")
        for group in groups:
            print(f"  {group:24}{statistics.median(r['cpu'].get(group, 0.0) for r in raw):8.2f}"
                  f"{statistics.median(r['cpu'].get(group, 0.0) for r in eng):8.2f}")
        print(f"  {'total':24}{raw_total:8.2f}{statistics.median(sum(r['cpu'].values()) for r in eng):8.2f}")
    cpu = durable["cpu"]
    if cpu:
        # (b) pays (a)'s delivery (worker and Redis) plus (c), and an HTTP request on top: with both sides
        # CPU-bound on the same CPUs, (b)/(a) is at most (a)'s CPU per item over that sum.
        delivery = {group: statistics.median(r["cpu"].get(group, 0.0) for r in raw) for group in ("worker", "redis")}
        floor = sum(cpu.values()) + sum(delivery.values())
        print(f"(c) durable work alone, in this process (no HTTP, no Celery), {args.runs} runs: "
              f"{sum(cpu.values()):.2f} ms CPU per run")
        print(f"    Python {cpu.get('bench client', 0.0):.2f}, PostgreSQL {cpu.get('postgres', 0.0):.2f}, "
              f"Redis {cpu.get('redis', 0.0):.2f}")
        print(f"    with (a)'s delivery (worker + Redis, {sum(delivery.values()):.2f} ms): {floor:.2f} ms per run, so "
              f"(b)/(a) can be about {raw_total / floor:.2f} at most here, with a free HTTP layer")


if __name__ == "__main__":
    main()
