"""Transactional outbox: a Celery task is recorded in the same transaction as the rows it is about and
published only after that transaction commits.

`enqueue()` writes the record (`track()` registers one the caller wrote itself, as the run accept path
does within its single statement); after commit it is published at once and marked published.

In the API process a background publisher, started and stopped with the application, does that off the
request path: the messages committed while a Redis round trip is in flight go together in the next one,
and their confirmations are written a fraction of a second later, many ids per statement. Elsewhere
(workers, the CLI) the committing thread publishes and confirms itself.

A task registered with `run_in_process()` (advancing a pipeline) is not sent at all: the committing thread
does it at once, right after its commit, sparing a trip through the broker and a wait in its queue behind
other work; the record is confirmed once it is done. In the API that lengthens the request by the task (a
decision's answer comes once the pipeline has moved on), which is the point: what the signal triggers is
cheap, and nothing that waits behind a queue is.

Whatever was not confirmed (the process died between commit and publish, or while doing the task itself,
the broker was down, the confirmation was lost) is published by `relay()`, which beat runs every few
seconds. A message may therefore be delivered twice; every task that is sent this way tolerates that.
"""

import base64
import json
import os
import queue
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

import redis
import structlog
from sqlalchemy import delete, event, select, text
from sqlalchemy.orm import Session

from app.core.config import get_settings
from app.core.db import Script, script_connection
from app.core.failpoints import failpoint
from app.core.metrics import OUTBOX_PUBLISHED
from app.models import OutboxMessage

log = structlog.get_logger(__name__)
_PENDING = "outbox_pending"
_INSERT = text(
    "INSERT INTO outbox (task, queue, kwargs, countdown_seconds, available_at, publish_attempts) "
    "VALUES (:task, :queue, CAST(:kwargs AS jsonb), :countdown, :available_at, 0) RETURNING id"
)
# Losing a confirmation in a database crash only means one more (harmless) publish by the relay, so it
# does not wait for the WAL flush. The outbox holds no tenant rows: the script binds no tenant.
_CONFIRM = Script(
    "SELECT set_config('synchronous_commit', 'off', true);\n"
    "UPDATE outbox SET published_at = now() WHERE id = ANY(%(ids)s::bigint[]) AND published_at IS NULL"
)


@dataclass(frozen=True, slots=True)
class Pending:
    """An immediate outbox record of the transaction, to publish once it commits."""

    id: int
    task: str
    queue: str
    kwargs: dict[str, Any]


def enqueue(session: Session, task: str, queue: str, kwargs: dict[str, Any], *, delay_seconds: float = 0) -> None:
    delay = max(0.0, delay_seconds)
    outbox_id = session.execute(_INSERT, {
        "task": task, "queue": queue, "kwargs": json.dumps(kwargs), "countdown": delay,
        "available_at": datetime.now(UTC) + timedelta(seconds=delay)}).scalar_one()
    if delay <= 0:
        track(session, outbox_id, task, queue, kwargs)


def track(session: Session, outbox_id: int, task: str, queue: str, kwargs: dict[str, Any]) -> None:
    """Publish the immediate outbox record `outbox_id`, written in `session`'s transaction, after it commits."""
    session.info.setdefault(_PENDING, []).append(Pending(outbox_id, task, queue, kwargs))


def pending(session: Session) -> list[Pending]:
    """The immediate records of `session`'s transaction, not yet committed."""
    return session.info.get(_PENDING, [])


@event.listens_for(Session, "after_commit")
def _publish_after_commit(session: Session) -> None:
    committed: list[Pending] | None = session.info.pop(_PENDING, None)
    if not committed:
        return
    failpoint("outbox.after_commit")
    dispatch(committed)


def dispatch(committed: list[Pending]) -> None:
    """After commit: do here what this process does itself (`run_in_process`), publish the rest."""
    here: list[Pending] = []
    sent: list[Pending] = []
    for message in committed:
        (here if message.task in _IN_PROCESS else sent).append(message)
    if sent:
        publisher = _publisher
        if publisher is None or not publisher.submit(sent):
            confirm(publish(sent))
    if here:
        _do_here(here)


