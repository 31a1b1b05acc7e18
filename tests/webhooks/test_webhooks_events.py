"""The domains announce their events in the transaction of the change: a review requested, decided and
expired, a pipeline stopped, an invoice issued, a coaching card created; each a webhook event with one
pending delivery for every enabled endpoint that wants it."""

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from app.auth.permissions import Role
from app.coaching import service as coaching
from app.core.context import TenantContext
from app.core.db import bind_tenant
from app.invoices import service as invoices
from app.models import OutboxMessage, WebhookDelivery, WebhookEvent
from app.reviews import service as reviews
from app.webhooks import service
from app.webhooks.schemas import EventType, WebhookCreate
from tests.builders import make_tenant, rebind
from tests.coaching.helpers import add_client
from tests.invoices.helpers import draft, line
from tests.pipelines.test_pipelines_api import _lead, _start
from tests.reviews.kinds import NOTE  # noqa: F401 - registers the test_note review kind

PROPOSAL = {"text": "Offer 10% off the first year", "amount": "900.00"}


def _subscribed(db, webhook_settings, *events: EventType):
    tenant = make_tenant(db)
    service.create_endpoint(db, TenantContext.system(tenant.id),
                            WebhookCreate(url="http://127.0.0.1:9/hooks", events=list(events or EventType)))
    return tenant


def _events(db, tenant_id) -> list[WebhookEvent]:
    rebind(db, tenant_id)
    return list(db.scalars(select(WebhookEvent).where(WebhookEvent.tenant_id == tenant_id)
                           .order_by(WebhookEvent.created_at, WebhookEvent.id)))


def _open_review(db, tenant):
    bind_tenant(db, tenant.id)
    return reviews.open_review(db, TenantContext.system(tenant.id), entity_type="test_note", entity_id=uuid.uuid4(),
                               agent="echo", proposal=dict(PROPOSAL), summary="a note")


def test_a_review_announces_its_request_and_its_decision(db, client, webhook_settings):
    tenant = _subscribed(db, webhook_settings)
    review = _open_review(db, tenant)
    decided = client.post(f"/api/v1/reviews/test_note/{review.entity_id}/decision", json={"decision": "approve"},
                          headers=tenant.headers(Role.reviewer))
    assert decided.status_code == 200, decided.text
    events = {e.type: e for e in _events(db, tenant.id)}  # one transaction: the same created_at
    assert set(events) == {"review.requested", "review.decided"}
    decision = events["review.decided"].payload
    assert decision["decision"] == "approve" and decision["review_id"] == str(review.id)
    deliveries = db.scalars(select(WebhookDelivery).where(WebhookDelivery.tenant_id == tenant.id)).all()
    assert {d.status for d in deliveries} == {"pending"} and len(deliveries) == 2
    queued = db.scalars(select(OutboxMessage).where(OutboxMessage.task == "webhooks.deliver")).all()
    assert {m.kwargs["delivery_id"] for m in queued} >= {str(d.id) for d in deliveries}


def test_an_expired_review_is_announced(db, webhook_settings):
    tenant = _subscribed(db, webhook_settings, EventType.review_expired)
    review = _open_review(db, tenant)
    review.deadline_at = datetime.now(UTC) - timedelta(minutes=1)
    db.flush()
    assert reviews._handle_deadline(db, TenantContext.system(tenant.id), review.id, "expire") == "expired"
    assert [e.type for e in _events(db, tenant.id)] == ["review.expired"]


def test_a_cancelled_pipeline_is_announced_as_stopped(db, client, webhook_settings):
    tenant = _subscribed(db, webhook_settings, EventType.pipeline_stopped, EventType.pipeline_completed)
    pipeline_id = _start(client, tenant, _lead(db, tenant)).json()["id"]
    assert client.post(f"/api/v1/pipelines/{pipeline_id}/cancel", headers=tenant.headers(Role.operator)).status_code == 200
    [event] = _events(db, tenant.id)
    assert (event.type, event.payload["pipeline_id"], event.payload["status"]) == (
        "pipeline.stopped", pipeline_id, "cancelled")


def test_an_issued_invoice_is_announced_with_its_amounts_as_strings(db, webhook_settings):
    tenant = _subscribed(db, webhook_settings, EventType.invoice_issued)
    invoice = invoices.issue(db, TenantContext.system(tenant.id),
                             draft(db, tenant.id, line(description="Seats", quantity="3", unit_price="100")).id)
    [event] = _events(db, tenant.id)
    assert event.type == "invoice.issued"
    assert (event.payload["invoice_id"], event.payload["number"]) == (str(invoice.id), invoice.number)
    assert event.payload["total_with_tax"] == "357.00" and event.payload["currency"] == invoice.currency


def test_a_coaching_card_is_announced(db, webhook_settings):
    tenant = _subscribed(db, webhook_settings, EventType.coaching_card_created)
    coachee = add_client(db, tenant.id)
    [card] = coaching.record_cards(db, TenantContext.system(tenant.id), client_id=coachee.id, run_id=None,
                                   week="2025-W10", cards=[{"kind": "missed_check_ins", "severity": "warning",
                                                            "seen": "No check-in on Monday.", "action": "Message them.",
                                                            "evidence": [{"day": "2025-03-03"}]}])
    [event] = _events(db, tenant.id)
    assert (event.type, event.payload["card_id"], event.payload["severity"]) == (
        "coaching_card.created", str(card.id), "warning")


def test_nothing_is_written_for_a_tenant_without_endpoints(db):
    tenant = make_tenant(db)
    _open_review(db, tenant)
    assert _events(db, tenant.id) == []


def _announcements(db, run_id) -> list[OutboxMessage]:
    return [message for message in db.scalars(select(OutboxMessage).where(OutboxMessage.task == "runs.announce_outcome"))
            if message.kwargs["run_id"] == str(run_id)]


def _ended_run(db, tenant, target):
    from app.runs import service as runs
    from app.runs.state import RunStatus, transition

    rebind(db, tenant.id)
    run = runs.create_run(db, TenantContext.system(tenant.id), "echo", {"message": "hello"})
    assert transition(db, run, RunStatus.running, attempt=1)
    assert transition(db, run, target, **({"output": {"echo": "hello"}} if target is RunStatus.succeeded else {}))
    return run


def test_a_run_s_end_is_announced_in_its_outcome_statement_while_an_endpoint_wants_run_events(db, webhook_settings):
    from app.runs.state import RunStatus

    tenant = _subscribed(db, webhook_settings, EventType.run_failed)
    for target in (RunStatus.succeeded, RunStatus.failed):  # which event an endpoint wants is the handler's
        run = _ended_run(db, tenant, target)
        assert [message.kwargs for message in _announcements(db, run.id)] == [
            {"run_id": str(run.id), "tenant_id": str(tenant.id), "status": target.value, "attempt": 1}]
    assert _announcements(db, _ended_run(db, tenant, RunStatus.cancelled).id) == []  # not an event


def test_a_tenant_whose_endpoints_want_no_run_events_has_no_announcement_written(db, client, webhook_settings):
    from app.runs.state import RunStatus

    tenant = _subscribed(db, webhook_settings, EventType.run_succeeded)
    [endpoint], _ = service.list_endpoints(db, TenantContext.system(tenant.id), limit=50)
    response = client.patch(f"/api/v1/webhooks/{endpoint.id}", json={"events": ["invoice.issued"]},
                            headers=tenant.headers(Role.admin))
    assert response.status_code == 200, response.text
    assert _announcements(db, _ended_run(db, tenant, RunStatus.succeeded).id) == []
    response = client.patch(f"/api/v1/webhooks/{endpoint.id}", json={"events": ["run.succeeded"]},
                            headers=tenant.headers(Role.admin))
    assert len(_announcements(db, _ended_run(db, tenant, RunStatus.succeeded).id)) == 1
    client.delete(f"/api/v1/webhooks/{endpoint.id}", headers=tenant.headers(Role.admin))
    assert _announcements(db, _ended_run(db, tenant, RunStatus.succeeded).id) == []


def test_announcing_a_run_twice_makes_one_event(db, webhook_settings):
    from app.runs.state import RunStatus

    tenant = _subscribed(db, webhook_settings, EventType.run_succeeded)
    run = _ended_run(db, tenant, RunStatus.succeeded)
    for _ in range(2):
        service.announce_run_outcome(db, tenant.id, run.id, "succeeded", 1)
    [event] = _events(db, tenant.id)
    assert event.type == "run.succeeded" and event.payload["run"]["id"] == str(run.id)
    assert event.payload["run"]["output"] == {"echo": "hello"} and event.payload["run"]["error"] is None
