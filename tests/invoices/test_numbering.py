"""Numbers are given at issue, per tenant and year, without gaps and without duplicates: 50 concurrent issues
(and issues rolled back among them) in one tenant, two tenants at once, prefixes from the tenant's settings."""

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import sessionmaker
from sqlalchemy.pool import NullPool

from app.core.context import TenantContext
from app.core.db import session_scope
from app.invoices import service as invoices
from app.invoices.numbering import Series, format_number, next_number
from app.models import Tenant
from tests.builders import make_tenant
from tests.invoices.helpers import draft

CONCURRENT = 50


class RolledBack(Exception):
    pass


@pytest.fixture
def own_connections(migrated):
    """One connection per thread: the threads wait on the series row, not on the pool."""
    engine = create_engine(migrated["database_url"], poolclass=NullPool)
    yield sessionmaker(bind=engine, expire_on_commit=False)
    engine.dispose()


def _drafts(tenant_id: uuid.UUID, count: int) -> list[uuid.UUID]:
    with session_scope(tenant_id) as session:
        return [draft(session, tenant_id).id for _ in range(count)]


def _issue_all(factory, work: list[tuple[uuid.UUID, uuid.UUID, bool]]) -> list[tuple[uuid.UUID, str]]:
    """Issue every (tenant, invoice) at once, each in its own transaction; those marked roll back after
    taking their number. Returns (tenant, number) of the issues that committed."""
    start = threading.Barrier(len(work))

    def issue(item: tuple[uuid.UUID, uuid.UUID, bool]) -> tuple[uuid.UUID, str] | None:
        tenant_id, invoice_id, roll_back = item
        start.wait()
        try:
            with session_scope(tenant_id, factory=factory) as session:
                number = invoices.issue(session, TenantContext.system(tenant_id), invoice_id).number
                if roll_back:
                    raise RolledBack(number)
        except RolledBack:
            return None
        return tenant_id, number

    with ThreadPoolExecutor(max_workers=len(work)) as pool:
        return [result for result in pool.map(issue, work) if result is not None]


def _year(tenant_id: uuid.UUID) -> int:
    with session_scope(tenant_id) as session:
        return invoices.tenant_today(session, tenant_id).year


def test_fifty_concurrent_issues_get_numbers_one_to_fifty_even_with_rollbacks_among_them(committed_tenants,
                                                                                         own_connections):
    tenant = committed_tenants()
    ids = _drafts(tenant.id, CONCURRENT + 10)
    # Ten of the issuers take a number and roll back: their numbers go to the next ones, no gap is left.
    work = [(tenant.id, invoice_id, index % 6 == 5) for index, invoice_id in enumerate(ids)]

    issued = _issue_all(own_connections, work)

    year = _year(tenant.id)
    assert sorted(number for _, number in issued) == [f"INV-{year}-{n:05d}" for n in range(1, CONCURRENT + 1)]
    with session_scope(tenant.id) as session:
        stored = [invoices.get_invoice(session, TenantContext.system(tenant.id), invoice_id) for invoice_id in ids]
    assert sorted(invoice.number for invoice in stored if invoice.status == "issued") == sorted(
        number for _, number in issued)
    assert sum(invoice.status == "draft" and invoice.number is None for invoice in stored) == 10


def test_two_tenants_number_independently_at_the_same_time(committed_tenants, own_connections):
    first, second = committed_tenants(), committed_tenants()
    work = [(tenant.id, invoice_id, False) for tenant in (first, second) for invoice_id in _drafts(tenant.id, 20)]

    issued = _issue_all(own_connections, work)

    year = _year(first.id)
    for tenant in (first, second):
        assert sorted(number for tenant_id, number in issued if tenant_id == tenant.id) == [
            f"INV-{year}-{n:05d}" for n in range(1, 21)]


def test_prefix_digits_and_series_come_from_the_tenants_settings(db):
    tenant = make_tenant(db)
    db.get_one(Tenant, tenant.id).settings = {"finance": {"invoice_prefix": "ACME/{year}/", "number_digits": 3,
                                                          "credit_note_prefix": "GS-"}}
    db.flush()
    assert next_number(db, tenant.id, Series.invoice, 2031) == "ACME/2031/001"
    assert next_number(db, tenant.id, Series.invoice, 2031) == "ACME/2031/002"
    assert next_number(db, tenant.id, Series.credit_note, 2031) == "GS-001"  # its own series
    assert next_number(db, tenant.id, Series.invoice, 2032) == "ACME/2032/001"  # a new year starts at one
    assert format_number("INV-{year}-", 2031, 123456, 5) == "INV-2031-123456"  # past the padding, longer


def test_a_draft_has_no_number_and_issuing_it_again_keeps_its_number(db):
    tenant = make_tenant(db)
    invoice = draft(db, tenant.id)
    assert (invoice.number, invoice.issue_date, invoice.status) == (None, None, "draft")
    ctx = TenantContext.system(tenant.id)
    number = invoices.issue(db, ctx, invoice.id).number
    assert invoices.issue(db, ctx, invoice.id).number == number
    assert next_number(db, tenant.id, Series.invoice, invoice.issue_date.year).endswith("00002")
