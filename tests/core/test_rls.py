"""Row-level security, proven on raw connections as the runtime role with committed data for two tenants.

The application's own `WHERE tenant_id = …` is deliberately absent from every query here: these tests
show what the database refuses on its own when the application forgets.
"""

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from sqlalchemy import Connection, create_engine, make_url, select, text
from sqlalchemy.exc import DBAPIError, ProgrammingError
from sqlalchemy.orm import sessionmaker
from sqlalchemy.pool import NullPool

from app.audit import service as audit
from app.auth.permissions import Role
from app.core.context import TenantContext
from app.core.db import session_scope
from app.models import RefreshToken, User
from tests.builders import add_api_key, make_tenant

# The foundation's tenant tables and their primary keys; `tenants` is keyed by its own id.
FOUNDATION_TABLES = {
    "tenants": ("id", "id"),
    "users": ("id", "tenant_id"),
    "memberships": ("id", "tenant_id"),
    "api_keys": ("id", "tenant_id"),
    "refresh_tokens": ("jti", "tenant_id"),
    "audit_log": ("id", "tenant_id"),
}

TENANT_TABLES_IN_CATALOGUE = """
SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity,
       c.relname = 'tenants' OR EXISTS (
           SELECT 1 FROM pg_attribute a
           WHERE a.attrelid = c.oid AND a.attname = 'tenant_id' AND a.attnum > 0 AND NOT a.attisdropped
       ) AS is_tenant_table
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')
"""


@dataclass
class TwoTenants:
    a: uuid.UUID
    b: uuid.UUID


@pytest.fixture(scope="module")
def two_tenants(app_engine, owner_engine) -> Iterator[TwoTenants]:
    """Two committed tenants with rows in every foundation table, created through the app's sessions."""
    factory = sessionmaker(bind=app_engine, expire_on_commit=False)
    ids = []
    for _ in range(2):
        with session_scope(factory=factory) as session:
            tenant = make_tenant(session)
            add_api_key(session, tenant.id, Role.operator)
            audit.record(session, TenantContext.system(tenant.id), "test.seed", "tenant", tenant.id)
            session.add(RefreshToken(jti=uuid.uuid4(), family_id=uuid.uuid4(), user_id=tenant.users[Role.viewer],
                                     tenant_id=tenant.id, expires_at=datetime.now(UTC) + timedelta(days=1)))
            ids.append(tenant.id)
    yield TwoTenants(*ids)
    with owner_engine.begin() as connection:
        connection.execute(text("DELETE FROM tenants WHERE id = ANY(:ids)"), {"ids": ids})


@pytest.fixture(scope="module")
def raw_engine(migrated):
    """Plain connections as the runtime role, outside the application's session machinery."""
    engine = create_engine(migrated["database_url"], poolclass=NullPool)
    yield engine
    engine.dispose()


def _bind(connection: Connection, tenant_id: uuid.UUID) -> None:
    connection.execute(text("SELECT set_config('app.tenant_id', :tid, true)"), {"tid": str(tenant_id)})


def _owner_rows(owner_engine, table: str, tenant_id: uuid.UUID) -> list:
    key, tenant_column = FOUNDATION_TABLES[table]
    with owner_engine.connect() as connection:
        return list(connection.execute(
            text(f"SELECT {key} FROM {table} WHERE {tenant_column} = :tid"), {"tid": tenant_id}
        ).scalars())


@pytest.mark.parametrize("table", FOUNDATION_TABLES)
def test_bound_tenant_sees_only_its_rows_even_naming_the_others(table, two_tenants, raw_engine, owner_engine):
    key, tenant_column = FOUNDATION_TABLES[table]
    theirs = _owner_rows(owner_engine, table, two_tenants.b)
    assert theirs, f"the fixture must give tenant B rows in {table}"
    with raw_engine.begin() as connection:
        _bind(connection, two_tenants.a)
        visible = set(connection.execute(text(f"SELECT {tenant_column} FROM {table}")).scalars())
        assert visible == {two_tenants.a}
        named = connection.execute(text(f"SELECT count(*) FROM {table} WHERE {key} = ANY(:ids)"), {"ids": theirs})
        assert named.scalar_one() == 0


