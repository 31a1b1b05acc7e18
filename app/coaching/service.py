"""Coaching records: check-ins, plans (every change a new version), coaching cards, and the plan changes
the coaching agent proposes, applied as a new version only when a reviewer approves them (the
`plan_change` review kind, registered at the end of this module).

Locks, always in this order: a client, its plan, the plan's changes. Check-in writes lock the client (one
writer of a client's days at a time); a plan's writers lock the plan, so a new version and the changes it
makes stale are written together, and a decision cannot apply a change over a version written meanwhile."""

import base64
import binascii
import re
import uuid
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import ValidationError
from sqlalchemy import func
from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.orm import Session

from app.audit import service as audit
from app.auth.permissions import Permission, authorize
from app.clients.service import get_client
from app.coaching.schemas import (
    CHECK_IN_FIELDS,
    CardIn,
    CardSeverity,
    CheckInIn,
    CheckInOut,
    CoachingCardOut,
    ImportResult,
    ImportRowResult,
    PlanChangeOut,
    PlanChangeReview,
    PlanChangeStatus,
    PlanContent,
    PlanFieldChange,
    PlanOut,
    PlanPut,
    PlanVersionOut,
    PlanVersions,
    PlanVersionSource,
)
from app.coaching.state import CardStatus, transition_card, transition_change
from app.core.context import TenantContext
from app.core.errors import AppError, BadRequest, Conflict, NotFound, UnprocessableEntity
from app.core.pagination import newest_first, next_cursor
from app.core.scope import get_or_404, scoped
from app.models import AgentRun, CheckIn, Client, CoachingCard, Plan, PlanChange, PlanVersion, Review
from app.reviews.registry import ReviewKind, register_kind
from app.reviews.service import open_review
from app.runs.service import validation_errors
from app.webhooks import service as webhooks
from app.webhooks.schemas import EventType

PLAN_CHANGE = "plan_change"
MAX_IMPORT_ROWS = 1000
WEEK = re.compile(r"^\d{4}-W(0[1-9]|[1-4]\d|5[0-3])$")


class PreconditionRequired(AppError):
    status, title = 428, "Precondition required"


class StalePlanChange(Conflict):
    """The plan is no longer at the version a change was proposed against: it is never applied over a newer
    one (409)."""

    def __init__(self, change: PlanChange, current_version: int):
        super().__init__(
            f"The plan is at version {current_version}; this change was proposed against version "
            f"{change.base_version} and is stale: nothing was applied. Reject the review to close it.",
            change_status=PlanChangeStatus.stale.value, base_version=change.base_version,
            current_version=current_version)


def _invalid(field: str, message: str) -> UnprocessableEntity:
    return UnprocessableEntity(f"{field}: {message}.", errors=[{"field": field, "message": message,
                                                                "type": "value_error"}])


def _jsonable(values: dict[str, Any]) -> dict[str, Any]:
    return {name: str(value) if isinstance(value, uuid.UUID | date | Decimal) else value
            for name, value in values.items()}


# --- check-ins --------------------------------------------------------------------------------


def _audited_check_in(check_in: CheckIn) -> dict[str, Any]:
    return _jsonable({name: getattr(check_in, name) for name in CHECK_IN_FIELDS})


def _local_today(client: Client) -> date:
    return datetime.now(ZoneInfo(client.timezone)).date()


def _future_day(client: Client, day: date) -> str | None:
    today = _local_today(client)
    return f"{day} has not begun yet for the client (their date is {today})" if day > today else None


def _write(session: Session, ctx: TenantContext, client: Client, existing: CheckIn | None,
           body: CheckInIn) -> tuple[CheckIn, str]:
    """Create the day's check-in, or update it with the fields `body` sets (a field left out keeps its
    value; null clears it). Returns it and `created`, `updated` or `unchanged`; audited, flushed."""
    sent = {name: getattr(body, name) for name in body.model_fields_set if name != "day"}
    if existing is None:
        check_in = CheckIn(id=uuid.uuid4(), tenant_id=ctx.tenant_id, client_id=client.id, day=body.day,
                           **{name: sent.get(name) for name in CHECK_IN_FIELDS if name != "day"})
        session.add(check_in)
        session.flush()
        audit.record(session, ctx, "check_in.create", "check_in", check_in.id, after=_audited_check_in(check_in))
        return check_in, "created"
    before = _audited_check_in(existing)
    for name, value in sent.items():
        setattr(existing, name, value)
    session.flush()
    after = _audited_check_in(existing)
    if after == before:
        return existing, "unchanged"
    audit.record(session, ctx, "check_in.update", "check_in", existing.id, before=before, after=after)
    return existing, "updated"


