"""Row-level security, proven on raw connections as the runtime role with committed data for two tenants.

The application's own `WHERE tenant_id = …` is deliberately absent from every query here: these tests
show what the database refuses on its own when the application forgets. The tables attacked are read from
the migrated catalogue, each given rows of both tenants (tests/core/tenant_tables.py), so a table added by a
later migration is attacked without this file changing.
"""

import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import psycopg
import pytest
from sqlalchemy import Connection, create_engine, make_url, select, text
from sqlalchemy.exc import DBAPIError, ProgrammingError
from sqlalchemy.orm import sessionmaker
from sqlalchemy.pool import NullPool

from app.core.db import session_scope
from app.models import User
from tests.builders import make_tenant
from tests.core.tenant_tables import TENANTS, CannotBuildRow, RowBuilder, TenantTable, bind, tenant_tables

# The foundation's tables: the catalogue must list at least these as tenant tables.
FOUNDATION_TABLES = {"tenants", "users", "memberships", "api_keys", "refresh_tokens", "audit_log"}


@dataclass
class TwoTenants:
    a: uuid.UUID
    b: uuid.UUID
    tables: list[TenantTable]


@pytest.fixture(scope="module")
def raw_engine(migrated):
    """Plain connections as the runtime role, outside the application's session machinery."""
    engine = create_engine(migrated["database_url"], poolclass=NullPool)
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def two_tenants(app_engine, owner_engine, raw_engine) -> Iterator[TwoTenants]:
    """Two committed tenants, each with a row in every tenant table of the migrated schema: users through
    the app's sessions, then one row per table built from the catalogue (tests/core/tenant_tables.py)."""
    factory = sessionmaker(bind=app_engine, expire_on_commit=False)
    ids = []
    for _ in range(2):
        with session_scope(factory=factory) as session:
            ids.append(make_tenant(session).id)
    with raw_engine.connect() as connection:
        tables = tenant_tables(connection)
    unbuildable = {}
    for tenant_id in ids:
        for table in tables:
            if table.name == TENANTS:
                continue
            try:
                with raw_engine.begin() as connection:
                    bind(connection, tenant_id)
                    builder = RowBuilder(connection)
                    builder.insert(table.name, builder.values(table.name, tenant_id))
            except (CannotBuildRow, DBAPIError) as exc:
                unbuildable[table.name] = str(exc).splitlines()[0]
    if unbuildable:
        pytest.fail(f"no row could be built for these tenant tables, so they would go unattacked: {unbuildable}")
    yield TwoTenants(*ids, tables)
    with owner_engine.begin() as connection:
        connection.execute(text("DELETE FROM tenants WHERE id = ANY(:ids)"), {"ids": ids})


def _owner_counts(owner_engine, tables: list[TenantTable], tenant_id: uuid.UUID) -> dict[str, int]:
    with owner_engine.connect() as connection:
        return {table.name: connection.execute(
            text(f'SELECT count(*) FROM "{table}" WHERE "{table.tenant_column}" = :tid'), {"tid": tenant_id}
        ).scalar_one() for table in tables}


def test_the_catalogue_lists_the_foundation_and_every_table_has_rows_of_both_tenants(two_tenants, owner_engine):
    assert FOUNDATION_TABLES <= {table.name for table in two_tenants.tables}
    for tenant_id in (two_tenants.a, two_tenants.b):
        counts = _owner_counts(owner_engine, two_tenants.tables, tenant_id)
        empty = [name for name, count in counts.items() if not count]
        assert empty == [], f"tables with no row of tenant {tenant_id} to attack: {empty}"


def test_bound_tenant_sees_only_its_rows_even_naming_the_others(two_tenants, raw_engine):
    leaks = {}
    for table in two_tenants.tables:
        column = table.tenant_column
        with raw_engine.begin() as connection:
            bind(connection, two_tenants.a)
            visible = set(connection.execute(text(f'SELECT DISTINCT "{column}" FROM "{table}"')).scalars())
            named = connection.execute(text(f'SELECT count(*) FROM "{table}" WHERE "{column}" = :b'),
                                       {"b": two_tenants.b}).scalar_one()
        if visible != {two_tenants.a} or named:
            leaks[table.name] = {"tenants seen": visible, "rows of the other tenant seen by naming it": named}
    assert leaks == {}


def _rows_touched(connection: Connection, statement: str, params: dict | None = None) -> int | str:
    """How many rows the statement changed, or the error it met (a policy error means it reached rows)."""
    try:
        with connection.begin_nested():
            return connection.execute(text(statement), params or {}).rowcount
    except DBAPIError as exc:
        return str(exc).splitlines()[0]


def test_bound_tenant_cannot_update_or_delete_the_others_rows(two_tenants, raw_engine, owner_engine):
    before = _owner_counts(owner_engine, two_tenants.tables, two_tenants.b)
    touched = {}
    for table in two_tenants.tables:
        column = table.tenant_column
        with raw_engine.begin() as connection:
            bind(connection, two_tenants.a)
            outcome = {
                "updated": _rows_touched(connection, f'UPDATE "{table}" SET "{column}" = "{column}" '
                                                     f'WHERE "{column}" = :b', {"b": two_tenants.b}),
                "deleted": _rows_touched(connection, f'DELETE FROM "{table}" WHERE "{column}" = :b',
                                         {"b": two_tenants.b}),
            }
            connection.rollback()
        if outcome != {"updated": 0, "deleted": 0}:
            touched[table.name] = outcome
    assert touched == {}
    assert _owner_counts(owner_engine, two_tenants.tables, two_tenants.b) == before