@pytest.mark.parametrize("table", FOUNDATION_TABLES)
def test_bound_tenant_cannot_update_or_delete_the_others_rows(table, two_tenants, raw_engine, owner_engine):
    key, tenant_column = FOUNDATION_TABLES[table]
    theirs = _owner_rows(owner_engine, table, two_tenants.b)
    with raw_engine.begin() as connection:
        _bind(connection, two_tenants.a)
        updated = connection.execute(
            text(f"UPDATE {table} SET {tenant_column} = {tenant_column} WHERE {key} = ANY(:ids)"), {"ids": theirs}
        )
        assert updated.rowcount == 0
        deleted = connection.execute(text(f"DELETE FROM {table} WHERE {key} = ANY(:ids)"), {"ids": theirs})
        assert deleted.rowcount == 0
    assert sorted(_owner_rows(owner_engine, table, two_tenants.b)) == sorted(theirs)


@pytest.mark.parametrize("table", ["users", "api_keys", "audit_log", "tenants"])
def test_bound_tenant_cannot_move_its_rows_into_another_tenant(table, two_tenants, raw_engine):
    key, tenant_column = FOUNDATION_TABLES[table]
    with raw_engine.begin() as connection:
        _bind(connection, two_tenants.a)
        with pytest.raises(ProgrammingError, match="row-level security"):
            connection.execute(text(f"UPDATE {table} SET {tenant_column} = :other"), {"other": two_tenants.b})


INSERTS_FOR_OTHER_TENANT = {
    "tenants": "INSERT INTO tenants (id, name, slug, timezone, settings, created_at, updated_at) "
               "VALUES (:tid, 'x', 'x-' || :suffix, 'UTC', '{}', now(), now())",
    "users": "INSERT INTO users (id, tenant_id, email, name, password_hash, is_active, created_at, updated_at) "
             "VALUES (gen_random_uuid(), :tid, 'intruder-' || :suffix || '@example.com', '', 'x', true, now(), now())",
    "api_keys": "INSERT INTO api_keys (id, tenant_id, name, prefix, key_hash, role, created_at) "
                "VALUES (gen_random_uuid(), :tid, 'x', 'al_' || :suffix, 'x', 'owner', now())",
    "audit_log": "INSERT INTO audit_log (tenant_id, actor_type, action, entity_type, created_at) "
                 "VALUES (:tid, 'user', 'forged', 'x', now())",
}


@pytest.mark.parametrize("table", INSERTS_FOR_OTHER_TENANT)
def test_bound_tenant_cannot_insert_rows_for_another_tenant(table, two_tenants, raw_engine):
    target = two_tenants.b if table != "tenants" else uuid.uuid4()
    with raw_engine.begin() as connection:
        _bind(connection, two_tenants.a)
        with pytest.raises(ProgrammingError, match="row-level security"):
            connection.execute(text(INSERTS_FOR_OTHER_TENANT[table]), {"tid": target, "suffix": uuid.uuid4().hex[:8]})


def test_unbound_transaction_sees_no_row_of_any_tenant_table(two_tenants, raw_engine, owner_engine):
    with owner_engine.connect() as owner:
        tables = [row.relname for row in owner.execute(text(TENANT_TABLES_IN_CATALOGUE)) if row.is_tenant_table]
        populated = {table for table in tables if owner.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()}
    assert set(FOUNDATION_TABLES) <= populated
    with raw_engine.begin() as connection:
        visible = {table: connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one() for table in tables}
        updated = connection.execute(text("UPDATE users SET name = 'unbound'")).rowcount
        deleted = connection.execute(text("DELETE FROM api_keys")).rowcount
    assert visible == {table: 0 for table in tables}
    assert (updated, deleted) == (0, 0)


def test_a_committed_binding_does_not_survive_its_transaction(two_tenants, raw_engine):
    with raw_engine.connect() as connection:
        with connection.begin():
            _bind(connection, two_tenants.a)
            assert connection.execute(text("SELECT count(*) FROM users")).scalar_one() > 0
        with connection.begin():
            assert connection.execute(text("SELECT count(*) FROM users")).scalar_one() == 0
        with pytest.raises(DBAPIError):
            with connection.begin():
                _bind(connection, two_tenants.a)
                connection.execute(text("SELECT 1/0"))
        with connection.begin():
            assert connection.execute(text("SELECT count(*) FROM users")).scalar_one() == 0