@event.listens_for(Session, "after_rollback")
def _forget_after_rollback(session: Session) -> None:
    session.info.pop(_PENDING, None)


def publish(messages: list[Pending]) -> list[int]:
    """Publish `messages` in one Redis round trip; returns the ids published. Never raises: what is not
    published here is the relay's."""
    try:
        send_many((m.task, m.queue, m.kwargs) for m in messages)
    except Exception:  # the broker is down: the relay will publish them later
        log.warning("outbox_publish_failed", outbox_ids=[m.id for m in messages], exc_info=True)
        return []
    OUTBOX_PUBLISHED.labels("commit").inc(len(messages))
    return [m.id for m in messages]


def confirm(outbox_ids: list[int]) -> None:
    """Mark published, in one statement. Never raises: an unconfirmed message is published once more by
    the relay, a duplicate and never a loss."""
    if not outbox_ids:
        return
    try:
        with script_connection() as connection:
            _CONFIRM.run(connection, None, {"ids": outbox_ids})
    except Exception:
        log.warning("outbox_confirm_failed", outbox_ids=outbox_ids, exc_info=True)


# --- tasks done by the committing process ------------------------------------------------------

_IN_PROCESS: dict[str, Callable[..., Any]] = {}
_doing = threading.local()


def run_in_process(task: str, handler: Callable[..., Any]) -> None:
    """`handler(**kwargs)` does `task` right after the commit that wrote it, in the committing thread. It must
    be idempotent and commit its own work, as the task does when delivered (the relay may still deliver it)."""
    _IN_PROCESS[task] = handler


def _do_here(messages: list[Pending]) -> None:
    """Do the messages in this thread, then confirm them in one statement. A handler's own commit may write
    more: those join this loop instead of nesting. A handler that fails leaves its message to the broker."""
    work: deque[Pending] | None = getattr(_doing, "work", None)
    if work is not None:
        work.extend(messages)
        return
    _doing.work = work = deque(messages)
    done: list[int] = []
    try:
        while work:
            message = work.popleft()
            try:
                _IN_PROCESS[message.task](**message.kwargs)
            except Exception:
                log.warning("outbox_in_process_failed", outbox_id=message.id, task=message.task, exc_info=True)
                done += publish([message])
            else:
                done.append(message.id)
                OUTBOX_PUBLISHED.labels("in_process").inc()
    finally:
        _doing.work = None
        confirm(done)


# --- the wire ---------------------------------------------------------------------------------


def send_many(messages: Iterable[tuple[str, str, dict[str, Any]]]) -> None:
    """Send Celery tasks (name, queue, kwargs), all in one pipelined Redis round trip.

    The task message is Celery's own (protocol 2, from `celery_app.amqp.as_task_v2`); it is put on the
    queue's list exactly as kombu's Redis transport puts it (tests/core/test_outbox.py holds the two
    side by side). Going through `send_task` instead costs about five times the CPU: per message it
    routes, declares, copies entities and builds a Redis client."""
    from workers.celery_app import celery_app

    expires = get_settings().task_expires_seconds
    pipeline = _broker().pipeline(transaction=False)
    for task, queue_name, kwargs in messages:
        pipeline.lpush(queue_name, _wire_message(celery_app, task, queue_name, kwargs, expires))
    if len(pipeline):
        pipeline.execute()


def _wire_message(celery_app, task: str, queue_name: str, kwargs: dict[str, Any], expires: int) -> str:
    task_id = str(uuid.uuid4())
    headers, properties, body, _ = celery_app.amqp.as_task_v2(
        task_id, task, kwargs=kwargs, expires=expires, argsrepr="()", kwargsrepr=repr(kwargs), ignore_result=None,
        reply_to=celery_app.thread_oid)
    properties.update(
        delivery_mode=2,  # persistent, as the queue's exchange declares
        expiration=str(int(expires * 1000)),
        delivery_info={"exchange": "", "routing_key": queue_name},  # the direct exchange's anonymous form
        priority=0,
        body_encoding="base64",
        delivery_tag=str(uuid.uuid4()),
    )
    return json.dumps({
        "body": base64.b64encode(json.dumps(body).encode()).decode(),
        "content-encoding": "utf-8",
        "content-type": "application/json",
        "headers": headers,
        "properties": properties,
    })


