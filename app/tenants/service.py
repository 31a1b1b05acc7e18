import re
import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.audit import service as audit
from app.auth.permissions import Role
from app.core.context import TenantContext
from app.core.db import bind_tenant
from app.core.errors import Conflict
from app.core.security import hash_password
from app.knowledge import service as knowledge
from app.models import Membership, Tenant, User
from app.tenants.schemas import TenantOut, TenantPatch
from app.tenants.sections import validate_sections


def slugify(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:60] or "tenant"


def create_tenant(session: Session, *, name: str, admin_email: str, admin_password: str, timezone: str = "UTC",
                  slug: str | None = None) -> tuple[Tenant, User]:
    """A tenant and its first owner. Other tenants are invisible under RLS, so a taken slug is detected
    by the unique constraint, inside a savepoint."""
    slug = slug or slugify(name)
    tenant_id = uuid.uuid4()
    bind_tenant(session, tenant_id)
    tenant = Tenant(id=tenant_id, name=name, slug=slug, timezone=timezone, settings={})
    try:
        with session.begin_nested():
            session.add(tenant)
    except IntegrityError as exc:
        raise Conflict(f"A tenant with slug '{slug}' already exists.") from exc
    owner = User(tenant_id=tenant_id, email=admin_email.lower(), name="", password_hash=hash_password(admin_password))
    session.add(owner)
    session.flush()
    session.add(Membership(tenant_id=tenant_id, user_id=owner.id, role=Role.owner))
    audit.record(session, TenantContext.system(tenant_id), "tenant.create", "tenant", tenant_id,
                 after={"name": name, "slug": slug, "timezone": timezone})
    session.flush()
    return tenant, owner


def get_tenant(session: Session, ctx: TenantContext) -> Tenant:
    return session.scalars(select(Tenant).where(Tenant.id == ctx.tenant_id)).one()


def update_tenant(session: Session, ctx: TenantContext, patch: TenantPatch) -> Tenant:
    tenant = session.scalars(select(Tenant).where(Tenant.id == ctx.tenant_id).with_for_update()).one()
    before = TenantOut.model_validate(tenant).model_dump(mode="json", include={"name", "timezone", "settings"})
    changes = patch.model_dump(exclude_unset=True)
    if "name" in changes and changes["name"] is not None:
        tenant.name = changes["name"]
    if "timezone" in changes and changes["timezone"] is not None:
        tenant.timezone = changes["timezone"]
    if changes.get("settings") is not None:
        merged = _merge(tenant.settings, changes["settings"])
        validate_sections(merged, set(changes["settings"]))
        tenant.settings = merged
    session.flush()
    session.refresh(tenant)
    after = TenantOut.model_validate(tenant).model_dump(mode="json", include={"name", "timezone", "settings"})
    audit.record(session, ctx, "tenant.update", "tenant", tenant.id, before=before, after=after)
    # A new embedder re-embeds the tenant's documents (in the same transaction as the change).
    knowledge.on_settings_changed(session, ctx, before["settings"], after["settings"])
    return tenant


def _merge(current: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    merged = dict(current)
    for key, value in changes.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged
