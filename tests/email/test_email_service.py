"""Drafts, their review, approval and rejection, and the read API (rolled-back database)."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from app.auth.permissions import Role
from app.core.context import TenantContext
from app.core.db import bind_tenant
from app.core.errors import Conflict, UnprocessableEntity
from app.email import service
from app.email.state import EmailStatus
from app.models import EmailLog, Lead, OutboxMessage
from app.reviews.registry import get_kind
from tests.builders import make_tenant

BODY = "Hello Dana,\n\nAcme helps teams like yours ship faster.\n"


def _lead(db, tenant_id, email: str = "dana@prospect.example") -> Lead:
    lead = Lead(tenant_id=tenant_id, name="Dana Lead", email=email)
    db.add(lead)
    db.flush()
    return lead


def _draft(db, tenant, **overrides) -> EmailLog:
    bind_tenant(db, tenant.id)
    lead = overrides.pop("lead", None) or _lead(db, tenant.id, f"dana-{uuid.uuid4().hex[:6]}@prospect.example")
    values = dict(lead_id=lead.id, to_address=lead.email, subject="A first note", body=BODY,
                  citations=[{"source": "lead", "field": "company"}], run_id=None, pipeline_id=None)
    return service.create_draft(db, TenantContext.system(tenant.id), **{**values, **overrides})


def _sends_enqueued(db, email_id) -> int:
    return sum(1 for m in db.scalars(select(OutboxMessage).where(OutboxMessage.task == "email.send"))
               if m.kwargs["email_id"] == str(email_id))


def _decide(client, tenant, email, role=Role.reviewer, **body):
    return client.post(f"/api/v1/reviews/email/{email.id}/decision", json=body, headers=tenant.headers(role))


def test_a_draft_has_its_message_id_from_the_start(db):
    tenant = make_tenant(db)
    email = _draft(db, tenant, subject="  A first\r\nnote  ")
    assert email.status == "draft" and email.send_attempts == 0 and email.sent_at is None
    assert email.message_id == f"<{email.id}@agentline.local>"
    assert email.subject == "A first note"  # one line: a line break would start a header of its own


@pytest.mark.parametrize(("field", "value"), [
    ("to_address", "Dana <dana@prospect.example>"), ("to_address", "dana@prospect.example\nBcc: e@evil.example"),
    ("subject", "   "), ("subject", "x" * 301), ("body", " \n "),
])
def test_a_draft_that_could_not_be_sent_is_refused(db, field, value):
    tenant = make_tenant(db)
    with pytest.raises(UnprocessableEntity):
        _draft(db, tenant, **{field: value})


def test_approval_by_review_sends_the_edited_email_once(db, client):
    tenant = make_tenant(db)
    email = _draft(db, tenant)
    review = service.open_email_review(db, TenantContext.system(tenant.id), email, agent="sdr")
    assert email.review_id == review.id
    assert review.proposal == {"to_address": email.to_address, "subject": "A first note", "body": BODY}

    edit = {"subject": "A better first note", "body": "Hi Dana,\n\nShorter.\n"}
    first = _decide(client, tenant, email, decision="edit", edited_output=edit, comment="tighter")
    assert first.status_code == 200, first.text
    again = _decide(client, tenant, email, decision="edit", edited_output=edit, comment="tighter")
    assert again.status_code == 200

    db.refresh(email)
    assert (email.status, email.subject, email.body) == ("approved", edit["subject"], edit["body"])
    assert email.to_address == review.proposal["to_address"] and email.review_id == review.id
    assert _sends_enqueued(db, email.id) == 1


def test_the_address_is_locked_in_an_edit(db, client):
    tenant = make_tenant(db)
    email = _draft(db, tenant)
    service.open_email_review(db, TenantContext.system(tenant.id), email, agent="sdr")
    response = _decide(client, tenant, email, decision="edit", edited_output={"to_address": "eve@evil.example"})
    assert response.status_code == 422 and "to_address" in response.json()["detail"]
    bad_subject = _decide(client, tenant, email, decision="edit", edited_output={"subject": "two\nlines"})
    assert bad_subject.status_code == 422
    db.refresh(email)
    assert email.status == "draft" and _sends_enqueued(db, email.id) == 0


def test_a_rejected_review_rejects_the_draft_and_nothing_is_sent(db, client):
    tenant = make_tenant(db)
    email = _draft(db, tenant)
    service.open_email_review(db, TenantContext.system(tenant.id), email, agent="sdr")
    assert _decide(client, tenant, email, decision="reject", comment="wrong tone").status_code == 200
    db.refresh(email)
    assert email.status == "rejected" and "wrong tone" in email.error
    assert _sends_enqueued(db, email.id) == 0


def test_the_kind_applied_twice_approves_and_enqueues_once(db):
    tenant = make_tenant(db)
    email = _draft(db, tenant)
    kind, ctx = get_kind("email"), TenantContext.system(tenant.id)
    content = service.review_content(email)
    kind.apply(db, ctx, email.id, content)
    kind.apply(db, ctx, email.id, content)
    assert email.status == "approved" and _sends_enqueued(db, email.id) == 1


def test_a_discarded_email_cannot_be_approved_and_a_sent_one_is_not_discarded(db):
    tenant = make_tenant(db)
    kind, ctx = get_kind("email"), TenantContext.system(tenant.id)
    rejected = _draft(db, tenant)
    kind.discard(db, ctx, rejected.id, "rejected by a reviewer: no")
    assert rejected.status == "rejected"
    with pytest.raises(Conflict, match="rejected"):
        kind.apply(db, ctx, rejected.id, service.review_content(rejected))

    sent = _draft(db, tenant)
    sent.status = EmailStatus.sent.value
    db.flush()
    kind.discard(db, ctx, sent.id, "the pipeline was cancelled")
    assert sent.status == "sent"


def test_a_cancelled_pipeline_cancels_its_approved_email_before_the_send(db):
    tenant = make_tenant(db)
    kind, ctx = get_kind("email"), TenantContext.system(tenant.id)
    pipeline_id = uuid.uuid4()
    email = _draft(db, tenant, pipeline_id=pipeline_id)
    kind.apply(db, ctx, email.id, service.review_content(email))
    kind.discard(db, ctx, email.id, "the pipeline was cancelled")
    assert email.status == "cancelled" and email.error == "the pipeline was cancelled"
    advances = [m.kwargs for m in db.scalars(select(OutboxMessage).where(OutboxMessage.task == "pipelines.advance"))]
    assert {"pipeline_id": str(pipeline_id), "tenant_id": str(tenant.id)} in advances


def test_another_tenants_email_is_404_and_absent_from_lists(db, client):
    mine, theirs = make_tenant(db), make_tenant(db)
    their_email = _draft(db, theirs)
    response = client.get(f"/api/v1/emails/{their_email.id}", headers=mine.headers(Role.owner))
    assert response.status_code == 404 and response.headers["content-type"].startswith("application/problem+json")
    assert client.get("/api/v1/emails", headers=mine.headers(Role.owner)).json() == {"items": [], "next_cursor": None}
    with pytest.raises(Exception, match="not found"):
        get_kind("email").apply(db, TenantContext.system(mine.id), their_email.id, service.review_content(their_email))


def test_list_filters_and_pages_newest_first(db, client):
    tenant = make_tenant(db)
    lead = _lead(db, tenant.id)
    pipeline_id = uuid.uuid4()
    emails = [_draft(db, tenant, lead=lead if i < 3 else None, pipeline_id=pipeline_id if i % 2 else None)
              for i in range(5)]
    start = datetime.now(UTC)
    for offset, email in enumerate(emails):  # one transaction: now() would give them all the same time
        email.created_at = start + timedelta(seconds=offset)
    emails[4].status = EmailStatus.sent.value
    db.flush()
    viewer = tenant.headers(Role.viewer)

    seen, cursor = [], None
    while True:
        page = client.get("/api/v1/emails", params={"limit": 2, **({"cursor": cursor} if cursor else {})},
                          headers=viewer).json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == [str(e.id) for e in reversed(emails)]

    def ids(**params) -> list[str]:
        response = client.get("/api/v1/emails", params=params, headers=viewer)
        assert response.status_code == 200, response.text
        return [item["id"] for item in response.json()["items"]]

    assert ids(lead_id=str(lead.id)) == [str(e.id) for e in reversed(emails[:3])]
    assert ids(pipeline_id=str(pipeline_id)) == [str(emails[3].id), str(emails[1].id)]
    assert ids(status="sent") == [str(emails[4].id)]
    assert client.get("/api/v1/emails", params={"status": "lost"}, headers=viewer).status_code == 422
    assert client.get("/api/v1/emails", params={"cursor": "nope"}, headers=viewer).status_code == 400

    one = client.get(f"/api/v1/emails/{emails[0].id}", headers=viewer).json()
    assert one["message_id"] == emails[0].message_id and one["body"] == BODY and one["status"] == "draft"
    assert one["citations"] == [{"source": "lead", "field": "company"}] and one["send_attempts"] == 0


def test_reading_emails_needs_credentials(client):
    assert client.get("/api/v1/emails").status_code == 401
