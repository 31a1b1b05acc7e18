"""Reviews as a mechanism: the inbox, decisions, edits, four eyes, deadlines (rolled-back DB)."""

import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from app.auth.permissions import Role
from app.core.context import Principal, TenantContext
from app.core.db import bind_tenant
from app.models import AgentRun, AuditLog, Review, ReviewDecision, Tenant
from app.reviews import service
from app.reviews.schemas import DecisionRequest
from app.runs import service as runs
from app.runs.state import RunStatus, transition
from tests.builders import committed_tenant, make_tenant
from tests.reviews.kinds import APPLIED, DISCARDED

PROPOSAL = {"text": "Offer 10% off the first year", "amount": "900.00"}


def _awaiting_run(db, tenant_id) -> AgentRun:
    run = runs.create_run(db, TenantContext.system(tenant_id), "echo", {"message": "hi"})
    assert transition(db, run, RunStatus.running, attempt=run.attempt + 1)
    assert transition(db, run, RunStatus.awaiting_review)
    return run


def _open(db, tenant, *, run=None, requested_by: uuid.UUID | None = None, **overrides) -> Review:
    bind_tenant(db, tenant.id)
    ctx = TenantContext.system(tenant.id)
    kwargs = dict(entity_type="test_note", entity_id=uuid.uuid4(), agent="echo", proposal=dict(PROPOSAL),
                  citations=[{"document_id": str(uuid.uuid4()), "chunk_id": str(uuid.uuid4()), "score": 0.5}],
                  summary="a note", run_id=run.id if run else None,
                  requested_by_type="user" if requested_by else "system", requested_by_id=requested_by)
    return service.open_review(db, ctx, **{**kwargs, **overrides})


def _decide(client, tenant, review, role=Role.reviewer, **body):
    return client.post(f"/api/v1/reviews/{review.entity_type}/{review.entity_id}/decision", json=body,
                       headers=tenant.headers(role))


def test_opening_is_idempotent_per_entity(db):
    tenant = make_tenant(db)
    review = _open(db, tenant)
    again = _open(db, tenant, entity_id=review.entity_id, proposal={"text": "other", "amount": "1"})
    assert again.id == review.id and again.proposal == PROPOSAL
    assert review.deadline_at - review.created_at.replace(tzinfo=UTC) > timedelta(hours=71)


def test_inbox_lists_open_items_first_then_newest_with_a_cursor(db, client):
    tenant = make_tenant(db)
    reviews = [_open(db, tenant) for _ in range(5)]
    start = datetime.now(UTC)
    for offset, review in enumerate(reviews):  # one transaction: now() would give them all the same time
        review.created_at = start + timedelta(seconds=offset)
    db.flush()
    decided = reviews[-1]  # the newest, but decided: it goes after every open one
    assert _decide(client, tenant, decided, decision="approve").status_code == 200
    seen, cursor = [], None
    while True:
        page = client.get("/api/v1/reviews", params={"limit": 2, **({"cursor": cursor} if cursor else {})},
                          headers=tenant.headers(Role.viewer)).json()
        seen += page["items"]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert [item["status"] for item in seen] == ["pending"] * 4 + ["approved"]
    assert [item["entity_id"] for item in seen[:4]] == [str(r.entity_id) for r in reversed(reviews[:4])]
    assert seen[0]["citations"] and seen[0]["deadline_at"]
    filtered = client.get("/api/v1/reviews", params={"status": "approved"}, headers=tenant.headers(Role.viewer)).json()
    assert [item["entity_id"] for item in filtered["items"]] == [str(decided.entity_id)]


def test_approval_records_the_reviewer_and_a_digest_applies_once_and_finishes_the_run(db, client):
    tenant = make_tenant(db)
    run = _awaiting_run(db, tenant.id)
    review = _open(db, tenant, run=run)
    APPLIED.clear()
    first = _decide(client, tenant, review, decision="approve", comment="fine")
    assert first.status_code == 200, first.text
    body = first.json()
    assert body["status"] == "approved"
    assert body["decision"]["reviewer_id"] == str(tenant.users[Role.reviewer])
    assert body["decision"]["approved_digest"] == service.digest(PROPOSAL)
    again = _decide(client, tenant, review, decision="approve", comment="fine")
    assert again.status_code == 200 and again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["decision"] == body["decision"]
    assert APPLIED == [(review.entity_id, PROPOSAL)]
    other = _decide(client, tenant, review, decision="reject", comment="changed my mind")
    assert other.status_code == 409 and other.headers["content-type"] == "application/problem+json"
    db.expire_all()
    assert db.get(AgentRun, run.id).status == RunStatus.succeeded
    actions = db.scalars(select(AuditLog.action).where(AuditLog.tenant_id == tenant.id)).all()
    assert "review.approve" in actions


