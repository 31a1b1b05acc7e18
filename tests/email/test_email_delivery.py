"""The send, in this process, against a real SMTP server (aiosmtpd) and committed rows: what each
outcome records. tests/email/test_email_worker.py runs the same through the queue and real workers."""

import email as email_parser
import ssl
import uuid
from email.policy import default

import pytest
from sqlalchemy import select, text

from app.core.db import get_engine, session_scope
from app.email.delivery import deliver
from app.email.state import EmailStatus
from app.models import OutboxMessage, Pipeline, Suppression
from tests.email.conftest import load
from tests.email.smtp_sink import Sink, self_signed_certificate, start_smtp
from tests.runs.cluster import free_port


def _outbox(task: str, email_id: uuid.UUID | None = None, pipeline_id: uuid.UUID | None = None) -> list[OutboxMessage]:
    with session_scope() as session:
        messages = session.scalars(select(OutboxMessage).where(OutboxMessage.task == task)).all()
    return [m for m in messages if (email_id is None or m.kwargs.get("email_id") == str(email_id))
            and (pipeline_id is None or m.kwargs.get("pipeline_id") == str(pipeline_id))]


def _suppress(tenant_id: uuid.UUID, kind: str, value: str) -> None:
    with session_scope(tenant_id) as session:
        session.add(Suppression(tenant_id=tenant_id, kind=kind, value=value, reason="asked to be left alone",
                                created_by_type="system"))


def test_an_approved_email_is_sent_once_with_its_headers(email_settings, smtp_server, tenant, make_email):
    port, sink = smtp_server
    email_settings(SMTP_URL=f"smtp://127.0.0.1:{port}")
    pipeline_id = uuid.uuid4()
    email = make_email(pipeline_id=pipeline_id)

    assert deliver(email.id, tenant.id) == "sent"
    assert deliver(email.id, tenant.id) == "sent"  # a duplicate delivery of the task: nothing to do

    [message] = sink.accepted_with(email.message_id)
    assert len(sink.accepted) == 1
    assert message["To"] == email.to_address and message["Subject"] == "A first note"
    assert message["From"] == "Acme Sales <sales@acme.example>" and message["Date"]
    assert message["Message-ID"] == f"<{email.id}@mail.acme.example>"
    assert message["List-Unsubscribe"].startswith("<mailto:sales@acme.example?subject=unsubscribe")
    assert sink.envelopes == [("sales@acme.example", [email.to_address])]
    row = load(tenant.id, email.id)
    assert (row.status, row.transport, row.send_attempts, row.error) == ("sent", "smtp", 1, None)
    assert row.sent_at is not None
    assert len(_outbox("pipelines.advance", pipeline_id=pipeline_id)) == 1


def test_a_lead_suppressed_after_approval_is_not_sent(email_settings, smtp_server, tenant, make_email):
    port, sink = smtp_server
    email_settings(SMTP_URL=f"smtp://127.0.0.1:{port}")
    by_address = make_email(to_address="Dana.Lead@prospect-one.example")
    by_domain = make_email(to_address="sam@mail.prospect-two.example", pipeline_id=uuid.uuid4())
    _suppress(tenant.id, "email", "dana.lead@prospect-one.example")
    _suppress(tenant.id, "domain", "prospect-two.example")

    assert deliver(by_address.id, tenant.id) == "suppressed"
    assert deliver(by_domain.id, tenant.id) == "suppressed"
    assert sink.offered == []
    for email in (by_address, by_domain):
        row = load(tenant.id, email.id)
        assert row.status == "suppressed" and row.send_attempts == 0 and "suppression list" in row.error
    assert len(_outbox("pipelines.advance", pipeline_id=by_domain.pipeline_id)) == 1


def test_a_permanent_refusal_fails_the_email_with_the_servers_reply(email_settings, smtp_server, tenant, make_email):
    port, sink = smtp_server
    email_settings(SMTP_URL=f"smtp://127.0.0.1:{port}")
    sink.refuse_recipients = "550 5.1.1 No such mailbox"
    email = make_email()
    assert deliver(email.id, tenant.id) == "failed"
    row = load(tenant.id, email.id)
    assert row.status == "failed" and "550" in row.error and "No such mailbox" in row.error
    assert row.send_attempts == 1 and _outbox("email.send", email.id) == []