@lru_cache
def _broker() -> redis.Redis:
    from workers.celery_app import celery_app

    return redis.Redis.from_url(celery_app.conf.broker_url, socket_timeout=5, socket_connect_timeout=5)


# --- the API's background publisher -----------------------------------------------------------


class _Publisher:
    """One thread that publishes what committing threads hand it, at once and many messages per round
    trip, and confirms them in batches shortly after."""

    MAX_BATCH = 500
    MAX_BACKLOG = 50_000  # messages committed beyond this are left to the relay
    CONFIRM_EVERY_SECONDS = 0.25
    CONFIRM_BATCH = 1000

    def __init__(self) -> None:
        self.pid = os.getpid()
        self._queue: queue.SimpleQueue[Pending | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._loop, name="outbox-publisher", daemon=True)
        self._thread.start()

    def submit(self, messages: list[Pending]) -> bool:
        """False if this publisher cannot take them (another process forked it, or its thread is gone)."""
        if os.getpid() != self.pid or not self._thread.is_alive():
            return False
        if self._queue.qsize() > self.MAX_BACKLOG:  # the broker has been away for long: no request waits for it
            log.warning("outbox_backlog_full", outbox_ids=[m.id for m in messages])
            return True
        for message in messages:
            self._queue.put(message)
        return True

    def stop(self, timeout: float) -> None:
        self._queue.put(None)
        self._thread.join(timeout)

    def _loop(self) -> None:
        unconfirmed: list[int] = []
        confirm_at = 0.0
        stopping = False
        while not stopping:
            batch: list[Pending] = []
            try:
                wait = max(0.0, confirm_at - time.monotonic()) if unconfirmed else None
                item = self._queue.get(timeout=wait)
                while True:
                    if item is None:
                        stopping = True
                    else:
                        batch.append(item)
                    if len(batch) >= self.MAX_BATCH:
                        break
                    item = self._queue.get_nowait()
            except queue.Empty:
                pass
            try:
                if batch:
                    if not unconfirmed:
                        confirm_at = time.monotonic() + self.CONFIRM_EVERY_SECONDS
                    unconfirmed += publish(batch)
                if unconfirmed and (stopping or len(unconfirmed) >= self.CONFIRM_BATCH
                                    or time.monotonic() >= confirm_at):
                    confirm(unconfirmed)
                    unconfirmed = []
            except Exception:  # never let the thread die; unconfirmed messages are the relay's
                log.exception("outbox_publisher_failed")
                unconfirmed = []


_publisher: _Publisher | None = None
_publisher_lock = threading.Lock()


def start_publisher() -> None:
    """Publish after commit from a background thread of this process (the API's lifespan starts it)."""
    global _publisher
    with _publisher_lock:
        if _publisher is None or _publisher.pid != os.getpid():
            _publisher = _Publisher()


def stop_publisher(timeout: float = 10.0) -> None:
    """Publish and confirm what is queued, then stop; later commits publish in their own thread again."""
    global _publisher
    with _publisher_lock:
        publisher, _publisher = _publisher, None
    if publisher is not None and publisher.pid == os.getpid():
        publisher.stop(timeout)


# --- the relay --------------------------------------------------------------------------------


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
    if due:
        send_many((message.task, message.queue, message.kwargs) for message in due)
    for message in due:
        message.published_at = now
        message.publish_attempts += 1
    if due:
        OUTBOX_PUBLISHED.labels("relay").inc(len(due))
    return len(due)


def purge_published(session: Session, *, older_than: timedelta = timedelta(days=7)) -> int:
    result = session.execute(delete(OutboxMessage).where(
        OutboxMessage.published_at.is_not(None), OutboxMessage.published_at < datetime.now(UTC) - older_than))
    return result.rowcount
