"""Login, refresh-token rotation and logout. A refresh token is single use: presenting one that was already
used means it leaked, so its whole family (every token descending from one login) is revoked; so does a
logout."""

import uuid
from datetime import UTC, datetime

from sqlalchemy import select, text, update
from sqlalchemy.orm import Session

from app.auth.schemas import Me, TokenPair
from app.core.config import get_settings
from app.core.context import TenantContext
from app.core.db import bind_tenant
from app.core.errors import BadRequest, TooManyRequests, Unauthorized
from app.core.ratelimit import charge, login_limiter
from app.core.scope import scoped
from app.core.security import DUMMY_PASSWORD_HASH, create_token, decode_token, InvalidToken, verify_password
from app.models import Membership, RefreshToken, Tenant, User

INVALID_CREDENTIALS = "Email or password is incorrect."


def login(session: Session, email: str, password: str, tenant_slug: str | None) -> TokenPair:
    decision = charge(login_limiter(), f"login:{email.lower()}")
    if decision is not None and not decision.allowed:
        raise TooManyRequests("Too many login attempts for this email; retry later.",
                              headers={"Retry-After": str(decision.retry_after_seconds)})
    candidates = session.execute(text("SELECT * FROM auth_users_by_email(:e)"), {"e": email}).all()
    if tenant_slug:
        candidates = [c for c in candidates if c.tenant_slug == tenant_slug]
    # Verify before looking at is_active, so a deactivated account answers as slowly as an active one.
    matches = [c for c in candidates if verify_password(c.password_hash, password) and c.is_active]
    if not candidates:
        verify_password(DUMMY_PASSWORD_HASH, password)
    if not matches:
        raise Unauthorized(INVALID_CREDENTIALS)
    if len(matches) > 1:
        raise BadRequest("This email has accounts in several tenants; send `tenant` with the tenant's slug.")
    account = matches[0]
    bind_tenant(session, account.tenant_id)
    session.execute(update(User).where(User.id == account.user_id).values(last_login_at=datetime.now(UTC)))
    return _issue_pair(session, account.user_id, account.tenant_id, family_id=uuid.uuid4())


def refresh(session: Session, refresh_token: str) -> TokenPair:
    try:
        claims = decode_token(refresh_token, "refresh")
    except InvalidToken as exc:
        raise Unauthorized("The refresh token is invalid or expired.") from exc
    bind_tenant(session, claims.tenant_id)
    stored = session.scalars(
        select(RefreshToken).where(RefreshToken.jti == claims.jti).with_for_update()
    ).one_or_none()
    if stored is None or stored.revoked_at is not None:
        raise Unauthorized("The refresh token has been revoked.")
    now = datetime.now(UTC)
    if stored.used_at is not None:
        _revoke_family(session, stored.family_id, now)
        # The revocation must stick although the request fails: commit it before raising.
        session.commit()
        raise Unauthorized("The refresh token was already used; every token of its login has been revoked.")
    active = session.execute(
        select(User.is_active).join(Membership, Membership.user_id == User.id).where(User.id == stored.user_id)
    ).scalar_one_or_none()
    if not active:
        raise Unauthorized("The user no longer has access to this tenant.")
    stored.used_at = now
    return _issue_pair(session, stored.user_id, claims.tenant_id, family_id=stored.family_id)


def logout(session: Session, refresh_token: str) -> None:
    """End the login the refresh token belongs to: every refresh token of its family is revoked. Ending it
    again changes nothing. Access tokens already issued work until they expire (they are not looked up)."""
    try:
        claims = decode_token(refresh_token, "refresh")
    except InvalidToken as exc:
        raise Unauthorized("The refresh token is invalid or expired.") from exc
    bind_tenant(session, claims.tenant_id)
    _revoke_family(session, claims.family_id, datetime.now(UTC))


def _revoke_family(session: Session, family_id: uuid.UUID | None, now: datetime) -> None:
    session.execute(update(RefreshToken).where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
                    .values(revoked_at=now))


def _issue_pair(session: Session, user_id: uuid.UUID, tenant_id: uuid.UUID, family_id: uuid.UUID) -> TokenPair:
    access, _ = create_token(user_id, tenant_id, "access")
    refresh_token, claims = create_token(user_id, tenant_id, "refresh", family_id=family_id)
    session.add(RefreshToken(jti=claims.jti, family_id=family_id, user_id=user_id, tenant_id=tenant_id,
                             expires_at=claims.expires_at))
    session.flush()
    return TokenPair(access_token=access, refresh_token=refresh_token,
                     expires_in=get_settings().access_token_ttl_seconds)


def me(session: Session, ctx: TenantContext) -> Me:
    tenant = session.scalars(select(Tenant).where(Tenant.id == ctx.tenant_id)).one()
    user = None
    if ctx.principal.kind == "user":
        user = session.scalars(scoped(ctx, User).where(User.id == ctx.principal.id)).one()
    return Me(tenant_id=tenant.id, tenant_slug=tenant.slug, principal_type=ctx.principal.kind, id=ctx.principal.id,
              email=user.email if user else None, name=user.name if user else None, role=ctx.principal.role)