def test_a_transient_refusal_is_retried_with_the_same_message_id(email_settings, smtp_server, tenant, make_email):
    port, sink = smtp_server
    email_settings(SMTP_URL=f"smtp://127.0.0.1:{port}")
    sink.data_replies = ["451 4.3.0 Try again later"]
    email = make_email()

    assert deliver(email.id, tenant.id) == "retry_scheduled"
    row = load(tenant.id, email.id)
    assert row.status == "approved" and row.send_attempts == 1 and "451" in row.error
    [retry] = _outbox("email.send", email.id)
    assert retry.countdown_seconds <= 0.2 and retry.published_at is None  # the relay publishes it when due

    assert deliver(email.id, tenant.id) == "sent"
    offered = sink.offered_with(email.message_id)
    assert len(offered) == 2 and len(sink.accepted_with(email.message_id)) == 1
    assert load(tenant.id, email.id).send_attempts == 2


def test_connection_refused_is_transient_and_the_attempts_are_bounded(email_settings, tenant, make_email):
    email_settings(SMTP_URL=f"smtp://127.0.0.1:{free_port()}", EMAIL_SEND_MAX_ATTEMPTS="2")
    email = make_email()
    assert deliver(email.id, tenant.id) == "retry_scheduled"
    assert "ConnectionRefusedError" in load(tenant.id, email.id).error
    assert deliver(email.id, tenant.id) == "failed"
    row = load(tenant.id, email.id)
    assert row.status == "failed" and row.send_attempts == 2
    assert row.error.startswith("gave up after 2 attempts") and "ConnectionRefusedError" in row.error
    assert len(_outbox("email.send", email.id)) == 1  # the one retry; none after giving up


def test_an_email_being_sent_by_another_worker_is_looked_at_again_later(email_settings, smtp_server, tenant,
                                                                         make_email):
    port, sink = smtp_server
    email_settings(SMTP_URL=f"smtp://127.0.0.1:{port}")
    email = make_email()
    with get_engine().connect() as other_worker:
        other_worker.execute(text("SELECT pg_advisory_lock(hashtextextended('email.send:' || :id, 0))"),
                             {"id": str(email.id)})
        assert deliver(email.id, tenant.id) == "busy"
        other_worker.execute(text("SELECT pg_advisory_unlock_all()"))
        other_worker.commit()
    assert sink.offered == [] and load(tenant.id, email.id).send_attempts == 0
    assert len(_outbox("email.send", email.id)) == 1
    assert deliver(email.id, tenant.id) == "sent"


@pytest.mark.parametrize("status", [EmailStatus.draft, EmailStatus.rejected, EmailStatus.cancelled])
def test_only_an_approved_email_is_sent(email_settings, smtp_server, tenant, make_email, status):
    port, sink = smtp_server
    email_settings(SMTP_URL=f"smtp://127.0.0.1:{port}")
    email = make_email(status)
    assert deliver(email.id, tenant.id) == status.value
    assert sink.offered == [] and load(tenant.id, email.id).send_attempts == 0


def test_an_email_of_a_cancelled_pipeline_is_not_sent(email_settings, smtp_server, tenant, make_email):
    port, sink = smtp_server
    email_settings(SMTP_URL=f"smtp://127.0.0.1:{port}")
    lead_id = make_email(EmailStatus.draft).lead_id
    with session_scope(tenant.id) as session:
        pipeline = Pipeline(tenant_id=tenant.id, lead_id=lead_id, status="cancelled", requested_by_type="system")
        session.add(pipeline)
    email = make_email(pipeline_id=pipeline.id)
    assert deliver(email.id, tenant.id) == "cancelled"
    assert sink.offered == [] and load(tenant.id, email.id).status == "cancelled"


