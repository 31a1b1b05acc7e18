"""The lead-to-proposal pipeline end to end: started through the HTTP API, its stages executed by real
Celery workers, its reviews decided through the API, its email delivered to a real SMTP server."""

import json
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest

from app.auth.permissions import Role
from app.models import AgentRun, EmailLog, Review
from tests.agents.helpers import FIT_LEAD
from tests.runs.cluster import wait_until

pytestmark = pytest.mark.slow
ACTIVE_RUN = ("queued", "running", "retry_scheduled")


def _start(client, world, lead_id) -> dict:
    response = client.post("/api/v1/pipeline/run", json={"lead_id": str(lead_id)},
                           headers=world.tenant.headers(Role.operator))
    assert response.status_code == 202, response.text
    return response.json()


def _pipeline(client, world, pipeline_id) -> dict:
    return client.get(f"/api/v1/pipelines/{pipeline_id}", headers=world.tenant.headers(Role.viewer)).json()


def _stage(pipeline: dict, name: str) -> dict:
    return next(stage for stage in pipeline["stages"] if stage["name"] == name)


def _wait_for_stage(client, world, pipeline_id, name: str, status: str = "active", timeout: float = 120) -> dict:
    def reached() -> bool:
        pipeline = _pipeline(client, world, pipeline_id)
        return _stage(pipeline, name)["status"] == status or pipeline["status"] != "running"

    wait_until(reached, timeout, message=f"stage {name} did not become {status}")
    pipeline = _pipeline(client, world, pipeline_id)
    assert _stage(pipeline, name)["status"] == status, pipeline
    return pipeline


def _decide(client, world, entity_type, entity_id, **body):
    return client.post(f"/api/v1/reviews/{entity_type}/{entity_id}/decision", json=body,
                       headers=world.tenant.headers(Role.reviewer))


def test_a_lead_becomes_a_client_with_one_email_delivered_and_one_invoice_issued(
        world, live_client, pipeline_cluster, smtp):
    _, sink = smtp
    pipeline_cluster()
    lead_id = world.add_lead(**FIT_LEAD, email="ada@analytical.example")
    pipeline = _start(live_client, world, lead_id)
    assert [stage["name"] for stage in pipeline["stages"]] == [
        "sdr", "review_email", "send_email", "sales", "review_proposal", "negotiation", "finance", "review_invoice",
        "issue_invoice", "client"]
    assert _stage(pipeline, "sdr")["run_id"] and pipeline["current_stage"] == "sdr"

    pipeline = _wait_for_stage(live_client, world, pipeline["id"], "review_email")
    email_id = _stage(pipeline, "review_email")["entity_id"]
    assert _stage(pipeline, "review_email")["waiting_until"]  # the review's deadline
    # The same approval posted twenty times at once: one decision, one email.
    with ThreadPoolExecutor(max_workers=10) as pool:
        answers = list(pool.map(lambda _: _decide(live_client, world, "email", email_id, decision="approve"),
                                range(20)))
    assert {answer.status_code for answer in answers} == {200}
    assert sum("Idempotent-Replayed" not in answer.headers for answer in answers) == 1

    pipeline = _wait_for_stage(live_client, world, pipeline["id"], "review_proposal")
    [email] = world.rows(EmailLog, id=uuid.UUID(email_id))
    assert email.status == "sent" and len(sink.accepted_with(email.message_id)) == 1
    assert sink.accepted_with(email.message_id)[0]["To"] == "ada@analytical.example"
    deal_id = _stage(pipeline, "review_proposal")["entity_id"]
    assert _decide(live_client, world, "proposal", deal_id, decision="approve").status_code == 200

    pipeline = _wait_for_stage(live_client, world, pipeline["id"], "negotiation")  # the client's move now
    assert [stage["status"] for stage in pipeline["stages"][:5]] == ["succeeded"] * 5
    deal = live_client.get(f"/api/v1/deals/{deal_id}", headers=world.tenant.headers(Role.viewer)).json()
    assert (deal["stage"], deal["amount"], deal["pipeline_id"]) == ("proposal", "1250.00", pipeline["id"])
    assert world.lead(lead_id).status == "proposal"
    assert len(sink.accepted) == 1

    # The client counters within policy; the negotiation agent answers; the client accepts that answer.
    operator, viewer = world.tenant.headers(Role.operator), world.tenant.headers(Role.viewer)
    counter = live_client.post(f"/api/v1/deals/{deal_id}/offers", headers=operator,
                               json={"kind": "counter", "amount": "1150.00", "message": "Can you do 1150?"})
    assert counter.status_code == 202, counter.text

    def answered() -> bool:
        rounds = live_client.get(f"/api/v1/deals/{deal_id}/negotiation", headers=viewer).json()["rounds"]
        return any(r["side"] == "agent" and r["status"] in ("sent", "pending_review") for r in rounds)

    wait_until(answered, 60, message="the negotiation agent did not answer")
    for review in live_client.get("/api/v1/reviews", params={"entity_type": "offer", "status": "pending"},
                                  headers=viewer).json()["items"]:  # an answer past the threshold waits for us
        assert _decide(live_client, world, "offer", review["entity_id"], decision="approve").status_code == 200
    ours = [r for r in live_client.get(f"/api/v1/deals/{deal_id}/negotiation", headers=viewer).json()["rounds"]
            if r["side"] == "agent"]
    assert Decimal("1150.00") <= Decimal(ours[-1]["amount"]) < Decimal("1250.00")
    accept = live_client.post(f"/api/v1/deals/{deal_id}/offers", headers=operator, json={"kind": "accept"})
    assert accept.status_code == 202, accept.text

    pipeline = _wait_for_stage(live_client, world, pipeline["id"], "review_invoice")
    invoice_id = _stage(pipeline, "review_invoice")["entity_id"]
    invoice = live_client.get(f"/api/v1/invoices/{invoice_id}", headers=viewer).json()
    assert (invoice["status"], invoice["number"]) == ("draft", None)
    assert _decide(live_client, world, "invoice", invoice_id, decision="approve").status_code == 200

    wait_until(lambda: _pipeline(live_client, world, pipeline["id"])["status"] != "running", 60,
               message="the pipeline did not end")
    pipeline = _pipeline(live_client, world, pipeline["id"])
    assert pipeline["status"] == "succeeded", pipeline
    assert all(stage["status"] == "succeeded" for stage in pipeline["stages"])
    invoice = live_client.get(f"/api/v1/invoices/{invoice_id}", headers=viewer).json()
    assert invoice["status"] == "issued" and invoice["number"].endswith("0001")
    deal = live_client.get(f"/api/v1/deals/{deal_id}", headers=viewer).json()
    assert deal["stage"] == "won" and deal["amount"] == ours[-1]["amount"]
    [client] = live_client.get("/api/v1/clients", headers=viewer).json()["items"]
    assert client["id"] == _stage(pipeline, "client")["entity_id"] and client["email"] == "ada@analytical.example"
    runs = world.rows(AgentRun, pipeline_id=uuid.UUID(pipeline["id"]))
    assert sorted(run.agent for run in runs) == ["finance", "negotiation", "sales", "sdr"]
    assert {run.status for run in runs} == {"succeeded"}
    assert len(sink.accepted) == 1


