"""The send through the real path: outbox → Redis `email` queue → Celery worker processes → a real SMTP
server (aiosmtpd in this process), with retries published by the outbox relay that beat runs."""

import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
from sqlalchemy import func, select

from app.auth.permissions import Role
from app.core import outbox
from app.core.context import TenantContext
from app.core.db import session_scope
from app.core.redis import get_redis
from app.email import service
from app.email.state import EmailStatus
from app.models import OutboxMessage, Suppression
from app.reviews.registry import get_kind
from tests.email.conftest import load
from tests.email.smtp_sink import start_smtp
from tests.runs.cluster import ApiServer, free_port, wait_until


def _approve(tenant_id: uuid.UUID, email_id: uuid.UUID) -> None:
    """What a reviewer's approval does, in a transaction of its own (the send is published after commit)."""
    with session_scope(tenant_id) as session:
        email = service.get_email(session, TenantContext.system(tenant_id), email_id)
        get_kind("email").apply(session, TenantContext.system(tenant_id), email_id, service.review_content(email))


def _status(tenant_id: uuid.UUID, email_id: uuid.UUID) -> str:
    return load(tenant_id, email_id).status


def _settled(email_id: uuid.UUID) -> bool:
    """No send of this email waits anywhere: the queue is empty and every retry was published."""
    with session_scope() as session:
        waiting = session.scalar(select(func.count()).select_from(OutboxMessage).where(
            OutboxMessage.task == "email.send", OutboxMessage.published_at.is_(None),
            OutboxMessage.kwargs["email_id"].astext == str(email_id)))
    return waiting == 0 and get_redis().llen("email") == 0


def test_an_approved_email_is_delivered_once_however_often_it_is_approved_or_delivered(
        email_cluster, smtp_server, tenant, make_email):
    port, sink = smtp_server
    email = make_email(EmailStatus.draft)
    _approve(tenant.id, email.id)
    _approve(tenant.id, email.id)  # the same approval applied again
    duplicates = {"email_id": str(email.id), "tenant_id": str(tenant.id)}
    outbox.send_many([("email.send", "email", duplicates)] * 20)  # and the task delivered 20 more times
    assert get_redis().llen("email") == 21

    email_cluster(workers=2, concurrency=2, SMTP_URL=f"smtp://127.0.0.1:{port}")
    wait_until(lambda: _status(tenant.id, email.id) == "sent", 60, message="the email was not sent")
    wait_until(lambda: _settled(email.id), 60, message="duplicate deliveries still pending")
    wait_until(lambda: get_redis().llen("email") == 0, 10)

    assert len(sink.offered_with(email.message_id)) == 1
    row = load(tenant.id, email.id)
    assert (row.status, row.send_attempts, row.transport) == ("sent", 1, "smtp")


def test_a_lead_suppressed_after_approval_is_not_sent(email_cluster, smtp_server, tenant, make_email):
    port, sink = smtp_server
    email = make_email(EmailStatus.draft)
    _approve(tenant.id, email.id)  # the send waits on the queue: no worker yet
    with session_scope(tenant.id) as session:
        session.add(Suppression(tenant_id=tenant.id, kind="email", value=email.to_address,
                                reason="unsubscribed by phone", created_by_type="system"))

    email_cluster(SMTP_URL=f"smtp://127.0.0.1:{port}")
    wait_until(lambda: _status(tenant.id, email.id) != "approved", 60, message="the send never ran")
    row = load(tenant.id, email.id)
    assert row.status == "suppressed" and row.send_attempts == 0 and row.sent_at is None
    assert sink.offered_with(email.message_id) == []


def test_an_unreachable_server_is_retried_until_it_accepts_with_one_message_id(email_cluster, tenant, make_email):
    port = free_port()  # nothing listens here yet: connection refused
    email = make_email(EmailStatus.draft)
    email_cluster(SMTP_URL=f"smtp://127.0.0.1:{port}", EMAIL_SEND_MAX_ATTEMPTS="100")
    _approve(tenant.id, email.id)

    wait_until(lambda: load(tenant.id, email.id).send_attempts >= 3, 60, message="no retries")
    row = load(tenant.id, email.id)
    assert row.status == "approved" and "ConnectionRefusedError" in row.error

    controller, sink = start_smtp(port)
    sink.data_replies = ["451 4.7.1 Greylisted, come back later"]  # and one 4xx once it is up
    try:
        wait_until(lambda: _status(tenant.id, email.id) == "sent", 60, message="the email was not sent")
    finally:
        controller.stop()
    offered = sink.offered_with(email.message_id)
    assert len(offered) == 2 and len(sink.accepted_with(email.message_id)) == 1
    assert {message["Message-ID"] for message in sink.offered} == {email.message_id}
    row = load(tenant.id, email.id)
    assert row.send_attempts >= 5 and row.error is None and row.sent_at is not None


def test_a_worker_killed_after_the_server_accepted_sends_the_same_message_again(email_cluster, smtp_server, tenant,
                                                                                make_email):
    """At least once: the pool process dies (os._exit) between the server's 250 and the row being marked
    sent; the task is redelivered and the same message, same Message-ID, goes out once more."""
    port, sink = smtp_server
    email = make_email(EmailStatus.draft)
    email_cluster(concurrency=1, SMTP_URL=f"smtp://127.0.0.1:{port}", AGENTLINE_FAILPOINTS="email.after_send.1")
    _approve(tenant.id, email.id)

    wait_until(lambda: _status(tenant.id, email.id) == "sent", 90, message="the email was not sent after the crash")
    accepted = sink.accepted_with(email.message_id)
    assert len(accepted) == 2
    assert accepted[0]["Message-ID"] == accepted[1]["Message-ID"] == email.message_id
    assert load(tenant.id, email.id).send_attempts == 2


def test_the_same_approval_posted_20_times_at_once_sends_one_email(email_cluster, smtp_server, tenant, make_email,
                                                                   tmp_path):
    """Through the HTTP API in its own process: 20 concurrent identical decisions, one send."""
    port, sink = smtp_server
    email = make_email(EmailStatus.draft)
    with session_scope(tenant.id) as session:
        service.open_email_review(session, TenantContext.system(tenant.id), session.merge(email), agent="sdr")
    cluster = email_cluster(SMTP_URL=f"smtp://127.0.0.1:{port}")
    api = ApiServer(cluster.env, tmp_path)
    api.start()
    try:
        def decide(_: int) -> int:
            return httpx.post(f"{api.url}/api/v1/reviews/email/{email.id}/decision", timeout=30,
                              json={"decision": "edit", "edited_output": {"subject": "Hello again"}},
                              headers=tenant.headers(Role.reviewer)).status_code

        with ThreadPoolExecutor(20) as pool:
            statuses = list(pool.map(decide, range(20)))
    finally:
        api.stop()
    assert set(statuses) <= {200, 409} and 200 in statuses, statuses
    wait_until(lambda: _status(tenant.id, email.id) == "sent", 60, message="the email was not sent")
    wait_until(lambda: _settled(email.id), 30, message="sends still pending")
    [message] = sink.offered_with(email.message_id)
    assert message["Subject"] == "Hello again"
    with session_scope() as session:
        sends = session.scalar(select(func.count()).select_from(OutboxMessage).where(
            OutboxMessage.task == "email.send", OutboxMessage.kwargs["email_id"].astext == str(email.id)))
    assert sends == 1 and load(tenant.id, email.id).send_attempts == 1