def _day_check_in(session: Session, ctx: TenantContext, client_id: uuid.UUID, day: date) -> CheckIn | None:
    return session.scalars(scoped(ctx, CheckIn).where(CheckIn.client_id == client_id, CheckIn.day == day)
                           ).one_or_none()


def write_check_in(session: Session, ctx: TenantContext, client_id: uuid.UUID,
                   body: CheckInIn) -> tuple[CheckInOut, bool]:
    """The check-in of a client-local day: created, or (a second one for the day) updated with the fields
    sent. Returns it and whether it was created. 404 for another tenant's client, 403 below operator, 422
    for a day that has not begun for the client."""
    client = get_client(session, ctx, client_id, for_update=True)
    authorize(ctx, Permission.write_data)
    if problem := _future_day(client, body.day):
        raise _invalid("day", problem)
    check_in, outcome = _write(session, ctx, client, _day_check_in(session, ctx, client.id, body.day), body)
    return CheckInOut.model_validate(check_in), outcome == "created"


def import_check_ins(session: Session, ctx: TenantContext, client_id: uuid.UUID, rows: list[Any]) -> ImportResult:
    """A client's history: each row is one check-in (CheckInIn), written as `write_check_in` writes one, and
    reported with its number (from 1) and outcome. A row that fails validation, repeats a day of an earlier
    row or is refused by the database changes nothing; the other rows stand."""
    client = get_client(session, ctx, client_id, for_update=True)
    authorize(ctx, Permission.write_data)
    if not rows:
        raise _invalid("body", "an import takes at least one row")
    if len(rows) > MAX_IMPORT_ROWS:
        raise _invalid("body", f"an import takes at most {MAX_IMPORT_ROWS} rows")
    results: list[ImportRowResult] = []
    valid: list[tuple[int, CheckInIn]] = []
    first_row_of: dict[date, int] = {}
    for number, row in enumerate(rows, start=1):
        try:
            body = CheckInIn.model_validate(row)
        except ValidationError as exc:
            results.append(ImportRowResult(row=number, day=None, status="invalid",
                                           errors=validation_errors(exc, str(number))))
            continue
        problem = _future_day(client, body.day)
        if problem is None and body.day in first_row_of:
            problem = f"row {first_row_of[body.day]} has the same day"
        if problem is not None:
            results.append(ImportRowResult(row=number, day=body.day, status="invalid",
                                           errors=[{"field": f"{number}.day", "message": problem,
                                                    "type": "value_error"}]))
            continue
        first_row_of[body.day] = number
        valid.append((number, body))
        results.append(ImportRowResult(row=number, day=body.day, status="unchanged"))
    existing = {check_in.day: check_in for check_in in session.scalars(scoped(ctx, CheckIn).where(
        CheckIn.client_id == client.id, CheckIn.day.in_([body.day for _, body in valid])))}
    for number, body in valid:
        try:
            with session.begin_nested():
                check_in, outcome = _write(session, ctx, client, existing.get(body.day), body)
        except (IntegrityError, DataError):
            results[number - 1] = ImportRowResult(row=number, day=body.day, status="invalid", errors=[
                {"field": str(number), "message": "A value of this row cannot be stored.", "type": "value_error"}])
            continue
        results[number - 1] = ImportRowResult(row=number, day=body.day, status=outcome, check_in_id=check_in.id)
    counts = {status: sum(result.status == status for result in results)
              for status in ("created", "updated", "unchanged", "invalid")}
    return ImportResult(**counts, rows=results)


def _encode_day(day: date) -> str:
    return base64.urlsafe_b64encode(day.isoformat().encode()).decode()


def _decode_day(cursor: str) -> date:
    try:
        return date.fromisoformat(base64.urlsafe_b64decode(cursor.encode()).decode())
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise BadRequest("cursor is not valid; pass the next_cursor of a previous page.") from None


