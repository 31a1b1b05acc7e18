"""Plan changes and their `plan_change` review: approving (or editing) applies the change as a new plan
version exactly once; a change whose plan moved on is stale, its decision a 409 that changes nothing;
rejecting closes it; the agent's interface is idempotent per run."""

import uuid

import pytest
from sqlalchemy import func, select

from app.auth.permissions import Role
from app.coaching import service
from app.coaching.schemas import PlanContent
from app.core.context import TenantContext
from app.core.errors import Conflict, UnprocessableEntity
from app.models import AuditLog, Plan, PlanChange, PlanVersion, Review, ReviewDecision
from tests.builders import make_tenant
from tests.coaching.helpers import DELOAD_CHANGES, PLAN, add_client, add_plan, add_run, deload, plan, propose


@pytest.fixture
def coached(db):
    tenant = make_tenant(db)
    coachee = add_client(db, tenant.id)
    add_plan(db, tenant.id, coachee.id)
    return tenant, coachee


def _decide(client, tenant, change_id, role=Role.reviewer, **body):
    return client.post(f"/api/v1/reviews/plan_change/{change_id}/decision", json=body, headers=tenant.headers(role))


def _fresh(db, model, entity_id):
    return db.scalars(select(model).where(model.id == entity_id).execution_options(populate_existing=True)).one()


def _state(db, change_id) -> dict:
    """Everything a decision could change: the plan, its versions, the change, its review and decision."""
    change = _fresh(db, PlanChange, change_id)
    plan_row = _fresh(db, Plan, change.plan_id)
    review = db.scalars(select(Review).where(Review.entity_id == change_id)
                        .execution_options(populate_existing=True)).one()
    return {"current_version": plan_row.current_version,
            "versions": db.scalar(select(func.count()).select_from(PlanVersion).where(
                PlanVersion.plan_id == plan_row.id)),
            "change": (change.status, change.applied_version), "review": review.status,
            "decisions": db.scalar(select(func.count()).select_from(ReviewDecision).where(
                ReviewDecision.review_id == review.id))}


def test_proposing_opens_a_review_with_the_diff_and_locked_fields(db, client, coached):
    tenant, coachee = coached
    change = propose(db, tenant.id, coachee.id)
    review = db.scalars(select(Review).where(Review.entity_type == "plan_change",
                                             Review.entity_id == change.id)).one()
    assert (review.status, review.agent) == ("pending", "coaching")
    assert review.proposal == {"client_id": str(coachee.id), "base_version": 1, "changes": DELOAD_CHANGES,
                               "proposed": deload(), "rationale": change.rationale}
    read = client.get(f"/api/v1/plan-changes/{change.id}", headers=tenant.headers(Role.viewer))
    assert read.status_code == 200, read.text
    assert (read.json()["status"], read.json()["base_version"], read.json()["review_id"],
            read.json()["review_status"]) == ("proposed", 1, str(review.id), "pending")


def test_approving_applies_a_new_version_exactly_once(db, client, coached):
    tenant, coachee = coached
    change = propose(db, tenant.id, coachee.id)

    first = _decide(client, tenant, change.id, decision="approve", comment="deload it")
    assert first.status_code == 200, first.text
    again = _decide(client, tenant, change.id, decision="approve", comment="deload it")
    assert again.status_code == 200 and again.json()["decision"] == first.json()["decision"]
    assert _state(db, change.id) == {"current_version": 2, "versions": 2, "change": ("applied", 2),
                                     "review": "approved", "decisions": 1}

    current = client.get(f"/api/v1/clients/{coachee.id}/plan", headers=tenant.headers(Role.viewer)).json()
    assert (current["current"]["source"], current["current"]["change_id"]) == ("review", str(change.id))
    assert current["current"]["content"] == deload() and current["current"]["weekly_sets"] == 25
    assert current["current"]["created_by_id"] == str(tenant.users[Role.reviewer])
    # The kind's apply itself is idempotent too (a retried decision transaction).
    service.apply_plan_change(db, TenantContext.system(tenant.id), change.id, service.review_proposal(change))
    assert _state(db, change.id)["versions"] == 2
    assert "plan_change.apply" in db.scalars(select(AuditLog.action).where(AuditLog.entity_id == str(change.id)))


def test_a_stale_change_is_409_and_changes_nothing(db, client, coached):
    tenant, coachee = coached
    change = propose(db, tenant.id, coachee.id)
    moved = client.put(f"/api/v1/clients/{coachee.id}/plan", json={"content": plan(cardio_minutes_per_week=30),
                                                                   "base_version": 1},
                       headers=tenant.headers(Role.operator))
    assert moved.status_code == 200
    assert _fresh(db, PlanChange, change.id).status == "stale"
    before = _state(db, change.id)
    assert before == {"current_version": 2, "versions": 2, "change": ("stale", None), "review": "pending",
                      "decisions": 0}

    for body in ({"decision": "approve"}, {"decision": "edit", "edited_output": {"rationale": "still deload"}}):
        response = _decide(client, tenant, change.id, **body)
        assert response.status_code == 409, response.text
        assert (response.json()["change_status"], response.json()["base_version"],
                response.json()["current_version"]) == ("stale", 1, 2)
        assert _state(db, change.id) == before
    assert client.get(f"/api/v1/clients/{coachee.id}/plan", headers=tenant.headers(Role.viewer)).json()[
        "current"]["content"]["cardio_minutes_per_week"] == 30

    closed = _decide(client, tenant, change.id, decision="reject", comment="outdated")
    assert closed.status_code == 200
    assert _state(db, change.id) == {**before, "review": "rejected", "decisions": 1}


