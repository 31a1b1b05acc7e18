"""Committed tenants for the tests whose other side is another connection (concurrent issues), deleted at the
end with everything they own, so one test's number series never meets another's."""

import uuid
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import text

from tests.builders import TenantFixture, committed_tenant


def delete_tenants(owner_engine, tenant_ids: list[uuid.UUID]) -> None:
    with owner_engine.begin() as connection:
        # Credit notes first: their invoice is RESTRICTed while they exist, whatever deletes it.
        connection.execute(text("DELETE FROM credit_notes WHERE tenant_id = ANY(:ids)"), {"ids": tenant_ids})
        connection.execute(text("DELETE FROM tenants WHERE id = ANY(:ids)"), {"ids": tenant_ids})


@pytest.fixture
def committed_tenants(committed_db, owner_engine) -> Iterator[Callable[[], TenantFixture]]:
    made: list[uuid.UUID] = []

    def make() -> TenantFixture:
        tenant = committed_tenant(committed_db)
        made.append(tenant.id)
        return tenant

    yield make
    delete_tenants(owner_engine, made)
