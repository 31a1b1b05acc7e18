"""The roles a member of a tenant can have, strongest first, and their order. What each role may do is
declared in app.auth.permissions."""

from enum import StrEnum


class Role(StrEnum):
    owner = "owner"
    admin = "admin"
    operator = "operator"
    reviewer = "reviewer"
    viewer = "viewer"


RANK: dict[Role, int] = {Role.viewer: 0, Role.reviewer: 1, Role.operator: 2, Role.admin: 3, Role.owner: 4}
