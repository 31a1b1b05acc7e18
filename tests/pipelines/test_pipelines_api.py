"""The pipeline API without workers (rolled-back DB): starting, reading, cancelling; roles, tenants,
idempotency, and how stages read their records."""

import json
import uuid

import pytest
from sqlalchemy import func, select

from app.auth.permissions import Role
from app.models import AgentRun, Review
from app.pipelines import service
from app.runs.state import RunStatus, transition
from tests.builders import make_tenant, rebind
from tests.records import add_lead, statements


def _lead(db, tenant):
    return add_lead(db, tenant.id, name="Ada Lovelace", company="Analytical Engines")


def _start(client, tenant, lead, role=Role.operator, **headers):
    return client.post("/api/v1/pipeline/run", json={"lead_id": str(lead.id)},
                       headers={**tenant.headers(role), **headers})


def test_starting_a_pipeline_creates_its_stages_and_its_first_run(db, client):
    tenant = make_tenant(db)
    lead = _lead(db, tenant)
    response = _start(client, tenant, lead)
    assert response.status_code == 202, response.text
    body = response.json()
    assert (body["status"], body["current_stage"], body["lead_id"]) == ("running", "sdr", str(lead.id))
    assert [(s["name"], s["kind"], s["status"]) for s in body["stages"]] == [
        ("sdr", "run", "active"), ("review_email", "review", "pending"), ("send_email", "action", "pending"),
        ("sales", "run", "pending"), ("review_proposal", "review", "pending"), ("negotiation", "action", "pending"),
        ("finance", "run", "pending"), ("review_invoice", "review", "pending"), ("issue_invoice", "action", "pending"),
        ("client", "action", "pending")]
    sdr = db.get(AgentRun, uuid.UUID(body["stages"][0]["run_id"]))
    assert (sdr.agent, sdr.status, sdr.input, str(sdr.pipeline_id)) == ("sdr", "queued", {"lead_id": str(lead.id)},
                                                                      body["id"])
    assert body["stages"][0]["waiting_for"].startswith("the SDR agent")
    listed = client.get("/api/v1/pipelines", headers=tenant.headers(Role.viewer)).json()
    assert [item["id"] for item in listed["items"]] == [body["id"]]


def test_the_list_gives_each_pipelines_lead_and_stage_in_queries_that_do_not_grow_with_the_page(db, client):
    tenant = make_tenant(db)
    headers = tenant.headers(Role.viewer)
    cancelled = _start(client, tenant, _lead(db, tenant)).json()
    assert client.post(f"/api/v1/pipelines/{cancelled['id']}/cancel", headers=tenant.headers(Role.operator)).status_code == 200
    with statements(db) as few:
        assert len(client.get("/api/v1/pipelines", headers=headers).json()["items"]) == 1
    for number in range(5):
        _start(client, tenant, add_lead(db, tenant.id, name=f"Lead {number}", email=f"lead{number}@example.com"))
    with statements(db) as many:
        items = client.get("/api/v1/pipelines", headers=headers).json()["items"]
    assert len(items) == 6 and len(many) == len(few)

    by_lead = {item["lead"]["name"]: item for item in items}  # one transaction: created at the same time
    running, stopped = by_lead["Lead 4"], by_lead["Ada Lovelace"]
    assert running["lead"] == {"id": running["lead_id"], "name": "Lead 4", "email": "lead4@example.com", "company": None}
    assert (running["stage"]["name"], running["stage"]["position"], running["stage"]["status"],
            running["stage_count"]) == ("sdr", 0, "active", 10)
    assert running["stage"]["waiting_for"].startswith("the SDR agent")
    assert stopped["lead"]["company"] == "Analytical Engines"
    assert (stopped["status"], stopped["stage"]["name"], stopped["stage"]["status"]) == ("cancelled", "sdr", "cancelled")


def test_one_running_pipeline_per_lead_and_the_idempotency_key_replays(db, client):
    tenant = make_tenant(db)
    lead = _lead(db, tenant)
    first = _start(client, tenant, lead, **{"Idempotency-Key": "k-1"})
    replay = _start(client, tenant, lead, **{"Idempotency-Key": "k-1"})
    assert first.status_code == replay.status_code == 202
    assert replay.json()["id"] == first.json()["id"] and replay.headers["Idempotent-Replayed"] == "true"
    second = _start(client, tenant, lead)
    assert second.status_code == 409 and first.json()["id"] in second.json()["detail"]
    assert len(db.scalars(select(AgentRun).where(AgentRun.tenant_id == tenant.id)).all()) == 1


@pytest.mark.parametrize("role", list(Role))
def test_starting_and_cancelling_need_an_operator(db, client, role):
    tenant = make_tenant(db)
    lead = _lead(db, tenant)
    allowed = role in (Role.owner, Role.admin, Role.operator)
    started = _start(client, tenant, lead, role=role)
    assert started.status_code == (202 if allowed else 403)
    pipeline_id = started.json()["id"] if allowed else _start(client, tenant, lead).json()["id"]
    cancel = client.post(f"/api/v1/pipelines/{pipeline_id}/cancel", headers=tenant.headers(role))
    assert cancel.status_code == (200 if allowed else 403)
    assert client.get(f"/api/v1/pipelines/{pipeline_id}", headers=tenant.headers(role)).status_code == 200


