"""Fixtures of the email tests: a real SMTP server, settings for the process under test, committed
emails, and Celery workers that consume the `email` queue.

No `__init__.py` in this folder on purpose: as a package, `tests/email` could shadow the standard
library's `email` package for the whole test session."""

import uuid
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import select

from app.core.context import TenantContext
from app.core.db import session_scope
from app.email import service
from app.email.state import EmailStatus
from app.models import EmailLog, Lead
from tests.builders import committed_tenant
from tests.environment import process_settings
from tests.email.smtp_sink import Sink, start_smtp
from tests.runs.cluster import Cluster, engine_env, free_port

# Retries in a fraction of a second instead of minutes; the mechanism is the production one.
FAST_EMAIL = {
    "EMAIL_RETRY_BASE_SECONDS": "0.2",
    "EMAIL_RETRY_MAX_SECONDS": "0.5",
    "SMTP_TIMEOUT_SECONDS": "5",
    "EMAIL_FROM": "Acme Sales <sales@acme.example>",
    "EMAIL_MESSAGE_ID_DOMAIN": "mail.acme.example",
}


@pytest.fixture
def smtp_server() -> Iterator[tuple[int, Sink]]:
    port = free_port()
    controller, sink = start_smtp(port)
    yield port, sink
    controller.stop()


@pytest.fixture
def email_settings(migrated) -> Iterator[Callable[..., None]]:
    """configure(NAME=value, …): settings of this process for the rest of the test (FAST_EMAIL included)."""
    with process_settings(FAST_EMAIL, ("SMTP_URL", "EMAIL_OUTBOX_DIR", "EMAIL_SEND_MAX_ATTEMPTS",
                                       "EMAIL_UNSUBSCRIBE_URL", "EMAIL_UNSUBSCRIBE_MAILTO")) as configure:
        yield configure


@pytest.fixture
def tenant(committed_db):
    return committed_tenant(committed_db)


@pytest.fixture
def make_email(tenant) -> Callable[..., EmailLog]:
    """A committed email of a lead of `tenant`, as a draft or already approved (no send enqueued: the
    test decides how the send is triggered)."""

    def make(status: EmailStatus = EmailStatus.approved, *, to_address: str | None = None,
             pipeline_id: uuid.UUID | None = None, subject: str = "A first note") -> EmailLog:
        address = to_address or f"lead-{uuid.uuid4().hex[:8]}@prospect.example"
        with session_scope(tenant.id) as session:
            lead = Lead(tenant_id=tenant.id, name="Dana Lead", email=address.lower())
            session.add(lead)
            session.flush()
            email = service.create_draft(session, TenantContext.system(tenant.id), lead_id=lead.id,
                                         to_address=address, subject=subject, body="Hello Dana,\n\nA short note.\n",
                                         citations=[{"source": "lead", "field": "company"}], run_id=None,
                                         pipeline_id=pipeline_id)
            if status is not EmailStatus.draft:
                email.status = status.value
        return email

    return make


def load(tenant_id: uuid.UUID, email_id: uuid.UUID) -> EmailLog:
    with session_scope(tenant_id) as session:
        return session.scalars(select(EmailLog).where(EmailLog.id == email_id)).one()


@pytest.fixture
def email_cluster(migrated, tmp_path) -> Iterator[Callable[..., Cluster]]:
    """start(**env): a Celery worker on the `email` and `maintenance` queues, and beat (the outbox relay
    publishes the delayed retries), with FAST_EMAIL and `env`. Messages left on the email queue by
    earlier tests are dropped when the test starts."""
    from app.core.redis import get_redis

    get_redis().delete("email")
    clusters: list[Cluster] = []

    def start(*, workers: int = 1, concurrency: int = 2, beat: bool = True, **env: str) -> Cluster:
        cluster = Cluster(engine_env(migrated, **FAST_EMAIL, **env), tmp_path)
        clusters.append(cluster)
        for number in range(workers):
            cluster.start_worker(f"mail{number}", concurrency=concurrency, queues="email,maintenance")
        if beat:
            cluster.start_beat()
        return cluster

    yield start
    for cluster in clusters:
        cluster.stop()
