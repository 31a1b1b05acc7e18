"""The demo: a tenant with one user per role, seeded through the service layer and checked through the API;
then the business through the API, as its people would: the admin sets the ideal customer profile, the
operator uploads the ICP document, the price book and six leads (a CSV import) and starts a pipeline for
each lead, the reviewer approves, edits or rejects what the agents propose (app.demo_data says which) and
leaves one email pending for a person to decide in the console;
and tables of the pipelines, the runs, the emails sent and the deals.

`run_demo(base_url)` is what `python -m app demo` and `python -m app dev` call. It is idempotent: an
existing demo tenant is kept as it is, records are created only when missing, pipelines are started
with an Idempotency-Key, and every login is proven against the running API.
"""

import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from weakref import WeakKeyDictionary

import httpx

from app import demo_data
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


# One login per role and client: the demo would otherwise log in more often than the login limit allows.
_sessions: "WeakKeyDictionary[httpx.Client, dict[Role, dict[str, str]]]" = WeakKeyDictionary()


def login(client: httpx.Client, role: Role) -> dict[str, str]:
    tokens = _sessions.setdefault(client, {})
    if role not in tokens:
        response = client.post("/api/v1/auth/token", json={"email": demo_email(role), "password": DEMO_PASSWORD,
                                                           "tenant": DEMO_SLUG})
        response.raise_for_status()
        tokens[role] = {"Authorization": f"Bearer {response.json()['access_token']}"}
    return tokens[role]


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


def seed_business(client: httpx.Client, timeout: float = 60) -> list[dict]:
    """The ICP (settings and document), the price book, the suppression and the leads, each only when
    missing. Returns the leads."""
    admin, operator = login(client, Role.admin), login(client, Role.operator)
    _ok(client.patch("/api/v1/tenant", json={"settings": {"icp": demo_data.ICP_SETTINGS,
                                                           "finance": demo_data.FINANCE_SETTINGS}}, headers=admin))
    _ok(client.put("/api/v1/policies/negotiation", json=demo_data.NEGOTIATION_POLICY, headers=admin))
    document = _ok(client.post("/api/v1/knowledge/documents", json=demo_data.ICP_DOCUMENT, headers=operator))
    _wait(lambda: client.get(f"/api/v1/knowledge/documents/{document['id']}", headers=operator).json()["status"]
          in ("ready", "failed"), timeout, "the ICP document to be ingested")
    existing = {item["code"].lower() for item in _ok(client.get("/api/v1/price-book", params={"limit": 200},
                                                                headers=operator))["items"]}
    for item in demo_data.PRICE_BOOK:
        if item["code"].lower() not in existing:
            _ok(client.post("/api/v1/price-book", json=item, headers=operator))
    for code, floor in demo_data.PACKAGE_FLOORS.items():
        _ok(client.put("/api/v1/policies/negotiation", params={"package_code": code},
                       json={**demo_data.NEGOTIATION_POLICY, **floor}, headers=admin))
    suppression = client.post("/api/v1/suppressions", headers=operator, json={
        "kind": "domain", "value": demo_data.SUPPRESSED_DOMAIN, "reason": "asked not to be contacted"})
    if suppression.status_code != 409:
        _ok(suppression)
    imported = _ok(client.post("/api/v1/leads/import", headers=operator,
                               files={"file": ("leads.csv", demo_data.LEADS_CSV.encode(), "text/csv")}))
    return [_ok(client.get(f"/api/v1/leads/{row['lead_id']}", headers=operator)) for row in imported["rows"]]


def drive_pipelines(client: httpx.Client, leads: list[dict], timeout: float = 180) -> list[dict]:
    """Start a pipeline for every lead as the operator, and decide every review they open as the reviewer,
    following demo_data.REVIEW_PLAN, until every pipeline has ended (or the timeout)."""
    operator, reviewer = login(client, Role.operator), login(client, Role.reviewer)
    by_pipeline: dict[str, dict] = {}
    for lead in leads:
        response = client.post("/api/v1/pipeline/run", json={"lead_id": lead["id"]},
                               headers={**operator, "Idempotency-Key": f"demo-pipeline-{lead['id']}"})
        if response.status_code == 409:  # a pipeline of an earlier demo is still running: follow that one
            response = client.get("/api/v1/pipelines", params={"lead_id": lead["id"], "status": "running"},
                                  headers=operator)
            by_pipeline[response.json()["items"][0]["id"]] = lead
        else:
            by_pipeline[_ok(response)["id"]] = lead
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for review in _ok(client.get("/api/v1/reviews", params={"status": "pending", "limit": 200},
                                     headers=reviewer))["items"]:
            lead = by_pipeline.get(review["pipeline_id"] or "")
            if lead is not None and not _left_for_you(lead, review["entity_type"]):
                _decide(client, reviewer, review, demo_data.REVIEW_PLAN.get(lead["email"], {}))
        pipelines = [_ok(client.get(f"/api/v1/pipelines/{pipeline_id}", headers=operator)) for pipeline_id in by_pipeline]
        for pipeline in pipelines:
            if pipeline["current_stage"] == "negotiation":
                _client_moves(client, operator, pipeline, by_pipeline[pipeline["id"]])
        if all(_settled(pipeline, by_pipeline[pipeline["id"]]) for pipeline in pipelines):
            break
        time.sleep(0.5)
    for pipeline in pipelines:
        pipeline["lead"] = by_pipeline[pipeline["id"]]
    return pipelines