def list_check_ins(session: Session, ctx: TenantContext, client_id: uuid.UUID, *, limit: int, cursor: str | None,
                   first_day: date | None, last_day: date | None) -> tuple[list[CheckInOut], str | None]:
    """The client's check-ins, newest day first, from `first_day` to `last_day` (both included, each
    optional); keyset-paginated on the day along ix_check_ins_client_day."""
    client = get_client(session, ctx, client_id)
    query = (scoped(ctx, CheckIn).where(CheckIn.client_id == client.id)
             .order_by(CheckIn.day.desc()).limit(limit + 1))
    if cursor:
        query = query.where(CheckIn.day < _decode_day(cursor))
    if first_day is not None:
        query = query.where(CheckIn.day >= first_day)
    if last_day is not None:
        query = query.where(CheckIn.day <= last_day)
    check_ins = list(session.scalars(query))
    page = [CheckInOut.model_validate(check_in) for check_in in check_ins[:limit]]
    return page, _encode_day(page[-1].day) if len(check_ins) > limit else None


def check_ins_between(session: Session, ctx: TenantContext, client_id: uuid.UUID, first_day: date,
                      last_day: date) -> list[CheckIn]:
    """The client's check-ins for the client-local days first_day..last_day (both included), oldest day
    first. 404 for a client that is not the tenant's."""
    client = get_client(session, ctx, client_id)
    return list(session.scalars(scoped(ctx, CheckIn).where(
        CheckIn.client_id == client.id, CheckIn.day >= first_day, CheckIn.day <= last_day).order_by(CheckIn.day)))


# --- plans ------------------------------------------------------------------------------------


def _plan_of(session: Session, ctx: TenantContext, client_id: uuid.UUID, *, for_update: bool = False) -> Plan | None:
    query = scoped(ctx, Plan).where(Plan.client_id == client_id)
    if for_update:
        query = query.with_for_update().execution_options(populate_existing=True)
    return session.scalars(query).one_or_none()


def _version_of(session: Session, ctx: TenantContext, plan: Plan, version: int) -> PlanVersion:
    return session.scalars(scoped(ctx, PlanVersion).where(PlanVersion.plan_id == plan.id,
                                                          PlanVersion.version == version)).one()


def _version_out(version: PlanVersion) -> PlanVersionOut:
    content = PlanContent.model_validate(version.content)
    return PlanVersionOut(version=version.version, content=content, weekly_sets=content.weekly_sets(),
                          source=PlanVersionSource(version.source), change_id=version.change_id,
                          created_by_type=version.created_by_type, created_by_id=version.created_by_id,
                          created_at=version.created_at)


def _plan_out(plan: Plan, version: PlanVersion) -> PlanOut:
    return PlanOut(id=plan.id, client_id=plan.client_id, current_version=plan.current_version,
                   current=_version_out(version), created_at=plan.created_at, updated_at=plan.updated_at)


def current_plan(session: Session, ctx: TenantContext, client_id: uuid.UUID) -> tuple[Plan, PlanVersion] | None:
    """The client's plan and its current version (the last approved one); None if the client has no plan.
    404 (NotFound) for a client that is not the tenant's."""
    client = get_client(session, ctx, client_id)
    plan = _plan_of(session, ctx, client.id)
    if plan is None:
        return None
    return plan, _version_of(session, ctx, plan, plan.current_version)


def read_plan(session: Session, ctx: TenantContext, client_id: uuid.UUID) -> PlanOut:
    found = current_plan(session, ctx, client_id)
    if found is None:
        raise NotFound(f"Client {client_id} has no plan yet.")
    return _plan_out(*found)


def list_plan_versions(session: Session, ctx: TenantContext, client_id: uuid.UUID) -> PlanVersions:
    """Every version of the client's plan, the newest first."""
    client = get_client(session, ctx, client_id)
    plan = _plan_of(session, ctx, client.id)
    if plan is None:
        raise NotFound(f"Client {client_id} has no plan yet.")
    versions = session.scalars(scoped(ctx, PlanVersion).where(PlanVersion.plan_id == plan.id)
                               .order_by(PlanVersion.version.desc()))
    return PlanVersions(plan_id=plan.id, client_id=plan.client_id, current_version=plan.current_version,
                        items=[_version_out(version) for version in versions])


