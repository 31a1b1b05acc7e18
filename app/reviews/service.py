"""Reviews: opening one for an agent's output, the inbox, decisions, and deadlines.

A decision is one transaction: the review's status, its decision record, the entity's own change (the
review kind's `apply` or `discard`, which enqueue their side effects through the outbox), the run's
final status, and the pipeline's advance signal. Side effects are published after commit, so they happen
once, and only for a decision that committed."""

import base64
import binascii
import hashlib
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import jsonpatch
import structlog
from pydantic import ValidationError
from sqlalchemy import and_, func, literal, or_, select, text, tuple_
from sqlalchemy.orm import Session

from app.audit import service as audit
from app.auth.permissions import Permission, authorize
from app.core.context import TenantContext
from app.core.db import session_scope
from app.core.errors import BadRequest, Conflict, Forbidden, NotFound, UnprocessableEntity
from app.core.metrics import REVIEW_DEADLINES, REVIEWS_DECIDED
from app.core.scope import scoped
from app.core.signals import advance_pipeline
from app.llm.service import register_figures
from app.models import AgentRun, Review, ReviewDecision, Tenant
from app.reviews.registry import ReviewKind, get_kind
from app.reviews.schemas import DecisionRequest, ReviewSettings
from app.reviews.state import OPEN, OUTCOME, Decision, ReviewStatus, check_transition
from app.runs.service import validation_errors
from app.runs.state import RunStatus, event_detail, transition
from app.tenants.sections import register_section
from app.webhooks import service as webhooks
from app.webhooks.schemas import EventType

log = structlog.get_logger(__name__)

DEFAULT_DEADLINE_HOURS = 72
DEFAULT_REMINDER_BEFORE_HOURS = 24


def review_settings(session: Session, tenant_id: uuid.UUID) -> dict[str, Any]:
    """The tenant's `reviews` settings: `deadline_hours` (a number, or a map entity type → hours),
    `reminder_before_hours`, `on_expiry` (reject | escalate), `four_eyes` (bool)."""
    settings = session.scalar(select(Tenant.settings).where(Tenant.id == tenant_id)) or {}
    return settings.get("reviews") or {}


def deadline_hours(settings: dict[str, Any], entity_type: str) -> float:
    hours = settings.get("deadline_hours", DEFAULT_DEADLINE_HOURS)
    if isinstance(hours, dict):
        hours = hours.get(entity_type, hours.get("default", DEFAULT_DEADLINE_HOURS))
    return float(hours)


def reminder_lead(settings: dict[str, Any]) -> timedelta:
    return timedelta(hours=float(settings.get("reminder_before_hours", DEFAULT_REMINDER_BEFORE_HOURS)))


def digest(content: dict[str, Any]) -> str:
    """SHA-256 of the canonical JSON of `content`: what exactly was approved."""
    return hashlib.sha256(json.dumps(content, sort_keys=True, separators=(",", ":"), default=str).encode()).hexdigest()


def open_review(session: Session, ctx: TenantContext, *, entity_type: str, entity_id: uuid.UUID, agent: str,
                proposal: dict[str, Any], citations: list[Any] | None = None, summary: str = "",
                run_id: uuid.UUID | None = None, pipeline_id: uuid.UUID | None = None,
                requested_by_type: str = "system", requested_by_id: uuid.UUID | None = None) -> Review:
    """Open the review of one entity (idempotent: the entity's existing review is returned). Called by an
    agent's step, in the step's transaction, so the review and the step's record commit together."""
    existing = session.scalar(select(Review).where(
        Review.tenant_id == ctx.tenant_id, Review.entity_type == entity_type, Review.entity_id == entity_id))
    if existing is not None:
        return existing
    settings = review_settings(session, ctx.tenant_id)
    deadline = datetime.now(UTC) + timedelta(hours=deadline_hours(settings, entity_type))
    review = Review(tenant_id=ctx.tenant_id, entity_type=entity_type, entity_id=entity_id, agent=agent,
                    run_id=run_id, pipeline_id=pipeline_id, status="pending", proposal=proposal,
                    citations=citations or [], summary=summary[:500], requested_by_type=requested_by_type,
                    requested_by_id=requested_by_id, deadline_at=deadline,
                    remind_at=deadline - reminder_lead(settings))
    session.add(review)
    session.flush()
    _announce(session, EventType.review_requested, review, deadline_at=review.deadline_at)
    return review


