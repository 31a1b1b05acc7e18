"""The demo: a tenant with one user per role, seeded through the service layer and checked through the API,
then runs driven through the API as the operator, and a table of every run.

`run_demo(base_url)` is what `python -m app demo` and `python -m app dev` call. It is idempotent: an
existing demo tenant is kept as it is, and every login is then proven against the running API.
"""

import sys
import time
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


def login(client: httpx.Client, role: Role) -> dict[str, str]:
    response = client.post("/api/v1/auth/token", json={"email": demo_email(role), "password": DEMO_PASSWORD,
                                                       "tenant": DEMO_SLUG})
    response.raise_for_status()
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


FINISHED = {"succeeded", "failed", "dead_lettered", "cancelled", "rejected", "awaiting_review"}
DEMO_RUNS = (
    ("demo-echo-hello", "echo", {"message": "Hello from the Agentline demo", "delay_ms": 200}),
    ("demo-echo-smoke", "echo", {"message": "Engine smoke test", "delay_ms": 0}),
)


def drive_runs(client: httpx.Client, timeout: float = 60) -> list[dict]:
    """Start the demo runs as the operator (Idempotency-Key: a rerun of the demo starts nothing new) and
    wait until each has finished."""
    headers = login(client, Role.operator)
    run_ids = []
    for key, agent, payload in DEMO_RUNS:
        response = client.post(f"/api/v1/agents/{agent}/run", json={"input": payload},
                               headers={**headers, "Idempotency-Key": key})
        response.raise_for_status()
        run_ids.append(response.json()["id"])
    deadline = time.monotonic() + timeout
    while True:
        runs = [client.get(f"/api/v1/runs/{run_id}", headers=headers).json() for run_id in run_ids]
        if all(run["status"] in FINISHED for run in runs) or time.monotonic() > deadline:
            return client.get("/api/v1/runs", params={"limit": 50}, headers=headers).json()["items"]
        time.sleep(0.3)


def print_runs(runs: list[dict]) -> None:
    print(f"\nRuns of tenant '{DEMO_SLUG}':")
    print(f"  {'run id':<36}  {'agent':<12} {'status':<16} {'attempt':>7}  output")
    for run in runs:
        output = run["output"] or run["error"] or {}
        print(f"  {run['id']:<36}  {run['agent']:<12} {run['status']:<16} {run['attempt']:>7}  {str(output)[:60]}")


def run_demo(base_url: str) -> int:
    """Seed the demo tenant, prove its logins and drive the demo runs against the API at `base_url`.
    Returns an exit code."""
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
    with httpx.Client(base_url=base_url, timeout=30) as client:
        runs = drive_runs(client)
    print_runs(runs)
    if any(run["status"] not in FINISHED for run in runs):
        print("error: some demo runs did not finish; is a worker running (`python -m app worker`)?",
              file=sys.stderr)
        return 1
    return 0