def _add_version(session: Session, ctx: TenantContext, plan: Plan, content: PlanContent, source: PlanVersionSource,
                 change_id: uuid.UUID | None = None) -> PlanVersion:
    """Write the plan's next version and make it current; every other change still proposed against an
    older version becomes stale in the same transaction. The caller holds the plan's lock."""
    version = PlanVersion(tenant_id=ctx.tenant_id, plan_id=plan.id, version=plan.current_version + 1,
                          content=content.model_dump(mode="json"), source=source.value, change_id=change_id,
                          created_by_type=ctx.principal.kind, created_by_id=ctx.principal.id)
    before = plan.current_version
    plan.current_version = version.version
    session.add(version)
    session.flush()
    audit.record(session, ctx, "plan.version", "plan", plan.id, before={"current_version": before},
                 after={"current_version": version.version, "source": source.value,
                        "change_id": str(change_id) if change_id else None, "content": version.content})
    outdated = scoped(ctx, PlanChange).where(
        PlanChange.plan_id == plan.id, PlanChange.status == PlanChangeStatus.proposed.value,
        PlanChange.base_version != plan.current_version)
    if change_id is not None:  # the change this version applies is not outdated by it
        outdated = outdated.where(PlanChange.id != change_id)
    for change in session.scalars(outdated.with_for_update()):
        transition_change(change, PlanChangeStatus.stale)
        audit.record(session, ctx, "plan_change.stale", PLAN_CHANGE, change.id,
                     before={"status": PlanChangeStatus.proposed.value},
                     after={"status": change.status, "current_version": plan.current_version})
    session.flush()
    return version


def _parse_if_match(value: str | None) -> int | None:
    """The plan version an `If-Match` header names: `"3"`, `W/"3"` or `3`."""
    if value is None:
        return None
    tag = value.strip().removeprefix("W/").strip('"')
    if not tag.isdigit() or int(tag) < 1:
        raise _invalid("If-Match", f"{value!r} is not a plan version (the ETag of GET …/plan)")
    return int(tag)


def put_plan(session: Session, ctx: TenantContext, client_id: uuid.UUID, body: PlanPut,
             if_match: str | None = None) -> PlanOut:
    """A plan written by hand: the client's first plan (version 1), or a new version made from
    `base_version` (or the `If-Match` header's version; one of them is required once the plan exists: 428
    without). 409 if the plan has moved on since that version; the same content as the current version
    writes nothing."""
    client = get_client(session, ctx, client_id, for_update=True)
    authorize(ctx, Permission.write_data)
    matched = _parse_if_match(if_match)
    if matched is not None and body.base_version is not None and matched != body.base_version:
        raise _invalid("base_version", f"it says {body.base_version} and If-Match says {matched}")
    base = body.base_version if body.base_version is not None else matched
    plan = _plan_of(session, ctx, client.id, for_update=True)
    if plan is None:
        if base is not None:
            raise Conflict(f"Client {client_id} has no plan yet: leave out base_version to write version 1.",
                           current_version=None)
        plan = Plan(id=uuid.uuid4(), tenant_id=ctx.tenant_id, client_id=client.id, current_version=0)
        session.add(plan)
        session.flush()
        version = _add_version(session, ctx, plan, body.content, PlanVersionSource.initial)
        return _plan_out(plan, version)
    if base is None:
        raise PreconditionRequired(f"The plan is at version {plan.current_version}: send base_version (or "
                                   "If-Match) to change it.", current_version=plan.current_version)
    if base != plan.current_version:
        raise Conflict(f"The plan is at version {plan.current_version}, not {base}: reload it and edit that.",
                       current_version=plan.current_version)
    current = _version_of(session, ctx, plan, plan.current_version)
    if PlanContent.model_validate(current.content) == body.content:
        return _plan_out(plan, current)
    return _plan_out(plan, _add_version(session, ctx, plan, body.content, PlanVersionSource.manual))


# --- plan changes -----------------------------------------------------------------------------


def _review_of(session: Session, ctx: TenantContext, change_id: uuid.UUID) -> Review | None:
    return session.scalars(scoped(ctx, Review).where(Review.entity_type == PLAN_CHANGE,
                                                     Review.entity_id == change_id)).one_or_none()


