"""The email log: drafts, their review, approval and rejection, and reading them.

An email is a record first (`email_logs`, with its Message-ID fixed at draft time) and a send second,
keyed by that record (app.email.delivery). Approving a draft happens in the review decision's
transaction and enqueues the send through the outbox, so the send is published only if the approval
committed, and an approval posted twice is applied once.
"""

import uuid
from typing import Any

from pydantic import ValidationError
from sqlalchemy.orm import Session

from app.core import outbox
from app.core.config import get_settings
from app.core.context import TenantContext
from app.core.errors import Conflict, UnprocessableEntity
from app.core.pagination import newest_first, next_cursor
from app.core.scope import get_or_404, scoped
from app.email.delivery import EMAIL_QUEUE, SEND_TASK, try_lock_for_transaction
from app.email.schemas import SUBJECT_MAX, EmailContent
from app.email.sending import is_valid_address, message_id_for
from app.email.state import EmailStatus, transition
from app.models import EmailLog, Pipeline, Review
from app.reviews.registry import ReviewKind, register_kind
from app.reviews.service import open_review

ENTITY_TYPE = "email"


def create_draft(session: Session, ctx: TenantContext, *, lead_id: uuid.UUID | None, to_address: str, subject: str,
                 body: str, citations: list[Any], run_id: uuid.UUID | None,
                 pipeline_id: uuid.UUID | None) -> EmailLog:
    """A draft, waiting for review. Its Message-ID is fixed now, so every later send attempt is recognisably
    the same email."""
    to_address = to_address.strip()
    subject = " ".join(subject.split())  # one line: a line break in a subject would be a header of its own
    if not is_valid_address(to_address):
        raise UnprocessableEntity(f"{to_address!r} is not an email address.")
    if not subject or len(subject) > SUBJECT_MAX:
        raise UnprocessableEntity(f"The subject must have 1 to {SUBJECT_MAX} characters.")
    if not body.strip():
        raise UnprocessableEntity("The body is empty.")
    email_id = uuid.uuid4()
    email = EmailLog(id=email_id, tenant_id=ctx.tenant_id, lead_id=lead_id, run_id=run_id, pipeline_id=pipeline_id,
                     to_address=to_address, subject=subject, body=body, citations=list(citations),
                     status=EmailStatus.draft.value, send_attempts=0,
                     message_id=message_id_for(str(email_id), get_settings().email_message_id_domain))
    session.add(email)
    session.flush()
    return email


def review_content(email: EmailLog) -> dict[str, Any]:
    """The proposal of an email's review, in the shape of `EmailContent`."""
    return {"to_address": email.to_address, "subject": email.subject, "body": email.body}


def open_email_review(session: Session, ctx: TenantContext, email: EmailLog, *, agent: str, summary: str = "",
                      requested_by_type: str = "system", requested_by_id: uuid.UUID | None = None) -> Review:
    """Put the draft in front of a reviewer (idempotent: the draft's existing review is returned)."""
    review = open_review(session, ctx, entity_type=ENTITY_TYPE, entity_id=email.id, agent=agent,
                         proposal=review_content(email), citations=email.citations, summary=summary or email.subject,
                         run_id=email.run_id, pipeline_id=email.pipeline_id, requested_by_type=requested_by_type,
                         requested_by_id=requested_by_id)
    email.review_id = review.id
    session.flush()
    return review


# --- the review kind --------------------------------------------------------------------------