def test_a_rejected_email_stops_the_pipeline_with_the_reason(world, live_client, pipeline_cluster, smtp):
    pipeline_cluster()
    pipeline = _start(live_client, world, world.add_lead(**FIT_LEAD))
    pipeline = _wait_for_stage(live_client, world, pipeline["id"], "review_email")
    email_id = _stage(pipeline, "review_email")["entity_id"]
    assert _decide(live_client, world, "email", email_id, decision="reject",
                   comment="too pushy").status_code == 200
    wait_until(lambda: _pipeline(live_client, world, pipeline["id"])["status"] != "running", 60)
    pipeline = _pipeline(live_client, world, pipeline["id"])
    assert pipeline["status"] == "rejected" and "too pushy" in pipeline["stopped_reason"]
    assert world.rows(EmailLog, id=uuid.UUID(email_id))[0].status == "rejected"
    assert smtp[1].accepted == []


def test_a_lead_suppressed_after_the_approval_is_not_sent(world, live_client, pipeline_cluster, smtp):
    from app.core.db import session_scope
    from tests.records import add_suppression

    pipeline = _start(live_client, world, world.add_lead(**FIT_LEAD, email="ada@later-suppressed.example"))
    pipeline_cluster("agents", queues="agents.sdr,pipeline,maintenance")  # no email worker yet
    pipeline = _wait_for_stage(live_client, world, pipeline["id"], "review_email")
    email_id = _stage(pipeline, "review_email")["entity_id"]
    assert _decide(live_client, world, "email", email_id, decision="approve").status_code == 200
    with session_scope(world.tenant.id) as session:
        add_suppression(session, world.tenant.id, "domain", "later-suppressed.example")
    pipeline_cluster("mail", queues="email")
    wait_until(lambda: _pipeline(live_client, world, pipeline["id"])["status"] != "running", 60)
    pipeline = _pipeline(live_client, world, pipeline["id"])
    assert pipeline["status"] == "stopped" and "suppression" in pipeline["stopped_reason"]
    assert world.rows(EmailLog, id=uuid.UUID(email_id))[0].status == "suppressed"
    assert smtp[1].offered == []