def _audited_change(change: PlanChange) -> dict[str, Any]:
    return _jsonable({"client_id": change.client_id, "base_version": change.base_version, "status": change.status,
                      "applied_version": change.applied_version, "changes": change.changes,
                      "proposed": change.proposed, "rationale": change.rationale})


def review_proposal(change: PlanChange) -> dict[str, Any]:
    """The proposal of a change's review, in the shape of PlanChangeReview."""
    return PlanChangeReview(client_id=change.client_id, base_version=change.base_version, changes=change.changes,
                            proposed=change.proposed, rationale=change.rationale).model_dump(mode="json")


def _open_change_review(session: Session, ctx: TenantContext, change: PlanChange, client: Client, *,
                        agent: str, pipeline_id: uuid.UUID | None) -> Review:
    requested_by: tuple[str, uuid.UUID | None] = (ctx.principal.kind, ctx.principal.id)
    if change.run_id is not None:
        run = session.scalars(scoped(ctx, AgentRun).where(AgentRun.id == change.run_id)).one_or_none()
        if run is not None:
            requested_by = (run.requested_by_type, run.requested_by_id)
    summary = f"Plan change for {client.name}: {change.rationale}" if change.rationale else \
        f"Plan change for {client.name}"
    return open_review(session, ctx, entity_type=PLAN_CHANGE, entity_id=change.id, agent=agent,
                       proposal=review_proposal(change), summary=summary, run_id=change.run_id,
                       pipeline_id=pipeline_id, requested_by_type=requested_by[0], requested_by_id=requested_by[1])


def propose_plan_change(session: Session, ctx: TenantContext, *, client_id: uuid.UUID, base_version: int,
                        changes: list[dict[str, Any]], proposed: PlanContent, rationale: str,
                        run_id: uuid.UUID | None, pipeline_id: uuid.UUID | None = None,
                        agent: str = "coaching") -> PlanChange:
    """Record a plan change against the client's plan at `base_version` (changes: [{field, before, after,
    why}]; proposed: the whole plan as it would be) and open its `plan_change` review (entity = the change's
    id; proposal {client_id, base_version, changes, proposed, rationale}; client_id and base_version locked).
    Idempotent per run: the same run proposing again returns its change (and its review). 404 for a client
    not the tenant's; 409 if the client has no plan or the plan is no longer at `base_version`; 422 for a
    malformed diff or a proposal equal to the current plan. Flushes, never commits."""
    client = get_client(session, ctx, client_id)
    plan = _plan_of(session, ctx, client.id, for_update=True)
    if plan is None:
        raise Conflict(f"Client {client_id} has no plan: there is nothing to change.")
    if run_id is not None:
        existing = session.scalars(scoped(ctx, PlanChange).where(
            PlanChange.client_id == client.id, PlanChange.run_id == run_id).order_by(PlanChange.created_at)).first()
        if existing is not None:
            _open_change_review(session, ctx, existing, client, agent=agent, pipeline_id=pipeline_id)
            return existing
    if plan.current_version != base_version:
        raise Conflict(f"The plan is at version {plan.current_version}, not {base_version}: propose against the "
                       "current version.", current_version=plan.current_version)
    try:
        content = PlanContent.model_validate(proposed)
        diff = [PlanFieldChange.model_validate(change).model_dump(mode="json") for change in changes]
    except ValidationError as exc:
        raise UnprocessableEntity("The plan change is not valid.",
                                  errors=validation_errors(exc, "plan_change")) from exc
    if content == PlanContent.model_validate(_version_of(session, ctx, plan, base_version).content):
        raise _invalid("proposed", "it is the current plan: there is nothing to change")
    change = PlanChange(id=uuid.uuid4(), tenant_id=ctx.tenant_id, plan_id=plan.id, client_id=client.id,
                        base_version=base_version, changes=diff, proposed=content.model_dump(mode="json"),
                        rationale=rationale, status=PlanChangeStatus.proposed.value, applied_version=None,
                        run_id=run_id)
    session.add(change)
    session.flush()
    audit.record(session, ctx, "plan_change.propose", PLAN_CHANGE, change.id, after=_audited_change(change))
    _open_change_review(session, ctx, change, client, agent=agent, pipeline_id=pipeline_id)
    return change


