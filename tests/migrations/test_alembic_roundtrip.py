"""Every revision upgrades from an empty database, downgrades to base leaving nothing behind, and
upgrades again. Runs on a throwaway database so the session's database is not disturbed."""

import uuid
from collections.abc import Iterator

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.pool import NullPool

from app.__main__ import _alembic_config

APPLICATION_OBJECTS = {
    "tables": "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'alembic_version'",
    "views": "SELECT viewname FROM pg_views WHERE schemaname = 'public'",
    "sequences": "SELECT sequencename FROM pg_sequences WHERE schemaname = 'public'",
    "types": "SELECT t.typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace "
             "WHERE n.nspname = 'public' AND t.typtype IN ('e', 'c', 'd') AND t.typrelid = 0 "
             "AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = t.oid AND d.deptype = 'e')",
    "functions": "SELECT p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
                 "WHERE n.nspname = 'public' "
                 "AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e')",
    "policies": "SELECT tablename || '.' || policyname FROM pg_policies WHERE schemaname = 'public'",
}


def _with_database(url: str, name: str) -> str:
    return make_url(url).set(database=name).render_as_string(hide_password=False)


@pytest.fixture
def empty_database(migrated) -> Iterator[dict[str, str]]:
    name = f"agentline_migrations_{uuid.uuid4().hex[:10]}"
    admin = create_engine(migrated["migration_database_url"], isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield {key: _with_database(migrated[key], name) for key in ("database_url", "migration_database_url")}
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _objects(url: str) -> dict[str, set[str]]:
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            return {kind: set(connection.execute(text(sql)).scalars()) for kind, sql in APPLICATION_OBJECTS.items()}
    finally:
        engine.dispose()


def _version(url: str) -> str | None:
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            return connection.execute(text("SELECT version_num FROM alembic_version")).scalar_one_or_none()
    finally:
        engine.dispose()


def test_upgrade_downgrade_upgrade_on_an_empty_database(empty_database):
    config = _alembic_config()
    config.attributes["urls"] = (empty_database["migration_database_url"], empty_database["database_url"])
    head = ScriptDirectory.from_config(config).get_current_head()
    owner_url = empty_database["migration_database_url"]
    assert _objects(owner_url) == {kind: set() for kind in APPLICATION_OBJECTS}

    command.upgrade(config, "head")
    upgraded = _objects(owner_url)
    assert _version(owner_url) == head
    assert {"tenants", "users", "memberships", "api_keys", "refresh_tokens", "audit_log", "outbox"} <= upgraded["tables"]
    assert {"app_current_tenant", "auth_users_by_email", "auth_api_key_by_prefix"} <= upgraded["functions"]

    command.downgrade(config, "base")
    assert _version(owner_url) is None
    assert _objects(owner_url) == {kind: set() for kind in APPLICATION_OBJECTS}

    command.upgrade(config, "head")
    assert _version(owner_url) == head
    assert _objects(owner_url) == upgraded


def test_runtime_role_can_use_a_freshly_migrated_database(empty_database):
    """The grants follow the migrations: the runtime role reads and writes, bound to a tenant."""
    config = _alembic_config()
    config.attributes["urls"] = (empty_database["migration_database_url"], empty_database["database_url"])
    command.upgrade(config, "head")
    tenant_id = uuid.uuid4()
    engine = create_engine(empty_database["database_url"], poolclass=NullPool)
    try:
        with engine.begin() as connection:
            connection.execute(text("SELECT set_config('app.tenant_id', :t, true)"), {"t": str(tenant_id)})
            connection.execute(text("INSERT INTO tenants (id, name, slug, timezone, settings) "
                                    "VALUES (:t, 'Fresh', :slug, 'UTC', '{}')"), {"t": tenant_id, "slug": f"fresh-{tenant_id.hex[:8]}"})
            assert connection.execute(text("SELECT count(*) FROM tenants")).scalar_one() == 1
        with engine.connect() as connection:
            with pytest.raises(Exception, match="permission denied"):
                connection.execute(text("SELECT * FROM alembic_version"))
    finally:
        engine.dispose()
