"""Typed request dependencies: a unit-of-work session, the authenticated tenant context, permissions.

Routes read like their signature:  `def handler(session: DbSession, ctx: Authorized[Permission.read])`.
Handlers on one resource take `CurrentContext`, fetch through the scope (404) and then `authorize()` (403).
"""

import hmac
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Annotated

import anyio
import psycopg
import structlog
from fastapi import BackgroundTasks, Depends, Header, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from psycopg.rows import namedtuple_row
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from app.auth.permissions import Permission, Role, authorize
from app.core.context import Principal, TenantContext
from app.core.db import TENANT_KEY, driver_connection, get_sessionmaker
from app.core.errors import TooManyRequests, Unauthorized
from app.core.metrics import RATE_LIMITED
from app.core.ratelimit import charge, tenant_limiter
from app.core.security import InvalidToken, api_key_prefix, decode_token, hash_api_key

_bearer = HTTPBearer(auto_error=False)
log = structlog.get_logger(__name__)


async def get_session_factory() -> sessionmaker[Session]:
    return get_sessionmaker()


SessionFactory = Annotated[sessionmaker[Session], Depends(get_session_factory)]


async def get_session(factory: SessionFactory) -> AsyncIterator[Session]:
    """The request's unit of work: committed when the handler returns, rolled back if it raises.

    Creating a session does no I/O, so it happens on the event loop; ending it does, so the commit (or
    rollback) runs in a worker thread, and only if a transaction is open: a handler that committed
    itself, inside its own thread, saves the second hop. That thread is not taken from the shared
    limiter: with every worker thread waiting for a pooled connection, a session waiting for a thread
    to give its connection back would deadlock (FastAPI ends its own generator dependencies so, too)."""
    session = factory()
    try:
        yield session
    except BaseException:
        await _end(session, commit=False)
        raise
    await _end(session, commit=True)


async def _end(session: Session, *, commit: bool) -> None:
    if session.in_transaction():
        with anyio.CancelScope(shield=True):  # a client that goes away does not leave a transaction half-ended
            await anyio.to_thread.run_sync(_end_in_thread, session, commit, limiter=anyio.CapacityLimiter(1))
    else:
        session.close()  # no transaction: nothing to send


def _end_in_thread(session: Session, commit: bool) -> None:
    try:
        if commit:
            session.commit()
        else:
            session.rollback()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


# scope="function": the commit happens before the response is sent, so a 2xx always means committed.
DbSession = Annotated[Session, Depends(get_session, scope="function")]


# The credential checks run first in every request and are few and fixed, so they go straight through
# psycopg on the session's connection: no SQL layer per statement, and the server prepares them.
_BIND = "SELECT set_config('app.tenant_id', %s, true)"  # as app.core.db binds a transaction
# Every request: a deactivated user, or one whose membership is gone, is refused at once.
_USER_ROLE = (
    "SELECT u.is_active, m.role FROM users u JOIN memberships m ON m.user_id = u.id "
    "WHERE u.id = %s AND u.tenant_id = %s"
)
_API_KEY_BY_PREFIX = "SELECT id, tenant_id, key_hash, role, expires_at, revoked_at FROM auth_api_key_by_prefix(%s)"


def _connection(session: Session) -> psycopg.Connection:
    """The psycopg connection of `session`'s transaction. A transaction begun here starts unbound (the
    credentials say which tenant, and `_bind` binds it)."""
    if not session.in_transaction():
        session.info.pop(TENANT_KEY, None)
    return driver_connection(session.connection())


def _bind(session: Session, connection: psycopg.Connection, tenant_id: uuid.UUID) -> None:
    """app.core.db.bind_tenant, on the connection at hand: this transaction now, later ones on begin."""
    session.info[TENANT_KEY] = tenant_id
    connection.execute(_BIND, (str(tenant_id),))


def _user_principal(session: Session, token: str) -> tuple[uuid.UUID, Principal]:
    try:
        claims = decode_token(token, "access")
    except InvalidToken as exc:
        raise Unauthorized("The access token is invalid or expired.") from exc
    connection = _connection(session)
    _bind(session, connection, claims.tenant_id)
    row = connection.execute(_USER_ROLE, (claims.subject, claims.tenant_id)).fetchone()
    if row is None or not row[0]:
        raise Unauthorized("The user no longer has access to this tenant.")
    return claims.tenant_id, Principal("user", claims.subject, Role(row[1]))


