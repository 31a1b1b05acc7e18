"""Plain builders for test data: a tenant with one user per role, and their credentials."""

import uuid
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from app.auth.permissions import Role
from app.core.db import bind_tenant
from app.core.security import create_token, hash_password
from app.models import Membership, User
from app.tenants.service import create_tenant

PASSWORD = "correct-horse-battery-staple"
_FAST_HASH = hash_password(PASSWORD)


@dataclass
class TenantFixture:
    id: uuid.UUID
    slug: str
    users: dict[Role, uuid.UUID] = field(default_factory=dict)
    emails: dict[Role, str] = field(default_factory=dict)

    def token(self, role: Role) -> str:
        return create_token(self.users[role], self.id, "access")[0]

    def headers(self, role: Role) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(role)}"}


def make_tenant(session: Session, name: str | None = None) -> TenantFixture:
    """A tenant with one active user for every role (the owner made by create_tenant)."""
    name = name or f"Tenant {uuid.uuid4().hex[:8]}"
    slug = f"t-{uuid.uuid4().hex[:12]}"
    tenant, owner = create_tenant(session, name=name, admin_email=f"owner@{slug}.example.com", admin_password=PASSWORD,
                                  slug=slug)
    fixture = TenantFixture(tenant.id, slug, {Role.owner: owner.id}, {Role.owner: owner.email})
    for role in (Role.admin, Role.operator, Role.reviewer, Role.viewer):
        user = User(tenant_id=tenant.id, email=f"{role}@{slug}.example.com", name=role.value.title(), password_hash=_FAST_HASH)
        session.add(user)
        session.flush()
        session.add(Membership(tenant_id=tenant.id, user_id=user.id, role=role))
        fixture.users[role], fixture.emails[role] = user.id, user.email
    session.flush()
    return fixture


def rebind(session: Session, tenant_id: uuid.UUID) -> None:
    bind_tenant(session, tenant_id)