def test_without_smtp_the_file_outbox_holds_one_eml_per_email(email_settings, tmp_path, tenant, make_email):
    email_settings(EMAIL_OUTBOX_DIR=str(tmp_path / "outbox"),
                   EMAIL_UNSUBSCRIBE_URL="https://acme.example/unsubscribe/{email_id}")
    email = make_email()
    assert deliver(email.id, tenant.id) == "sent"
    [written] = list((tmp_path / "outbox").iterdir())
    message = email_parser.message_from_bytes(written.read_bytes(), policy=default)
    assert message["Message-ID"] == email.message_id and message["To"] == email.to_address
    assert message["Subject"] == "A first note" and message["From"] == "Acme Sales <sales@acme.example>"
    assert message["Date"].datetime is not None
    assert message["List-Unsubscribe"].split() == [  # folded at the comma on the wire: a long header
        f"<https://acme.example/unsubscribe/{email.id}>,",
        f"<mailto:sales@acme.example?subject=unsubscribe+{email.id}>"]
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert load(tenant.id, email.id).transport == "file"


def test_credentials_in_the_smtp_url_log_in(email_settings, tenant, make_email):
    port, sink = free_port(), Sink()
    controller, _ = start_smtp(port, sink, auth_require_tls=False, authenticator=sink.authenticate)
    try:
        email_settings(SMTP_URL=f"smtp://mailer%40acme.example:p%40ss%3Aword@127.0.0.1:{port}")
        email = make_email()
        assert deliver(email.id, tenant.id) == "sent"
        assert sink.logins == [("mailer@acme.example", "p@ss:word")]
        assert len(sink.accepted_with(email.message_id)) == 1
    finally:
        controller.stop()


def test_a_tenant_sends_only_its_own_emails(email_settings, smtp_server, tenant, make_email, committed_db):
    from tests.builders import committed_tenant

    port, sink = smtp_server
    email_settings(SMTP_URL=f"smtp://127.0.0.1:{port}")
    email = make_email()
    stranger = committed_tenant(committed_db)
    assert deliver(email.id, stranger.id) == "missing"
    assert sink.offered == [] and load(tenant.id, email.id).status == "approved"
    assert deliver(email.id, tenant.id) == "sent"


@pytest.mark.parametrize("mode", ["starttls", "smtps"])
def test_tls_is_used_and_the_certificate_verified(email_settings, tenant, make_email, tmp_path, monkeypatch, mode):
    certificate, key = self_signed_certificate(tmp_path)
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(certificate, key)
    port, sink = free_port(), Sink()
    options = ({"tls_context": server_tls, "require_starttls": True} if mode == "starttls"
               else {"ssl_context": server_tls, "server_hostname": "127.0.0.1"})
    monkeypatch.setenv("SSL_CERT_FILE", certificate)  # the client trusts the test certificate, and only it
    controller, _ = start_smtp(port, sink, **options)
    try:
        url = (f"smtp://127.0.0.1:{port}?starttls=true" if mode == "starttls" else f"smtps://127.0.0.1:{port}")
        email_settings(SMTP_URL=url)
        email = make_email()
        assert deliver(email.id, tenant.id) == "sent"
        assert len(sink.accepted_with(email.message_id)) == 1

        monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "no-such-ca.pem"))  # a server nobody vouches for
        untrusted = make_email()
        assert deliver(untrusted.id, tenant.id) == "retry_scheduled"
        assert "CERTIFICATE_VERIFY_FAILED" in load(tenant.id, untrusted.id).error
        assert sink.accepted_with(untrusted.message_id) == []
    finally:
        controller.stop()


def test_an_approved_email_whose_send_was_lost_is_published_again(tenant, make_email):
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import update

    from app.email import delivery
    from app.models import EmailLog

    lost = make_email()  # approved, and no send was ever enqueued: as if its message had been lost
    fresh = make_email()
    with session_scope(tenant.id) as session:
        session.execute(update(EmailLog).where(EmailLog.id == lost.id)
                        .values(updated_at=datetime.now(UTC) - timedelta(hours=1)))

    def sends(email_id) -> int:
        with session_scope() as session:
            return sum(message.kwargs["email_id"] == str(email_id) for message in session.scalars(
                select(OutboxMessage).where(OutboxMessage.task == delivery.SEND_TASK)))

    assert delivery.republish_stalled() >= 1
    assert (sends(lost.id), sends(fresh.id)) == (1, 0)
    delivery.republish_stalled()  # the next sweep waits a full period for it again
    assert sends(lost.id) == 1
