"""The suppression list: addresses and whole domains nobody may contact. Whoever is about to contact
someone asks `find_suppression` first, and again at the moment of sending."""

import uuid
from typing import Any

from sqlalchemy import case, func
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.audit import service as audit
from app.auth.permissions import Permission, authorize
from app.core.context import TenantContext
from app.core.errors import Conflict
from app.core.pagination import newest_first, next_cursor
from app.core.scope import get_or_404, scoped
from app.models import Suppression
from app.suppressions.schemas import SuppressionCreate, SuppressionKind, SuppressionOut


def _audited(suppression: Suppression) -> dict[str, Any]:
    return {"kind": suppression.kind, "value": suppression.value, "reason": suppression.reason}


def _domains_of(email: str) -> list[str]:
    """The address's domain and every parent domain: a.b.example.com, b.example.com, example.com, com."""
    labels = email.rpartition("@")[2].split(".")
    return [".".join(labels[start:]) for start in range(len(labels))]


def find_suppression(session: Session, ctx: TenantContext, email: str) -> Suppression | None:
    """The entry that forbids contacting `email`, if any: the address itself (any case), or its domain or a
    parent domain of it. The address's own entry is preferred, then the most specific domain."""
    address = email.strip().lower()
    query = (
        scoped(ctx, Suppression)
        .where(((Suppression.kind == "email") & (Suppression.value == address))
               | ((Suppression.kind == "domain") & (Suppression.value.in_(_domains_of(address)))))
        .order_by(case((Suppression.kind == "email", 0), else_=1), func.length(Suppression.value).desc())
        .limit(1)
    )
    return session.scalars(query).first()


def list_suppressions(session: Session, ctx: TenantContext, *, limit: int, cursor: str | None,
                      kind: SuppressionKind | None, q: str | None) -> tuple[list[SuppressionOut], str | None]:
    """Newest first, keyset-paginated on (created_at, id); `q` is part of the value."""
    query = newest_first(scoped(ctx, Suppression), Suppression, limit, cursor)
    if kind is not None:
        query = query.where(Suppression.kind == kind)
    if q:
        query = query.where(func.strpos(Suppression.value, q.strip().lower()) > 0)
    rows = list(session.scalars(query))
    page = [SuppressionOut.model_validate(row) for row in rows[:limit]]
    return page, next_cursor(rows, limit)


def create_suppression(session: Session, ctx: TenantContext, body: SuppressionCreate) -> SuppressionOut:
    authorize(ctx, Permission.write_data)
    suppression = Suppression(id=uuid.uuid4(), tenant_id=ctx.tenant_id, kind=body.kind, value=body.value,
                              reason=body.reason, created_by_type=ctx.principal.kind, created_by_id=ctx.principal.id)
    try:
        with session.begin_nested():
            session.add(suppression)
    except IntegrityError as exc:
        raise Conflict(f"The {body.kind} {body.value} is already on the suppression list.") from exc
    audit.record(session, ctx, "suppression.create", "suppression", suppression.id, after=_audited(suppression))
    session.flush()
    return SuppressionOut.model_validate(suppression)


def delete_suppression(session: Session, ctx: TenantContext, suppression_id: uuid.UUID) -> None:
    suppression = get_or_404(session, ctx, Suppression, suppression_id, for_update=True, label="Suppression")
    authorize(ctx, Permission.write_data)
    before = _audited(suppression)
    session.delete(suppression)
    session.flush()
    audit.record(session, ctx, "suppression.delete", "suppression", suppression_id, before=before)