def test_the_reviewer_comes_from_the_credentials_never_the_body(db, client):
    tenant = make_tenant(db)
    review = _open(db, tenant)
    response = _decide(client, tenant, review, decision="approve", reviewer_id=str(uuid.uuid4()))
    assert response.status_code == 422
    assert db.scalar(select(ReviewDecision).where(ReviewDecision.review_id == review.id)) is None


def test_an_edit_is_validated_against_the_schema_and_kept_as_a_json_patch(db, client):
    tenant = make_tenant(db)
    review = _open(db, tenant)
    APPLIED.clear()
    bad = _decide(client, tenant, review, decision="edit", edited_output={"text": ""})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"].startswith("edited_output")
    locked = _decide(client, tenant, review, decision="edit", edited_output={"amount": "1.00"})
    assert locked.status_code == 422 and "amount" in locked.json()["detail"]
    unknown = _decide(client, tenant, review, decision="edit", edited_output={"colour": "red"})
    assert unknown.status_code == 422
    assert APPLIED == [] and db.get(Review, review.id).status == "pending"
    edited = _decide(client, tenant, review, decision="edit", comment="warmer", edited_output={"text": "Offer 12%"})
    assert edited.status_code == 200, edited.text
    decision = edited.json()["decision"]
    assert edited.json()["status"] == "edited"
    assert decision["diff"] == [{"op": "replace", "path": "/text", "value": "Offer 12%"}]
    assert decision["approved_digest"] == service.digest({**PROPOSAL, "text": "Offer 12%"})
    assert APPLIED == [(review.entity_id, {**PROPOSAL, "text": "Offer 12%"})]


def test_a_rejection_discards_the_item_and_rejects_the_run(db, client):
    tenant = make_tenant(db)
    run = _awaiting_run(db, tenant.id)
    review = _open(db, tenant, run=run)
    DISCARDED.clear()
    response = _decide(client, tenant, review, decision="reject", comment="not our tone")
    assert response.status_code == 200 and response.json()["status"] == "rejected"
    assert DISCARDED == [(review.entity_id, "rejected by a reviewer: not our tone")]
    db.expire_all()
    assert db.get(AgentRun, run.id).status == RunStatus.rejected


@pytest.mark.parametrize("role", list(Role))
def test_deciding_needs_a_reviewer(db, client, role):
    tenant = make_tenant(db)
    review = _open(db, tenant)
    assert _decide(client, tenant, review, role=role, decision="approve").status_code == (
        403 if role is Role.viewer else 200)


def test_another_tenants_review_is_404(db, client):
    owner, other = make_tenant(db), make_tenant(db)
    review = _open(db, owner)
    assert _decide(client, other, review, role=Role.owner, decision="approve").status_code == 404
    assert client.get(f"/api/v1/reviews/test_note/{review.entity_id}", headers=other.headers(Role.owner)).status_code == 404
    assert client.get("/api/v1/reviews", headers=other.headers(Role.owner)).json()["items"] == []


def test_bad_decisions_are_clear_4xx(db, client):
    tenant = make_tenant(db)
    review = _open(db, tenant)
    assert _decide(client, tenant, review, decision="maybe").status_code == 422
    assert _decide(client, tenant, review, decision="edit").status_code == 422
    assert _decide(client, tenant, review, decision="approve", edited_output={"text": "x"}).status_code == 422
    assert client.post(f"/api/v1/reviews/test_note/{review.entity_id}/decision", content=b"{", headers={
        **tenant.headers(Role.reviewer), "Content-Type": "application/json"}).status_code == 422
    assert db.get(Review, review.id).status == "pending"


def _settings(db, tenant_id, **reviews):
    tenant = db.get(Tenant, tenant_id)
    tenant.settings = {**tenant.settings, "reviews": reviews}
    db.flush()


def test_four_eyes_keeps_the_requester_from_approving_their_own_work(db, client):
    tenant = make_tenant(db)
    _settings(db, tenant.id, four_eyes=True)
    review = _open(db, tenant, requested_by=tenant.users[Role.admin])
    assert _decide(client, tenant, review, role=Role.admin, decision="approve").status_code == 403
    assert _decide(client, tenant, review, role=Role.reviewer, decision="approve").status_code == 200


def _past_deadline(db, review):
    review.deadline_at = datetime.now(UTC) - timedelta(minutes=1)
    db.flush()


