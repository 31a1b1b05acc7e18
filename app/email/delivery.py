"""The send, keyed by the email log row: claim, send, record the outcome.

1. **Lock.** A PostgreSQL advisory lock on the email, taken on a connection of its own and held for
   the whole send, makes one worker at a time send a given email. A duplicate delivery of the task
   finds it taken and looks again a little later (by then the email is sent, and it does nothing). A
   worker that dies loses its connection, and with it the lock: no lease to wait out.
2. **Claim**, in a short transaction: only an `approved` email is sent (anything else, `sent` included,
   is a no-op); its pipeline must not be cancelled; suppression is checked again, now (→ `suppressed`,
   nothing sent); the attempt is counted (`send_attempts`), and one past `EMAIL_SEND_MAX_ATTEMPTS`
   ends it `failed`.
3. **Send** outside any transaction, with the Message-ID fixed at draft time.
4. **Record**: `sent` with `sent_at` and the transport; a permanent refusal (5xx) → `failed` with the
   server's reply; a transient one (4xx, connection refused or lost, timeout) → the error is kept and
   the next attempt is enqueued through the outbox with exponential backoff and full jitter, in the
   same transaction, so the retry cannot be lost. Every terminal status signals the pipeline.

At least once, never silently lost: a crash between the server accepting the message and step 4
committing leaves the email `approved` and its task unacknowledged (acks_late), so it is delivered
again and the same message, with the same Message-ID, is sent once more. Receiving servers and mail
clients recognise a repeated Message-ID as the same message; nothing else can make an SMTP send
exactly-once, because SMTP has no way to ask whether a message was already accepted.
"""

import random
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import structlog
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from app.core import locks, outbox
from app.core.config import Settings, get_settings
from app.core.context import TenantContext
from app.core.db import session_scope
from app.core.failpoints import failpoint
from app.email.sending import Outgoing, PermanentSendError, TransientSendError, build_message, transport_for
from app.email.state import EmailStatus, transition
from app.leads import service as leads
from app.leads.state import LeadStatus, can_transition
from app.models import EmailLog, Pipeline
from app.suppressions.service import find_suppression

log = structlog.get_logger(__name__)

SEND_TASK = "email.send"
EMAIL_QUEUE = "email"


@dataclass(frozen=True)
class Claim:
    outgoing: Outgoing
    attempt: int


def deliver(email_id: uuid.UUID, tenant_id: uuid.UUID) -> str:
    """Send one approved email, at most one worker at a time. Returns what happened: sent, suppressed,
    failed, cancelled, retry_scheduled, busy (another worker holds it; looked at again later), or the
    email's status when there was nothing to do."""
    settings = get_settings()
    with locks.work_lock(SEND_TASK, email_id) as held:
        if not held:
            return _look_again_later(email_id, tenant_id, settings)
        with session_scope(tenant_id) as session:
            claim = _claim(session, email_id, tenant_id, settings)
        if not isinstance(claim, Claim):
            return claim
        transport = transport_for(settings)
        try:
            transport.send(build_message(claim.outgoing, settings))
        except PermanentSendError as exc:
            return _record_failure(email_id, tenant_id, str(exc), permanent=True, settings=settings)
        except TransientSendError as exc:
            return _record_failure(email_id, tenant_id, str(exc), permanent=False, settings=settings)
        failpoint(f"email.after_send.{claim.attempt}")
        return _record_sent(email_id, tenant_id, transport.name)


def try_lock_for_transaction(session: Session, email_id: uuid.UUID) -> bool:
    """The send lock for the rest of `session`'s transaction, if no worker is sending the email now."""
    return locks.try_lock_for_transaction(session, SEND_TASK, email_id)


def _claim(session: Session, email_id: uuid.UUID, tenant_id: uuid.UUID, settings: Settings) -> Claim | str:
    email = session.get(EmailLog, email_id, with_for_update=True)
    if email is None:
        return "missing"
    if email.status != EmailStatus.approved.value:
        return email.status
    if _pipeline_cancelled(session, email):
        transition(session, email, EmailStatus.cancelled, error="the pipeline was cancelled before the send")
        return EmailStatus.cancelled.value
    suppression = find_suppression(session, TenantContext.system(tenant_id), email.to_address)
    if suppression is not None:
        transition(session, email, EmailStatus.suppressed,
                   error=f"{email.to_address} matches the suppression list ({suppression.kind} {suppression.value}) "
                         "at send time; nothing was sent")
        return EmailStatus.suppressed.value
    if email.send_attempts >= settings.email_send_max_attempts:
        transition(session, email, EmailStatus.failed,
                   error=f"gave up after {email.send_attempts} attempts; last error: {email.error or 'none recorded'}")
        return EmailStatus.failed.value
    email.send_attempts += 1
    session.flush()
    return Claim(Outgoing(email_id=str(email.id), message_id=email.message_id, to_address=email.to_address,
                          subject=email.subject, body=email.body), attempt=email.send_attempts)


