"""The run engine against a peer, DBOS Transact, on the same PostgreSQL server, in one invocation.

Ours: `echo` runs (two recorded steps) posted by 8 HTTP clients to the authenticated API, committed with
their event and outbox record, published, executed by the Celery prefork pool: bench.throughput's (b).
DBOS: a workflow of two checkpointed steps (`@DBOS.step`) on a DBOS queue, enqueued by 8 client threads
through `DBOSClient`, executed by as many DBOS worker processes as our pool has (each its own executor
id), with its system tables in a database of their own on the same server.

Each round measures both sides back to back (the order alternates between rounds): runs per second,
enqueue (or POST) to done p50/p99, and the CPU each group of processes spent per run, read from /proc.
The DBOS queue's worker concurrency and polling interval are the best found here by `--sweep` (short
rounds over a grid, the winner used for the rounds); without it, the defaults below, which won or tied
most of those sweeps on the development machine. Unless --no-bound, it also measures bench.throughput's (a) and (c)
and prints (b)/(a) against the bound (c) sets. The last line reads
`vs DBOS: throughput ×A.AA, CPU per run ×B.BB` (ours over theirs, medians of rounds).

Usage:  python -m bench.peers [--runs 1000] [--repeat 3] [--sweep] [--no-bound]
Needs requirements-bench.txt (DBOS is not a runtime dependency).
"""

import argparse
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, make_url, text

from bench._harness import CpuMeter, Processes, percentile, scratch_database, wait_for

DBOS_APP = "agentline-bench"
DBOS_QUEUE = "bench_echo"
# The settings that gave DBOS its best throughput here (docs/performance.md, "Against a peer: DBOS Transact").
DEFAULT_WORKER_CONCURRENCY = 32
DEFAULT_POLLING_SECONDS = 0.01
# The grid --sweep tries: per-process worker concurrency (0: no limit) x queue polling interval.
SWEEP_CONCURRENCY = (4, 8, 16, 32, 0)
SWEEP_POLLING = (0.001, 0.01, 0.1)
IDLE_SECONDS = 1.0


# --- a DBOS worker process: python -m bench.peers --dbos-worker URL EXECUTOR CONCURRENCY POLLING READY ---

def _dbos_worker(url: str, executor_id: str, concurrency: int, polling: float, ready: str) -> None:
    from dbos import DBOS

    @DBOS.step(name="wait")
    def wait(delay_ms: int) -> int:
        if delay_ms:
            time.sleep(delay_ms / 1000)
        return delay_ms

    @DBOS.step(name="respond")
    def respond(message: str) -> str:
        return message

    @DBOS.workflow(name="echo")
    def echo(payload: dict) -> dict:
        wait(payload.get("delay_ms", 0))
        return {"message": respond(payload["message"])}

    DBOS(config={"name": DBOS_APP, "system_database_url": url, "executor_id": executor_id,
                 "application_version": "bench", "log_level": "WARNING"})
    DBOS.launch()
    DBOS.register_queue(DBOS_QUEUE, worker_concurrency=concurrency or None, polling_interval_sec=polling,
                        on_conflict="always_update")
    Path(ready).touch()
    threading.Event().wait()  # the queue thread and executor threads do the work until terminated


# --- the benchmark process ---