def _announce(session: Session, event_type: EventType, review: Review, **extra: Any) -> None:
    """The webhook event of a review, written in the transaction that changed it."""
    webhooks.emit(session, review.tenant_id, event_type, {
        "review_id": review.id, "entity_type": review.entity_type, "entity_id": review.entity_id,
        "agent": review.agent, "status": review.status, "run_id": review.run_id, "pipeline_id": review.pipeline_id,
        **extra})


# --- the inbox --------------------------------------------------------------------------------


def _encode(review: Review) -> str:
    is_open = review.status in OPEN
    return base64.urlsafe_b64encode(f"{int(is_open)}|{review.created_at.isoformat()}|{review.id}".encode()).decode()


def _decode(cursor: str) -> tuple[bool, datetime, uuid.UUID]:
    try:
        is_open, stamp, key = base64.urlsafe_b64decode(cursor.encode()).decode().split("|")
        return is_open == "1", datetime.fromisoformat(stamp), uuid.UUID(key)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise BadRequest("cursor is not valid; pass the next_cursor of a previous page.") from None


def list_reviews(session: Session, ctx: TenantContext, *, limit: int, cursor: str | None = None,
                 entity_type: str | None = None, status: ReviewStatus | None = None, agent: str | None = None,
                 pipeline_id: uuid.UUID | None = None) -> tuple[list[Review], str | None]:
    """Open items (pending, escalated) first, then the newest: keyset-paginated on that order."""
    is_open = Review.status.in_([s.value for s in OPEN])
    query = scoped(ctx, Review).order_by(is_open.desc(), Review.created_at.desc(), Review.id.desc()).limit(limit + 1)
    if cursor:
        was_open, created_at, key = _decode(cursor)
        flag = literal(was_open)
        query = query.where(or_(is_open < flag, and_(is_open == flag,
                                                     tuple_(Review.created_at, Review.id) < tuple_(created_at, key))))
    if entity_type:
        query = query.where(Review.entity_type == entity_type)
    if status:
        query = query.where(Review.status == status.value)
    if agent:
        query = query.where(Review.agent == agent)
    if pipeline_id:
        query = query.where(Review.pipeline_id == pipeline_id)
    reviews = list(session.scalars(query))
    page = reviews[:limit]
    return page, _encode(page[-1]) if len(reviews) > limit else None


def get_review(session: Session, ctx: TenantContext, entity_type: str, entity_id: uuid.UUID, *,
               for_update: bool = False) -> Review:
    query = scoped(ctx, Review).where(Review.entity_type == entity_type, Review.entity_id == entity_id)
    if for_update:
        query = query.with_for_update()
    review = session.scalars(query).one_or_none()
    if review is None:
        raise NotFound(f"There is no review of {entity_type} {entity_id}.")
    return review


def decision_of(session: Session, review: Review) -> ReviewDecision | None:
    return session.scalar(select(ReviewDecision).where(ReviewDecision.review_id == review.id))


def decisions_of(session: Session, reviews: list[Review]) -> dict[uuid.UUID, ReviewDecision]:
    if not reviews:
        return {}
    rows = session.scalars(select(ReviewDecision).where(ReviewDecision.review_id.in_([r.id for r in reviews])))
    return {row.review_id: row for row in rows}


# --- deciding ---------------------------------------------------------------------------------