def test_runtime_role_cannot_switch_row_security_off(two_tenants, raw_engine):
    with raw_engine.begin() as connection:
        connection.execute(text("SET LOCAL row_security = off"))
        with pytest.raises(ProgrammingError, match="row-level security"):
            connection.execute(text("SELECT count(*) FROM users"))
    with raw_engine.begin() as connection:
        with pytest.raises(ProgrammingError, match="must be owner"):
            connection.execute(text("ALTER TABLE users DISABLE ROW LEVEL SECURITY"))


def test_one_pooled_connection_alternating_tenants_never_leaks(two_tenants, migrated):
    """2000 units of work on a single pooled connection through the app's session machinery, alternating
    tenants, with unbound and failed transactions mixed in: each sees exactly its own tenant's rows."""
    engine = create_engine(migrated["database_url"], pool_size=1, max_overflow=0, pool_timeout=5)
    factory = sessionmaker(bind=engine, expire_on_commit=False)
    backends = set()
    try:
        for i in range(2000):
            tenant_id = (two_tenants.a, two_tenants.b)[i % 2]
            if i % 10 == 9:
                with session_scope(factory=factory) as session:
                    assert session.scalars(select(User.tenant_id)).all() == []
                continue
            if i % 10 == 4:
                with pytest.raises(DBAPIError):
                    with session_scope(tenant_id, factory=factory) as session:
                        session.execute(text("SELECT 1/0"))
                continue
            with session_scope(tenant_id, factory=factory) as session:
                seen = set(session.scalars(select(User.tenant_id)))
                backends.add(session.execute(text("SELECT pg_backend_pid()")).scalar_one())
            assert seen == {tenant_id}, f"iteration {i}"
    finally:
        engine.dispose()
    assert len(backends) == 1


def _role_name(url: str) -> str:
    return make_url(url).username


def test_runtime_role_owns_nothing_and_cannot_bypass_rls(migrated, owner_engine):
    app_role = _role_name(migrated["database_url"])
    assert app_role and app_role != _role_name(migrated["migration_database_url"])
    with owner_engine.connect() as connection:
        role = connection.execute(
            text("SELECT rolsuper, rolbypassrls, rolcreaterole, rolcreatedb FROM pg_roles WHERE rolname = :r"),
            {"r": app_role},
        ).one()
        owned_tables = connection.execute(
            text("SELECT tablename FROM pg_tables WHERE tableowner = :r"), {"r": app_role}
        ).scalars().all()
        owned_relations = connection.execute(
            text("SELECT relname FROM pg_class WHERE relowner = (SELECT oid FROM pg_roles WHERE rolname = :r)"),
            {"r": app_role},
        ).scalars().all()
        memberships = connection.execute(
            text("SELECT b.rolname FROM pg_auth_members m JOIN pg_roles b ON b.oid = m.roleid "
                 "WHERE m.member = (SELECT oid FROM pg_roles WHERE rolname = :r)"),
            {"r": app_role},
        ).scalars().all()
    assert tuple(role) == (False, False, False, False)
    assert owned_tables == [] and owned_relations == []
    assert memberships == [], "membership in another role could inherit ownership or BYPASSRLS"


def test_runtime_role_cannot_create_tables(raw_engine):
    with raw_engine.begin() as connection:
        with pytest.raises(ProgrammingError, match="permission denied"):
            connection.execute(text("CREATE TABLE sneaky (id int)"))


def test_every_tenant_table_in_the_catalogue_has_rls_enabled_and_forced(owner_engine):
    """Runs over the catalogue, so a table added later with a `tenant_id` column is covered too."""
    with owner_engine.connect() as connection:
        tables = [row for row in connection.execute(text(TENANT_TABLES_IN_CATALOGUE)) if row.is_tenant_table]
        policies = connection.execute(text(
            "SELECT c.relname, pg_get_expr(p.polqual, p.polrelid) AS using_expr, "
            "pg_get_expr(p.polwithcheck, p.polrelid) AS check_expr, p.polpermissive "
            "FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid"
        )).all()
    assert {"tenants", *FOUNDATION_TABLES} <= {row.relname for row in tables}
    unprotected = [row.relname for row in tables if not (row.relrowsecurity and row.relforcerowsecurity)]
    assert unprotected == [], f"tenant tables without RLS enabled and forced: {unprotected}"
    for row in tables:
        own = [p for p in policies if p.relname == row.relname]
        assert own, f"{row.relname} has RLS but no policy"
        for policy in own:
            # A permissive policy that does not compare with the bound tenant would open the table to all.
            if policy.polpermissive:
                assert "app_current_tenant()" in (policy.using_expr or ""), (row.relname, policy.using_expr)
                assert policy.check_expr is None or "app_current_tenant()" in policy.check_expr