def _record_sent(email_id: uuid.UUID, tenant_id: uuid.UUID, transport: str) -> str:
    with session_scope(tenant_id) as session:
        email = session.get(EmailLog, email_id, with_for_update=True)
        if email is None or not transition(session, email, EmailStatus.sent, expected=EmailStatus.approved,
                                           sent_at=datetime.now(UTC), transport=transport, error=None):
            # Nothing else moves an approved email while its send lock is held, short of an operator
            # editing the table: say so rather than overwrite what they did.
            log.error("email_sent_but_not_recorded", email_id=str(email_id),
                      status=email.status if email is not None else "missing")
            return "sent_unrecorded"
        _mark_contacted(session, TenantContext.system(tenant_id), email)
    log.info("email_sent", email_id=str(email_id), transport=transport)
    return EmailStatus.sent.value


def _mark_contacted(session: Session, ctx: TenantContext, email: EmailLog) -> None:
    """The first email that left makes a qualified lead `contacted` (the sales agent proposes only then)."""
    if email.lead_id is None:
        return
    lead = leads.get_lead(session, ctx, email.lead_id, for_update=True)
    if can_transition(LeadStatus(lead.status), LeadStatus.contacted):
        leads.change_status(session, ctx, lead, LeadStatus.contacted)


def _record_failure(email_id: uuid.UUID, tenant_id: uuid.UUID, error: str, *, permanent: bool,
                    settings: Settings) -> str:
    with session_scope(tenant_id) as session:
        email = session.get(EmailLog, email_id, with_for_update=True)
        if email is None or email.status != EmailStatus.approved.value:
            return email.status if email is not None else "missing"
        if permanent or email.send_attempts >= settings.email_send_max_attempts:
            why = "refused" if permanent else f"gave up after {email.send_attempts} attempts"
            transition(session, email, EmailStatus.failed, expected=EmailStatus.approved, error=f"{why}: {error}")
            log.warning("email_failed", email_id=str(email_id), error=error, permanent=permanent)
            return EmailStatus.failed.value
        email.error = f"attempt {email.send_attempts}: {error}"
        delay = backoff_seconds(email.send_attempts, settings)
        _enqueue_send(session, email_id, tenant_id, delay)
    log.info("email_send_retry_scheduled", email_id=str(email_id), error=error, delay_seconds=round(delay, 2))
    return "retry_scheduled"


def _look_again_later(email_id: uuid.UUID, tenant_id: uuid.UUID, settings: Settings) -> str:
    """Another worker is sending this email (a duplicate delivery), or one that just died still holds
    the lock for a moment. Look again after a while, unless it is settled already."""
    with session_scope(tenant_id) as session:
        status = session.scalar(select(EmailLog.status).where(EmailLog.id == email_id))
        if status != EmailStatus.approved.value:
            return status or "missing"
        _enqueue_send(session, email_id, tenant_id, backoff_seconds(1, settings) + settings.smtp_timeout_seconds)
    return "busy"


def _enqueue_send(session: Session, email_id: uuid.UUID, tenant_id: uuid.UUID, delay_seconds: float) -> None:
    outbox.enqueue(session, SEND_TASK, EMAIL_QUEUE, {"email_id": str(email_id), "tenant_id": str(tenant_id)},
                   delay_seconds=delay_seconds)


def backoff_seconds(attempt: int, settings: Settings) -> float:
    """Exponential backoff with full jitter: random in [0, min(max, base × 2^(attempt−1))]."""
    ceiling = min(settings.email_retry_max_seconds, settings.email_retry_base_seconds * 2 ** (attempt - 1))
    return random.uniform(0, ceiling)


def _pipeline_cancelled(session: Session, email: EmailLog) -> bool:
    if email.pipeline_id is None:
        return False
    return session.scalar(select(Pipeline.status).where(Pipeline.id == email.pipeline_id)) == "cancelled"


def republish_stalled(limit: int = 500) -> int:
    """Publish the send of every approved email that has not moved for EMAIL_STALLED_AFTER_SECONDS again
    (one cross-tenant SECURITY DEFINER lookup returning ids; each send enqueued under its tenant)."""
    settings = get_settings()
    with session_scope() as session:
        stalled = session.execute(text("SELECT * FROM maintenance_emails_stalled(:stale, :limit)"),
                                  {"stale": settings.email_stalled_after_seconds, "limit": limit}).all()
    for tenant_id, email_id in stalled:
        with session_scope(tenant_id) as session:
            email = session.get(EmailLog, email_id, with_for_update=True)
            if email is None or email.status != EmailStatus.approved.value:
                continue
            email.updated_at = datetime.now(UTC)  # the next sweep waits a full period again
            _enqueue_send(session, email_id, tenant_id, 0)
        log.warning("email_send_republished", email_id=str(email_id))
    return len(stalled)
