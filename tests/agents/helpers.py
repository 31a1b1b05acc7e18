"""What the agent tests share: an ICP, a price book, leads of different fit, and hits as retrieval returns them."""

import uuid
from decimal import Decimal

from app.knowledge.schemas import SearchHit

ICP_MD = """# Ideal customer profile

We sell to mid-sized manufacturers and logistics companies in Europe with 50 to 500 employees.
We do not sell to retail or public sector organisations.

## Buyers
Our buyers are heads of operations, VPs of operations and COOs; finance directors sign off.

## Why customers buy
Customers cut unplanned downtime by 30% in the first six months.
"""

FIT_LEAD = {"name": "Ada Lovelace", "company": "Analytical Engines", "title": "VP Operations",
            "industry": "manufacturing", "company_size": 120, "country": "DE", "source": "inbound",
            "notes": "Asked for a demo after the webinar."}
POOR_LEAD = {"name": "Bob Stall", "company": "Bob's Corner Shop", "title": "Store manager", "industry": "retail",
             "company_size": 12, "country": "US"}

PRICE_BOOK = [
    {"code": "starter", "name": "Starter", "description": "For teams of up to 50 employees. Email support.",
     "list_price": "490.00", "currency": "EUR", "billing_period": "monthly"},
    {"code": "growth", "name": "Growth", "description": "For companies of 50 to 250 employees. Onboarding "
     "workshop. Priority support.", "list_price": "1250.00", "currency": "EUR", "billing_period": "monthly"},
    {"code": "enterprise", "name": "Enterprise", "description": "For 250+ employees. Dedicated success manager.",
     "list_price": "3900.00", "currency": "EUR", "billing_period": "monthly"},
]


def hit(text: str, chunk_id: uuid.UUID | None = None, score: float = 0.03) -> SearchHit:
    return SearchHit(document_id=uuid.uuid4(), title="Ideal customer profile", chunk_id=chunk_id or uuid.uuid4(),
                     text=text, score=score, metadata={})


def weight(value: int) -> Decimal:
    return Decimal(value)
