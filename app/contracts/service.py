"""Contracts: the summary of a won deal (parties, package, price, term, payment terms), one per deal. The
finance agent writes it, the model's summary checked by code against the deal; it is read-only over HTTP."""

import uuid
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from app.audit import service as audit
from app.core import money
from app.core.context import TenantContext
from app.core.pagination import newest_first, next_cursor
from app.core.scope import get_or_404, scoped
from app.models import Contract, Deal

_AUDITED = ("deal_id", "lead_id", "parties", "package_code", "price", "currency", "term_months", "payment_terms",
            "summary", "run_id")


def _audited(contract: Contract) -> dict[str, Any]:
    values = {name: getattr(contract, name) for name in _AUDITED}
    values["price"] = money.format_amount(money.quantize(contract.price, contract.currency))
    return {name: str(value) if isinstance(value, uuid.UUID) else value for name, value in values.items()}


def get_contract(session: Session, ctx: TenantContext, contract_id: uuid.UUID) -> Contract:
    return get_or_404(session, ctx, Contract, contract_id, label="Contract")


def contract_for_deal(session: Session, ctx: TenantContext, deal_id: uuid.UUID, *,
                      for_update: bool = False) -> Contract | None:
    query = scoped(ctx, Contract).where(Contract.deal_id == deal_id)
    return session.scalars(query.with_for_update() if for_update else query).one_or_none()


def list_contracts(session: Session, ctx: TenantContext, *, limit: int, cursor: str | None,
                   deal_id: uuid.UUID | None, lead_id: uuid.UUID | None) -> tuple[list[Contract], str | None]:
    """Newest first, keyset-paginated on (created_at, id)."""
    query = newest_first(scoped(ctx, Contract), Contract, limit, cursor)
    if deal_id is not None:
        query = query.where(Contract.deal_id == deal_id)
    if lead_id is not None:
        query = query.where(Contract.lead_id == lead_id)
    contracts = list(session.scalars(query))
    page = contracts[:limit]
    return page, next_cursor(contracts, limit)


def record_contract(session: Session, ctx: TenantContext, *, deal: Deal, parties: dict[str, Any], price: Decimal,
                    term_months: int, payment_terms: str, summary: str, run_id: uuid.UUID | None) -> Contract:
    """The deal's contract: created, or rewritten by a later finance run (after its invoice was rejected, say).
    The package, currency and lead are the deal's; `price` is checked to fit the currency."""
    terms = {"lead_id": deal.lead_id, "parties": parties, "package_code": deal.package_code,
             "price": money.checked(price, deal.currency, "price"), "currency": deal.currency,
             "term_months": term_months, "payment_terms": payment_terms, "summary": summary, "run_id": run_id}
    contract = contract_for_deal(session, ctx, deal.id, for_update=True)
    if contract is None:
        contract = Contract(id=uuid.uuid4(), tenant_id=ctx.tenant_id, deal_id=deal.id, **terms)
        session.add(contract)
        session.flush()
        audit.record(session, ctx, "contract.create", "contract", contract.id, after=_audited(contract))
        return contract
    before = _audited(contract)
    for name, value in terms.items():
        setattr(contract, name, value)
    session.flush()
    after = _audited(contract)
    if after != before:
        audit.record(session, ctx, "contract.update", "contract", contract.id, before=before, after=after)
    return contract
