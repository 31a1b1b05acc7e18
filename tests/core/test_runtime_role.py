"""The API and the workers refuse to start as a database role that row-level security does not hold: a
superuser, a BYPASSRLS role, or one that owns tables (the migration owner here is the last two)."""

import subprocess
import sys

import pytest
from sqlalchemy import create_engine, make_url
from sqlalchemy.exc import OperationalError

from app.core import db
from app.core.config import PROJECT_ROOT, get_settings
from app.core.db import UnsafeRuntimeRole, refuse_unsafe_runtime_role
from tests.runs.cluster import engine_env


def test_the_runtime_role_is_accepted(app_engine):
    refuse_unsafe_runtime_role(app_engine)


def test_the_owner_role_is_refused_for_bypassing_rls_and_owning_tables(owner_engine):
    with pytest.raises(UnsafeRuntimeRole) as refused:
        refuse_unsafe_runtime_role(owner_engine)
    message = str(refused.value)
    assert "has BYPASSRLS" in message and "owns tables (public." in message and "DATABASE_URL" in message
    assert "superuser" not in message


def test_a_superuser_is_refused(migrated):
    url = make_url(migrated["migration_database_url"]).set(username="postgres")
    engine = create_engine(url)
    try:
        with pytest.raises(UnsafeRuntimeRole, match="is a superuser"):
            refuse_unsafe_runtime_role(engine)
    except OperationalError:
        pytest.skip("no superuser login on this server (the embedded one has `postgres`)")
    finally:
        engine.dispose()


@pytest.fixture
def database_url_of_the_owner(migrated, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", migrated["migration_database_url"])
    get_settings.cache_clear()
    db.get_engine.cache_clear()
    db.get_sessionmaker.cache_clear()
    yield
    monkeypatch.undo()
    db.get_engine().dispose()
    get_settings.cache_clear()
    db.get_engine.cache_clear()
    db.get_sessionmaker.cache_clear()


def test_the_api_does_not_start_as_the_owner(database_url_of_the_owner):
    from fastapi.testclient import TestClient

    from app.main import create_app

    with pytest.raises(UnsafeRuntimeRole, match="has BYPASSRLS"):
        with TestClient(create_app()):
            pass


def test_a_worker_does_not_start_as_the_owner(migrated):
    env = engine_env({**migrated, "database_url": migrated["migration_database_url"]})
    worker = subprocess.run(
        [sys.executable, "-m", "celery", "-A", "workers.celery_app", "worker", "-P", "solo", "-Q", "maintenance",
         "--without-gossip", "--without-mingle", "--without-heartbeat"],
        env=env, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120)
    assert worker.returncode != 0
    assert "row-level security would not isolate tenants" in worker.stderr + worker.stdout
