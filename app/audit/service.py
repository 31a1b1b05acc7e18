import uuid
from typing import Any

from sqlalchemy.orm import Session

from app.core.context import TenantContext
from app.core.scope import scoped
from app.models import AuditLog


def record(session: Session, ctx: TenantContext, action: str, entity_type: str, entity_id: uuid.UUID | str | None,
           before: dict[str, Any] | None = None, after: dict[str, Any] | None = None) -> None:
    session.add(AuditLog(
        tenant_id=ctx.tenant_id,
        actor_type=ctx.principal.kind,
        actor_id=ctx.principal.id,
        action=action,
        entity_type=entity_type,
        entity_id=str(entity_id) if entity_id is not None else None,
        before=before,
        after=after,
        request_id=ctx.request_id,
    ))


def list_entries(session: Session, ctx: TenantContext, *, limit: int, before_id: int | None,
                 entity_type: str | None, action: str | None) -> list[AuditLog]:
    query = scoped(ctx, AuditLog).order_by(AuditLog.id.desc()).limit(limit)
    if before_id is not None:
        query = query.where(AuditLog.id < before_id)
    if entity_type:
        query = query.where(AuditLog.entity_type == entity_type)
    if action:
        query = query.where(AuditLog.action == action)
    return list(session.scalars(query))