def _api_key_principal(session: Session, key: str) -> tuple[uuid.UUID, Principal]:
    prefix = api_key_prefix(key)
    connection = _connection(session)
    row = None
    if prefix:
        with connection.cursor(row_factory=namedtuple_row) as cursor:
            row = cursor.execute(_API_KEY_BY_PREFIX, (prefix,)).fetchone()
    now = datetime.now(UTC)
    if (
        row is None
        or not hmac.compare_digest(row.key_hash, hash_api_key(key))
        or row.revoked_at is not None
        or (row.expires_at is not None and row.expires_at <= now)
    ):
        raise Unauthorized("The API key is invalid, expired or revoked.")
    _bind(session, connection, row.tenant_id)
    return row.tenant_id, Principal("api_key", row.id, Role(row.role))


# A key's last use is recorded at most once a minute per key, after the response, in a transaction of its
# own: inside the request's, the row lock would make every other request with the key wait for this one
# to end (a slow upload, say). SKIP LOCKED: a use being recorded elsewhere right now is as good as this one.
_API_KEY_TOUCH_INTERVAL = timedelta(seconds=60)
_API_KEY_TOUCH = text(
    "UPDATE api_keys SET last_used_at = :now WHERE id = ("
    "SELECT id FROM api_keys WHERE id = :id AND (last_used_at IS NULL OR last_used_at < :stale) "
    "FOR UPDATE SKIP LOCKED)"
)
_key_use_recorded_at: dict[uuid.UUID, float] = {}  # in this process, by key id (time.monotonic())


def _record_key_use_later(background: BackgroundTasks, factory: sessionmaker[Session], tenant_id: uuid.UUID,
                          key_id: uuid.UUID) -> None:
    now = time.monotonic()
    if now - _key_use_recorded_at.get(key_id, -float("inf")) >= _API_KEY_TOUCH_INTERVAL.total_seconds():
        _key_use_recorded_at[key_id] = now
        background.add_task(_record_key_use, factory, tenant_id, key_id)


def _record_key_use(factory: sessionmaker[Session], tenant_id: uuid.UUID, key_id: uuid.UUID) -> None:
    now = datetime.now(UTC)
    try:
        with factory() as session:
            session.info[TENANT_KEY] = tenant_id
            with session.begin():
                session.execute(_API_KEY_TOUCH, {"now": now, "id": key_id, "stale": now - _API_KEY_TOUCH_INTERVAL})
    except SQLAlchemyError:  # the response has gone; a last use recorded a minute late is no harm
        log.warning("api_key_use_not_recorded", api_key_id=str(key_id), exc_info=True)


def get_context(
    request: Request,
    session: DbSession,
    factory: SessionFactory,
    background: BackgroundTasks,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    x_api_key: Annotated[str | None, Header(alias="X-API-Key", include_in_schema=False)] = None,
) -> TenantContext:
    if credentials is not None:
        tenant_id, principal = _user_principal(session, credentials.credentials)
    elif x_api_key:
        tenant_id, principal = _api_key_principal(session, x_api_key)
        _record_key_use_later(background, factory, tenant_id, principal.id)
    else:
        raise Unauthorized("Send a bearer token or an X-API-Key header.")
    if getattr(request.state, "body_pending", False):
        # The handler reads the body after this (an upload it reads as a stream): while a slow client sends
        # it, no pooled connection or transaction may be held for it. The credentials' transaction ends
        # here; the handler's statements begin another, bound to the tenant as this one was.
        session.commit()
    decision = charge(tenant_limiter(), f"tenant:{tenant_id}")
    if decision is not None and not decision.allowed:
        RATE_LIMITED.inc()
        raise TooManyRequests(
            "The tenant's request rate limit is exhausted; retry later.",
            headers={"Retry-After": str(decision.retry_after_seconds)},
        )
    request.state.tenant_id = str(tenant_id)
    structlog.contextvars.bind_contextvars(tenant_id=str(tenant_id))
    return TenantContext(tenant_id, principal, getattr(request.state, "request_id", None))


CurrentContext = Annotated[TenantContext, Depends(get_context)]


class _Authorized:
    """`Authorized[Permission.x]` is a TenantContext whose role has been checked against the table."""

    def __class_getitem__(cls, permission: Permission):
        async def check(ctx: CurrentContext) -> TenantContext:  # no I/O: checked on the event loop
            authorize(ctx, permission)
            return ctx

        return Annotated[TenantContext, Depends(check)]


Authorized = _Authorized
__all__ = ["Authorized", "CurrentContext", "DbSession", "SessionFactory", "authorize"]