def _refused_by_rls(connection: Connection, statement: str, params: dict) -> str | None:
    """None when the policy refused the statement; otherwise what happened instead."""
    try:
        with connection.begin_nested():
            result = connection.execute(text(statement), params)
    except ProgrammingError as exc:
        return None if "row-level security" in str(exc) else str(exc).splitlines()[0]
    except DBAPIError as exc:
        return str(exc).splitlines()[0]
    return f"accepted ({result.rowcount} rows)"


def test_bound_tenant_cannot_move_its_rows_into_another_tenant(two_tenants, raw_engine):
    moved = {}
    for table in two_tenants.tables:
        column = table.tenant_column
        with raw_engine.begin() as connection:
            bind(connection, two_tenants.a)
            outcome = _refused_by_rls(connection, f'UPDATE "{table}" SET "{column}" = :b WHERE "{column}" = :a',
                                      {"a": two_tenants.a, "b": two_tenants.b})
            connection.rollback()
        if outcome is not None:
            moved[table.name] = outcome
    assert moved == {}


def test_bound_tenant_cannot_insert_rows_for_another_tenant(two_tenants, raw_engine):
    """The row is one the other tenant could insert (its parents exist, every constraint holds): only the
    policy stands in the way."""
    inserted = {}
    for table in two_tenants.tables:
        with raw_engine.connect() as connection:
            builder = RowBuilder(connection)
            with connection.begin():
                bind(connection, two_tenants.b)
                values = builder.values(table.name, two_tenants.b)
            with connection.begin():
                bind(connection, two_tenants.a)
                try:
                    builder.insert(table.name, values)
                    inserted[table.name] = "accepted"
                except ProgrammingError as exc:
                    if "row-level security" not in str(exc):
                        inserted[table.name] = str(exc).splitlines()[0]
                connection.rollback()
    assert inserted == {}


def test_unbound_transaction_sees_and_changes_no_row_of_any_tenant_table(two_tenants, raw_engine, owner_engine):
    exposed = {}
    for table in two_tenants.tables:
        column = table.tenant_column
        with raw_engine.begin() as connection:
            outcome = {
                "seen": connection.execute(text(f'SELECT count(*) FROM "{table}"')).scalar_one(),
                "updated": _rows_touched(connection, f'UPDATE "{table}" SET "{column}" = "{column}"'),
                "deleted": _rows_touched(connection, f'DELETE FROM "{table}"'),
            }
            connection.rollback()
        if outcome != {"seen": 0, "updated": 0, "deleted": 0}:
            exposed[table.name] = outcome
    assert exposed == {}
    assert all(_owner_counts(owner_engine, two_tenants.tables, two_tenants.a).values())


def test_a_committed_binding_does_not_survive_its_transaction(two_tenants, raw_engine):
    with raw_engine.connect() as connection:
        with connection.begin():
            bind(connection, two_tenants.a)
            assert connection.execute(text("SELECT count(*) FROM users")).scalar_one() > 0
        with connection.begin():
            assert connection.execute(text("SELECT count(*) FROM users")).scalar_one() == 0
        with pytest.raises(DBAPIError):
            with connection.begin():
                bind(connection, two_tenants.a)
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


def test_every_tenant_table_has_rls_forced_and_a_policy_comparing_its_tenant_column_with_equals(owner_engine):
    """Runs over the catalogue, so a table added later with a `tenant_id` column is covered too. Mentioning
    the tenant function is not enough (`tenant_id = app_current_tenant() OR true` mentions it): every
    permissive policy must be exactly the comparison, for reads (USING) and writes (WITH CHECK)."""
    with owner_engine.connect() as connection:
        tables = tenant_tables(connection)
        flags = {row.relname: (row.relrowsecurity, row.relforcerowsecurity) for row in connection.execute(text(
            "SELECT relname, relrowsecurity, relforcerowsecurity FROM pg_class "
            "WHERE relnamespace = 'public'::regnamespace"))}
        policies = connection.execute(text(
            "SELECT c.relname, p.polname, pg_get_expr(p.polqual, p.polrelid) AS using_expr, "
            "pg_get_expr(p.polwithcheck, p.polrelid) AS check_expr, p.polpermissive "
            "FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid"
        )).all()
    assert FOUNDATION_TABLES <= {table.name for table in tables}
    unprotected = [table.name for table in tables if flags[table.name] != (True, True)]
    assert unprotected == [], f"tenant tables without RLS enabled and forced: {unprotected}"
    wrong = {}
    for table in tables:
        comparison = f"({table.tenant_column} = app_current_tenant())"
        permissive = [p for p in policies if p.relname == table.name and p.polpermissive]
        if not permissive:
            wrong[table.name] = "RLS without a permissive policy"
        for policy in permissive:
            if policy.using_expr != comparison or policy.check_expr not in (None, comparison):
                wrong[f"{table.name}.{policy.polname}"] = (policy.using_expr, policy.check_expr)
    assert wrong == {}, f"policies that are not exactly the tenant comparison: {wrong}"


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

    audit_log = [table for table in two_tenants.tables if table.name == "audit_log"]
    before = _owner_counts(owner_engine, audit_log, two_tenants.a)
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
    assert _owner_counts(owner_engine, audit_log, two_tenants.a) == before


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