@contextmanager
def dbos_database() -> Iterator[tuple[str, str]]:
    """An empty database for DBOS's system tables on the server ours uses (DBOS creates its schema at launch),
    owned by the migration role; dropped afterwards. Yields (url, database name)."""
    from app.core.embedded import resolved_urls

    owner_url = resolved_urls().migration_database_url
    name = f"agentline_bench_dbos_{uuid.uuid4().hex[:8]}"
    admin = create_engine(owner_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(owner_url).set(database=name).render_as_string(hide_password=False), name
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def measure_dbos(url: str, database: str, procs: Processes, runs: int, workers: int, concurrency: int,
                 polling: float, clients: int) -> dict:
    from dbos import DBOSClient

    tag = uuid.uuid4().hex[:6]
    for i in range(workers):
        ready = procs.logs / f"dbos-{tag}-{i}.ready"
        # "-worker" last: the CPU meter groups the processes by the name's last part, as for Celery's.
        procs.spawn(f"dbos{i}-worker", ["-m", "bench.peers", "--dbos-worker", url, f"bench-{tag}-{i}",
                                        str(concurrency), str(polling), str(ready)])
        # The first launch creates DBOS's schema: the others start once it is there.
        wait_for(ready.exists, 120, "a DBOS worker")
    client = DBOSClient(system_database_url=url, system_database_pool_size=clients, application_name=DBOS_APP)
    engine = create_engine(url)
    options = {"queue_name": DBOS_QUEUE, "workflow_name": "echo"}

    def finished_count() -> int:
        with engine.connect() as connection:
            return connection.execute(text(
                "SELECT count(*) FROM dbos.workflow_status WHERE status IN ('SUCCESS', 'ERROR')")).scalar()

    def enqueue(message: str) -> tuple[float, str]:
        started = time.time()
        return started, client.enqueue(options, {"message": message}).get_workflow_id()

    def empty() -> None:
        with engine.begin() as connection:
            connection.execute(text("DELETE FROM dbos.operation_outputs"))
            connection.execute(text("DELETE FROM dbos.workflow_status"))

    try:
        empty()  # the last round's, so that the warm-up is waited for
        for i in range(20):
            enqueue(f"warmup {i}")
        wait_for(lambda: finished_count() >= 20, 60, "the DBOS workers")
        with engine.begin() as connection:  # as ours: analysed after the warm-up, then emptied
            connection.execute(text("ANALYZE dbos.workflow_status, dbos.operation_outputs"))
        empty()
        meter = CpuMeter(procs, database)
        meter.begin()  # first the cost of waiting: the queue threads poll PostgreSQL with nothing to do
        time.sleep(IDLE_SECONDS)
        idle = meter.per_item_ms(1)
        idle_cores = (idle.get("worker", 0.0) + idle.get("postgres", 0.0)) / 1000 / IDLE_SECONDS
        meter.begin()
        with ThreadPoolExecutor(max_workers=clients) as pool:
            enqueued = {workflow_id: started for started, workflow_id in pool.map(enqueue, (f"m{i}" for i in range(runs)))}
        wait_for(lambda: finished_count() >= runs, 600, "DBOS workflows")
        cpu = meter.per_item_ms(runs)
        with engine.connect() as connection:
            rows = connection.execute(text(
                "SELECT workflow_uuid, status, updated_at / 1000.0 FROM dbos.workflow_status")).all()
            steps = connection.execute(text("SELECT count(*) FROM dbos.operation_outputs")).scalar()
    finally:
        client.destroy()
        engine.dispose()
    assert all(status == "SUCCESS" for _, status, _ in rows), "a DBOS workflow did not succeed"
    assert steps == 2 * runs, f"expected two checkpointed steps per workflow, found {steps} for {runs}"
    cpu.pop("redis", None)  # DBOS does not use Redis: what redis-server spent meanwhile was someone else's
    latencies = [float(finished) - enqueued[workflow_id] for workflow_id, _, finished in rows]
    return {"per_second": runs / (max(float(f) for *_, f in rows) - min(enqueued.values())),
            "p50_ms": percentile(latencies, 50) * 1000, "p99_ms": percentile(latencies, 99) * 1000, "cpu": cpu,
            "idle_cores": idle_cores}


def _fmt_setting(concurrency: int, polling: float) -> str:
    return f"worker_concurrency={concurrency or 'None'}, polling_interval_sec={polling:g}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3, help="rounds of both sides; medians reported")
    parser.add_argument("--concurrency", type=int, default=2, help="our pool processes = DBOS worker processes")
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients posting / enqueueing")
    parser.add_argument("--dbos-concurrency", type=int, default=DEFAULT_WORKER_CONCURRENCY,
                        help="DBOS queue worker_concurrency per process (0: no limit)")
    parser.add_argument("--dbos-polling", type=float, default=DEFAULT_POLLING_SECONDS,
                        help="DBOS queue polling_interval_sec")
    parser.add_argument("--sweep", action="store_true", help="first try the DBOS settings grid, use the best")
    parser.add_argument("--sweep-runs", type=int, default=300)
    parser.add_argument("--no-bound", action="store_true", help="skip (a) and (c), the bound on (b)")
    args = parser.parse_args()

    from bench import throughput

    ours, theirs, raw = [], [], []
    setting = (args.dbos_concurrency, args.dbos_polling)
    with scratch_database() as urls, dbos_database() as (dbos_url, dbos_name), \
            tempfile.TemporaryDirectory() as logs:

        def side(measure) -> dict:
            procs = Processes(Path(logs))
            try:
                return measure(procs)
            finally:
                procs.stop()

        def ours_round(procs: Processes) -> dict:
            # bench.throughput waits for its warm-up as a count of finished runs: the last round's would
            # satisfy it at once (and its DELETE would then take the warm-up runs from under the worker).
            owner = create_engine(urls["MIGRATION_DATABASE_URL"])
            with owner.begin() as connection:
                connection.execute(text("DELETE FROM agent_runs"))
            owner.dispose()
            return throughput.measure_engine(urls, procs, args.runs, args.concurrency, args.clients)

        def raw_round(procs: Processes) -> dict:
            return throughput.measure_raw(urls, procs, args.runs, args.concurrency)

        def dbos_round(runs: int, concurrency: int, polling: float) -> dict:
            return side(lambda procs: measure_dbos(dbos_url, dbos_name, procs, runs, args.concurrency, concurrency,
                                                   polling, args.clients))

        if args.sweep:
            print(f"DBOS settings sweep: {args.sweep_runs} workflows each, {args.concurrency} worker processes")
            results = {}
            for polling in SWEEP_POLLING:
                for concurrency in SWEEP_CONCURRENCY:
                    r = dbos_round(args.sweep_runs, concurrency, polling)
                    results[(concurrency, polling)] = r
                    print(f"  {_fmt_setting(concurrency, polling):52}{r['per_second']:8.1f}/s  "
                          f"p50 {r['p50_ms']:7.1f} ms  CPU {sum(r['cpu'].values()):5.2f} ms/run  "
                          f"idle {r['idle_cores']:.2f} CPUs", flush=True)
            setting = max(results, key=lambda s: results[s]["per_second"])
            print(f"  best: {_fmt_setting(*setting)}")
        for i in range(args.repeat):
            if not args.no_bound:
                raw.append(side(raw_round))
            first_ours = i % 2 == 0
            if first_ours:
                ours.append(side(ours_round))
            theirs.append(dbos_round(args.runs, *setting))
            if not first_ours:
                ours.append(side(ours_round))
            print(f"round {i + 1}: ours {ours[-1]['per_second']:.1f}/s at {sum(ours[-1]['cpu'].values()):.2f} ms CPU "
                  f"per run, DBOS {theirs[-1]['per_second']:.1f}/s at {sum(theirs[-1]['cpu'].values()):.2f} ms", flush=True)
        durable = None if args.no_bound or not args.repeat else throughput.measure_durable_work(urls, Processes(Path(logs)), args.runs,
                                                                             args.clients)

    if not ours:
        return  # --repeat 0: the sweep alone

    def med(results: list[dict], key: str) -> float:
        return statistics.median(r[key] for r in results)

    def cpu_total(results: list[dict]) -> float:
        return statistics.median(sum(r["cpu"].values()) for r in results)

    def busy(result: dict) -> float:  # CPUs the side kept busy while it ran: on a shared machine, its share
        return sum(result["cpu"].values()) * result["per_second"] / 1000

    print(f"runs per side: {args.runs} x {args.repeat}; ours: prefork x {args.concurrency}, "
          f"DBOS: {args.concurrency} worker processes, {_fmt_setting(*setting)}; clients: {args.clients}")
    print(f"{'':34}{'per second':>12}{'p50 ms':>10}{'p99 ms':>10}")
    print(f"{'ours: echo runs via the API':34}{med(ours, 'per_second'):12.1f}{med(ours, 'p50_ms'):10.1f}"
          f"{med(ours, 'p99_ms'):10.1f}")
    print(f"{'DBOS: 2-step workflows, queued':34}{med(theirs, 'per_second'):12.1f}{med(theirs, 'p50_ms'):10.1f}"
          f"{med(theirs, 'p99_ms'):10.1f}")
    groups = sorted({group for result in ours + theirs for group in result["cpu"]})
    if groups:
        print("CPU ms per run by process group, medians (ours' API is DBOS's enqueueing 'bench client'):")
        print(f"  {'':24}{'ours':>8}{'DBOS':>8}")
        for group in groups:
            print(f"  {group:24}{statistics.median(r['cpu'].get(group, 0.0) for r in ours):8.2f}"
                  f"{statistics.median(r['cpu'].get(group, 0.0) for r in theirs):8.2f}")
        print(f"  {'total':24}{cpu_total(ours):8.2f}{cpu_total(theirs):8.2f}")
        print(f"  {'CPUs busy (x runs/s)':24}{statistics.median(busy(r) for r in ours):8.2f}"
              f"{statistics.median(busy(r) for r in theirs):8.2f}")
        print(f"DBOS idle, between rounds: {med(theirs, 'idle_cores'):.2f} CPUs (workers + PostgreSQL, polling)")
    if durable and durable["cpu"] and raw:
        cpu = durable["cpu"]
        raw_total = cpu_total(raw)
        delivery = sum(statistics.median(r["cpu"].get(group, 0.0) for r in raw) for group in ("worker", "redis"))
        bound = raw_total / (sum(cpu.values()) + delivery)
        ratio = med(ours, "per_second") / med(raw, "per_second")
        print(f"(a) raw Celery no-op {med(raw, 'per_second'):.1f}/s; (b)/(a) {ratio:.2f}; bound from (c) "
              f"({sum(cpu.values()):.2f} + delivery {delivery:.2f} ms per run): {bound:.2f}; "
              f"(b) at {ratio / bound:.0%} of the bound")
    throughput_ratio = med(ours, "per_second") / med(theirs, "per_second")
    cpu_ratio = cpu_total(ours) / cpu_total(theirs) if cpu_total(theirs) else float("nan")
    print(f"vs DBOS: throughput ×{throughput_ratio:.2f}, CPU per run ×{cpu_ratio:.2f}")


if __name__ == "__main__":
    import sys

    if len(sys.argv) == 7 and sys.argv[1] == "--dbos-worker":
        _dbos_worker(sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5]), sys.argv[6])
    else:
        main()
