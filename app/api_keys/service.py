import uuid
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from app.api_keys.schemas import ApiKeyCreate, ApiKeyCreated, ApiKeyOut
from app.audit import service as audit
from app.auth.permissions import Permission, Role, authorize, can_manage_role
from app.core.context import TenantContext
from app.core.errors import Forbidden, UnprocessableEntity
from app.core.scope import get_or_404, scoped
from app.core.security import generate_api_key
from app.models import ApiKey


def create_key(session: Session, ctx: TenantContext, body: ApiKeyCreate) -> ApiKeyCreated:
    if not can_manage_role(ctx.principal.role, body.role):
        raise Forbidden(f"The role '{ctx.principal.role}' may not create keys with the role '{body.role}'.")
    if body.expires_at is not None and body.expires_at <= datetime.now(UTC):
        raise UnprocessableEntity("expires_at must be in the future.")
    key, prefix, key_hash = generate_api_key()
    record = ApiKey(tenant_id=ctx.tenant_id, name=body.name, prefix=prefix, key_hash=key_hash, role=body.role,
                    expires_at=body.expires_at, created_by=ctx.principal.id)
    session.add(record)
    session.flush()
    session.refresh(record)
    out = ApiKeyOut.model_validate(record)
    audit.record(session, ctx, "api_key.create", "api_key", record.id, after=out.model_dump(mode="json"))
    return ApiKeyCreated(**out.model_dump(), key=key)


def list_keys(session: Session, ctx: TenantContext) -> list[ApiKey]:
    return list(session.scalars(scoped(ctx, ApiKey).order_by(ApiKey.created_at.desc())))


def revoke_key(session: Session, ctx: TenantContext, key_id: uuid.UUID) -> None:
    record = get_or_404(session, ctx, ApiKey, key_id, for_update=True, label="API key")
    authorize(ctx, Permission.manage_api_keys)
    if not can_manage_role(ctx.principal.role, Role(record.role)):
        raise Forbidden(f"The role '{ctx.principal.role}' may not revoke keys with the role '{record.role}'.")
    if record.revoked_at is None:
        before = ApiKeyOut.model_validate(record).model_dump(mode="json")
        record.revoked_at = datetime.now(UTC)
        session.flush()
        audit.record(session, ctx, "api_key.revoke", "api_key", record.id, before=before,
                     after=ApiKeyOut.model_validate(record).model_dump(mode="json"))
