"""Transactional outbox: a Celery task is recorded in the same transaction as the rows it is about and
published only after that transaction commits.

`enqueue()` adds the record; after commit it is published at once (and marked published). Whatever was
not confirmed (the process died between commit and publish, or the broker was down) is published by
`relay()`, which beat runs every few seconds. A message may therefore be delivered twice; every task
that is sent this way tolerates that.
"""

from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import delete, event, select, text, update
from sqlalchemy.orm import Session

from app.core.config import get_settings
from app.core.db import get_sessionmaker
from app.core.failpoints import failpoint
from app.core.metrics import OUTBOX_PUBLISHED
from app.models import OutboxMessage

log = structlog.get_logger(__name__)
_PENDING = "outbox_pending"


def enqueue(session: Session, task: str, queue: str, kwargs: dict[str, Any], *, delay_seconds: float = 0) -> None:
    message = OutboxMessage(task=task, queue=queue, kwargs=kwargs, countdown_seconds=max(0.0, delay_seconds),
                            available_at=datetime.now(UTC) + timedelta(seconds=delay_seconds),
                            publish_attempts=0)
    session.add(message)
    if delay_seconds <= 0:
        session.info.setdefault(_PENDING, []).append(message)


@event.listens_for(Session, "after_commit")
def _publish_after_commit(session: Session) -> None:
    pending: list[OutboxMessage] = session.info.pop(_PENDING, [])
    if not pending:
        return
    failpoint("outbox.after_commit")
    published = []
    for message in pending:
        try:
            _send(message)
            published.append(message.id)
        except Exception:  # the broker is down: the relay will publish it later
            log.warning("outbox_publish_failed", task=message.task, outbox_id=message.id, exc_info=True)
    if published:
        OUTBOX_PUBLISHED.labels("commit").inc(len(published))
        try:
            with get_sessionmaker()() as marker, marker.begin():
                # Losing this mark in a database crash only means one more (harmless) publish by the relay.
                marker.execute(text("SET LOCAL synchronous_commit = off"))
                marker.execute(update(OutboxMessage).where(OutboxMessage.id.in_(published))
                               .values(published_at=datetime.now(UTC)))
        except Exception:  # unconfirmed messages are re-published by the relay: a duplicate, never a loss
            log.warning("outbox_confirm_failed", exc_info=True)


@event.listens_for(Session, "after_rollback")
def _forget_after_rollback(session: Session) -> None:
    session.info.pop(_PENDING, None)


def _send(message: OutboxMessage) -> None:
    from workers.celery_app import celery_app

    # An expired message is dropped by the worker; the reaper republishes work that stalls that way.
    celery_app.send_task(message.task, kwargs=message.kwargs, queue=message.queue,
                         expires=get_settings().task_expires_seconds)


def relay(session: Session, *, batch: int = 500) -> int:
    """Publish due messages not confirmed yet. Delayed messages (retries) are published only here, when
    due; immediate ones are published by the committing process, so the relay takes them over only
    when they are still unconfirmed after a grace period."""
    settings = get_settings()
    now = datetime.now(UTC)
    grace = timedelta(seconds=settings.outbox_republish_after_seconds)
    due = list(session.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.published_at.is_(None), OutboxMessage.available_at <= now)
        .where((OutboxMessage.countdown_seconds > 0) | (OutboxMessage.created_at <= now - grace))
        .order_by(OutboxMessage.id).limit(batch).with_for_update(skip_locked=True)
    ))
    for message in due:
        _send(message)
        message.published_at = now
        message.publish_attempts += 1
    if due:
        OUTBOX_PUBLISHED.labels("relay").inc(len(due))
    return len(due)


def purge_published(session: Session, *, older_than: timedelta = timedelta(days=7)) -> int:
    result = session.execute(delete(OutboxMessage).where(
        OutboxMessage.published_at.is_not(None), OutboxMessage.published_at < datetime.now(UTC) - older_than))
    return result.rowcount
