"""Engines and sessions. Every session is bound to at most one tenant, per transaction.

The binding is `set_config('app.tenant_id', <id>, true)`, issued at the start of every transaction the
session begins (SQLAlchemy's `after_begin`). `true` makes it transaction-local, so a pooled connection
never carries one tenant's binding into another transaction, and an unbound transaction sees no
tenant rows at all (the RLS policies compare against NULL).
"""

import re
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

import psycopg
from psycopg.pq import ExecStatus, TransactionStatus
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session, sessionmaker

from app.core.config import get_settings
from app.core.embedded import resolved_urls

TENANT_KEY = "tenant_id"


_worker_process = False


def use_worker_commit_mode() -> None:
    """Called in Celery worker processes. Their commits (claims, steps, outcomes, relay and reaper
    bookkeeping) may skip the WAL flush (WORKER_SYNCHRONOUS_COMMIT=off): if PostgreSQL itself crashes,
    the last fraction of a second of that work is lost, which looks exactly like the worker dying at
    that moment, and the lease, reaper and relay recover it (a step is lost together with its own
    writes, so nothing is half-applied). The API always commits synchronously: a 202 is durable."""
    global _worker_process
    _worker_process = True
    if get_engine.cache_info().currsize:
        get_engine().dispose(close=False)
    get_engine.cache_clear()
    get_sessionmaker.cache_clear()


@lru_cache
def get_engine() -> Engine:
    settings = get_settings()
    # Set per connection, not on the role (ALTER ROLE ... SET): it holds wherever DATABASE_URL points,
    # with no migration, and the settings file says what is in force.
    options = (f"-c statement_timeout={settings.db_statement_timeout_ms}"
               f" -c idle_in_transaction_session_timeout={settings.db_idle_in_transaction_timeout_ms}")
    if _worker_process:
        options += f" -c synchronous_commit={settings.worker_synchronous_commit}"
    engine = create_engine(
        resolved_urls(settings).database_url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        # The connection returned last is handed out first: it was in use a moment ago, so it is not
        # pinged (below) and its prepared statements are warm, and the ones that sit idle stay idle.
        pool_use_lifo=True,
        connect_args={"options": options},
    )
    _ping_idle_connections(engine)
    return engine


# A pooled connection is pinged on checkout (SQLAlchemy's "pessimistic" disconnect handling, in its
# event-based form) unless it was in use a moment ago: under load a connection goes back and forth many
# times a second, and a ping per checkout was a round trip per request, per run attempt, per model call.
PING_AFTER_IDLE_SECONDS = 0.5