def test_a_review_is_reminded_once_before_its_deadline(db):
    tenant = make_tenant(db)
    review = _open(db, tenant)
    review.remind_at = datetime.now(UTC) - timedelta(seconds=1)
    db.flush()
    assert (tenant.id, review.id, "remind") in service.reviews_due(db)
    ctx = TenantContext.system(tenant.id)
    assert service._handle_deadline(db, ctx, review.id, "remind") == "reminded"
    assert service._handle_deadline(db, ctx, review.id, "remind") is None
    assert review.reminded_at is not None and review.status == "pending"
    assert (tenant.id, review.id, "remind") not in service.reviews_due(db)


def test_at_the_deadline_the_reject_policy_expires_the_item(db, client):
    tenant = make_tenant(db)
    run = _awaiting_run(db, tenant.id)
    review = _open(db, tenant, run=run)
    _past_deadline(db, review)
    assert (tenant.id, review.id, "expire") in service.reviews_due(db)
    DISCARDED.clear()
    ctx = TenantContext.system(tenant.id)
    assert service._handle_deadline(db, ctx, review.id, "expire") == "expired"
    assert service._handle_deadline(db, ctx, review.id, "expire") is None  # never twice
    assert review.status == "expired" and len(DISCARDED) == 1
    assert db.get(AgentRun, run.id).status == RunStatus.rejected
    late = _decide(client, tenant, review, decision="approve")
    assert late.status_code == 409 and "expired" in late.json()["detail"]


def test_at_the_deadline_the_escalate_policy_hands_the_item_to_admins(db, client):
    tenant = make_tenant(db)
    _settings(db, tenant.id, on_expiry="escalate", deadline_hours=2)
    review = _open(db, tenant)
    _past_deadline(db, review)
    assert service._handle_deadline(db, TenantContext.system(tenant.id), review.id, "expire") == "escalated"
    assert review.status == "escalated" and review.deadline_at > datetime.now(UTC) + timedelta(hours=1)
    assert _decide(client, tenant, review, role=Role.reviewer, decision="approve").status_code == 403
    assert _decide(client, tenant, review, role=Role.admin, decision="approve").status_code == 200


def test_the_same_decision_posted_concurrently_applies_once(committed_db):
    tenant = committed_tenant(committed_db)
    with committed_db() as session, session.begin():
        bind_tenant(session, tenant.id)
        review = _open(session, tenant)
    APPLIED.clear()
    ctx = TenantContext(tenant.id, Principal("user", tenant.users[Role.reviewer], Role.reviewer))
    body = DecisionRequest(decision="approve", comment="ok")

    def post(_):
        with committed_db() as session, session.begin():
            bind_tenant(session, tenant.id)
            _, decision, made = service.decide(session, ctx, "test_note", review.entity_id, body)
            return decision.id, made

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(post, range(20)))
    assert len({decision_id for decision_id, _ in results}) == 1
    assert sum(made for _, made in results) == 1
    assert len(APPLIED) == 1


def test_agent_metrics_count_how_reviews_ended(db, client):
    tenant = make_tenant(db)
    for decision in ("approve", "approve", "edit", "reject"):
        review = _open(db, tenant)
        body = {"decision": decision, **({"edited_output": {"text": "changed"}} if decision == "edit" else {})}
        assert _decide(client, tenant, review, **body).status_code == 200
    metrics = client.get("/api/v1/metrics/agents", headers=tenant.headers(Role.viewer)).json()
    [echo] = [figures for figures in metrics["agents"] if figures["agent"] == "echo"]
    assert echo["reviews"] == {"decided": 4, "approved_unchanged": 2, "edited": 1, "rejected": 1, "expired": 0,
                               "approved_unchanged_share": 0.5, "edited_share": 0.25, "rejected_share": 0.25}


@pytest.mark.parametrize("role", [Role.viewer, Role.reviewer])
def test_the_kinds_say_what_a_reviewer_may_edit(db, client, role):
    tenant = make_tenant(db)
    response = client.get("/api/v1/reviews/kinds", headers=tenant.headers(role))
    assert response.status_code == 200
    kinds = {kind["entity_type"]: kind for kind in response.json()}
    assert {"email", "proposal", "offer", "invoice", "plan_change", "test_note"} <= set(kinds)
    note = kinds["test_note"]
    assert note["editable_fields"] == ["text"] and note["locked_fields"] == ["amount"]
    assert note["edit_schema"]["properties"]["text"]["maxLength"] == 200
    assert kinds["email"]["editable_fields"] == ["subject", "body"] and kinds["email"]["locked_fields"] == ["to_address"]
    assert kinds["offer"]["editable_fields"] == ["message"]
    assert "price" in kinds["proposal"]["locked_fields"] and "price" not in kinds["proposal"]["editable_fields"]
    assert client.get("/api/v1/reviews/kinds").status_code == 401