def _left_for_you(lead: dict, entity_type: str) -> bool:
    return demo_data.REVIEW_PLAN.get(lead["email"], {}).get(entity_type) == demo_data.LEFT_FOR_YOU


def _settled(pipeline: dict, lead: dict) -> bool:
    """Ended, or waiting for a review the demo leaves for a person."""
    stage = pipeline["current_stage"] or ""
    return pipeline["status"] != "running" or (stage.startswith("review_")
                                               and _left_for_you(lead, stage.removeprefix("review_")))


def drive_coaching(client: httpx.Client, timeout: float = 120) -> list[dict]:
    """Two coaching clients with their plan and check-ins (created once), their review of the last complete
    week as the operator would start it on demand, and the reviewer approving a proposed plan change.
    Returns each client's review run, read back."""
    operator, reviewer = login(client, Role.operator), login(client, Role.reviewer)
    today = datetime.now(UTC).date()
    week_start = today - timedelta(days=today.weekday() + 7)  # the Monday of the last complete week
    week = f"{week_start.isocalendar().year}-W{week_start.isocalendar().week:02d}"
    existing = {c["email"]: c for c in _ok(client.get("/api/v1/clients", params={"limit": 200},
                                                      headers=operator))["items"]}
    run_ids = []
    for person in demo_data.COACHING_CLIENTS:
        found = existing.get(person["email"])
        if found is None:
            found = _ok(client.post("/api/v1/clients", json={**person, "start_date": (
                week_start - timedelta(days=35)).isoformat()}, headers=operator))
            _ok(client.put(f"/api/v1/clients/{found['id']}/plan", json={"content": demo_data.COACHING_PLAN},
                           headers=operator))
            _ok(client.post(f"/api/v1/clients/{found['id']}/check-ins/import", headers=operator,
                            json=demo_data.coaching_check_ins(person["email"], week_start)))
        run = _ok(client.post("/api/v1/agents/coaching/run", json={"input": {"client_id": found["id"], "week": week}},
                              headers={**operator, "Idempotency-Key": f"demo-coaching-{found['id']}-{week}"}))
        run_ids.append(run["id"])
    _wait(lambda: all(_ok(client.get(f"/api/v1/runs/{run_id}", headers=operator))["status"] in FINISHED
                      for run_id in run_ids), timeout, "the coaching reviews")
    for review in _ok(client.get("/api/v1/reviews", params={"entity_type": "plan_change", "status": "pending"},
                                 headers=reviewer))["items"]:
        if review["run_id"] in run_ids:
            _decide(client, reviewer, review, {})
    return [_ok(client.get(f"/api/v1/runs/{run_id}", headers=operator)) for run_id in run_ids]


def print_coaching(client: httpx.Client, runs: list[dict]) -> None:
    viewer = login(client, Role.viewer)
    print(f"\nCoaching reviews of tenant '{DEMO_SLUG}':")
    for run in runs:
        output = run["output"] or {}
        person = _ok(client.get(f"/api/v1/clients/{run['input']['client_id']}", headers=viewer))
        print(f"  {person['name']} ({output.get('week')}): readiness {output.get('band') or 'n/a'}, "
              f"deload {'yes' if output.get('deload') else 'no'}, run {run['status']}")
        for card in output.get("cards", []):
            print(f"    card [{card['severity']}] {card['kind']}: {card['seen'][:90]}")
        change = output.get("plan_change")
        if change:
            review = _ok(client.get(f"/api/v1/reviews/plan_change/{change['id']}", headers=viewer))
            for line in change["changes"][:6]:
                print(f"    plan {line['field']}: {line['before']} → {line['after']}")
            print(f"    plan change {review['status']}")
        else:
            print("    no plan change")


def _client_moves(client: httpx.Client, operator: dict[str, str], pipeline: dict, lead: dict) -> None:
    """The client's next move on the deal (posted by the operator, as a salesperson would after a call):
    the planned counter-offers in turn, each once our answer to the previous one was sent, then accept."""
    deal_id = next(stage["entity_id"] for stage in pipeline["stages"] if stage["name"] == "negotiation")
    rounds = _ok(client.get(f"/api/v1/deals/{deal_id}/negotiation", headers=operator))["rounds"]
    if rounds and not (rounds[-1]["side"] == "agent" and rounds[-1]["status"] == "sent"):
        return  # our answer is still being written, or waits for the reviewer
    moves = demo_data.CLIENT_MOVES.get(lead["email"], [])
    made = sum(1 for r in rounds if r["side"] == "client")
    move = moves[made] if made < len(moves) else {"kind": "accept", "message": "Agreed, let's start."}
    _ok(client.post(f"/api/v1/deals/{deal_id}/offers", json=move,
                    headers={**operator, "Idempotency-Key": f"demo-offer-{deal_id}-{made + 1}"}))


