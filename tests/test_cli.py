"""`python -m app tenants create` as an operator runs it: a subprocess against the test database."""

import json
import os
import subprocess
import sys
import uuid

import pytest
from sqlalchemy import text

from app.core.config import PROJECT_ROOT
from app.core.db import session_scope
from app.tenants.service import create_tenant


def _run_cli(migrated: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": migrated["database_url"],
           "MIGRATION_DATABASE_URL": migrated["migration_database_url"], "REDIS_URL": migrated["redis_url"]}
    return subprocess.run([sys.executable, "-m", "app", *args], cwd=PROJECT_ROOT, env=env, capture_output=True,
                          text=True, timeout=60)


@pytest.fixture
def cli_tenants(owner_engine):
    """Names the CLI will use; whatever it creates is deleted afterwards (it commits for real)."""
    suffix = uuid.uuid4().hex[:8]
    yield f"CLI Co {suffix}", f"cli-co-{suffix}"
    with owner_engine.begin() as connection:
        connection.execute(text("DELETE FROM tenants WHERE slug LIKE :slug"), {"slug": f"cli-co-{suffix}%"})


def test_tenants_create_prints_one_json_object_and_the_admin_can_log_in(migrated, cli_tenants, live_client):
    name, slug = cli_tenants
    email = f"founder@{slug}.example.com"
    result = _run_cli(migrated, "tenants", "create", "--name", name, "--admin-email", email,
                      "--admin-password", "a-long-enough-password", "--timezone", "Europe/Madrid")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 1, result.stdout
    created = json.loads(lines[0])
    assert set(created) == {"tenant_id", "admin_user_id"}

    login = live_client.post("/api/v1/auth/token", json={"email": email, "password": "a-long-enough-password"})
    assert login.status_code == 200, login.text
    headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
    me = live_client.get("/api/v1/me", headers=headers).json()
    assert (me["tenant_id"], me["id"], me["role"], me["tenant_slug"]) == (
        created["tenant_id"], created["admin_user_id"], "owner", slug)
    tenant = live_client.get("/api/v1/tenant", headers=headers).json()
    assert (tenant["name"], tenant["timezone"]) == (name, "Europe/Madrid")


def test_tenants_create_with_a_taken_slug_fails_clearly(migrated, cli_tenants, committed_db):
    name, slug = cli_tenants
    with session_scope(factory=committed_db) as session:
        create_tenant(session, name="First", admin_email=f"a@{slug}.example.com",
                      admin_password="a-long-enough-password", slug=slug)
    result = _run_cli(migrated, "tenants", "create", "--name", name, "--admin-email", f"b@{slug}.example.com",
                      "--admin-password", "a-long-enough-password")
    assert result.returncode != 0
    assert result.stdout == ""
    assert f"'{slug}' already exists" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "override, message",
    [
        (["--timezone", "Moon/Base"], "IANA time zone"),
        (["--admin-email", "not-an-email"], "email"),
        (["--admin-password", "short"], "password"),
    ],
)
def test_tenants_create_rejects_bad_input_without_creating_anything(override, message, migrated, cli_tenants, owner_engine):
    name, slug = cli_tenants
    options = {"--name": name, "--admin-email": f"a@{slug}.example.com", "--admin-password": "a-long-enough-password"}
    options[override[0]] = override[1]
    args = [part for pair in options.items() for part in pair]
    result = _run_cli(migrated, "tenants", "create", *args)
    assert result.returncode != 0
    assert result.stdout == ""
    assert message in result.stderr and "Traceback" not in result.stderr
    with owner_engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM tenants WHERE slug = :s"), {"s": slug}).scalar_one() == 0


def test_without_a_database_the_cli_says_how_to_start_one(tmp_path):
    env = {**os.environ, "DATABASE_URL": "", "MIGRATION_DATABASE_URL": "", "REDIS_URL": "", "DATA_DIR": str(tmp_path)}
    result = subprocess.run([sys.executable, "-m", "app", "tenants", "create", "--name", "Nowhere", "--admin-email",
                             "a@example.com", "--admin-password", "a-long-enough-password"],
                            cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert result.stdout == ""
    assert "python -m app services up" in result.stderr and "Traceback" not in result.stderr
