"""What each role may do, declared once (the roles and their order are app.core.roles, re-exported
here). Routes depend on `Authorize(Permission.X)`; nothing else in the code base compares role names."""

from enum import StrEnum

from app.core.context import TenantContext
from app.core.errors import Forbidden
from app.core.roles import RANK, Role

__all__ = ["MINIMUM_ROLE", "RANK", "Permission", "Role", "authorize", "can_manage_role", "has_permission"]


class Permission(StrEnum):
    read = "read"
    decide_reviews = "decide_reviews"
    operate_runs = "operate_runs"
    write_data = "write_data"
    manage_users = "manage_users"
    manage_api_keys = "manage_api_keys"
    manage_prompts = "manage_prompts"
    manage_tenant = "manage_tenant"
    read_audit_log = "read_audit_log"


MINIMUM_ROLE: dict[Permission, Role] = {
    Permission.read: Role.viewer,
    Permission.decide_reviews: Role.reviewer,
    Permission.operate_runs: Role.operator,
    Permission.write_data: Role.operator,
    Permission.manage_users: Role.admin,
    Permission.manage_api_keys: Role.admin,
    Permission.manage_prompts: Role.admin,
    Permission.manage_tenant: Role.admin,
    Permission.read_audit_log: Role.admin,
}


def has_permission(role: Role, permission: Permission) -> bool:
    return RANK[role] >= RANK[MINIMUM_ROLE[permission]]


def can_manage_role(actor: Role, target: Role) -> bool:
    """Admins manage operators, reviewers and viewers; owners manage everyone, admins and owners included."""
    return actor is Role.owner or (has_permission(actor, Permission.manage_users) and RANK[target] < RANK[Role.admin])


def authorize(ctx: TenantContext, permission: Permission) -> None:
    """Raise 403 unless the caller's role has `permission`. Handlers on one resource call it after fetching
    the resource through the tenant scope, so another tenant's resource is a 404 whatever the role."""
    if not has_permission(ctx.principal.role, permission):
        raise Forbidden(f"The role '{ctx.principal.role}' may not {permission.value.replace('_', ' ')}.")