def test_a_change_proposed_against_a_version_another_change_replaced_is_stale(db, client, coached):
    tenant, coachee = coached
    first = propose(db, tenant.id, coachee.id, run_id=add_run(db, tenant.id).id)
    second = propose(db, tenant.id, coachee.id, proposed=plan(cardio_minutes_per_week=200),
                     run_id=add_run(db, tenant.id).id)
    assert _decide(client, tenant, second.id, decision="approve").status_code == 200
    assert _decide(client, tenant, first.id, decision="approve").status_code == 409
    assert _state(db, first.id) == {"current_version": 2, "versions": 2, "change": ("stale", None),
                                    "review": "pending", "decisions": 0}


def test_a_stale_change_is_409_even_if_nothing_marked_it(db, coached):
    """Defence in depth: apply compares versions under the plan's lock, whatever the change's status says."""
    tenant, coachee = coached
    change = propose(db, tenant.id, coachee.id)
    plan_row = _fresh(db, Plan, change.plan_id)
    plan_row.current_version = 2
    db.add(PlanVersion(tenant_id=tenant.id, plan_id=plan_row.id, version=2, content=PLAN, source="manual",
                       created_by_type="system"))
    db.flush()
    with pytest.raises(Conflict) as raised:
        service.apply_plan_change(db, TenantContext.system(tenant.id), change.id, service.review_proposal(change))
    assert raised.value.extra["change_status"] == "stale"


def test_an_edit_is_validated_and_applied_as_edited(db, client, coached):
    tenant, coachee = coached
    change = propose(db, tenant.id, coachee.id)
    too_low = {**deload(), "nutrition": {**PLAN["nutrition"], "calories_kcal": 500}}
    for edited, field in (({"proposed": too_low}, "edited_output.proposed.nutrition.calories_kcal"),
                          ({"proposed": {**deload(), "check_in_days": ["mon", "mon"]}},
                           "edited_output.proposed.check_in_days"),
                          ({"base_version": 2}, "edited_output.base_version"),
                          ({"client_id": str(uuid.uuid4())}, "edited_output.client_id")):
        response = _decide(client, tenant, change.id, decision="edit", edited_output=edited)
        assert response.status_code == 422, response.text
        assert field in [error["field"] for error in response.json()["errors"]], response.json()
    assert _state(db, change.id)["versions"] == 1

    gentler = plan(cardio_minutes_per_week=75)
    response = _decide(client, tenant, change.id, decision="edit", comment="not that much",
                       edited_output={"proposed": gentler, "rationale": "A gentler deload."})
    assert response.status_code == 200, response.text
    assert _state(db, change.id) == {"current_version": 2, "versions": 2, "change": ("applied", 2),
                                     "review": "edited", "decisions": 1}
    applied = _fresh(db, PlanChange, change.id)
    assert (applied.proposed, applied.rationale) == (gentler, "A gentler deload.")
    assert client.get(f"/api/v1/clients/{coachee.id}/plan", headers=tenant.headers(Role.viewer)).json()[
        "current"]["content"] == gentler


def test_rejecting_closes_the_change_and_a_later_approval_is_409(db, client, coached):
    tenant, coachee = coached
    change = propose(db, tenant.id, coachee.id)
    assert _decide(client, tenant, change.id, decision="reject", comment="not now").status_code == 200
    assert _decide(client, tenant, change.id, decision="approve").status_code == 409
    assert _state(db, change.id) == {"current_version": 1, "versions": 1, "change": ("rejected", None),
                                     "review": "rejected", "decisions": 1}


def test_deciding_needs_a_reviewer(db, client, coached):
    tenant, coachee = coached
    change = propose(db, tenant.id, coachee.id)
    for role in (Role.viewer,):
        assert _decide(client, tenant, change.id, role=role, decision="approve").status_code == 403
    assert _state(db, change.id)["versions"] == 1


def test_proposing_is_idempotent_per_run_and_checks_the_base(db, coached):
    tenant, coachee = coached
    ctx = TenantContext.system(tenant.id)
    run = add_run(db, tenant.id)
    change = propose(db, tenant.id, coachee.id, run_id=run.id)
    assert propose(db, tenant.id, coachee.id, run_id=run.id).id == change.id
    assert db.scalar(select(func.count()).select_from(Review).where(Review.entity_id == change.id)) == 1
    review = db.scalars(select(Review).where(Review.entity_id == change.id)).one()
    assert review.run_id == run.id

    with pytest.raises(Conflict):
        propose(db, tenant.id, coachee.id, base_version=2)
    with pytest.raises(UnprocessableEntity):
        propose(db, tenant.id, coachee.id, proposed=PLAN)
    with pytest.raises(UnprocessableEntity):
        service.propose_plan_change(db, ctx, client_id=coachee.id, base_version=1, changes=[{"field": ""}],
                                    proposed=PlanContent.model_validate(deload()), rationale="", run_id=None)
    planless = add_client(db, tenant.id, name="No plan")
    with pytest.raises(Conflict):
        propose(db, tenant.id, planless.id)