def read_plan_change(session: Session, ctx: TenantContext, change_id: uuid.UUID) -> PlanChangeOut:
    change = get_or_404(session, ctx, PlanChange, change_id, label="Plan change")
    review = _review_of(session, ctx, change.id)
    return PlanChangeOut.model_validate(change).model_copy(update={
        "review_id": review.id if review else None, "review_status": review.status if review else None})


def _locked_change(session: Session, ctx: TenantContext, change_id: uuid.UUID) -> tuple[Plan, PlanChange]:
    """The change and its plan, both locked: the plan first, as every writer of a plan takes them."""
    plan_id = session.scalar(scoped(ctx, PlanChange).with_only_columns(PlanChange.plan_id)
                             .where(PlanChange.id == change_id))
    if plan_id is None:
        raise NotFound(f"Plan change {change_id} was not found.")
    plan = get_or_404(session, ctx, Plan, plan_id, for_update=True, label="Plan")
    change = session.scalars(scoped(ctx, PlanChange).where(PlanChange.id == change_id).with_for_update()
                             .execution_options(populate_existing=True)).one()
    return plan, change


def apply_plan_change(session: Session, ctx: TenantContext, change_id: uuid.UUID, content: dict[str, Any]) -> None:
    """A reviewer approved the change (as proposed, or edited): in the decision's transaction, the approved
    plan becomes the plan's next version and the change `applied`. Applying it again changes nothing. If
    the plan is no longer at the change's base version the change is stale: StalePlanChange (409), raised
    before anything is written, so the decision rolls back whole and the plan stays as it is. A change
    rejected or cancelled is a 409 too."""
    plan, change = _locked_change(session, ctx, change_id)
    status = PlanChangeStatus(change.status)
    if status is PlanChangeStatus.applied:
        return
    if status in (PlanChangeStatus.rejected, PlanChangeStatus.cancelled):
        raise Conflict(f"The plan change was {status.value}: it cannot be applied.", change_status=status.value)
    try:
        approved = PlanChangeReview.model_validate(content)
    except ValidationError as exc:
        raise UnprocessableEntity("The approved plan change is not valid.",
                                  errors=validation_errors(exc, "edited_output")) from exc
    if (approved.client_id, approved.base_version) != (change.client_id, change.base_version):
        raise UnprocessableEntity("client_id and base_version are locked: an approval cannot move the change.")
    if status is PlanChangeStatus.stale or plan.current_version != change.base_version:
        raise StalePlanChange(change, plan.current_version)
    before = _audited_change(change)
    version = _add_version(session, ctx, plan, approved.proposed, PlanVersionSource.review, change.id)
    change.changes = [line.model_dump(mode="json") for line in approved.changes]
    change.proposed = approved.proposed.model_dump(mode="json")
    change.rationale = approved.rationale
    transition_change(change, PlanChangeStatus.applied)
    change.applied_version = version.version
    session.flush()
    audit.record(session, ctx, "plan_change.apply", PLAN_CHANGE, change.id, before=before,
                 after=_audited_change(change))


def discard_plan_change(session: Session, ctx: TenantContext, change_id: uuid.UUID, reason: str) -> None:
    """The change's review was rejected or expired (the change ends `rejected`) or cancelled (`cancelled`).
    A change that is stale, or no longer proposed, stays as it is."""
    change = get_or_404(session, ctx, PlanChange, change_id, for_update=True, label="Plan change")
    if change.status != PlanChangeStatus.proposed.value:
        return
    review = _review_of(session, ctx, change.id)
    target = (PlanChangeStatus.cancelled if review is not None and review.status == "cancelled"
              else PlanChangeStatus.rejected)
    transition_change(change, target)
    session.flush()
    audit.record(session, ctx, f"plan_change.{target.value}", PLAN_CHANGE, change.id,
                 before={"status": PlanChangeStatus.proposed.value}, after={"status": change.status, "reason": reason})


PLAN_CHANGE_REVIEW = register_kind(ReviewKind(
    entity_type=PLAN_CHANGE, content_model=PlanChangeReview, apply=apply_plan_change, discard=discard_plan_change,
    locked_fields=frozenset({"client_id", "base_version"})))


# --- coaching cards ---------------------------------------------------------------------------