def decide(session: Session, ctx: TenantContext, entity_type: str, entity_id: uuid.UUID,
           body: DecisionRequest) -> tuple[Review, ReviewDecision, bool]:
    """Decide a review. Returns the review, its decision, and whether this call made it (False: the same
    decision was posted before and is returned as it was)."""
    review = get_review(session, ctx, entity_type, entity_id, for_update=True)  # 404 before 403
    authorize(ctx, Permission.decide_reviews)
    request_hash = digest(body.model_dump(mode="json"))
    existing = decision_of(session, review)
    if existing is not None:
        if existing.request_hash == request_hash:
            return review, existing, False
        raise Conflict(f"The review was already decided ({existing.decision}) by another decision.",
                       review_status=review.status)
    current = ReviewStatus(review.status)
    outcome = OUTCOME[body.decision]
    check_transition(current, outcome)
    if current is ReviewStatus.escalated:
        authorize(ctx, Permission.manage_tenant)
    settings = review_settings(session, ctx.tenant_id)
    if (settings.get("four_eyes") and review.requested_by_type == ctx.principal.kind
            and review.requested_by_id == ctx.principal.id):
        raise Forbidden("Four-eyes rule: the person who started this work may not decide its review.")
    kind = get_kind(entity_type)
    if kind is None:
        raise UnprocessableEntity(f"Reviews of '{entity_type}' cannot be decided here.")
    content, patch = _content(kind, review, body)
    if body.decision is Decision.reject:
        kind.discard(session, ctx, review.entity_id, f"rejected by a reviewer: {body.comment or 'no comment'}")
    else:
        kind.apply(session, ctx, review.entity_id, content)
    now = datetime.now(UTC)
    before = {"status": review.status}
    review.status, review.decided_at = outcome.value, now
    decision = ReviewDecision(
        tenant_id=ctx.tenant_id, review_id=review.id, decision=body.decision.value, reviewer_type=ctx.principal.kind,
        reviewer_id=ctx.principal.id, comment=body.comment, request_hash=request_hash,
        approved_digest=digest(content) if content is not None else None,
        edited_output=body.edited_output if body.decision is Decision.edit else None, diff=patch)
    session.add(decision)
    _finish_run(session, review, approved=body.decision is not Decision.reject, reason=body.comment)
    advance_pipeline(session, ctx.tenant_id, review.pipeline_id)
    session.flush()
    REVIEWS_DECIDED.labels(review.agent, body.decision.value).inc()
    audit.record(session, ctx, f"review.{body.decision.value}", entity_type, review.entity_id, before=before,
                 after={"status": review.status, "comment": body.comment, "diff": patch})
    _announce(session, EventType.review_decided, review, decision=body.decision.value, comment=body.comment)
    return review, decision, True


def _content(kind: ReviewKind, review: Review, body: DecisionRequest) -> tuple[dict[str, Any] | None, list[Any] | None]:
    """What takes effect: the proposal as it is, or as the reviewer edited it (validated against the
    kind's schema, locked fields unchanged), with the edit's JSON Patch against the proposal."""
    if body.decision is Decision.reject:
        return None, None
    if body.decision is Decision.approve:
        return review.proposal, None
    edited = {**review.proposal, **(body.edited_output or {})}
    changed_locked = sorted(name for name in kind.locked_fields if edited.get(name) != review.proposal.get(name))
    if changed_locked:
        raise UnprocessableEntity(f"These fields are computed and cannot be edited: {', '.join(changed_locked)}.",
                                  errors=[{"field": f"edited_output.{n}", "message": "locked", "type": "locked"}
                                          for n in changed_locked])
    try:
        validated = kind.content_model.model_validate(edited)
    except ValidationError as exc:
        raise UnprocessableEntity(f"The edited output does not match the {review.entity_type} schema.",
                                  errors=validation_errors(exc, "edited_output")) from exc
    edited = {**edited, **validated.model_dump(mode="json")}
    patch = jsonpatch.make_patch(review.proposal, edited).patch
    if not patch:
        raise UnprocessableEntity("The edit changes nothing; approve the proposal instead.")
    return edited, patch


def _finish_run(session: Session, review: Review, *, approved: bool, reason: str | None) -> None:
    """The run that produced the item ends with the decision: succeeded when approved, rejected when not."""
    if review.run_id is None:
        return
    run = session.get(AgentRun, review.run_id, with_for_update=True)
    if run is None or run.status != RunStatus.awaiting_review.value:
        return
    target = RunStatus.succeeded if approved else RunStatus.rejected
    transition(session, run, target, detail=event_detail(review=str(review.id), reason=reason))


# --- deadlines --------------------------------------------------------------------------------


def reviews_due(session: Session, limit: int = 500) -> list[tuple[uuid.UUID, uuid.UUID, str]]:
    """Across tenants (a SECURITY DEFINER function returning ids): open reviews past their deadline
    ('expire') or within the reminder window and not reminded yet ('remind')."""
    rows = session.execute(text("SELECT * FROM maintenance_reviews_due(:limit)"), {"limit": limit})
    return [(row.tenant_id, row.review_id, row.action) for row in rows]


def sweep(limit: int = 500) -> dict[str, int]:
    """Beat's pass over the deadlines. Each item is handled under its tenant's binding and its row lock,
    re-checked there, so two sweeps at once (or a decision racing one) act once."""
    with session_scope() as session:
        due = reviews_due(session, limit)
    done: dict[str, int] = {}
    for tenant_id, review_id, action in due:
        try:
            with session_scope(tenant_id) as session:
                outcome = _handle_deadline(session, TenantContext.system(tenant_id), review_id, action)
        except Exception:  # one item that cannot be handled must not stop the others
            log.exception("review_deadline_failed", review_id=str(review_id), action=action)
            continue
        if outcome:
            done[outcome] = done.get(outcome, 0) + 1
    return done


