"""PreparedScript (app.llm.prepared): a Script whose statement is prepared once per connection. On the real
database, as the runtime role: the tenant binding and RLS hold, a failure changes nothing, and a statement
deallocated behind its back is prepared again."""

import psycopg
import pytest
from sqlalchemy import text

from app.core.db import driver_connection
from app.llm.prepared import PreparedScript
from tests.builders import committed_tenant

USERS = PreparedScript("test_prepared_users", {"tenant_id": "uuid", "suffix": "text"},
                       "SELECT count(*) FROM users WHERE email LIKE '%%' || %(suffix)s")
HALF_DONE = PreparedScript("test_prepared_half_done", {"tenant_id": "uuid", "zero": "integer"}, """
    WITH added AS (INSERT INTO audit_log (tenant_id, actor_type, action, entity_type, created_at)
                   VALUES (%(tenant_id)s, 'user', 'prepared.half', 'x', now()) RETURNING 1)
    SELECT 1 / %(zero)s FROM added""")


def _prepared(driver: psycopg.Connection) -> dict[str, tuple[int, int]]:
    """Prepared statement name -> (runs with the generic plan, runs with a custom plan), on this connection."""
    return {name: (generic, custom) for name, generic, custom in driver.execute(
        "SELECT name, generic_plans, custom_plans FROM pg_prepared_statements WHERE name LIKE 'test_prepared_%'")}


def test_a_prepared_script_is_bound_to_its_tenant_and_prepared_once(committed_db, app_engine):
    a, b = committed_tenant(committed_db), committed_tenant(committed_db)
    with app_engine.connect() as connection:
        driver = driver_connection(connection)
        # Past the fifth run PostgreSQL switches to the statement's generic plan: the binding still applies.
        for _ in range(4):
            assert USERS.run(driver, a.id, {"suffix": ".example.com"}) == [(len(a.users),)]
            assert USERS.run(driver, b.id, {"suffix": f"@{b.slug}.example.com"}) == [(len(b.users),)]
            assert USERS.run(driver, a.id, {"suffix": f"@{b.slug}.example.com"}) == [(0,)]  # b's rows are not a's
        assert _prepared(driver) == {"test_prepared_users": (7, 5)}
        # The binding ended with the script's transaction.
        assert connection.execute(text("SELECT count(*) FROM users")).scalar_one() == 0
        connection.rollback()


def test_a_deallocated_statement_is_prepared_again(committed_db, app_engine):
    a = committed_tenant(committed_db)
    with app_engine.connect() as connection:
        driver = driver_connection(connection)
        assert USERS.run(driver, a.id, {"suffix": ".example.com"}) == [(len(a.users),)]
        driver.autocommit = True
        driver.execute("DEALLOCATE ALL")
        driver.autocommit = False
        assert USERS.run(driver, a.id, {"suffix": ".example.com"}) == [(len(a.users),)]
        assert _prepared(driver) == {"test_prepared_users": (0, 1)}


def test_a_failing_prepared_script_changes_nothing_and_leaves_the_connection_usable(committed_db, app_engine,
                                                                                    owner_engine):
    a = committed_tenant(committed_db)

    def audit_rows() -> int:
        with owner_engine.connect() as owner:
            return owner.execute(text("SELECT count(*) FROM audit_log WHERE tenant_id = :t AND action = 'prepared.half'"),
                                 {"t": a.id}).scalar_one()

    with app_engine.connect() as connection:
        driver = driver_connection(connection)
        with pytest.raises(psycopg.errors.DivisionByZero):
            HALF_DONE.run(driver, a.id, {"zero": 0})
        assert driver.autocommit is False
        assert audit_rows() == 0
        assert USERS.run(driver, a.id, {"suffix": ".example.com"}) == [(len(a.users),)]
        assert HALF_DONE.run(driver, a.id, {"zero": 1}) == [(1,)]
    assert audit_rows() == 1


def test_undeclared_parameters_are_refused_when_the_script_is_built():
    with pytest.raises(ValueError, match="not a declared parameter"):
        PreparedScript("test_prepared_bad", {"tenant_id": "uuid"}, "SELECT %(other)s")
