"""Deals: one per lead, made by the sales agent from a price book item and moved along its stages
(app.deals.state). Money is copied from the price book in code, never taken from a model's output."""

import uuid
from typing import Any

from sqlalchemy import Select
from sqlalchemy.orm import Session

from app.audit import service as audit
from app.core import money
from app.core.context import TenantContext
from app.core.errors import Conflict, NotFound
from app.core.pagination import newest_first, next_cursor
from app.core.scope import get_or_404, scoped
from app.deals.schemas import DealLead, DealOut
from app.deals.state import DealStage, transition
from app.leads import service as leads
from app.leads.state import LeadStatus
from app.models import Deal, Lead, PriceBookItem

_OUT_FIELDS = tuple(name for name in DealOut.model_fields if name != "lead")
_AUDITED = {"lead_id", "package_id", "package_code", "currency", "list_price", "amount", "stage", "proposal",
            "pipeline_id", "run_id"}


def _out(deal: Deal, lead: Lead) -> DealOut:
    return DealOut(**{name: getattr(deal, name) for name in _OUT_FIELDS}, lead=DealLead.model_validate(lead))


def _audited(deal: Deal) -> dict[str, Any]:
    values = {name: getattr(deal, name) for name in _AUDITED}
    values["list_price"] = money.format_amount(money.quantize(deal.list_price, deal.currency))
    values["amount"] = money.format_amount(money.quantize(deal.amount, deal.currency))
    return {name: str(value) if isinstance(value, uuid.UUID) else value for name, value in values.items()}


def _with_lead(query: Select) -> Select:
    return query.add_columns(Lead).join(Lead, Lead.id == Deal.lead_id)


def get_deal(session: Session, ctx: TenantContext, deal_id: uuid.UUID, *, for_update: bool = False) -> Deal:
    """The tenant's deal, locked for the rest of the transaction with `for_update`; 404 otherwise."""
    return get_or_404(session, ctx, Deal, deal_id, for_update=for_update, label="Deal")


def deal_for_lead(session: Session, ctx: TenantContext, lead_id: uuid.UUID, *, for_update: bool = False) -> Deal | None:
    query = scoped(ctx, Deal).where(Deal.lead_id == lead_id)
    return session.scalars(query.with_for_update() if for_update else query).one_or_none()


def read_deal(session: Session, ctx: TenantContext, deal_id: uuid.UUID) -> DealOut:
    row = session.execute(_with_lead(scoped(ctx, Deal).where(Deal.id == deal_id))).one_or_none()
    if row is None:
        raise NotFound(f"Deal {deal_id} was not found.")
    return _out(*row)


def list_deals(session: Session, ctx: TenantContext, *, limit: int, cursor: str | None, stage: DealStage | None,
               lead_id: uuid.UUID | None) -> tuple[list[DealOut], str | None]:
    """Newest first, keyset-paginated on (created_at, id), each with its lead (one query)."""
    query = newest_first(_with_lead(scoped(ctx, Deal)), Deal, limit, cursor)
    if stage is not None:
        query = query.where(Deal.stage == stage.value)
    if lead_id is not None:
        query = query.where(Deal.lead_id == lead_id)
    rows = session.execute(query).all()
    page = [_out(deal, lead) for deal, lead in rows[:limit]]
    return page, next_cursor(rows, limit)


def upsert_proposal_deal(session: Session, ctx: TenantContext, *, lead: Lead, item: PriceBookItem,
                         run_id: uuid.UUID | None, pipeline_id: uuid.UUID | None) -> Deal:
    """The lead's deal in stage `proposal` for the package `item`: created, or updated if the lead has one
    still in `proposal` (a new proposal replaces the last, whose approval no longer applies). The list
    price, amount and currency are the price book's. A deal past `proposal` is a 409: a new proposal
    would reset a negotiated price."""
    if item.tenant_id != ctx.tenant_id:
        raise NotFound(f"Price book item {item.id} was not found.")
    if not item.active:
        raise Conflict(f"The price book item '{item.code}' is not active: it cannot be proposed.")
    price = money.quantize(item.list_price, item.currency)
    terms = {"package_id": item.id, "package_code": item.code, "list_price": price, "currency": item.currency,
             "amount": price, "run_id": run_id, "pipeline_id": pipeline_id}
    # The lead's lock serialises proposals for it (and is taken before the deal's, as apply_proposal does).
    leads.get_lead(session, ctx, lead.id, for_update=True)
    deal = deal_for_lead(session, ctx, lead.id, for_update=True)
    if deal is None:
        deal = Deal(id=uuid.uuid4(), tenant_id=ctx.tenant_id, lead_id=lead.id, stage=DealStage.proposal.value,
                    proposal=None, **terms)
        session.add(deal)
        session.flush()
        audit.record(session, ctx, "deal.create", "deal", deal.id, after=_audited(deal))
        return deal
    if deal.stage != DealStage.proposal:
        raise Conflict(f"The lead's deal is in stage '{deal.stage}': a new proposal would reset its price.")
    before, previous_run = _audited(deal), deal.run_id
    for name, value in terms.items():
        setattr(deal, name, value)
    if run_id is None or run_id != previous_run:  # the same run again (a replayed step) keeps its approval
        deal.proposal = None
    session.flush()
    after = _audited(deal)
    if after != before:
        audit.record(session, ctx, "deal.update", "deal", deal.id, before=before, after=after)
    return deal


def apply_proposal(session: Session, ctx: TenantContext, deal_id: uuid.UUID, proposal: dict[str, Any]) -> Deal:
    """Store the proposal a reviewer approved (or edited) on the deal and move its lead to `proposal`.
    Applying the same proposal again changes nothing. 409 if the deal is past `proposal` or the lead's life
    cycle does not allow the move (app.leads.state); 404 for another tenant's deal."""
    lead_id = get_deal(session, ctx, deal_id).lead_id
    # The lead before its deal, in the order upsert_proposal_deal locks them.
    lead = leads.get_lead(session, ctx, lead_id, for_update=True)
    deal = get_deal(session, ctx, deal_id, for_update=True)
    if deal.stage != DealStage.proposal:
        raise Conflict(f"The deal is in stage '{deal.stage}': a proposal applies only in stage 'proposal'.")
    before = _audited(deal)
    leads.change_status(session, ctx, lead, LeadStatus.proposal)  # first: a refused move leaves the deal as it was
    deal.proposal = proposal
    session.flush()
    after = _audited(deal)
    if after != before:
        audit.record(session, ctx, "deal.apply_proposal", "deal", deal.id, before=before, after=after)
    return deal


def change_stage(session: Session, ctx: TenantContext, deal: Deal, target: DealStage) -> bool:
    """Move a deal the caller has locked (`get_deal(..., for_update=True)`) to `target`, audited. True if it
    moved, False if it was there already; IllegalDealTransition (409) for a move the life cycle refuses."""
    before = deal.stage
    if not transition(deal, target):
        return False
    session.flush()
    audit.record(session, ctx, "deal.stage", "deal", deal.id, before={"stage": before}, after={"stage": deal.stage})
    return True
