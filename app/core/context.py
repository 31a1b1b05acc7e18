import uuid
from dataclasses import dataclass
from typing import Literal

from app.core.roles import Role


@dataclass(frozen=True)
class Principal:
    kind: Literal["user", "api_key", "system"]
    id: uuid.UUID | None
    role: Role


@dataclass(frozen=True)
class TenantContext:
    """Who is acting, in which tenant. Every service call takes one."""

    tenant_id: uuid.UUID
    principal: Principal
    request_id: str | None = None

    @classmethod
    def system(cls, tenant_id: uuid.UUID) -> "TenantContext":
        return cls(tenant_id, Principal("system", None, Role.owner))
