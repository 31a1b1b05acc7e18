"""Real Celery worker and beat processes for tests about queues, retries and crashes.

Engine timings are shrunk (lease 3 s, heartbeat 0.5 s, reaper and relay every 0.5 s) so that crash
recovery happens in seconds; the mechanisms are the production ones.
"""

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import psutil

from app.core.config import PROJECT_ROOT

FAST_ENGINE = {
    "RUN_LEASE_SECONDS": "3",
    "RUN_HEARTBEAT_SECONDS": "0.5",
    "RUN_RETRY_BASE_SECONDS": "0.2",
    "RUN_RETRY_MAX_SECONDS": "1",
    "RUN_STALLED_AFTER_SECONDS": "6",
    "RUN_HARD_TIME_LIMIT_SECONDS": "30",
    "BROKER_VISIBILITY_TIMEOUT_SECONDS": "40",
    "OUTBOX_RELAY_INTERVAL_SECONDS": "0.5",
    "OUTBOX_REPUBLISH_AFTER_SECONDS": "1",
    "REAPER_INTERVAL_SECONDS": "0.5",
    "AGENT_PLUGINS": '["tests.runs.agents"]',
    "LOG_LEVEL": "WARNING",
}
QUEUES = ("agents.echo,agents.test_flaky,agents.test_side_effect,agents.test_reviewed,agents.test_internal,"
          "agents.test_three_steps,agents.test_cancel_race,maintenance")


def engine_env(urls: dict[str, str], **extra: str) -> dict[str, str]:
    env = {**os.environ, **FAST_ENGINE, **extra}
    env.update(DATABASE_URL=urls["database_url"], MIGRATION_DATABASE_URL=urls["migration_database_url"],
               REDIS_URL=urls["redis_url"], PYTHONPATH=str(PROJECT_ROOT))
    return env


class Cluster:
    def __init__(self, env: dict[str, str], logs: Path):
        self.env, self.logs = env, logs
        self.workers: dict[str, subprocess.Popen] = {}
        self.beat: subprocess.Popen | None = None

    def _spawn(self, name: str, argv: list[str]) -> subprocess.Popen:
        log = open(self.logs / f"{name}.log", "ab")
        return subprocess.Popen([sys.executable, "-m", "celery", "-A", "workers.celery_app", *argv],
                                env=self.env, cwd=PROJECT_ROOT, stdout=log, stderr=subprocess.STDOUT)

    def start_worker(self, name: str, concurrency: int = 2, queues: str = QUEUES) -> None:
        self.workers[name] = self._spawn(name, [
            "worker", "-P", "prefork", "-c", str(concurrency), "-Q", queues, "-n", f"{name}@%h",
            "--without-gossip", "--without-mingle", "--without-heartbeat", "--loglevel", "WARNING",
        ])

    def start_beat(self) -> None:
        self.beat = self._spawn("beat", ["beat", "--schedule", str(self.logs / "beat-schedule"), "--loglevel", "WARNING"])

    def kill_worker(self, name: str) -> None:
        """SIGKILL the main process; its pool children are orphaned and killed too, as on a machine loss."""
        process = self.workers.pop(name)
        children = _children(process.pid)
        process.send_signal(signal.SIGKILL)
        for child in children:
            child.kill()
        process.wait(10)

    def supervise(self) -> list[str]:
        """Restart workers that exited, as systemd or Kubernetes would (Celery exits when a pool child
        dies before it finished starting)."""
        restarted = [name for name, process in self.workers.items() if process.poll() is not None]
        for name in restarted:
            self.start_worker(name)
        return restarted

    def pool_ready(self, name: str, size: int = 2) -> bool:
        return len(_children(self.workers[name].pid)) >= size

    def kill_pool_child(self, name: str) -> None:
        wait_until(lambda: self.supervise() or self.pool_ready(name, 1), 30, message=f"worker {name} has no pool")
        children = _children(self.workers[name].pid)
        if children:
            random.choice(children).kill()

    def stop(self) -> None:
        for name in list(self.workers):
            process = self.workers.pop(name)
            process.terminate()
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                self.kill_worker_process(process)
        if self.beat is not None:
            self.beat.terminate()
            self.beat.wait(10)
            self.beat = None

    @staticmethod
    def kill_worker_process(process: subprocess.Popen) -> None:
        for child in _children(process.pid):
            child.kill()
        process.kill()
        process.wait(10)


def _children(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def wait_until(predicate: Callable[[], bool], timeout: float, interval: float = 0.2, message: str = "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s: {message}")


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class ApiServer:
    """The API in its own uvicorn process, for tests that kill it or hit it concurrently."""

    def __init__(self, env: dict[str, str], logs: Path):
        self.env, self.logs = env, logs
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    def start(self, **extra_env: str) -> None:
        log = open(self.logs / "api.log", "ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "app.main:create_app", "--factory", "--port", str(self.port),
             "--log-level", "warning"],
            env={**self.env, **extra_env}, cwd=PROJECT_ROOT, stdout=log, stderr=subprocess.STDOUT)
        import httpx

        def up() -> bool:
            try:
                return httpx.get(f"{self.url}/health", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(up, 30, message="API server did not start")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(15)
        self.process = None