def test_a_cancelled_pipeline_leaves_no_run_running_and_no_review_pending(world, live_client, pipeline_cluster):
    pipeline_cluster()
    first = _start(live_client, world, world.add_lead(**FIT_LEAD))
    second = _start(live_client, world, world.add_lead(**FIT_LEAD))
    _wait_for_stage(live_client, world, second["id"], "review_email")
    operator = world.tenant.headers(Role.operator)
    for pipeline in (first, second):  # the first may be at any stage by now; the second waits for its review
        response = live_client.post(f"/api/v1/pipelines/{pipeline['id']}/cancel", headers=operator)
        assert response.status_code == 200, response.text
        assert response.json()["status"] == "cancelled"
    assert live_client.post(f"/api/v1/pipelines/{first['id']}/cancel", headers=operator).status_code == 409

    def settled() -> bool:
        runs = [run for pipeline in (first, second)
                for run in world.rows(AgentRun, pipeline_id=uuid.UUID(pipeline["id"]))]
        return all(run.status not in ACTIVE_RUN for run in runs)

    wait_until(settled, 60, message="a cancelled pipeline's run is still active")
    for pipeline in (first, second):
        runs = world.rows(AgentRun, pipeline_id=uuid.UUID(pipeline["id"]))
        assert all(run.status in ("cancelled", "succeeded") for run in runs), [(r.agent, r.status) for r in runs]
        reviews = world.rows(Review, pipeline_id=uuid.UUID(pipeline["id"]))
        assert all(review.status == "cancelled" for review in reviews)
        stages = _pipeline(live_client, world, pipeline["id"])["stages"]
        assert {stage["status"] for stage in stages} <= {"succeeded", "cancelled"}


def test_a_worker_killed_between_the_sdr_runs_end_and_the_next_stage_still_advances(
        world, live_client, pipeline_cluster):
    # The SDR worker dies right after its run's outcome committed, before it publishes the pipeline's
    # signal; the outcome wrote that signal to the outbox in the same transaction, and the relay sends it.
    pipeline_cluster("dying", queues="agents.sdr", AGENTLINE_FAILPOINTS="run.after_outcome")
    pipeline_cluster("pipes", queues="pipeline,maintenance")
    pipeline = _start(live_client, world, world.add_lead(**FIT_LEAD))
    pipeline = _wait_for_stage(live_client, world, pipeline["id"], "review_email")
    sdr = world.run(uuid.UUID(_stage(pipeline, "sdr")["run_id"]))
    assert sdr.status == "awaiting_review" and sdr.attempt == 1
    assert _stage(pipeline, "review_email")["review_id"]


def test_whoever_commits_a_signal_advances_the_pipeline_itself(world, live_client, pipeline_cluster):
    # No worker serves the pipeline queue. The SDR worker moves the pipeline on to the review right after its
    # run's outcome commits, and the API's decision answers once the next stage has started; both confirm
    # their signal, so the relay has nothing to send either.
    from app.core.redis import get_redis
    from app.models import OutboxMessage

    pipeline_cluster("agents", queues="agents.sdr,maintenance")
    pipeline = _start(live_client, world, world.add_lead(**FIT_LEAD))
    pipeline = _wait_for_stage(live_client, world, pipeline["id"], "review_email", timeout=60)
    assert _stage(pipeline, "sdr")["run_status"] == "awaiting_review"
    email_id = _stage(pipeline, "review_email")["entity_id"]
    assert _decide(live_client, world, "email", email_id, decision="approve").status_code == 200
    assert _stage(_pipeline(live_client, world, pipeline["id"]), "send_email")["status"] == "active"
    signals = [row for row in world.rows(OutboxMessage, task="pipelines.advance")
               if row.kwargs["pipeline_id"] == pipeline["id"]]
    assert len(signals) == 2 and all(row.published_at is not None for row in signals)
    assert get_redis().llen("pipeline") == 0


def test_the_event_stream_follows_the_pipeline_from_its_start_to_its_end(world, live_client, pipeline_cluster):
    pipeline_cluster()
    pipeline = _start(live_client, world, world.add_lead(**FIT_LEAD))
    events: list[tuple[str, dict]] = []

    def follow() -> None:
        with live_client.stream("GET", f"/api/v1/pipelines/{pipeline['id']}/events",
                                headers=world.tenant.headers(Role.viewer)) as stream:
            name = None
            for line in stream.iter_lines():
                if line.startswith("event: "):
                    name = line[len("event: "):]
                elif line.startswith("data: "):
                    events.append((name, json.loads(line[len("data: "):])))

    follower = threading.Thread(target=follow, daemon=True)
    follower.start()  # while the SDR run is still to come
    email_id = _stage(_wait_for_stage(live_client, world, pipeline["id"], "review_email"), "review_email")["entity_id"]
    assert _decide(live_client, world, "email", email_id, decision="reject", comment="not yet").status_code == 200
    follower.join(60)
    assert not follower.is_alive(), "the stream is still open after the pipeline ended"
    assert [(name, data["stage"], data["to_status"]) for name, data in events] == [
        ("stage", "sdr", "active"), ("stage", "sdr", "succeeded"), ("stage", "review_email", "active"),
        ("stage", "review_email", "rejected"), ("pipeline", None, "rejected")]
    assert "not yet" in events[-1][1]["detail"]["reason"]
