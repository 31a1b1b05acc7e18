"""What the negotiation tests share: a deal whose approved proposal the client has received, and the
client's moves through the API."""

import uuid
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from app.auth.permissions import Role
from app.models import Deal
from tests.builders import TenantFixture
from tests.records import add_deal, add_item, add_lead

PROPOSAL = {"package_code": "growth", "price": "1000.00", "currency": "EUR", "billing_period": "monthly",
            "summary": "Growth for Cobol Works.", "scope": ["Onboarding workshop"], "next_steps": ["Sign"]}


def deal_in_proposal(session: Session, tenant_id: uuid.UUID, *, list_price: str = "1000.00", currency: str = "EUR",
                     code: str = "growth", approved: bool = True, pipeline_id: uuid.UUID | None = None) -> Deal:
    """A deal in stage `proposal` whose proposal a reviewer approved (so the client has it), its lead in
    `proposal`. The session must be bound to the tenant."""
    lead = add_lead(session, tenant_id, status="proposal" if approved else "contacted", name="Grace Hopper",
                    company="Cobol Works")
    item = add_item(session, tenant_id, code=code, list_price=list_price, currency=currency, name="Growth")
    deal = add_deal(session, tenant_id, lead, item)
    deal.proposal = {**PROPOSAL, "package_code": code, "price": list_price, "currency": currency} if approved else None
    deal.pipeline_id = pipeline_id
    session.flush()
    return deal


def move(client: TestClient, tenant: TenantFixture, deal_id: uuid.UUID, kind: str, amount: str | None = None,
         role: Role = Role.operator, headers: dict[str, str] | None = None, **fields: Any):
    body = {"kind": kind, **({"amount": amount} if amount is not None else {}), **fields}
    return client.post(f"/api/v1/deals/{deal_id}/offers", json=body,
                       headers={**tenant.headers(role), **(headers or {})})


def history(client: TestClient, tenant: TenantFixture, deal_id: uuid.UUID, role: Role = Role.viewer) -> dict[str, Any]:
    response = client.get(f"/api/v1/deals/{deal_id}/negotiation", headers=tenant.headers(role))
    assert response.status_code == 200, response.text
    return response.json()