def test_security_definer_functions_are_pinned_and_not_public(owner_engine, migrated):
    """The cross-tenant lookups run as the owner: only the runtime role may call them, and a pinned
    search_path stops a caller from substituting its own tables or operators."""
    app_role = _role_name(migrated["database_url"])
    with owner_engine.connect() as connection:
        functions = connection.execute(text(
            "SELECT p.oid::regprocedure::text AS name, p.proconfig, "
            "has_function_privilege(:app, p.oid, 'EXECUTE') AS runtime_may_call, "
            "EXISTS (SELECT 1 FROM aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) acl "
            "        WHERE acl.grantee = 0 AND acl.privilege_type = 'EXECUTE') AS public_may_call "
            "FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
            "WHERE n.nspname = 'public' AND p.prosecdef"
        ), {"app": app_role}).all()
    assert {"auth_users_by_email(text)", "auth_api_key_by_prefix(text)"} <= {f.name for f in functions}
    for function in functions:
        assert any(setting.startswith("search_path=") for setting in function.proconfig or ()), function.name
        assert function.runtime_may_call, function.name
        assert not function.public_may_call, function.name


# --- one-round-trip scripts (app.core.db.Script) ------------------------------------------------


def test_a_script_is_bound_to_its_tenant_and_the_binding_ends_with_it(two_tenants, raw_engine):
    from app.core.db import Script, driver_connection

    with raw_engine.connect() as connection:
        driver = driver_connection(connection)
        rows = Script("SELECT DISTINCT tenant_id FROM users").run(driver, two_tenants.a)
        assert rows == [(two_tenants.a,)]
        # The binding was transaction-local: the next statement on the same connection sees no tenant.
        assert connection.execute(text("SELECT count(*) FROM users")).scalar_one() == 0


def test_a_failing_script_changes_nothing_and_leaves_the_connection_usable(two_tenants, raw_engine, owner_engine):
    from app.core.db import Script, driver_connection

    before = _owner_rows(owner_engine, "audit_log", two_tenants.a)
    script = Script("""
        INSERT INTO audit_log (tenant_id, actor_type, action, entity_type, created_at)
        VALUES (%(tenant)s, 'user', 'script.half', 'x', now());
        SELECT 1 / %(zero)s
    """)
    with raw_engine.connect() as connection:
        driver = driver_connection(connection)
        with pytest.raises(psycopg.errors.DivisionByZero):
            script.run(driver, two_tenants.a, {"tenant": two_tenants.a, "zero": 0})
        assert driver.autocommit is False
        assert Script("SELECT %(v)s::text").run(driver, two_tenants.a, {"v": "it's quoted; -- safely"}) == [
            ("it's quoted; -- safely",)]
    assert _owner_rows(owner_engine, "audit_log", two_tenants.a) == before


def test_a_script_cannot_write_another_tenants_rows(two_tenants, raw_engine):
    from app.core.db import Script, driver_connection

    with raw_engine.connect() as connection, pytest.raises(psycopg.errors.InsufficientPrivilege, match="row-level security"):
        Script("""INSERT INTO audit_log (tenant_id, actor_type, action, entity_type, created_at)
                  VALUES (%(other)s, 'user', 'forged', 'x', now())""").run(
            driver_connection(connection), two_tenants.a, {"other": two_tenants.b})


def test_a_script_refuses_to_run_inside_an_open_transaction(two_tenants, raw_engine):
    from app.core.db import Script, driver_connection

    with raw_engine.connect() as connection:
        connection.execute(text("SELECT 1"))  # SQLAlchemy has begun a transaction on this connection
        with pytest.raises(RuntimeError, match="own transaction"):
            Script("SELECT 1").run(driver_connection(connection), two_tenants.a)


def test_a_script_without_a_tenant_binds_none_and_sees_no_tenant_rows(two_tenants, raw_engine):
    from app.core.db import Script, driver_connection

    with raw_engine.connect() as connection:
        assert Script("SELECT count(*) FROM users;\nSELECT current_setting('app.tenant_id', true)").run(
            driver_connection(connection), None) in ([(None,)], [("",)])
        assert Script("SELECT count(*) FROM users").run(driver_connection(connection), None) == [(0,)]