def test_another_tenants_lead_and_pipeline_are_404(db, client):
    owner, other = make_tenant(db), make_tenant(db)
    rebind(db, owner.id)
    lead = _lead(db, owner)
    pipeline_id = _start(client, owner, lead).json()["id"]
    assert _start(client, other, lead).status_code == 404
    assert client.get(f"/api/v1/pipelines/{pipeline_id}", headers=other.headers(Role.owner)).status_code == 404
    assert client.post(f"/api/v1/pipelines/{pipeline_id}/cancel", headers=other.headers(Role.owner)).status_code == 404
    assert client.get("/api/v1/pipelines", headers=other.headers(Role.owner)).json()["items"] == []


def test_bad_input_is_a_clear_4xx_that_starts_nothing(db, client):
    tenant = make_tenant(db)
    headers = tenant.headers(Role.operator)
    assert client.post("/api/v1/pipeline/run", json={"lead_id": "not-a-uuid"}, headers=headers).status_code == 422
    assert client.post("/api/v1/pipeline/run", json={"lead_id": str(uuid.uuid4())}, headers=headers).status_code == 404
    assert client.post("/api/v1/pipeline/run", json={"lead_id": str(uuid.uuid4()), "x": 1},
                       headers=headers).status_code == 422
    assert db.scalars(select(AgentRun).where(AgentRun.tenant_id == tenant.id)).all() == []


def _sdr_waits_for_its_review(db, tenant, body: dict) -> tuple[AgentRun, Review]:
    """By hand: the pipeline's SDR run ends awaiting review, and its email's review is open."""
    run = db.get(AgentRun, uuid.UUID(body["stages"][0]["run_id"]))
    assert transition(db, run, RunStatus.running, attempt=run.attempt + 1)
    assert transition(db, run, RunStatus.awaiting_review, output={"email_id": str(uuid.uuid4()), "score": 90})
    review = Review(tenant_id=tenant.id, entity_type="email", entity_id=uuid.UUID(run.output["email_id"]),
                    agent="sdr", run_id=run.id, pipeline_id=uuid.UUID(body["id"]), status="pending", proposal={},
                    requested_by_type="system", deadline_at=run.updated_at)
    db.add(review)
    db.flush()
    return run, review


def test_advancing_reads_the_records_and_is_idempotent(db, client):
    """Driven by hand: the SDR run waits for review, its review is approved: the pipeline waits for the send."""
    tenant = make_tenant(db)
    lead = _lead(db, tenant)
    body = _start(client, tenant, lead).json()
    pipeline_id = uuid.UUID(body["id"])
    run, review = _sdr_waits_for_its_review(db, tenant, body)
    for _ in range(2):  # a duplicate signal changes nothing
        assert service.advance(db, tenant.id, pipeline_id) == "running"
    stages = {s.name: s for s in service.stages_of(db, pipeline_id)}
    assert (stages["sdr"].status, stages["review_email"].status) == ("succeeded", "active")
    assert stages["review_email"].review_id == review.id and stages["review_email"].waiting_until == review.deadline_at
    review.status = "rejected"
    db.flush()
    assert service.advance(db, tenant.id, pipeline_id) == "rejected"
    assert stages["review_email"].status == "rejected" and stages["send_email"].status == "pending"


def test_a_disqualified_lead_stops_the_pipeline_after_the_sdr_stage(db, client):
    tenant = make_tenant(db)
    body = _start(client, tenant, _lead(db, tenant)).json()
    run = db.get(AgentRun, uuid.UUID(body["stages"][0]["run_id"]))
    assert transition(db, run, RunStatus.running, attempt=run.attempt + 1)
    assert transition(db, run, RunStatus.succeeded, output={"email_id": None, "score": 12, "bucket": "disqualified"})
    assert service.advance(db, tenant.id, uuid.UUID(body["id"])) == "stopped"
    pipeline = client.get(f"/api/v1/pipelines/{body['id']}", headers=tenant.headers(Role.viewer)).json()
    assert pipeline["stopped_reason"] == "the lead was disqualified by the SDR agent (score 12)"
    assert pipeline["stages"][0]["run_status"] == "succeeded"


def test_the_runs_end_signals_its_pipeline_in_the_same_transaction(db, client):
    from app.models import OutboxMessage

    tenant = make_tenant(db)
    body = _start(client, tenant, _lead(db, tenant)).json()
    run = db.get(AgentRun, uuid.UUID(body["stages"][0]["run_id"]))
    assert transition(db, run, RunStatus.cancelled)
    signals = db.scalars(select(OutboxMessage).where(OutboxMessage.task == "pipelines.advance")).all()
    assert {"pipeline_id": body["id"], "tenant_id": str(tenant.id)} in [s.kwargs for s in signals]


