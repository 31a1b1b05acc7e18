"""The console in a real browser: Playwright driving Debian's Chromium against the API in its own uvicorn
process, with real Celery workers behind it, on a tenant whose pipelines wait for their reviewers and
whose dead-letter queue holds runs to retry. One system and one browser per module: the pages are
checked in seconds, the set-up is what costs. Webhooks may go to this machine (the tests' receivers
listen on 127.0.0.1), and the worker delivers them.

Chromium comes from the distribution (`apt-get install chromium`, which ./scripts/test does when it can):
Playwright's own browser download needs its CDN. Without it the browser tests skip, except in CI
(`CI=true`), where a missing browser is a failure.
"""

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy.orm import sessionmaker

from app.auth.permissions import Role
from app.core.db import session_scope
from app.models import WebhookEndpoint
from app.webhooks import service as webhooks
from app.webhooks.schemas import EventType
from tests.agents.conftest import World
from tests.agents.helpers import FIT_LEAD
from tests.builders import PASSWORD, TenantFixture, committed_tenant
from tests.runs.cluster import ApiServer, Cluster, engine_env, wait_until

CHROMIUM = Path(os.environ.get("CONSOLE_CHROMIUM", "/usr/bin/chromium"))
QUEUES = "agents.sdr,agents.sales,agents.test_flaky,pipeline,email,webhooks,maintenance"
MARKUP = "<script>alert(1)</script><b>x</b>"
# Access tokens live seconds, not minutes: the pages renew them (401, refresh, again) while the tests run.
ACCESS_TOKEN_TTL_SECONDS = 3


def _browser_missing(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{reason}; CI must run the console's browser tests", pytrace=False)
    pytest.skip(f"{reason} (./scripts/test installs it where it can: root or sudo, and apt-get)")


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        _browser_missing(f"no Chromium at {CHROMIUM}")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _browser_missing("the playwright package is not installed (requirements-dev.txt)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM))
        yield chromium
        chromium.close()


@dataclass
class Console:
    """The running system and what the module's set-up made in it."""

    url: str
    tenant: TenantFixture
    pipelines: dict[str, str] = field(default_factory=dict)  # by name: approve, markup, proposal
    dead_letters: list[str] = field(default_factory=list)

    def api(self, method: str, path: str, role: Role = Role.operator, **kwargs) -> dict:
        response = httpx.request(method, f"{self.url}/api/v1{path}", headers=self.tenant.headers(role), timeout=30,
                                 **kwargs)
        assert response.status_code < 400, response.text
        return response.json()

    def pipeline(self, name: str) -> dict:
        return self.api("GET", f"/pipelines/{self.pipelines[name]}", Role.viewer)

    def stage(self, name: str, stage: str) -> dict:
        return next(s for s in self.pipeline(name)["stages"] if s["name"] == stage)

    def wait_for_stage(self, name: str, stage: str, status: str = "active", timeout: float = 90) -> dict:
        wait_until(lambda: self.stage(name, stage)["status"] == status, timeout,
                   message=f"pipeline {name}: stage {stage} did not become {status}")
        return self.stage(name, stage)

    def run(self, run_id: str) -> dict:
        return self.api("GET", f"/runs/{run_id}", Role.viewer)

    def webhook(self, url: str, events: list[str]) -> dict:
        """An endpoint an admin added (the answer carries its secret)."""
        return self.api("POST", "/webhooks", Role.admin, json={"url": url, "events": events})

    def fail_webhook_for_a_day(self, webhook_id: str, last_error: str = "HTTP 503") -> None:
        """What the delivery worker does to an endpoint that accepted nothing for a day: disabled, with why."""
        with session_scope(self.tenant.id) as session:
            endpoint = session.get(WebhookEndpoint, uuid.UUID(webhook_id))
            endpoint.failing_since = datetime.now(UTC) - timedelta(days=1, minutes=3)
            since = endpoint.failing_since.isoformat()
            webhooks.disable(session, endpoint, f"no delivery accepted since {since}; last error: {last_error}",
                             by="system")

    def emit(self, event_type: EventType, **data) -> str:
        """An event of the tenant, committed; its webhook-id."""
        with session_scope(self.tenant.id) as session:
            return webhooks.emit(session, self.tenant.id, event_type, data).message_id

    def delete_webhooks(self) -> None:
        for endpoint in self.api("GET", "/webhooks", Role.admin, params={"limit": 200})["items"]:
            httpx.delete(f"{self.url}/api/v1/webhooks/{endpoint['id']}", headers=self.tenant.headers(Role.admin),
                         timeout=30).raise_for_status()

    def sign_in(self, page, role: Role) -> None:
        page.goto(f"{self.url}/console/")
        page.get_by_label("Email", exact=True).fill(self.tenant.emails[role])
        page.get_by_label("Password", exact=True).fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.locator(".whoami").get_by_text(role.value, exact=True).wait_for()


@pytest.fixture(scope="module")
def console(migrated, app_engine, tmp_path_factory) -> Iterator[Console]:
    """A tenant with an ICP and a price book; three pipelines waiting for a reviewer (two emails, one of them
    to a lead whose name and company are markup, and a proposal) and four dead-lettered runs (two to retry, two
    to discard)."""
    logs = tmp_path_factory.mktemp("console")
    from app.core.redis import get_redis

    get_redis().delete(*QUEUES.split(","))  # messages that earlier tests left behind
    env = engine_env(migrated, EMAIL_OUTBOX_DIR=str(logs / "outbox"), WEBHOOKS_ALLOW_PRIVATE_TARGETS="true")
    cluster, api = Cluster(env, logs), ApiServer(env, logs)
    world = World(committed_tenant(sessionmaker(bind=app_engine, expire_on_commit=False)))
    world.add_icp()
    world.add_price_book()
    cluster.start_worker("all", queues=QUEUES)
    cluster.start_beat()
    api.start(ACCESS_TOKEN_TTL_SECONDS=str(ACCESS_TOKEN_TTL_SECONDS))
    try:
        console = Console(api.url, world.tenant)
        leads = {
            "approve": world.add_lead(**FIT_LEAD, email="ada@analytical.example"),
            "markup": world.add_lead(**{**FIT_LEAD, "name": f"Grace {MARKUP}", "company": f"Hopper {MARKUP}"},
                                     email="grace@hopper.example"),
            "proposal": world.add_lead(**{**FIT_LEAD, "name": "Edsger Dijkstra"}, email="edsger@structured.example"),
        }
        for name, lead_id in leads.items():
            console.pipelines[name] = console.api("POST", "/pipeline/run", json={"lead_id": str(lead_id)})["id"]
        console.dead_letters = [console.api("POST", "/agents/test_flaky/run", json={"input": {"fail_attempts": 3}})["id"]
                                for _ in range(4)]
        email_id = console.wait_for_stage("proposal", "review_email")["entity_id"]
        console.api("POST", f"/reviews/email/{email_id}/decision", Role.reviewer, json={"decision": "approve"})
        for name in ("approve", "markup"):
            console.wait_for_stage(name, "review_email")
        console.wait_for_stage("proposal", "review_proposal")
        wait_until(lambda: all(console.run(run_id)["status"] == "dead_lettered" for run_id in console.dead_letters),
                   60, message="the flaky runs were not dead-lettered")
        yield console
    finally:
        api.stop()
        cluster.stop()


@pytest.fixture
def page(browser, console):
    """A fresh browser context for each test: nothing of another test's session is left in it."""
    context = browser.new_context(base_url=console.url, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()