def approve_draft(session: Session, ctx: TenantContext, email_id: uuid.UUID, content: dict[str, Any]) -> None:
    """The review was approved (as proposed, or edited): the draft takes the approved subject and body and
    its send is enqueued, both in the decision's transaction. Applying it again changes nothing."""
    email = get_or_404(session, ctx, EmailLog, email_id, for_update=True, label="Email")
    status = EmailStatus(email.status)
    if status is not EmailStatus.draft:
        if status in (EmailStatus.approved, EmailStatus.sent, EmailStatus.suppressed, EmailStatus.failed):
            return
        raise Conflict(f"The email is {status.value}; it can no longer be approved.", email_status=status.value)
    try:
        approved = EmailContent.model_validate({"to_address": email.to_address, **content})
    except ValidationError as exc:
        raise UnprocessableEntity(f"The approved email is not valid: {exc.errors()[0]['msg']}.") from exc
    if approved.to_address != email.to_address:
        raise UnprocessableEntity("to_address is locked: an approval cannot send the email to another address.")
    transition(session, email, EmailStatus.approved, expected=EmailStatus.draft, subject=approved.subject,
               body=approved.body, review_id=email.review_id or _review_id(session, ctx, email.id))
    outbox.enqueue(session, SEND_TASK, EMAIL_QUEUE, {"email_id": str(email.id), "tenant_id": str(email.tenant_id)})


def discard_email(session: Session, ctx: TenantContext, email_id: uuid.UUID, reason: str) -> None:
    """The email will not be sent. A draft whose review was rejected or expired ends rejected, one whose
    review or pipeline was cancelled ends cancelled. An approved email is discarded only when its pipeline
    is cancelled before the send: it ends cancelled, unless a worker is sending it at this very moment (its
    send lock is held), in which case the send finishes and records its own outcome."""
    email = get_or_404(session, ctx, EmailLog, email_id, for_update=True, label="Email")
    status = EmailStatus(email.status)
    if status is EmailStatus.draft:
        target = EmailStatus.cancelled if _cancelled_upstream(session, ctx, email) else EmailStatus.rejected
        transition(session, email, target, expected=status, error=reason or None,
                   review_id=email.review_id or _review_id(session, ctx, email.id))
    elif status is EmailStatus.approved and try_lock_for_transaction(session, email.id):
        transition(session, email, EmailStatus.cancelled, expected=status, error=reason or None)


EMAIL_REVIEW = register_kind(ReviewKind(entity_type=ENTITY_TYPE, content_model=EmailContent, apply=approve_draft,
                                        discard=discard_email, locked_fields=frozenset({"to_address"})))


def _cancelled_upstream(session: Session, ctx: TenantContext, email: EmailLog) -> bool:
    review_status = session.scalar(scoped(ctx, Review).with_only_columns(Review.status).where(
        Review.entity_type == ENTITY_TYPE, Review.entity_id == email.id))
    if review_status == "cancelled":
        return True
    return email.pipeline_id is not None and session.scalar(
        scoped(ctx, Pipeline).with_only_columns(Pipeline.status).where(Pipeline.id == email.pipeline_id)) == "cancelled"


def _review_id(session: Session, ctx: TenantContext, email_id: uuid.UUID) -> uuid.UUID | None:
    return session.scalar(scoped(ctx, Review).with_only_columns(Review.id).where(
        Review.entity_type == ENTITY_TYPE, Review.entity_id == email_id))


# --- reading ----------------------------------------------------------------------------------


def list_emails(session: Session, ctx: TenantContext, *, limit: int, cursor: str | None = None,
                status: EmailStatus | None = None, lead_id: uuid.UUID | None = None,
                pipeline_id: uuid.UUID | None = None) -> tuple[list[EmailLog], str | None]:
    """Newest first, keyset-paginated on (created_at, id) along ix_email_logs_page."""
    query = newest_first(scoped(ctx, EmailLog), EmailLog, limit, cursor)
    if status:
        query = query.where(EmailLog.status == status.value)
    if lead_id:
        query = query.where(EmailLog.lead_id == lead_id)
    if pipeline_id:
        query = query.where(EmailLog.pipeline_id == pipeline_id)
    emails = list(session.scalars(query))
    page = emails[:limit]
    return page, next_cursor(emails, limit)


def get_email(session: Session, ctx: TenantContext, email_id: uuid.UUID) -> EmailLog:
    return get_or_404(session, ctx, EmailLog, email_id, label="Email")