def _handle_deadline(session: Session, ctx: TenantContext, review_id: uuid.UUID, action: str) -> str | None:
    review = session.scalars(scoped(ctx, Review).where(Review.id == review_id).with_for_update()).one_or_none()
    if review is None or review.status not in OPEN:
        return None
    now = datetime.now(UTC)
    settings = review_settings(session, ctx.tenant_id)
    if review.deadline_at > now:
        if review.reminded_at is not None or review.remind_at is None or review.remind_at > now:
            return None
        review.reminded_at = now
        audit.record(session, ctx, "review.reminder", review.entity_type, review.entity_id,
                     after={"deadline_at": review.deadline_at.isoformat(), "status": review.status})
        log.info("review_reminder", review_id=str(review.id), deadline_at=review.deadline_at.isoformat())
        session.flush()
        REVIEW_DEADLINES.labels("reminded").inc()
        return "reminded"
    policy = settings.get("on_expiry", "reject")
    if policy == "escalate" and review.status == ReviewStatus.pending.value:
        review.status, review.escalated, review.reminded_at = ReviewStatus.escalated.value, True, None
        review.deadline_at = now + timedelta(hours=deadline_hours(settings, review.entity_type))
        review.remind_at = review.deadline_at - reminder_lead(settings)
        audit.record(session, ctx, "review.escalated", review.entity_type, review.entity_id,
                     after={"status": review.status, "deadline_at": review.deadline_at.isoformat()})
        session.flush()
        REVIEW_DEADLINES.labels("escalated").inc()
        return "escalated"
    kind = get_kind(review.entity_type)
    if kind is not None:
        kind.discard(session, ctx, review.entity_id, "the review expired before anyone decided it")
    review.status, review.expired_at = ReviewStatus.expired.value, now
    _finish_run(session, review, approved=False, reason="review expired")
    advance_pipeline(session, ctx.tenant_id, review.pipeline_id)
    audit.record(session, ctx, "review.expired", review.entity_type, review.entity_id, after={"status": review.status})
    _announce(session, EventType.review_expired, review)
    session.flush()
    REVIEW_DEADLINES.labels("expired").inc()
    return "expired"


def cancel_open_reviews(session: Session, ctx: TenantContext, *, pipeline_id: uuid.UUID, reason: str) -> int:
    """Cancel every open review of a pipeline (the pipeline was cancelled), discarding their entities."""
    reviews = list(session.scalars(scoped(ctx, Review).where(
        Review.pipeline_id == pipeline_id, Review.status.in_([s.value for s in OPEN])).with_for_update()))
    for review in reviews:
        review.status = ReviewStatus.cancelled.value  # first: the kind's discard reads why it ends
        kind = get_kind(review.entity_type)
        if kind is not None:
            kind.discard(session, ctx, review.entity_id, reason)
    session.flush()
    return len(reviews)


# --- metrics ----------------------------------------------------------------------------------


def review_figures(session: Session, ctx: TenantContext, start: datetime, end: datetime,
                   agent: str | None) -> dict[str, dict[str, Any]]:
    """Per agent, the reviews decided (or expired) in [start, end): approved unchanged, edited, rejected,
    expired, and the shares of the first three (GET /api/v1/metrics/agents)."""
    ended_at = func.coalesce(Review.decided_at, Review.expired_at)
    query = (select(Review.agent, Review.status, func.count()).where(
        Review.tenant_id == ctx.tenant_id, ended_at >= start, ended_at < end,
        Review.status.in_(["approved", "edited", "rejected", "expired"])).group_by(Review.agent, Review.status))
    if agent:
        query = query.where(Review.agent == agent)
    counts: dict[str, dict[str, int]] = {}
    for name, status, count in session.execute(query):
        counts.setdefault(name, {})[status] = count
    figures = {}
    for name, by_status in counts.items():
        decided = sum(by_status.values())
        share = (lambda n: round(n / decided, 4)) if decided else (lambda n: None)
        approved, edited, rejected = (by_status.get(s, 0) for s in ("approved", "edited", "rejected"))
        figures[name] = {"decided": decided, "approved_unchanged": approved, "edited": edited, "rejected": rejected,
                         "expired": by_status.get("expired", 0), "approved_unchanged_share": share(approved),
                         "edited_share": share(edited), "rejected_share": share(rejected)}
    return figures


register_figures("reviews", review_figures)
register_section("reviews", ReviewSettings)
