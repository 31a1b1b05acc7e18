import uuid

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.audit import service as audit
from app.auth.permissions import Permission, Role, authorize, can_manage_role
from app.core.context import TenantContext
from app.core.errors import Conflict, Forbidden, NotFound
from app.core.scope import scoped
from app.core.security import hash_password
from app.models import Membership, Tenant, User
from app.users.schemas import UserCreate, UserOut, UserPatch


def _out(user: User, membership: Membership) -> UserOut:
    return UserOut(id=user.id, email=user.email, name=user.name, role=Role(membership.role), is_active=user.is_active,
                   created_at=user.created_at, last_login_at=user.last_login_at)


def list_users(session: Session, ctx: TenantContext) -> list[UserOut]:
    rows = session.execute(
        scoped(ctx, User).add_columns(Membership).join(Membership, Membership.user_id == User.id).order_by(User.email)
    ).all()
    return [_out(user, membership) for user, membership in rows]


def _load(session: Session, ctx: TenantContext, user_id: uuid.UUID) -> tuple[User, Membership]:
    row = session.execute(
        scoped(ctx, User).add_columns(Membership).join(Membership, Membership.user_id == User.id)
        .where(User.id == user_id).with_for_update()
    ).one_or_none()
    if row is None:
        raise NotFound(f"User {user_id} was not found.")
    return row[0], row[1]


def _require_manageable(ctx: TenantContext, role: Role) -> None:
    if not can_manage_role(ctx.principal.role, role):
        raise Forbidden(f"The role '{ctx.principal.role}' may not manage users with the role '{role}'.")


def create_user(session: Session, ctx: TenantContext, body: UserCreate) -> UserOut:
    _require_manageable(ctx, body.role)
    user = User(tenant_id=ctx.tenant_id, email=body.email.lower(), name=body.name,
                password_hash=hash_password(body.password))
    try:
        with session.begin_nested():
            session.add(user)
    except IntegrityError as exc:
        raise Conflict(f"A user with email {body.email} already exists in this tenant.") from exc
    membership = Membership(tenant_id=ctx.tenant_id, user_id=user.id, role=body.role)
    session.add(membership)
    session.flush()
    out = _out(user, membership)
    audit.record(session, ctx, "user.create", "user", user.id, after=out.model_dump(mode="json"))
    return out


def update_user(session: Session, ctx: TenantContext, user_id: uuid.UUID, patch: UserPatch) -> UserOut:
    user, membership = _load(session, ctx, user_id)
    authorize(ctx, Permission.manage_users)
    _require_manageable(ctx, Role(membership.role))
    before = _out(user, membership).model_dump(mode="json")
    if patch.role is not None and patch.role != membership.role:
        _require_manageable(ctx, patch.role)
        if membership.role == Role.owner:
            _refuse_removing_last_owner(session, ctx, user.id)
        membership.role = patch.role
    if patch.name is not None:
        user.name = patch.name
    if patch.is_active is not None:
        if not patch.is_active and membership.role == Role.owner:
            _refuse_removing_last_owner(session, ctx, user.id)
        user.is_active = patch.is_active
    session.flush()
    out = _out(user, membership)
    audit.record(session, ctx, "user.update", "user", user.id, before=before, after=out.model_dump(mode="json"))
    return out


def delete_user(session: Session, ctx: TenantContext, user_id: uuid.UUID) -> None:
    user, membership = _load(session, ctx, user_id)
    authorize(ctx, Permission.manage_users)
    _require_manageable(ctx, Role(membership.role))
    if user.id == ctx.principal.id:
        raise Conflict("You cannot delete your own account.")
    if membership.role == Role.owner:
        _refuse_removing_last_owner(session, ctx, user.id)
    before = _out(user, membership).model_dump(mode="json")
    session.delete(user)
    session.flush()
    audit.record(session, ctx, "user.delete", "user", user_id, before=before)


def _refuse_removing_last_owner(session: Session, ctx: TenantContext, leaving: uuid.UUID) -> None:
    """Refuse unless an active owner other than `leaving` remains.

    The tenant row is locked first: two owners demoting each other at the same time are serialised, so the
    second one counts after the first has committed instead of both seeing the other still in place."""
    session.execute(select(Tenant.id).where(Tenant.id == ctx.tenant_id).with_for_update())
    remaining = session.scalar(
        select(func.count()).select_from(Membership).join(User, User.id == Membership.user_id)
        .where(Membership.tenant_id == ctx.tenant_id, Membership.role == Role.owner, User.is_active,
               User.id != leaving)
    )
    if not remaining:
        raise Conflict("A tenant must keep at least one active owner.")
