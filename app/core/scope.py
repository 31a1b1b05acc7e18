"""The one way to read tenant rows: start from `scoped()`; fetch through it and answer 404 first."""

import uuid
from typing import TypeVar

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from app.core.context import TenantContext
from app.core.errors import NotFound

M = TypeVar("M")


def scoped(ctx: TenantContext, model: type[M]) -> Select[tuple[M]]:
    return select(model).where(model.tenant_id == ctx.tenant_id)  # type: ignore[attr-defined]


def get_or_404(session: Session, ctx: TenantContext, model: type[M], entity_id: uuid.UUID, *,
               for_update: bool = False, label: str | None = None) -> M:
    query = scoped(ctx, model).where(model.id == entity_id)  # type: ignore[attr-defined]
    if for_update:
        query = query.with_for_update()
    found = session.scalars(query).one_or_none()
    if found is None:
        raise NotFound(f"{label or model.__name__} {entity_id} was not found.")
    return found