def test_a_transaction_signals_its_pipeline_once_however_many_of_its_changes_concern_it(db, client):
    from app.core.signals import advance_pipeline
    from app.models import OutboxMessage

    tenant = make_tenant(db)
    body = _start(client, tenant, _lead(db, tenant)).json()
    pipeline_id = uuid.UUID(body["id"])
    before = db.scalar(select(func.count()).select_from(OutboxMessage).where(OutboxMessage.task == "pipelines.advance"))
    rebind(db, tenant.id)
    advance_pipeline(db, tenant.id, pipeline_id)  # a decision's own signal, then its run's outcome
    run = db.get(AgentRun, uuid.UUID(body["stages"][0]["run_id"]))
    assert transition(db, run, RunStatus.cancelled)
    advance_pipeline(db, tenant.id, pipeline_id)
    after = db.scalar(select(func.count()).select_from(OutboxMessage).where(OutboxMessage.task == "pipelines.advance"))
    assert after - before == 1


def _events(client, tenant, pipeline_id, role=Role.viewer, **headers) -> list[tuple[str, dict]]:
    """Every event of the pipeline's stream, as (event name, data with its id), read until it closes."""
    events, name, event_id = [], None, None
    with client.stream("GET", f"/api/v1/pipelines/{pipeline_id}/events",
                       headers={**tenant.headers(role), **headers}) as stream:
        assert stream.status_code == 200 and stream.headers["content-type"].startswith("text/event-stream")
        for line in stream.iter_lines():
            if line.startswith("id: "):
                event_id = int(line[len("id: "):])
            elif line.startswith("event: "):
                name = line[len("event: "):]
            elif line.startswith("data: "):
                data = json.loads(line[len("data: "):])
                assert data["id"] == event_id
                events.append((name, data))
    return events


def test_the_event_stream_tells_each_stage_change_and_closes_after_the_pipelines_end(db, client):
    tenant = make_tenant(db)
    body = _start(client, tenant, _lead(db, tenant)).json()
    pipeline_id = uuid.UUID(body["id"])
    run, review = _sdr_waits_for_its_review(db, tenant, body)
    service.advance(db, tenant.id, pipeline_id)
    review.status = "rejected"
    db.flush()
    assert service.advance(db, tenant.id, pipeline_id) == "rejected"

    events = _events(client, tenant, pipeline_id)
    assert [(name, data["stage"], data["from_status"], data["to_status"]) for name, data in events] == [
        ("stage", "sdr", "pending", "active"), ("stage", "sdr", "active", "succeeded"),
        ("stage", "review_email", "pending", "active"), ("stage", "review_email", "active", "rejected"),
        ("pipeline", None, "running", "rejected")]
    assert [data["id"] for _, data in events] == [1, 2, 3, 4, 21]
    sdr_started, review_started, review_ended, ended = (data for i, (_, data) in enumerate(events) if i != 1)
    assert sdr_started["run_id"] == str(run.id) and sdr_started["detail"] is None
    assert (review_started["review_id"], review_started["entity_id"]) == (str(review.id), run.output["email_id"])
    assert review_ended["detail"]["reason"] == "the email was rejected by a reviewer: no comment"
    assert ended["detail"] == review_ended["detail"] and ended["position"] is None


def test_a_cancelled_pipelines_stream_ends_every_stage_and_resumes_after_the_last_event_id(db, client):
    tenant = make_tenant(db)
    body = _start(client, tenant, _lead(db, tenant)).json()
    client.post(f"/api/v1/pipelines/{body['id']}/cancel", headers=tenant.headers(Role.operator))
    every = _events(client, tenant, body["id"])
    assert [(data["stage"], data["from_status"], data["to_status"]) for _, data in every] == [
        ("sdr", "pending", "active"), ("sdr", "active", "cancelled"),
        *[(stage["name"], "pending", "cancelled") for stage in body["stages"][1:]], (None, "running", "cancelled")]
    resumed = _events(client, tenant, body["id"], **{"Last-Event-ID": str(every[3][1]["id"])})
    assert resumed == every[4:]
    assert _events(client, tenant, body["id"], **{"Last-Event-ID": "not a number"}) == every


@pytest.mark.parametrize("role", list(Role))
def test_every_role_may_follow_a_pipeline_and_another_tenants_is_404(db, client, role):
    owner, other = make_tenant(db), make_tenant(db)
    rebind(db, owner.id)
    pipeline_id = _start(client, owner, _lead(db, owner)).json()["id"]
    client.post(f"/api/v1/pipelines/{pipeline_id}/cancel", headers=owner.headers(Role.operator))
    assert _events(client, owner, pipeline_id, role)[-1][0] == "pipeline"
    foreign = client.get(f"/api/v1/pipelines/{pipeline_id}/events", headers=other.headers(role))
    assert foreign.status_code == 404 and foreign.headers["content-type"].startswith("application/problem+json")
    assert client.get(f"/api/v1/pipelines/{uuid.uuid4()}/events", headers=owner.headers(role)).status_code == 404
