"""Leads: create, read, change, delete and import them; move them along their life cycle (app.leads.state).

Other domains read a lead through `get_lead` (404 for another tenant's) and change its status through
`change_status` on the row they locked with `get_lead(..., for_update=True)`."""

import uuid
from typing import Any

from sqlalchemy import or_
from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.orm import Session

from app.audit import service as audit
from app.auth.permissions import Permission, authorize
from app.core.context import TenantContext
from app.core.errors import Conflict
from app.core.pagination import newest_first, next_cursor
from app.core.scope import get_or_404, scoped
from app.leads import csv_import
from app.leads.schemas import (
    LEAD_FIELDS, ImportRowResult, LeadBucket, LeadCreate, LeadImportResult, LeadOut, LeadPatch, RowError,
)
from app.leads.state import LeadStatus, transition
from app.models import Lead

IMPORT_BATCH = 500


def _audited(lead: Lead) -> dict[str, Any]:
    return {field: getattr(lead, field) for field in (*LEAD_FIELDS, "status")}


def _duplicate(email: str) -> Conflict:
    return Conflict(f"A lead with the email {email} already exists in this tenant.")


def get_lead(session: Session, ctx: TenantContext, lead_id: uuid.UUID, *, for_update: bool = False) -> Lead:
    """The tenant's lead, locked for the rest of the transaction with `for_update`; 404 otherwise."""
    return get_or_404(session, ctx, Lead, lead_id, for_update=for_update, label="Lead")


def list_leads(session: Session, ctx: TenantContext, *, limit: int, cursor: str | None, status: LeadStatus | None,
               bucket: LeadBucket | None, q: str | None) -> tuple[list[LeadOut], str | None]:
    """Newest first, keyset-paginated on (created_at, id). `q` matches name, email or company, any case."""
    query = newest_first(scoped(ctx, Lead), Lead, limit, cursor)
    if status is not None:
        query = query.where(Lead.status == status.value)
    if bucket is not None:
        query = query.where(Lead.bucket == bucket.value)
    if q:
        pattern = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.where(or_(Lead.name.ilike(pattern, escape="\\"), Lead.email.ilike(pattern, escape="\\"),
                                Lead.company.ilike(pattern, escape="\\")))
    leads = list(session.scalars(query))
    page = [LeadOut.model_validate(lead) for lead in leads[:limit]]
    return page, next_cursor(leads, limit)


def read_lead(session: Session, ctx: TenantContext, lead_id: uuid.UUID) -> LeadOut:
    return LeadOut.model_validate(get_lead(session, ctx, lead_id))


def _insert(session: Session, ctx: TenantContext, fields: dict[str, Any]) -> Lead:
    """Insert in a savepoint: a duplicate email (even one committed concurrently) is a 409 that leaves the
    rest of the transaction usable."""
    lead = Lead(id=uuid.uuid4(), tenant_id=ctx.tenant_id, status=LeadStatus.new.value, **fields)
    try:
        with session.begin_nested():
            session.add(lead)
    except IntegrityError as exc:
        raise _duplicate(fields["email"]) from exc
    audit.record(session, ctx, "lead.create", "lead", lead.id, after=_audited(lead))
    return lead


def create_lead(session: Session, ctx: TenantContext, body: LeadCreate) -> LeadOut:
    authorize(ctx, Permission.write_data)
    lead = _insert(session, ctx, body.model_dump())
    session.flush()
    return LeadOut.model_validate(lead)


def _apply(session: Session, ctx: TenantContext, lead: Lead, changes: dict[str, Any],
           status: LeadStatus | None = None) -> bool:
    """Set `changes` (and move to `status`) on the locked `lead`, audited; False if nothing changed. An
    illegal move or a taken email is a 409 that leaves the lead as it was."""
    before = _audited(lead)
    try:
        with session.begin_nested():  # the changes are made inside: a refusal rolls them back with it
            if status is not None:
                transition(lead, status)
            for field, value in changes.items():
                setattr(lead, field, value)
            session.flush()
    except IntegrityError as exc:
        raise _duplicate(changes["email"]) from exc
    after = _audited(lead)
    if after == before:
        return False
    audit.record(session, ctx, "lead.update", "lead", lead.id, before=before, after=after)
    return True


def update_lead(session: Session, ctx: TenantContext, lead_id: uuid.UUID, patch: LeadPatch) -> LeadOut:
    lead = get_lead(session, ctx, lead_id, for_update=True)
    authorize(ctx, Permission.write_data)
    _apply(session, ctx, lead, patch.changes(), status=patch.status)
    return LeadOut.model_validate(lead)