def _ping_idle_connections(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _connected(dbapi_connection, record) -> None:
        record.info["returned_at"] = time.monotonic()

    @event.listens_for(engine, "checkin")
    def _returned(dbapi_connection, record) -> None:
        record.info["returned_at"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping_if_idle(dbapi_connection, record, proxy) -> None:
        if time.monotonic() - record.info.get("returned_at", 0.0) < PING_AFTER_IDLE_SECONDS:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as exc:  # the pool discards this connection and checks out another
            raise DisconnectionError("the pooled connection failed its ping") from exc


class UnsafeRuntimeRole(RuntimeError):
    """DATABASE_URL names a role that row-level security would not hold."""


# Superusers and BYPASSRLS roles skip every policy; an owner of a table (or a member of the owner's role)
# can switch its policies off. Role attributes are not inherited, so the role's own flags are the answer.
_RUNTIME_ROLE = text("""
SELECT current_user AS name, r.rolsuper AS superuser, r.rolbypassrls AS bypasses_rls,
       ARRAY(SELECT n.nspname || '.' || c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
               AND pg_has_role(current_user, c.relowner, 'MEMBER')
             ORDER BY 1 LIMIT 5) AS owned_tables
FROM pg_roles r WHERE r.rolname = current_user
""")


def refuse_unsafe_runtime_role(engine: Engine | None = None) -> None:
    """Raise UnsafeRuntimeRole unless the runtime role is subject to row-level security. The API and the
    workers call it before serving: with such a role every tenant would see every other, silently."""
    with (engine or get_engine()).connect() as connection:
        role = connection.execute(_RUNTIME_ROLE).one()
    reasons = [reason for reason, present in (
        ("is a superuser", role.superuser),
        ("has BYPASSRLS", role.bypasses_rls),
        (f"owns tables ({', '.join(role.owned_tables)})", role.owned_tables),
    ) if present]
    if reasons:
        raise UnsafeRuntimeRole(
            f"DATABASE_URL connects as role {role.name!r}, which {' and '.join(reasons)}: row-level security "
            "would not isolate tenants. Point DATABASE_URL at a role that owns no table and has neither "
            "SUPERUSER nor BYPASSRLS (MIGRATION_DATABASE_URL is the one for the owner; docs/configuration.md).")


@lru_cache
def get_sessionmaker() -> sessionmaker[Session]:
    return sessionmaker(bind=get_engine(), expire_on_commit=False, autoflush=True)


@event.listens_for(Session, "after_begin")
def _bind_tenant(session: Session, transaction, connection) -> None:
    tenant_id = session.info.get(TENANT_KEY)
    if tenant_id is not None:
        connection.execute(text("SELECT set_config('app.tenant_id', :tid, true)"), {"tid": str(tenant_id)})


def bind_tenant(session: Session, tenant_id: uuid.UUID) -> None:
    """Bind `session` to `tenant_id` from now on, including the transaction already open, if any."""
    session.info[TENANT_KEY] = tenant_id
    if session.in_transaction():
        session.execute(text("SELECT set_config('app.tenant_id', :tid, true)"), {"tid": str(tenant_id)})


@contextmanager
def session_scope(tenant_id: uuid.UUID | None = None, factory: sessionmaker[Session] | None = None) -> Iterator[Session]:
    """A unit of work: commits on success, rolls back on error. For workers, the CLI and scripts."""
    session = (factory or get_sessionmaker())()
    if tenant_id is not None:
        session.info[TENANT_KEY] = tenant_id
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


# --- one round trip per transaction -----------------------------------------------------------


class Script:
    """SQL statements that run as one transaction in one network round trip, bound to a tenant.

    A hot path (a worker claiming a run, recording a step, writing an outcome; the model-call ledger)
    would otherwise pay five round trips for one statement: the pool's ping, BEGIN, the tenant binding,
    the statement, COMMIT. A script's statements are sent together in psycopg's pipeline mode with one
    Sync at the end; PostgreSQL runs the statements before a Sync as one implicit transaction, so the
    binding (`set_config(..., true)`, transaction-local as everywhere) comes first and applies to the
    rest, and ends with the transaction; an error anywhere rolls back all of it. It is still the
    extended protocol: parameters are bound server-side and psycopg prepares a statement it has run a
    few times, so the server neither parses nor plans it again.

    `sql` holds the statements, each ending with a semicolon at the end of a line (the last one may
    omit it); parameters are `%(name)s`, `%` in SQL is written `%%`. The last statement's rows are returned.
    """

    def __init__(self, sql: str):
        statements = [part.strip() for part in _STATEMENT_END.split(sql.strip().rstrip(";")) if part.strip()]
        self.statements = [_BIND_TENANT, *statements]
        self._parametrised = ["%(" in statement for statement in self.statements]

    def run(self, connection: psycopg.Connection, tenant_id: uuid.UUID | None,
            params: Mapping[str, Any] | None = None) -> list[tuple]:
        """Run the script bound to `tenant_id`; None binds no tenant (for tables without tenant rows)."""
        if connection.info.transaction_status != TransactionStatus.IDLE:
            raise RuntimeError("a script runs as its own transaction; this connection is inside another one")
        values = {**(params or {}), "tenant_id": str(tenant_id)}
        first = 0 if tenant_id is not None else 1  # statement 0 is the tenant binding
        connection.autocommit = True  # no BEGIN: the statements up to the Sync are one implicit transaction
        try:
            with connection.pipeline():
                for statement, parametrised in zip(self.statements[first:], self._parametrised[first:], strict=True):
                    cursor = connection.execute(statement, values if parametrised else None)
            return cursor.fetchall() if cursor.pgresult is not None and cursor.pgresult.status == ExecStatus.TUPLES_OK else []
        finally:
            connection.autocommit = False


_BIND_TENANT = "SELECT set_config('app.tenant_id', %(tenant_id)s, true)"
_STATEMENT_END = re.compile(r";[ \t]*\n")


def driver_connection(connection: Connection) -> psycopg.Connection:
    """The psycopg connection under a SQLAlchemy one (checked out already: no second pool ping)."""
    return connection.connection.driver_connection


@contextmanager
def script_connection() -> Iterator[psycopg.Connection]:
    """A pooled connection for scripts, returned to the pool afterwards."""
    with get_engine().connect() as connection:
        yield driver_connection(connection)
