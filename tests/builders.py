"""Plain builders for test data: a tenant with one user per role, and their credentials."""

import uuid
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.orm import Session

from app.auth.permissions import Role
from app.core.db import bind_tenant
from app.core.security import create_token, generate_api_key, hash_password
from app.models import ApiKey, Membership, Tenant, User

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
    """A tenant with one active user for every role, bound to `session`.

    Built from plain rows rather than through `create_tenant`, which hashes the owner's password at
    production argon2 cost (about 0.3 s): the role matrices build hundreds of tenants. `create_tenant`
    itself is covered in tests/tenants and by the CLI test."""
    name = name or f"Tenant {uuid.uuid4().hex[:8]}"
    slug = f"t-{uuid.uuid4().hex[:12]}"
    tenant = Tenant(id=uuid.uuid4(), name=name, slug=slug, timezone="UTC", settings={})
    bind_tenant(session, tenant.id)
    session.add(tenant)
    session.flush()
    fixture = TenantFixture(tenant.id, slug)
    for role in Role:
        user = add_user(session, tenant.id, role, email=f"{role}@{slug}.example.com")
        fixture.users[role], fixture.emails[role] = user.id, user.email
    return fixture


def add_user(session: Session, tenant_id: uuid.UUID, role: Role, *, email: str | None = None,
             is_active: bool = True) -> User:
    """One more user of `role` in the tenant (password: PASSWORD). The session must be bound to the tenant."""
    email = email or f"{role}-{uuid.uuid4().hex[:8]}@example.com"
    user = User(tenant_id=tenant_id, email=email, name=role.value.title(), password_hash=_FAST_HASH,
                is_active=is_active)
    session.add(user)
    session.flush()
    session.add(Membership(tenant_id=tenant_id, user_id=user.id, role=role))
    session.flush()
    return user


def add_api_key(session: Session, tenant_id: uuid.UUID, role: Role, *, expires_at: datetime | None = None,
                revoked_at: datetime | None = None) -> tuple[str, ApiKey]:
    """An API key of `role` stored as the API stores it; returns (the secret key, its row)."""
    key, prefix, key_hash = generate_api_key()
    record = ApiKey(tenant_id=tenant_id, name=f"{role} key", prefix=prefix, key_hash=key_hash, role=role,
                    expires_at=expires_at, revoked_at=revoked_at)
    session.add(record)
    session.flush()
    return key, record


def rebind(session: Session, tenant_id: uuid.UUID) -> None:
    bind_tenant(session, tenant_id)


def committed_tenant(factory) -> TenantFixture:
    """A tenant committed for real, for tests whose other side is another process."""
    with factory() as session, session.begin():
        return make_tenant(session)