def change_status(session: Session, ctx: TenantContext, lead: Lead, target: LeadStatus) -> bool:
    """Move a lead the caller has locked (`get_lead(..., for_update=True)`) to `target`, audited. True if it
    moved, False if it was there already; IllegalLeadTransition (409) for a move the life cycle refuses."""
    before = lead.status
    if not transition(lead, target):
        return False
    session.flush()
    audit.record(session, ctx, "lead.status", "lead", lead.id, before={"status": before},
                 after={"status": lead.status})
    return True


def delete_lead(session: Session, ctx: TenantContext, lead_id: uuid.UUID) -> None:
    """Deletes the lead and (by cascade) its deal; its email log rows stay, without the lead."""
    lead = get_lead(session, ctx, lead_id, for_update=True)
    authorize(ctx, Permission.write_data)
    before = _audited(lead)
    session.delete(lead)
    session.flush()
    audit.record(session, ctx, "lead.delete", "lead", lead_id, before=before)


def import_leads(session: Session, ctx: TenantContext, data: bytes, filename: str,
                 content_type: str) -> LeadImportResult:
    """Create or update (by email) one lead per CSV row, and report each row's outcome.

    The file as a whole is checked first (a 4xx writes nothing); then each row is validated on its own, and
    a row that fails is reported with its number and errors and changes nothing. The valid rows are written
    in batches, each in a savepoint; should the database refuse a batch (a lead with one of its emails was
    created concurrently), that batch is rolled back and written again row by row, each row in its own
    savepoint, so that only the refused row fails. A savepoint per row from the start would cost four
    round trips a row: 5,000 rows took half a minute."""
    authorize(ctx, Permission.write_data)
    rows = [(row, csv_import.validate_row(row)) for row in csv_import.read_csv(data, filename, content_type)]
    emails = [fields.email for _, fields in rows if isinstance(fields, LeadCreate)]
    known = {lead.email: lead for lead in session.scalars(scoped(ctx, Lead).where(Lead.email.in_(emails)))}
    results: dict[int, ImportRowResult] = {
        row.number: ImportRowResult(row=row.number, status="error", lead_id=None, errors=fields)
        for row, fields in rows if not isinstance(fields, LeadCreate)}
    valid = [(row.number, fields) for row, fields in rows if isinstance(fields, LeadCreate)]
    for start in range(0, len(valid), IMPORT_BATCH):
        results.update(_import_batch(session, ctx, valid[start:start + IMPORT_BATCH], known))
    ordered = [results[row.number] for row, _ in rows]
    counts = {status: sum(result.status == status for result in ordered) for status in ("created", "updated", "error")}
    return LeadImportResult(created=counts["created"], updated=counts["updated"], failed=counts["error"], rows=ordered)


def _import_batch(session: Session, ctx: TenantContext, batch: list[tuple[int, LeadCreate]],
                  known: dict[str, Lead]) -> dict[int, ImportRowResult]:
    before = dict(known)
    try:
        with session.begin_nested():
            results = {number: _write_row(session, ctx, number, fields, known) for number, fields in batch}
            session.flush()
        return results
    except (IntegrityError, DataError):
        known.clear()
        known.update(before)
    results = {}
    for number, fields in batch:
        previous = known.get(fields.email)
        try:
            with session.begin_nested():
                results[number] = _write_row(session, ctx, number, fields, known)
                session.flush()
        except IntegrityError:
            results[number] = _refused(number, known, fields.email, previous, "email", _duplicate(fields.email).detail)
        except DataError:
            results[number] = _refused(number, known, fields.email, previous, "row",
                                       "A value of this row cannot be stored.")
    return results


def _refused(number: int, known: dict[str, Lead], email: str, previous: Lead | None, field: str,
             message: str) -> ImportRowResult:
    if previous is None:  # the lead this row created was rolled back with it
        known.pop(email, None)
    return ImportRowResult(row=number, status="error", lead_id=None, errors=[RowError(field=field, message=message)])


def _write_row(session: Session, ctx: TenantContext, number: int, fields: LeadCreate,
               known: dict[str, Lead]) -> ImportRowResult:
    """Create the row's lead, or update the one with its email; audited. Flushed by the caller."""
    existing = known.get(fields.email)
    if existing is None:
        lead = Lead(id=uuid.uuid4(), tenant_id=ctx.tenant_id, status=LeadStatus.new.value, **fields.model_dump())
        session.add(lead)
        audit.record(session, ctx, "lead.create", "lead", lead.id, after=_audited(lead))
        known[lead.email] = lead
        return ImportRowResult(row=number, status="created", lead_id=lead.id)
    before = _audited(existing)
    # An empty cell leaves the stored value alone: a partial CSV updates what it has.
    for field, value in fields.model_dump(exclude_unset=True).items():
        setattr(existing, field, value)
    after = _audited(existing)
    if after != before:
        audit.record(session, ctx, "lead.update", "lead", existing.id, before=before, after=after)
    return ImportRowResult(row=number, status="updated", lead_id=existing.id)
