"""The demo: a tenant with one user per role, seeded through the service layer and checked through the API.

`run_demo(base_url)` is what `python -m app demo` and `python -m app dev` call. It is idempotent: an
existing demo tenant is kept as it is, and every login is then proven against the running API.
"""

import sys
from dataclasses import dataclass

import httpx

from app.auth.permissions import Role
from app.core.config import get_settings
from app.core.context import TenantContext
from app.core.db import session_scope
from app.core.errors import Conflict
from app.tenants.service import create_tenant
from app.users import service as users
from app.users.schemas import UserCreate

DEMO_SLUG = "demo"
DEMO_TENANT_NAME = "Demo Fitness Studio"
# One well-known password for every demo account: the demo exists to be logged into, and it is refused
# in production (see run_demo).
DEMO_PASSWORD = "agentline-demo-password"
DEMO_ROLES = (Role.owner, Role.admin, Role.operator, Role.reviewer, Role.viewer)


@dataclass(frozen=True)
class DemoLogin:
    role: Role
    email: str
    ok: bool
    detail: str


def demo_email(role: Role) -> str:
    return f"{role.value}@{DEMO_SLUG}.example.com"


def seed_demo_tenant() -> bool:
    """Create the demo tenant, its owner and one user for every other role, in one transaction.
    Returns False, changing nothing, when the demo tenant already exists."""
    with session_scope() as session:
        try:
            tenant, _ = create_tenant(session, name=DEMO_TENANT_NAME, slug=DEMO_SLUG,
                                      admin_email=demo_email(Role.owner), admin_password=DEMO_PASSWORD)
        except Conflict:
            return False
        ctx = TenantContext.system(tenant.id)
        for role in DEMO_ROLES[1:]:
            users.create_user(session, ctx, UserCreate(email=demo_email(role), name=f"Demo {role.value}",
                                                       password=DEMO_PASSWORD, role=role))
    return True


def check_logins(client: httpx.Client) -> list[DemoLogin]:
    """Log in as every demo user through the HTTP API, as a person would."""
    results = []
    for role in DEMO_ROLES:
        email = demo_email(role)
        response = client.post("/api/v1/auth/token", json={"email": email, "password": DEMO_PASSWORD,
                                                           "tenant": DEMO_SLUG})
        if response.status_code == 200:
            results.append(DemoLogin(role, email, True, "ok"))
        else:
            results.append(DemoLogin(role, email, False, f"HTTP {response.status_code}: {_problem_detail(response)}"))
    return results


def _problem_detail(response: httpx.Response) -> str:
    if response.headers.get("content-type", "").startswith(("application/problem+json", "application/json")):
        return str(response.json().get("detail", response.text))
    return response.text or response.reason_phrase


def print_logins(base_url: str, logins: list[DemoLogin]) -> None:
    width = max(len(login.email) for login in logins)
    print(f"\nDemo logins (tenant '{DEMO_SLUG}'), POST {base_url}/api/v1/auth/token:")
    print(f"  {'role':<9} {'email':<{width}}  login")
    for login in logins:
        print(f"  {login.role.value:<9} {login.email:<{width}}  {login.detail}")
    print(f"  password for every demo account: {DEMO_PASSWORD}")


def run_demo(base_url: str) -> int:
    """Seed the demo tenant and prove its logins against the API at `base_url`. Returns an exit code."""
    if get_settings().is_production:
        print("error: the demo creates accounts with a published password; it does not run in production.",
              file=sys.stderr)
        return 2
    if seed_demo_tenant():
        print(f"demo tenant '{DEMO_SLUG}' created with one user for every role")
    else:
        print(f"demo tenant '{DEMO_SLUG}' already exists; keeping it as it is")
    try:
        with httpx.Client(base_url=base_url, timeout=30) as client:
            logins = check_logins(client)
    except httpx.TransportError as exc:
        print(f"error: the API at {base_url} is not reachable ({exc}); start it with `python -m app serve`.",
              file=sys.stderr)
        return 1
    print_logins(base_url, logins)
    if not all(login.ok for login in logins):
        print("error: some demo logins failed (see the table above).", file=sys.stderr)
        return 1
    return 0
