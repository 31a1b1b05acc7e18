"""Committed tenants for the tests whose other side is another connection (concurrent issues), deleted at the
end with everything they own, so one test's number series never meets another's."""

import uuid
from collections.abc import Callable, Iterator

import pytest

from tests.builders import TenantFixture, committed_tenant
from tests.invoices.helpers import delete_tenants


@pytest.fixture
def committed_tenants(committed_db, owner_engine) -> Iterator[Callable[[], TenantFixture]]:
    made: list[uuid.UUID] = []

    def make() -> TenantFixture:
        tenant = committed_tenant(committed_db)
        made.append(tenant.id)
        return tenant

    yield make
    delete_tenants(owner_engine, made)
