"""One migrated PostgreSQL database per test session; each test in a transaction that rolls back.

The database is created next to the development one (embedded, or the server DATABASE_URL names) and
dropped at the end. The runtime role connects for the tests, exactly as in production, so RLS is live.
Tests about processes (workers, crashes, concurrency) use `committed_db` and their own tenants instead.
"""

import os
import time
import uuid
import warnings
from collections.abc import Iterator

import pytest
from alembic import command
from hypothesis import HealthCheck, settings
from sqlalchemy import Connection, create_engine, event, make_url, text
from sqlalchemy.orm import Session, SessionTransaction, sessionmaker

from app.core.config import get_settings
from app.core.db import TENANT_KEY
from app.core.embedded import resolved_urls

# Property tests on a loaded two-core machine: no per-example deadline and no "generation is slow" check
# (both measure the machine, not the code); in CI the examples are derived from each test, so a run there is
# reproducible, while a developer's runs keep exploring new ones.
settings.register_profile("agentline", deadline=None, suppress_health_check=[HealthCheck.too_slow],
                          derandomize=bool(os.environ.get("CI")))
settings.load_profile("agentline")


def _with_database(url: str, name: str) -> str:
    return make_url(url).set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def database_urls() -> Iterator[dict[str, str]]:
    base = resolved_urls(get_settings())
    name = f"agentline_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base.migration_database_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    urls = {
        "database_url": _with_database(base.database_url, name),
        "migration_database_url": _with_database(base.migration_database_url, name),
        "redis_url": base.redis_url.rsplit("/", 1)[0] + "/" + os.environ.get("TEST_REDIS_DB", "1"),
    }
    previous = {key: os.environ.get(key.upper()) for key in urls}
    for key, value in urls.items():
        os.environ[key.upper()] = value
    _reset_caches()
    yield urls
    for key, value in previous.items():
        if value is None:
            os.environ.pop(key.upper(), None)
        else:
            os.environ[key.upper()] = value
    _reset_caches()
    _drop_database(admin, name)
    admin.dispose()


def _drop_database(admin, name: str) -> None:
    """Worker processes killed by the tests may leave connections behind for a moment."""
    for attempt in range(10):
        try:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            return
        except Exception:
            if attempt == 9:
                warnings.warn(f"could not drop the test database {name}", stacklevel=1)
            time.sleep(1)


def _reset_caches() -> None:
    from app.core import db, ratelimit, redis

    get_settings.cache_clear()
    for cached in (db.get_engine, db.get_sessionmaker, redis.get_redis, ratelimit.tenant_limiter,
                   ratelimit.login_limiter):
        if cached.cache_info().currsize:
            if cached is db.get_engine:
                cached().dispose()
        cached.cache_clear()


def alembic_config(urls: dict[str, str]):
    from app.__main__ import _alembic_config

    config = _alembic_config()
    config.attributes["urls"] = (urls["migration_database_url"], urls["database_url"])
    return config


@pytest.fixture(scope="session")
def migrated(database_urls: dict[str, str]) -> dict[str, str]:
    command.upgrade(alembic_config(database_urls), "head")
    from app.core.redis import get_redis

    get_redis().flushdb()
    return database_urls


@pytest.fixture(scope="session")
def app_engine(migrated: dict[str, str]):
    from app.core.db import get_engine

    return get_engine()


@pytest.fixture(scope="session")
def owner_engine(migrated: dict[str, str]):
    engine = create_engine(migrated["migration_database_url"])
    yield engine
    engine.dispose()


@pytest.fixture
def db(app_engine) -> Iterator[Session]:
    """A session as the runtime role inside an outer transaction that is rolled back after the test."""
    connection = app_engine.connect()
    outer = connection.begin()
    factory = sessionmaker(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False)
    session = factory()
    session.info["factory"] = factory
    session.info["request_factory"] = _request_session_factory(connection, session)
    try:
        yield session
    finally:
        session.close()
        outer.rollback()
        connection.close()


def _request_session_factory(connection: Connection, test_session: Session) -> sessionmaker[Session]:
    """Sessions for requests on the test's connection, each starting with no tenant bound.

    On one connection in one outer transaction, a binding made in a released savepoint stays for the
    rest of the test (set_config(..., true) lasts until the outer transaction ends): a request would see
    the tenant the test or the previous request bound, and a route that forgets to bind would pass.
    Production requests begin in a fresh transaction, unbound; so do these. When a request's transaction
    ends, the test's own session gets its binding back."""
    factory = sessionmaker(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False)

    @event.listens_for(factory, "after_begin")
    def _start_unbound(session: Session, transaction: SessionTransaction, begun: Connection) -> None:
        if TENANT_KEY not in session.info:
            begun.execute(text("SELECT set_config('app.tenant_id', '', true)"))

    @event.listens_for(factory, "after_transaction_end")
    def _rebind_the_test_session(session: Session, transaction: SessionTransaction) -> None:
        if transaction.parent is None:
            tenant_id = test_session.info.get(TENANT_KEY)
            connection.execute(text("SELECT set_config('app.tenant_id', :tid, true)"),
                               {"tid": str(tenant_id) if tenant_id else ""})

    return factory


@pytest.fixture(scope="session")
def shared_app(migrated: dict[str, str]):
    """Built once per session: assembling the routers takes about 0.3 s, most of a short test's time."""
    from app.main import create_app

    return create_app()


@pytest.fixture
def app(shared_app, db: Session):
    """The application, its request sessions joining the test's rolled-back transaction."""
    from app.auth.deps import get_session_factory

    shared_app.dependency_overrides[get_session_factory] = lambda: db.info["request_factory"]
    yield shared_app
    shared_app.dependency_overrides.clear()


@pytest.fixture
def client(app):
    from fastapi.testclient import TestClient

    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def committed_db(app_engine) -> Iterator[sessionmaker[Session]]:
    """Real commits, for tests whose other side is another process or connection."""
    yield sessionmaker(bind=app_engine, expire_on_commit=False)


@pytest.fixture
def live_client(migrated):
    from fastapi.testclient import TestClient

    from app.main import create_app

    with TestClient(create_app(), raise_server_exceptions=False) as test_client:
        yield test_client
