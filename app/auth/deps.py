"""Typed request dependencies: a unit-of-work session, the authenticated tenant context, permissions.

Routes read like their signature:  `def handler(session: DbSession, ctx: Authorized[Permission.read])`.
Handlers on one resource take `CurrentContext`, fetch through the scope (404) and then `authorize()` (403).
"""

import hmac
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Annotated

import redis
import structlog
from fastapi import Depends, Header, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import select, text, update
from sqlalchemy.orm import Session, sessionmaker

from app.auth.permissions import Permission, Role, authorize
from app.core.context import Principal, TenantContext
from app.core.db import bind_tenant, get_sessionmaker, session_scope
from app.core.errors import TooManyRequests, Unauthorized
from app.core.metrics import RATE_LIMITED
from app.core.ratelimit import RateDecision, tenant_limiter
from app.core.security import InvalidToken, api_key_prefix, decode_token, hash_api_key
from app.models import ApiKey, Membership, User

_bearer = HTTPBearer(auto_error=False)
log = structlog.get_logger(__name__)
_API_KEY_TOUCH_INTERVAL = timedelta(seconds=60)


def get_session_factory() -> sessionmaker[Session]:
    return get_sessionmaker()


SessionFactory = Annotated[sessionmaker[Session], Depends(get_session_factory)]


def get_session(factory: SessionFactory) -> Iterator[Session]:
    """The request's unit of work: committed when the handler returns, rolled back if it raises."""
    with session_scope(factory=factory) as session:
        yield session


# scope="function": the commit happens before the response is sent, so a 2xx always means committed.
DbSession = Annotated[Session, Depends(get_session, scope="function")]


def _user_principal(session: Session, token: str) -> tuple[uuid.UUID, Principal]:
    try:
        claims = decode_token(token, "access")
    except InvalidToken as exc:
        raise Unauthorized("The access token is invalid or expired.") from exc
    bind_tenant(session, claims.tenant_id)
    row = session.execute(
        select(User.is_active, Membership.role)
        .join(Membership, Membership.user_id == User.id)
        .where(User.id == claims.subject, User.tenant_id == claims.tenant_id)
    ).one_or_none()
    if row is None or not row.is_active:
        raise Unauthorized("The user no longer has access to this tenant.")
    return claims.tenant_id, Principal("user", claims.subject, Role(row.role))


def _api_key_principal(session: Session, key: str) -> tuple[uuid.UUID, Principal]:
    prefix = api_key_prefix(key)
    row = None
    if prefix:
        row = session.execute(text("SELECT * FROM auth_api_key_by_prefix(:p)"), {"p": prefix}).one_or_none()
    now = datetime.now(UTC)
    if (
        row is None
        or not hmac.compare_digest(row.key_hash, hash_api_key(key))
        or row.revoked_at is not None
        or (row.expires_at is not None and row.expires_at <= now)
    ):
        raise Unauthorized("The API key is invalid, expired or revoked.")
    bind_tenant(session, row.tenant_id)
    session.execute(
        update(ApiKey)
        .where(ApiKey.id == row.id, ApiKey.tenant_id == row.tenant_id)
        .where((ApiKey.last_used_at.is_(None)) | (ApiKey.last_used_at < now - _API_KEY_TOUCH_INTERVAL))
        .values(last_used_at=now)
    )
    return row.tenant_id, Principal("api_key", row.id, Role(row.role))


def get_context(
    request: Request,
    session: DbSession,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    x_api_key: Annotated[str | None, Header(alias="X-API-Key", include_in_schema=False)] = None,
) -> TenantContext:
    if credentials is not None:
        tenant_id, principal = _user_principal(session, credentials.credentials)
    elif x_api_key:
        tenant_id, principal = _api_key_principal(session, x_api_key)
    else:
        raise Unauthorized("Send a bearer token or an X-API-Key header.")
    decision = _charge_rate_limit(tenant_id)
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


def _charge_rate_limit(tenant_id: uuid.UUID) -> RateDecision | None:
    """Fails open: with Redis away the limit cannot be counted, and refusing every request would turn a
    broker outage into a full outage (accepted runs wait in the outbox until Redis is back)."""
    try:
        return tenant_limiter().hit(f"tenant:{tenant_id}")
    except redis.RedisError:
        log.warning("rate_limit_unavailable", tenant_id=str(tenant_id), exc_info=True)
        return None


class _Authorized:
    """`Authorized[Permission.x]` is a TenantContext whose role has been checked against the table."""

    def __class_getitem__(cls, permission: Permission):
        def check(ctx: CurrentContext) -> TenantContext:
            authorize(ctx, permission)
            return ctx

        return Annotated[TenantContext, Depends(check)]


Authorized = _Authorized
__all__ = ["Authorized", "CurrentContext", "DbSession", "SessionFactory", "authorize"]