def _audited_card(card: CoachingCard) -> dict[str, Any]:
    return _jsonable({"client_id": card.client_id, "run_id": card.run_id, "week": card.week, "kind": card.kind,
                      "severity": card.severity, "status": card.status, "evidence": card.evidence})


def record_cards(session: Session, ctx: TenantContext, *, client_id: uuid.UUID, run_id: uuid.UUID | None,
                 week: str, cards: list[dict[str, Any]]) -> list[CoachingCard]:
    """Write the coaching cards of one review of a client (`week` 'YYYY-Www'). Each card is a dict of
    app.coaching.schemas.CardIn: {kind, severity info|warning|critical, seen, action, evidence}; an invalid
    one is a 422 and writes nothing. Idempotent per run: if `run_id` has recorded cards already (a replayed
    step), those are returned and nothing is written. Flushes, never commits."""
    client = get_client(session, ctx, client_id, for_update=True)
    if run_id is not None:
        existing = list(session.scalars(scoped(ctx, CoachingCard).where(
            CoachingCard.client_id == client.id, CoachingCard.run_id == run_id)
            .order_by(CoachingCard.created_at, CoachingCard.id)))
        if existing:
            return existing
    if not WEEK.match(week):
        raise _invalid("week", f"{week!r} is not an ISO week such as 2026-W07")
    try:
        valid = [CardIn.model_validate(card) for card in cards]
    except ValidationError as exc:
        raise UnprocessableEntity("A coaching card is not valid.", errors=validation_errors(exc, "cards")) from exc
    made = []
    for position, card in enumerate(valid):
        # A microsecond apart: (created_at, id) then keeps the order the cards were given in, for the list
        # and for a run recording them again.
        row = CoachingCard(id=uuid.uuid4(), tenant_id=ctx.tenant_id, client_id=client.id, run_id=run_id, week=week,
                           status=CardStatus.open.value, created_at=func.now() + timedelta(microseconds=position),
                           **card.model_dump(mode="json"))
        session.add(row)
        made.append(row)
    session.flush()
    for row in made:
        card = _audited_card(row)
        audit.record(session, ctx, "coaching_card.create", "coaching_card", row.id, after=card)
        webhooks.emit(session, ctx.tenant_id, EventType.coaching_card_created,
                      {"card_id": row.id, **card, "seen": row.seen, "action": row.action})
    return made


def list_cards(session: Session, ctx: TenantContext, *, limit: int, cursor: str | None,
               client_id: uuid.UUID | None = None, status: CardStatus | None = None,
               severity: CardSeverity | None = None, kind: str | None = None,
               week: str | None = None) -> tuple[list[CoachingCardOut], str | None]:
    """Newest first, keyset-paginated on (created_at, id) along ix_coaching_cards_page."""
    query = newest_first(scoped(ctx, CoachingCard), CoachingCard, limit, cursor)
    for column, value in ((CoachingCard.client_id, client_id), (CoachingCard.status, status),
                          (CoachingCard.severity, severity), (CoachingCard.kind, kind), (CoachingCard.week, week)):
        if value is not None:
            query = query.where(column == value)
    cards = list(session.scalars(query))
    page = [CoachingCardOut.model_validate(card) for card in cards[:limit]]
    return page, next_cursor(cards, limit)


def read_card(session: Session, ctx: TenantContext, card_id: uuid.UUID) -> CoachingCardOut:
    return CoachingCardOut.model_validate(get_or_404(session, ctx, CoachingCard, card_id, label="Coaching card"))


def change_card_status(session: Session, ctx: TenantContext, card_id: uuid.UUID, target: CardStatus) -> CoachingCardOut:
    """The coach acted on the card (`done`) or decided it needs nothing (`dismissed`): reviewers and up, as
    they decide the coaching reviews. The same status again changes nothing; any other move is a 409."""
    card = get_or_404(session, ctx, CoachingCard, card_id, for_update=True, label="Coaching card")
    authorize(ctx, Permission.decide_reviews)
    before = card.status
    if transition_card(card, target):
        session.flush()
        audit.record(session, ctx, "coaching_card.status", "coaching_card", card.id, before={"status": before},
                     after={"status": card.status})
    return CoachingCardOut.model_validate(card)
