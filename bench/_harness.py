"""Shared by the benchmarks: a scratch database migrated from empty, and service processes on it."""

import os
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from sqlalchemy import create_engine, make_url, text

from app.core.config import PROJECT_ROOT
from app.core.embedded import resolved_urls


@contextmanager
def scratch_database(redis_db: int = 5) -> Iterator[dict[str, str]]:
    """A new database on the configured (or embedded) server, migrated to head, dropped afterwards.
    Sets DATABASE_URL / MIGRATION_DATABASE_URL / REDIS_URL for this process and its children."""
    base = resolved_urls()
    name = f"agentline_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(base.migration_database_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    urls = {
        "DATABASE_URL": make_url(base.database_url).set(database=name).render_as_string(hide_password=False),
        "MIGRATION_DATABASE_URL": make_url(base.migration_database_url).set(database=name).render_as_string(hide_password=False),
        "REDIS_URL": base.redis_url.rsplit("/", 1)[0] + f"/{redis_db}",
        "LOG_LEVEL": "WARNING",
    }
    os.environ.update(urls)
    from app.__main__ import _alembic_config
    from app.core.config import get_settings

    get_settings.cache_clear()
    config = _alembic_config()
    config.attributes["urls"] = (urls["MIGRATION_DATABASE_URL"], urls["DATABASE_URL"])
    command.upgrade(config, "head")
    import redis

    redis.Redis.from_url(urls["REDIS_URL"]).flushdb()
    try:
        yield urls
    finally:
        from app.core import db

        if db.get_engine.cache_info().currsize:
            db.get_engine().dispose()
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


class Processes:
    def __init__(self, logs: Path):
        self.logs = logs
        self.running: list[subprocess.Popen] = []
        self.named: dict[str, subprocess.Popen] = {}

    def spawn(self, name: str, argv: list[str], **env: str) -> subprocess.Popen:
        log = open(self.logs / f"{name}.log", "ab")
        process = subprocess.Popen([sys.executable, *argv], env={**os.environ, **env}, cwd=PROJECT_ROOT,
                                   stdout=log, stderr=subprocess.STDOUT)
        self.running.append(process)
        self.named[name] = process
        return process

    def celery(self, name: str, app: str, *args: str, **env: str) -> subprocess.Popen:
        return self.spawn(name, ["-m", "celery", "-A", app, *args], **env)

    def stop(self) -> None:
        for process in self.running:
            process.terminate()
        for process in self.running:
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
        self.running.clear()
        self.named.clear()


def wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise SystemExit(f"timed out waiting for {what}")


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1] if len(values) > 1 else values[0]


_CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


class CpuMeter:
    """CPU seconds (user + system, from /proc) spent by this process, its children grouped by the name
    they were spawned under, the PostgreSQL processes serving `database`, and redis-server: what one
    side of a benchmark cost in CPU, not only in wall time. Linux only; elsewhere it reports nothing."""

    def __init__(self, procs: "Processes", database: str, redis_address: str | None = None):
        """`redis_address` ("host:port"): count only the redis-server started with it (other suites on the
        machine may run servers of their own, which come and go)."""
        self.procs, self.database, self.redis_address = procs, database, redis_address
        self.start: dict[str, float] = {}

    def _sample(self) -> dict[str, float]:
        if not Path("/proc/self/stat").exists():
            return {}
        groups = {str(os.getpid()): "bench client"}
        for name, process in self.procs.named.items():
            groups[str(process.pid)] = name.rsplit("-", 1)[-1]  # noop-worker and engine-worker are both "worker"
        totals: dict[str, float] = {}
        parents: dict[str, str] = {}
        stats: dict[str, tuple[str, float]] = {}
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                stat = Path(f"/proc/{pid}/stat").read_text()
                command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            fields = stat.rsplit(")", 1)[1].split()
            parents[pid] = fields[1]
            stats[pid] = (command, (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS)
        for pid, (command, seconds) in stats.items():
            group, ancestor = None, pid
            for _ in range(4):  # a pool child's parent is the worker's main process
                if ancestor in groups:
                    group = groups[ancestor]
                    break
                ancestor = parents.get(ancestor, "")
            if group is None and command.startswith("postgres:") and f" {self.database} " in command:
                group = "postgres"
            elif group is None and "redis-server" in command and (
                    self.redis_address is None or self.redis_address in command):
                group = "redis"
            if group:
                totals[group] = totals.get(group, 0.0) + seconds
        return totals

    def begin(self) -> None:
        self.start = self._sample()

    def per_item_ms(self, items: int) -> dict[str, float]:
        end = self._sample()
        return {group: (seconds - self.start.get(group, 0.0)) / items * 1000 for group, seconds in end.items()}
