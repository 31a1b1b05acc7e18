"""Clients: the customers a won deal makes (when its first invoice is issued) or an operator adds directly.
Coaching builds on them.

Other domains find a lead's client through `client_for_lead` and make one through `ensure_client_for_lead`
(idempotent: one client per lead, under the lead's lock)."""

import uuid
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.audit import service as audit
from app.auth.permissions import Permission, authorize
from app.clients.schemas import CLIENT_FIELDS, ClientCreate, ClientOut, ClientPatch, ClientStatus
from app.core.context import TenantContext
from app.core.errors import Conflict, UnprocessableEntity
from app.core.pagination import newest_first, next_cursor
from app.core.scope import get_or_404, scoped
from app.models import Client, Lead, Tenant, User


def _audited(client: Client) -> dict[str, Any]:
    values = {field: getattr(client, field) for field in (*CLIENT_FIELDS, "lead_id", "deal_id")}
    return {field: str(value) if isinstance(value, uuid.UUID | date) else value for field, value in values.items()}


def get_client(session: Session, ctx: TenantContext, client_id: uuid.UUID, *, for_update: bool = False) -> Client:
    """The tenant's client, locked for the rest of the transaction with `for_update`; 404 otherwise."""
    return get_or_404(session, ctx, Client, client_id, for_update=for_update, label="Client")


def client_for_lead(session: Session, ctx: TenantContext, lead_id: uuid.UUID) -> Client | None:
    return session.scalars(scoped(ctx, Client).where(Client.lead_id == lead_id)).one_or_none()


def list_clients(session: Session, ctx: TenantContext, *, limit: int, cursor: str | None,
                 status: ClientStatus | None, coach_id: uuid.UUID | None,
                 lead_id: uuid.UUID | None) -> tuple[list[ClientOut], str | None]:
    """Newest first, keyset-paginated on (created_at, id) along ix_clients_page."""
    query = newest_first(scoped(ctx, Client), Client, limit, cursor)
    if status is not None:
        query = query.where(Client.status == status.value)
    if coach_id is not None:
        query = query.where(Client.coach_id == coach_id)
    if lead_id is not None:
        query = query.where(Client.lead_id == lead_id)
    clients = list(session.scalars(query))
    page = [ClientOut.model_validate(client) for client in clients[:limit]]
    return page, next_cursor(clients, limit)


def read_client(session: Session, ctx: TenantContext, client_id: uuid.UUID) -> ClientOut:
    return ClientOut.model_validate(get_client(session, ctx, client_id))


def _invalid(field: str, message: str) -> UnprocessableEntity:
    return UnprocessableEntity(f"{field}: {message}.", errors=[{"field": field, "message": message,
                                                                "type": "value_error"}])


def _check_coach(session: Session, ctx: TenantContext, coach_id: uuid.UUID | None) -> None:
    """A coach is an active user of the tenant (another tenant's user is as unknown as a made-up id)."""
    if coach_id is None:
        return
    active = session.scalar(scoped(ctx, User).with_only_columns(User.is_active).where(User.id == coach_id))
    if active is None:
        raise _invalid("coach_id", f"{coach_id} is not a user of this tenant")
    if not active:
        raise _invalid("coach_id", f"the user {coach_id} is deactivated and cannot coach")


def _tenant_timezone(session: Session, ctx: TenantContext) -> str:
    return session.scalar(select(Tenant.timezone).where(Tenant.id == ctx.tenant_id)) or "UTC"


def _insert(session: Session, ctx: TenantContext, client: Client) -> Client:
    """Insert in a savepoint: a second client for the same lead (even one committed concurrently) is a 409
    that leaves the rest of the transaction usable."""
    try:
        with session.begin_nested():
            session.add(client)
    except IntegrityError as exc:
        raise Conflict(f"Lead {client.lead_id} already has a client.") from exc
    audit.record(session, ctx, "client.create", "client", client.id, after=_audited(client))
    return client


def create_client(session: Session, ctx: TenantContext, body: ClientCreate) -> ClientOut:
    authorize(ctx, Permission.write_data)
    _check_coach(session, ctx, body.coach_id)
    if body.lead_id is not None and session.scalar(
            scoped(ctx, Lead).with_only_columns(Lead.id).where(Lead.id == body.lead_id)) is None:
        raise _invalid("lead_id", f"{body.lead_id} is not a lead of this tenant")
    fields = body.model_dump()
    fields["timezone"] = fields["timezone"] or _tenant_timezone(session, ctx)
    fields["status"] = body.status.value
    client = _insert(session, ctx, Client(id=uuid.uuid4(), tenant_id=ctx.tenant_id, deal_id=None, **fields))
    session.flush()
    return ClientOut.model_validate(client)


def update_client(session: Session, ctx: TenantContext, client_id: uuid.UUID, patch: ClientPatch) -> ClientOut:
    client = get_client(session, ctx, client_id, for_update=True)
    authorize(ctx, Permission.write_data)
    changes = patch.changes()
    if "coach_id" in changes:
        _check_coach(session, ctx, changes["coach_id"])
    if "status" in changes:
        changes["status"] = changes["status"].value
    before = _audited(client)
    for field, value in changes.items():
        setattr(client, field, value)
    session.flush()
    after = _audited(client)
    if after != before:
        audit.record(session, ctx, "client.update", "client", client.id, before=before, after=after)
    return ClientOut.model_validate(client)


def ensure_client_for_lead(session: Session, ctx: TenantContext, lead: Lead, *, deal_id: uuid.UUID | None,
                           start_date: date | None) -> tuple[Client, bool]:
    """The lead's client, made from the lead (name, email, company, time zone) if it has none yet; and
    whether it was made now. The caller holds the lead's lock (`get_lead(..., for_update=True)`), which
    serialises two issues for the same lead."""
    existing = client_for_lead(session, ctx, lead.id)
    if existing is not None:
        return existing, False
    client = Client(id=uuid.uuid4(), tenant_id=ctx.tenant_id, lead_id=lead.id, deal_id=deal_id, name=lead.name,
                    email=lead.email, company=lead.company, timezone=lead.timezone or _tenant_timezone(session, ctx),
                    goal=None, start_date=start_date, coach_id=None, status=ClientStatus.active.value)
    try:
        _insert(session, ctx, client)
    except Conflict:  # an operator created the lead's client (POST /clients) a moment ago: that one it is
        existing = client_for_lead(session, ctx, lead.id)
        if existing is None:
            raise
        return existing, False
    session.flush()
    return client, True
