"""Document numbers: per tenant, per series (`invoice`, `credit_note`) and per year, without gaps and without
duplicates, however many documents are issued at once.

The counter is a row of `number_series`, incremented by one statement that also creates it (INSERT … ON
CONFLICT DO UPDATE … RETURNING). The row stays locked until the issuing transaction ends: a concurrent issuer
of the same series waits for it, then reads the committed value and takes the next; a transaction that rolls
back takes its increment with it, so no number is skipped. A PostgreSQL sequence would not do: its values
are not returned on rollback, and every rollback would leave a gap.

Call it last in the issuing transaction, after every check that might still refuse the document: the lock is
held until commit, and every other issuer of the tenant's series waits for it.
"""

import uuid
from enum import StrEnum

from sqlalchemy import text
from sqlalchemy.orm import Session

from app.invoices.settings import YEAR, finance_settings


class Series(StrEnum):
    invoice = "invoice"
    credit_note = "credit_note"


_NEXT = text(
    "INSERT INTO number_series (tenant_id, series, year, last_number) VALUES (:tenant_id, :series, :year, 1) "
    "ON CONFLICT ON CONSTRAINT pk_number_series DO UPDATE SET last_number = number_series.last_number + 1 "
    "RETURNING last_number"
)


def next_value(session: Session, tenant_id: uuid.UUID, series: Series, year: int) -> int:
    """The next value of the tenant's series for `year` (1 for the first), its row locked until commit."""
    return session.execute(_NEXT, {"tenant_id": tenant_id, "series": series.value, "year": year}).scalar_one()


def format_number(prefix: str, year: int, value: int, digits: int) -> str:
    """"INV-{year}-", 2025, 7, 5 → "INV-2025-00007"."""
    return f"{prefix.replace(YEAR, str(year))}{value:0{digits}d}"


def next_number(session: Session, tenant_id: uuid.UUID, series: Series, year: int) -> str:
    """The next number of the series, with the tenant's prefix (`settings.finance.invoice_prefix`, default
    "INV-{year}-"; `credit_note_prefix`, default "CN-{year}-") and zero padding (`number_digits`, default 5)."""
    settings = finance_settings(session, tenant_id)
    return format_number(settings.prefix(series), year, next_value(session, tenant_id, series, year),
                         settings.number_digits)
