"""Engines and sessions. Every session is bound to at most one tenant, per transaction.

The binding is `set_config('app.tenant_id', <id>, true)`, issued at the start of every transaction the
session begins (SQLAlchemy's `after_begin`). `true` makes it transaction-local, so a pooled connection
never carries one tenant's binding into another transaction, and an unbound transaction sees no
tenant rows at all (the RLS policies compare against NULL).
"""

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.orm import Session, sessionmaker

from app.core.config import get_settings
from app.core.embedded import resolved_urls

TENANT_KEY = "tenant_id"


@lru_cache
def get_engine() -> Engine:
    settings = get_settings()
    return create_engine(
        resolved_urls(settings).database_url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_pre_ping=True,
        connect_args={"options": f"-c statement_timeout={settings.db_statement_timeout_ms}"},
    )


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
