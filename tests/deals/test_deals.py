"""Deals: made by the sales agent from the price book (the price copied in code), their approved proposal
applied once, and read over HTTP with money as strings."""

import threading
import uuid

import pytest
from sqlalchemy import func, select

from app.auth.permissions import Role
from app.core.context import TenantContext
from app.core.db import bind_tenant
from app.core.errors import Conflict, NotFound
from app.deals.service import apply_proposal, upsert_proposal_deal
from app.leads.state import IllegalLeadTransition
from app.models import AgentRun, AuditLog, Deal
from tests.builders import committed_tenant, make_tenant, rebind
from tests.records import add_deal, add_item, add_lead, statements

DEALS = "/api/v1/deals"
PROPOSAL = {"summary": "Growth for Acme", "scope": ["Ten seats", "Onboarding"], "next_steps": ["Call on Monday"]}


def _run(db, tenant_id: uuid.UUID) -> AgentRun:
    run = AgentRun(tenant_id=tenant_id, agent="sales", status="running", input={}, attempt=1, max_attempts=3,
                   requested_by_type="system")
    db.add(run)
    db.flush()
    return run


def _actions(db, deal_id: uuid.UUID) -> list[str]:
    return list(db.scalars(select(AuditLog.action).where(AuditLog.entity_id == str(deal_id)).order_by(AuditLog.id)))


@pytest.fixture
def sale(db):
    """A tenant with a contacted lead, two packages and a sales run."""
    tenant = make_tenant(db)
    lead = add_lead(db, tenant.id, status="contacted", company="Acme")
    growth = add_item(db, tenant.id, code="growth", list_price="1250.00", currency="EUR")
    starter = add_item(db, tenant.id, code="starter", list_price="150000", currency="JPY")
    return tenant, TenantContext.system(tenant.id), lead, growth, starter, _run(db, tenant.id)


def test_the_proposal_deal_copies_the_price_book_item(sale, db, client):
    tenant, ctx, lead, growth, _, run = sale
    pipeline_id = uuid.uuid4()
    deal = upsert_proposal_deal(db, ctx, lead=lead, item=growth, run_id=run.id, pipeline_id=pipeline_id)
    assert (deal.stage, deal.package_id, deal.package_code, deal.currency) == ("proposal", growth.id, "growth", "EUR")
    assert (str(deal.list_price), str(deal.amount), deal.proposal) == ("1250.00", "1250.00", None)
    assert (deal.run_id, deal.pipeline_id) == (run.id, pipeline_id)
    response = client.get(f"{DEALS}/{deal.id}", headers=tenant.headers(Role.viewer))
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["list_price"], body["amount"], body["currency"], body["stage"]) == ("1250.00", "1250.00", "EUR",
                                                                                     "proposal")
    assert body["lead"] == {"id": str(lead.id), "name": lead.name, "email": lead.email, "company": "Acme",
                            "status": "contacted"}
    assert _actions(db, deal.id) == ["deal.create"]


def test_the_same_run_again_changes_nothing(sale, db):
    _, ctx, lead, growth, _, run = sale
    first = upsert_proposal_deal(db, ctx, lead=lead, item=growth, run_id=run.id, pipeline_id=None)
    apply_proposal(db, ctx, first.id, PROPOSAL)
    again = upsert_proposal_deal(db, ctx, lead=lead, item=growth, run_id=run.id, pipeline_id=None)
    assert again is first and again.proposal == PROPOSAL
    assert _actions(db, first.id) == ["deal.create", "deal.apply_proposal"]


def test_a_new_proposal_replaces_the_last_and_its_approval(sale, db):
    _, ctx, lead, growth, starter, run = sale
    deal = upsert_proposal_deal(db, ctx, lead=lead, item=growth, run_id=run.id, pipeline_id=None)
    apply_proposal(db, ctx, deal.id, PROPOSAL)
    second_run = _run(db, lead.tenant_id)
    again = upsert_proposal_deal(db, ctx, lead=lead, item=starter, run_id=second_run.id, pipeline_id=None)
    assert again.id == deal.id
    assert (again.package_code, str(again.list_price), str(again.amount), again.currency) == (
        "starter", "150000", "150000", "JPY")
    assert (again.proposal, again.run_id) == (None, second_run.id)
    assert db.scalar(select(func.count()).select_from(Deal).where(Deal.lead_id == lead.id)) == 1
    update = db.scalars(select(AuditLog).where(AuditLog.action == "deal.update")).one()
    assert (update.before["list_price"], update.after["list_price"], update.after["currency"]) == (
        "1250.00", "150000", "JPY")


def test_a_deal_past_proposal_is_not_reset_by_a_new_proposal(sale, db):
    tenant, ctx, lead, growth, starter, run = sale
    deal = add_deal(db, tenant.id, lead, growth, stage="negotiation")
    with pytest.raises(Conflict, match="negotiation"):
        upsert_proposal_deal(db, ctx, lead=lead, item=starter, run_id=run.id, pipeline_id=None)
    db.refresh(deal)
    assert (deal.package_code, deal.stage) == ("growth", "negotiation")


def test_only_an_active_item_of_the_tenant_can_be_proposed(sale, db):
    tenant, ctx, lead, _, _, run = sale
    retired = add_item(db, tenant.id, active=False)
    with pytest.raises(Conflict, match="not active"):
        upsert_proposal_deal(db, ctx, lead=lead, item=retired, run_id=run.id, pipeline_id=None)
    other = make_tenant(db)
    theirs = add_item(db, other.id)
    rebind(db, tenant.id)
    with pytest.raises(NotFound):
        upsert_proposal_deal(db, ctx, lead=lead, item=theirs, run_id=run.id, pipeline_id=None)
    assert db.scalars(select(Deal).where(Deal.lead_id == lead.id)).all() == []