def _decide(client: httpx.Client, reviewer: dict[str, str], review: dict, plan: dict[str, str]) -> None:
    decision = plan.get(review["entity_type"], "approve")
    body: dict = {"decision": decision, "comment": f"demo reviewer: {decision}"}
    if decision == "edit":
        body["edited_output"] = {"subject": demo_data.EDITED_SUBJECT}
    if decision == "reject":
        body["comment"] = "Not now: they just signed with another provider."
    _ok(client.post(f"/api/v1/reviews/{review['entity_type']}/{review['entity_id']}/decision", json=body,
                    headers=reviewer))


def _ok(response: httpx.Response) -> dict:
    if response.status_code >= 400:
        raise DemoError(f"{response.request.method} {response.request.url.path}: HTTP {response.status_code}: "
                        f"{_problem_detail(response)}")
    return response.json()


def _wait(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise DemoError(f"timed out waiting for {what}; is a worker running (`python -m app worker`)?")
        time.sleep(0.3)


class DemoError(Exception):
    pass


def print_pipelines(pipelines: list[dict]) -> None:
    print(f"\nPipelines of tenant '{DEMO_SLUG}':")
    width = max((len(pipeline["lead"]["email"]) for pipeline in pipelines), default=4)
    print(f"  {'lead':<{width}} {'status':<10} {'stage / reason'}")
    for pipeline in pipelines:
        where = pipeline["stopped_reason"] or pipeline["current_stage"] or "every stage done"
        if _settled(pipeline, pipeline["lead"]) and pipeline["status"] == "running":
            where += ": left for you to decide in the console"
        print(f"  {pipeline['lead']['email']:<{width}} {pipeline['status']:<10} {where}")


def print_emails(client: httpx.Client) -> None:
    emails = _ok(client.get("/api/v1/emails", params={"limit": 50}, headers=login(client, Role.viewer)))["items"]
    print(f"\nEmails of tenant '{DEMO_SLUG}':")
    width = max((len(email["to_address"]) for email in emails), default=2)
    print(f"  {'to':<{width}} {'status':<10} subject")
    for email in emails:
        print(f"  {email['to_address']:<{width}} {email['status']:<10} {email['subject'][:60]}")


def print_deals(client: httpx.Client) -> None:
    deals = _ok(client.get("/api/v1/deals", params={"limit": 50}, headers=login(client, Role.viewer)))["items"]
    print(f"\nDeals of tenant '{DEMO_SLUG}':")
    width = max((len(deal["lead"]["email"]) for deal in deals), default=4)
    print(f"  {'lead':<{width}} {'package':<10} {'amount':>14} {'stage':<10}")
    for deal in deals:
        print(f"  {deal['lead']['email']:<{width}} {deal['package_code']:<10} "
              f"{deal['amount'] + ' ' + deal['currency']:>14} {deal['stage']:<10}")


def print_negotiations(client: httpx.Client) -> None:
    viewer = login(client, Role.viewer)
    deals = _ok(client.get("/api/v1/deals", params={"limit": 50}, headers=viewer))["items"]
    print(f"\nNegotiation rounds of tenant '{DEMO_SLUG}':")
    for deal in deals:
        rounds = _ok(client.get(f"/api/v1/deals/{deal['id']}/negotiation", headers=viewer))["rounds"]
        for r in rounds:
            amount = f"{r['amount']} {r['currency']}" if r["amount"] else ""
            guard = ""
            if r["clamped"]:
                guard = f"  model said {r['model_amount']}: " + "; ".join(c["code"] for c in r["clamp_reasons"])
            print(f"  {deal['lead']['email']:<32} {r['round']:>2} {r['side']:<6} {r['kind']:<9} {amount:>14} "
                  f"{r['status']:<14}{guard}")


def print_invoices(client: httpx.Client) -> None:
    invoices = _ok(client.get("/api/v1/invoices", params={"limit": 50}, headers=login(client, Role.viewer)))["items"]
    print(f"\nInvoices of tenant '{DEMO_SLUG}':")
    print(f"  {'number':<16} {'status':<8} {'net':>10} {'tax':>9} {'total':>10} currency  due")
    for invoice in invoices:
        print(f"  {invoice['number'] or '(draft)':<16} {invoice['status']:<8} {invoice['line_total']:>10} "
              f"{invoice['tax_total']:>9} {invoice['total_with_tax']:>10} {invoice['currency']:<9} "
              f"{invoice['due_date'] or ''}")


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
        try:
            drive_runs(client)
            pipelines = drive_pipelines(client, seed_business(client))
            coaching = drive_coaching(client)
        except DemoError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        print_pipelines(pipelines)
        runs = client.get("/api/v1/runs", params={"limit": 50}, headers=login(client, Role.viewer)).json()["items"]
        print_runs(runs)
        print_emails(client)
        print_deals(client)
        print_negotiations(client)
        print_invoices(client)
        print_coaching(client, coaching)
    if not all(_settled(pipeline, pipeline["lead"]) for pipeline in pipelines):
        print("error: some demo pipelines did not finish; is a worker running (`python -m app worker`)?",
              file=sys.stderr)
        return 1
    return 0