def test_applying_the_approved_proposal_moves_the_lead_once(sale, db):
    _, ctx, lead, growth, _, run = sale
    deal = upsert_proposal_deal(db, ctx, lead=lead, item=growth, run_id=run.id, pipeline_id=None)
    applied = apply_proposal(db, ctx, deal.id, PROPOSAL)
    assert (applied.proposal, lead.status) == (PROPOSAL, "proposal")
    apply_proposal(db, ctx, deal.id, PROPOSAL)
    assert _actions(db, deal.id) == ["deal.create", "deal.apply_proposal"]
    assert list(db.scalars(select(AuditLog.action).where(AuditLog.entity_id == str(lead.id)))) == ["lead.status"]


def test_a_proposal_for_a_lead_not_yet_contacted_is_refused_and_changes_nothing(db):
    tenant = make_tenant(db)
    ctx = TenantContext.system(tenant.id)
    lead = add_lead(db, tenant.id, status="qualified")
    deal = add_deal(db, tenant.id, lead, add_item(db, tenant.id))
    with pytest.raises(IllegalLeadTransition):
        apply_proposal(db, ctx, deal.id, PROPOSAL)
    assert (deal.proposal, lead.status) == (None, "qualified")


def test_a_proposal_applies_only_in_stage_proposal_and_only_in_the_tenant(sale, db):
    tenant, ctx, lead, growth, _, _ = sale
    deal = add_deal(db, tenant.id, lead, growth, stage="won")
    with pytest.raises(Conflict, match="'won'"):
        apply_proposal(db, ctx, deal.id, PROPOSAL)
    other = make_tenant(db)
    with pytest.raises(NotFound):
        apply_proposal(db, TenantContext.system(other.id), deal.id, PROPOSAL)


def test_the_list_filters_pages_and_reads_each_lead_in_the_same_query(db, client):
    tenant = make_tenant(db)
    item = add_item(db, tenant.id, list_price="99.90", currency="USD")
    deals = [add_deal(db, tenant.id, add_lead(db, tenant.id), item, stage=stage)
             for stage in ("proposal", "proposal", "negotiation")]
    headers = tenant.headers(Role.viewer)

    def ids(**params) -> list[str]:
        response = client.get(DEALS, params=params, headers=headers)
        assert response.status_code == 200, response.text
        return [deal["id"] for deal in response.json()["items"]]

    assert ids(stage="negotiation") == [str(deals[2].id)]
    assert ids(lead_id=str(deals[0].lead_id)) == [str(deals[0].id)]
    assert set(ids(stage="proposal")) == {str(deals[0].id), str(deals[1].id)}
    first = client.get(DEALS, params={"limit": 2}, headers=headers).json()
    second = client.get(DEALS, params={"limit": 2, "cursor": first["next_cursor"]}, headers=headers).json()
    assert len(first["items"]) == 2 and len(second["items"]) == 1 and second["next_cursor"] is None
    assert {deal["amount"] for deal in first["items"]} == {"99.90"}
    with statements(db) as few:
        client.get(DEALS, headers=headers)
    for _ in range(10):
        add_deal(db, tenant.id, add_lead(db, tenant.id), item)
    with statements(db) as many:
        assert len(client.get(DEALS, headers=headers).json()["items"]) == 13
    assert len(many) == len(few)
    assert client.get(DEALS, params={"stage": "closed"}, headers=headers).status_code == 422


def test_another_tenants_deal_is_404_and_deals_are_read_only_over_http(db, client):
    tenant, other = make_tenant(db), make_tenant(db)
    theirs = add_deal(db, other.id, add_lead(db, other.id), add_item(db, other.id))
    rebind(db, tenant.id)
    response = client.get(f"{DEALS}/{theirs.id}", headers=tenant.headers(Role.owner))
    assert response.status_code == 404 and response.headers["content-type"].startswith("application/problem+json")
    assert client.get(DEALS, headers=tenant.headers(Role.viewer)).json()["items"] == []
    assert client.post(DEALS, json={}, headers=tenant.headers(Role.owner)).status_code == 405


def test_concurrent_proposals_for_one_lead_make_one_deal(committed_db):
    tenant = committed_tenant(committed_db)
    with committed_db() as session, session.begin():
        bind_tenant(session, tenant.id)
        lead = add_lead(session, tenant.id, status="contacted")
        items = [add_item(session, tenant.id, code=f"pkg-{index}") for index in range(4)]
    ctx = TenantContext.system(tenant.id)
    start, errors = threading.Barrier(len(items)), []

    def propose(item_id: uuid.UUID) -> None:
        try:
            with committed_db() as session, session.begin():
                bind_tenant(session, tenant.id)
                item = session.get(type(items[0]), item_id)
                start.wait()
                upsert_proposal_deal(session, ctx, lead=session.get(type(lead), lead.id), item=item, run_id=None,
                                     pipeline_id=None)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=propose, args=(item.id,)) for item in items]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    with committed_db() as session, session.begin():
        bind_tenant(session, tenant.id)
        deals = session.scalars(select(Deal).where(Deal.lead_id == lead.id)).all()
        assert len(deals) == 1
        assert session.scalar(select(func.count()).select_from(AuditLog)
                              .where(AuditLog.entity_id == str(deals[0].id))) == len(items)
