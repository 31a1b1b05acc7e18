"""The console in Chromium, against the API and real workers (tests/console/conftest.py): what a reviewer, an
operator, an admin and a viewer see and do. The page may run only its own scripts: any script error, and any
Content-Security-Policy refusal, fails the test that caused it."""

import os
import re
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect

from app import demo_data
from app.auth.permissions import Role
from app.webhooks.schemas import EventType
from tests.console.conftest import ACCESS_TOKEN_TTL_SECONDS, MARKUP
from tests.console.screenshots import pages, shrink, webhook_pages
from tests.runs.cluster import wait_until
from tests.webhooks.receiver import Receiver

pytestmark = pytest.mark.slow
ACTIONS = re.compile(r"approve|edit|reject|retry|cancel|discard|override|save|activate|add", re.IGNORECASE)


@pytest.fixture(autouse=True)
def no_script_errors(page):
    """Uncaught exceptions and CSP refusals in the page, collected while the test runs."""
    errors = []
    page.on("pageerror", lambda error: errors.append(f"uncaught: {error}"))
    page.on("console", lambda message: errors.append(message.text)
            if message.type == "error" and "Content-Security-Policy" in message.text else None)
    yield
    assert errors == []


def test_every_page_renders_without_a_script_error_and_is_photographed(console, page, tmp_path):
    """Each page, as an admin sees it, loads its content with no uncaught error and no CSP refusal; its
    screenshot goes to CONSOLE_SCREENSHOTS when that names a folder (python -m tests.console.screenshots
    writes docs/console/*.png so)."""
    folder = Path(os.environ.get("CONSOLE_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    icp = console.api("GET", "/tenant", Role.admin)["settings"].get("icp")
    console.api("PATCH", "/tenant", Role.admin, json={"settings": {"icp": demo_data.ICP_SETTINGS}})
    try:
        _photograph_every_page(console, page, folder)
    finally:  # the other tests start from the tenant's own settings
        console.api("PATCH", "/tenant", Role.admin, json={"settings": {"icp": icp}})


def _photograph_every_page(console, page, folder: Path) -> None:
    page.goto("/console/")
    page.get_by_label("Email", exact=True).fill(console.tenant.emails[Role.admin])
    page.screenshot(path=folder / "sign-in.png")
    console.sign_in(page, Role.admin)
    for name, path, ready in pages(console):
        page.goto(path)
        page.locator(ready).first.wait_for()
        page.wait_for_timeout(300)  # the charts and live badges settle
        page.screenshot(path=folder / f"{name}.png", full_page=True)
    # Last: the webhook the system disabled would put its notice on every page above.
    try:
        crm = console.webhook("http://localhost:8088/hooks/crm", ["pipeline.completed", "review.decided"])
        console.webhook("http://localhost:8089/hooks/billing", ["invoice.issued"])
        console.fail_webhook_for_a_day(crm["id"], "ConnectionRefusedError: [Errno 111] Connection refused")
        for name, path, ready in webhook_pages(console):
            page.goto(path)
            page.locator(ready).first.wait_for()
            page.get_by_role("complementary").wait_for()
            page.screenshot(path=folder / f"{name}.png", full_page=True)
    finally:
        console.delete_webhooks()
    for png in folder.glob("*.png"):
        shrink(png)


def test_the_session_is_kept_in_memory_and_the_tab_and_renews_itself(console, page):
    refreshes = []
    page.on("request", lambda request: refreshes.append(request) if request.url.endswith("/auth/refresh") else None)
    console.sign_in(page, Role.reviewer)
    kept = page.evaluate("() => [Object.keys(sessionStorage), localStorage.length, document.cookie]")
    assert kept == [["agentline.refresh_token"], 0, ""]

    page.reload()  # the access token was in this page's memory only: the tab's refresh token renews it
    expect(page.locator(".whoami")).to_contain_text("reviewer")
    assert len(refreshes) == 1
    page.wait_for_timeout((ACCESS_TOKEN_TTL_SECONDS + 1.5) * 1000)  # `exp` is in whole seconds: past it for sure
    page.get_by_role("link", name="Runs", exact=True).click()  # a 401 on the expired token, a refresh, again
    expect(page.get_by_role("columnheader", name="Attempts")).to_be_visible()
    assert len(refreshes) >= 2 and "eyJ" not in page.url

    refresh_token = page.evaluate("sessionStorage.getItem('agentline.refresh_token')")
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    assert page.evaluate("Object.keys(sessionStorage)") == []
    # Revoked by the API, not only forgotten by the page.
    assert httpx.post(f"{console.url}/api/v1/auth/refresh", json={"refresh_token": refresh_token}).status_code == 401


def test_a_reviewer_approves_an_email_and_sees_the_pipeline_move_on(console, page):
    console.sign_in(page, Role.reviewer)
    inbox = page.locator("table.data tbody tr")
    expect(inbox.first).to_be_visible()
    page.get_by_role("link", name=re.compile("First email to Ada Lovelace")).click()

    expect(page.locator(".proposal")).to_contain_text("Hi Ada,")
    expect(page.locator(".citations")).to_contain_text("Ada works at Analytical Engines")
    page.get_by_role("button", name="Approve", exact=True).click()

    decision = page.locator(".panel", has=page.get_by_role("heading", name="Decision"))
    expect(decision).to_contain_text("approved")
    expect(decision).to_contain_text("Reviewer")  # the reviewer, from the credentials
    streams = []
    page.on("request", lambda request: streams.append(request.url) if request.url.endswith("/events") else None)
    page.get_by_role("link", name="Follow its pipeline").click()
    # The email is sent and the sales agent proposes: the pipeline now waits for the proposal's review, which
    # the page learns from the pipeline's event stream.
    expect(page.locator(".liveness")).to_have_text("live")
    waiting = page.locator("ol.stages li.status-active").first
    expect(waiting).to_contain_text("review proposal", timeout=30_000)
    expect(waiting).to_contain_text("a reviewer")
    assert len(streams) == 1 and re.search(r"/api/v1/pipelines/[0-9a-f-]+/events$", streams[0])
    assert console.stage("approve", "send_email")["status"] == "succeeded"


def test_the_pipelines_list_shows_each_lead_and_its_stage_from_the_list_alone(console, page):
    console.sign_in(page, Role.viewer)
    requests = []
    page.on("request", lambda request: requests.append(request.url) if "/api/v1/" in request.url else None)
    page.goto("/console/pipelines")
    row = page.locator("table.data tbody tr", has_text="Edsger Dijkstra")
    expect(row.locator("ol.stages li.status-active")).to_contain_text("review proposal")
    expect(row.locator("ol.stages li.status-active")).to_contain_text("a reviewer")
    expect(row).to_contain_text(f"5 of {len(console.pipeline('proposal')['stages'])}")
    expect(page.locator("table.data tbody tr", has_text=f"Grace {MARKUP}")).to_contain_text(f"Hopper {MARKUP}")
    assert not [url for url in requests if re.search(r"/api/v1/(pipelines/|leads/)", url)], requests


def test_the_filters_offer_the_names_the_api_lists(console, page):
    console.sign_in(page, Role.viewer)
    agents = console.api("GET", "/agents", Role.viewer)
    page.goto("/console/runs")
    page.locator("table.data").wait_for()
    offered = page.locator("datalist#agents option").evaluate_all("options => options.map(o => o.value)")
    assert offered == [agent["name"] for agent in agents] and "test_flaky" in offered
    page.goto("/console/reviews")
    page.locator("table.data").wait_for()
    offered = page.locator("datalist#agents option").evaluate_all("options => options.map(o => o.value)")
    assert offered == [agent["name"] for agent in agents if agent["may_need_review"]] and "test_flaky" not in offered
    types = page.locator("select[name=entity_type] option").evaluate_all("options => options.map(o => o.value)")
    assert types == ["", *(kind["entity_type"] for kind in console.api("GET", "/reviews/kinds", Role.viewer))]


def test_the_editor_offers_only_editable_fields_and_shows_the_apis_refusal(console, page):
    deal_id = console.stage("proposal", "review_proposal")["entity_id"]
    console.sign_in(page, Role.reviewer)
    page.goto(f"/console/reviews/proposal/{deal_id}")
    page.get_by_role("button", name="Edit", exact=True).click()
    expect(page.locator(".editor output.locked[name=price]")).to_be_visible()
    expect(page.locator(".editor input[name=price]")).to_have_count(0)
    page.locator(".editor [name=summary]").fill("")
    page.get_by_role("button", name="Approve with edits").click()

    problem = page.get_by_role("alert")
    expect(problem).to_contain_text("(422)")
    expect(problem).to_contain_text("edited_output.summary")
    assert console.api("GET", f"/reviews/proposal/{deal_id}", Role.viewer)["status"] == "pending"


def test_an_operator_retries_dead_letters_and_watches_a_run_live(console, page):
    first, second = console.dead_letters[:2]
    console.sign_in(page, Role.operator)
    expect(page.locator("nav.nav")).not_to_contain_text("Settings")
    page.goto("/console/dead-letters")
    page.get_by_label(f"Select run {first}").check()
    page.get_by_role("button", name="Retry selected").click()
    expect(page.get_by_role("status")).to_contain_text("Retried 1 run")
    expect(page.get_by_label(f"Select run {first}")).to_have_count(0)
    expect(page.get_by_label(f"Select run {second}")).to_be_visible()

    page.goto(f"/console/runs/{second}")
    status = page.locator(".live-status")
    expect(status).to_have_text("dead lettered")
    events = page.locator("tr.event")
    before = events.count()
    page.evaluate("window.stillTheSamePage = true")
    page.get_by_role("button", name="Retry", exact=True).click()
    # Queued, running, succeeded: each from the run's event stream, into the page that is already open.
    expect(status).to_have_text("succeeded", timeout=30_000)
    expect(events).to_have_count(before + 3)
    expect(events.last).to_contain_text("running")
    assert page.evaluate("window.stillTheSamePage") is True
    expect(page.get_by_role("button", name="Retry", exact=True)).to_have_count(0)
    wait_until(lambda: console.run(first)["status"] == "succeeded", 30, message="the bulk-retried run did not succeed")


def test_an_operator_discards_dead_letters_in_one_call(console, page):
    discards = []
    page.on("request", lambda request: discards.append(request) if "/discard" in request.url else None)
    console.sign_in(page, Role.operator)
    page.goto("/console/dead-letters")
    for run_id in console.dead_letters[2:]:
        page.get_by_label(f"Select run {run_id}").check()
    page.get_by_role("button", name="Discard selected").click()
    expect(page.get_by_role("status")).to_contain_text("Discarded 2 runs")
    for run_id in console.dead_letters[2:]:
        expect(page.get_by_label(f"Select run {run_id}")).to_have_count(0)
        run = console.run(run_id)
        assert run["status"] == "failed" and run["error"]["discarded"] is True
    assert [request.url.endswith("/api/v1/dlq/discard") for request in discards] == [True]


def test_a_viewer_finds_no_action_buttons(console, page):
    review = console.stage("markup", "review_email")
    console.sign_in(page, Role.viewer)
    expect(page.locator("nav.nav")).not_to_contain_text("Settings")
    for path, ready in [
        ("/console/reviews", "table.data"),
        (f"/console/reviews/email/{review['entity_id']}", ".proposal"),
        ("/console/runs", "table.data"),
        (f"/console/runs/{console.dead_letters[0]}", "tr.event"),
        ("/console/pipelines", "ol.stages"),
        (f"/console/pipelines/{console.pipelines['markup']}", "ol.stages"),
        ("/console/dead-letters", "table.data"),
        ("/console/metrics", "table.data"),
    ]:
        page.goto(path)
        page.locator(ready).first.wait_for()
        assert page.locator("[data-action]").count() == 0, path
        buttons = page.get_by_role("button").all_inner_texts()
        assert not [text for text in buttons if ACTIONS.search(text)], (path, buttons)
        assert page.locator("input[type=checkbox], textarea").count() == 0, path
    page.goto("/console/settings")
    expect(page.get_by_role("status")).to_have_text("Settings are for admins and owners.")


def test_agent_output_with_markup_is_shown_as_text(console, page):
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    email_id = console.stage("markup", "review_email")["entity_id"]
    console.sign_in(page, Role.reviewer)
    expect(page.get_by_role("link", name=f"First email to Grace {MARKUP}", exact=False)).to_be_visible()
    page.goto(f"/console/reviews/email/{email_id}")

    proposal = page.locator(".proposal")
    expect(proposal).to_contain_text(f"I came across Hopper {MARKUP}, a manufacturing company")
    expect(page.locator(".citations")).to_contain_text(f"Grace works at Hopper {MARKUP}")
    expect(page.locator("h1")).to_contain_text(MARKUP)
    assert page.locator("main script, main b").count() == 0
    assert dialogs == []


def test_an_admin_saves_settings_and_sees_what_the_api_refuses(console, page):
    console.sign_in(page, Role.admin)
    for section, ready in [("model", "select[name=provider]"), ("negotiation", "input[name=max_discount_pct]"),
                           ("price-book", "input[name=list_price]"), ("prompts", "table.data")]:
        page.goto(f"/console/settings/{section}")
        page.locator(ready).first.wait_for()

    page.goto("/console/settings/reviews")
    page.locator("input[name=default]").fill("48")
    page.locator("input[name=email]").fill("24")
    page.get_by_role("button", name="Save review settings").click()
    expect(page.get_by_role("status")).to_have_text("Saved.")
    assert console.api("GET", "/tenant", Role.viewer)["settings"]["reviews"]["deadline_hours"] == {"default": 48, "email": 24}

    icp = console.api("GET", "/tenant", Role.viewer)["settings"].get("icp")
    page.goto("/console/settings/icp")
    page.get_by_role("button", name="Add a criterion").click()
    page.get_by_label("Criterion", exact=True).fill("industry")
    page.get_by_label("Description", exact=True).fill("Manufacturing and logistics")
    page.get_by_label("Weight", exact=True).fill("-1")
    page.get_by_role("button", name="Save ICP").click()
    expect(page.get_by_role("alert")).to_contain_text("settings.icp.criteria.0.weight")
    assert console.api("GET", "/tenant", Role.viewer)["settings"].get("icp") == icp  # nothing was changed


@pytest.fixture
def receiver():
    """A webhook receiver on 127.0.0.1; it verifies each request with the secret it is given."""
    made = Receiver().start()
    yield made
    made.stop()


@pytest.fixture
def no_webhooks_after(console):
    """The tenant's webhook endpoints are deleted after the test: no other test meets their notice."""
    yield
    console.delete_webhooks()


def test_an_admin_adds_a_webhook_sees_its_secret_once_and_resends_a_delivery(console, page, receiver,
                                                                              no_webhooks_after):
    console.sign_in(page, Role.admin)
    page.goto("/console/settings")
    page.get_by_role("link", name="Webhooks", exact=True).click()
    expect(page.locator("table.data")).to_contain_text("No endpoints")

    form = page.locator("form.action-form")
    form.get_by_label("URL").fill("http://user:password@127.0.0.1/hooks")
    form.get_by_label("invoice.issued").check()
    form.get_by_role("button", name="Add the endpoint").click()
    expect(page.get_by_role("alert")).to_contain_text("(422)")
    expect(page.get_by_role("alert")).to_contain_text("may not carry credentials")

    form.get_by_label("URL").fill(receiver.url)
    form.get_by_role("button", name="Add the endpoint").click()
    shown = page.get_by_role("status")
    expect(shown).to_contain_text("Copy it now: it will not be shown again.")
    receiver.secret = shown.locator("code.secret").inner_text()
    assert receiver.secret.startswith("whsec_")
    row = page.locator("table.data tbody tr", has_text=receiver.url)
    expect(row).to_contain_text("invoice.issued")
    expect(row).to_contain_text("enabled")
    page.reload()  # no answer but the creation's carries the secret
    expect(page.locator("table.data tbody tr", has_text=receiver.url)).to_be_visible()
    expect(page.get_by_text(receiver.secret)).to_have_count(0)

    message_id = console.emit(EventType.invoice_issued, invoice_id="inv-7")
    wait_until(lambda: receiver.ids() == [message_id], 30, message="the worker did not deliver the event")
    page.get_by_role("link", name=receiver.url).click()
    delivery = page.locator("table.data tbody tr", has_text="invoice.issued").first
    expect(delivery).to_contain_text("delivered")
    expect(delivery).to_contain_text("204")
    expect(delivery).to_contain_text(" ms")
    page.get_by_role("button", name="Resend").click()
    expect(page.get_by_role("status")).to_contain_text(f"Sent again: invoice.issued {message_id} is pending")
    wait_until(lambda: receiver.ids() == [message_id, message_id], 30, message="the resend did not arrive")

    page.get_by_label("review.decided").check()
    page.get_by_role("button", name="Save changes").click()
    expect(page.get_by_role("status")).to_have_text("Saved.")
    [endpoint] = console.api("GET", "/webhooks", Role.admin)["items"]
    assert endpoint["events"] == ["invoice.issued", "review.decided"]

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Disable").click()
    expect(page.get_by_role("status")).to_contain_text("Disabled")
    expect(page.locator("dl.fields")).to_contain_text("disabled by an admin")
    expect(page.get_by_role("button", name="Resend")).to_have_count(0)
    expect(page.get_by_role("complementary")).to_have_count(0)  # an admin's own doing is no news to admins
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Delete").click()
    expect(page.get_by_text("No endpoints: the tenant's events go nowhere.")).to_be_visible()
    assert console.api("GET", "/webhooks", Role.admin)["items"] == []


def test_a_webhook_the_system_disabled_is_noticed_on_every_page_by_admins_only(console, page, no_webhooks_after):
    url = "http://127.0.0.1:9/hooks/crm"
    endpoint = console.webhook(url, ["review.decided"])
    console.fail_webhook_for_a_day(endpoint["id"], "HTTP 503")
    asked = []
    page.on("request", lambda request: asked.append(request.url) if "/api/v1/webhooks" in request.url else None)

    console.sign_in(page, Role.viewer)
    for path, ready in [("/console/reviews", "table.data"), ("/console/runs", "table.data")]:
        page.goto(path)
        page.locator(ready).first.wait_for()
        expect(page.get_by_role("complementary")).to_have_count(0)
    assert asked == []  # a viewer may not read webhooks: the console does not ask
    page.get_by_role("button", name="Sign out").click()

    console.sign_in(page, Role.admin)
    for path in ["/console/reviews", "/console/runs", "/console/metrics"]:
        page.goto(path)
        card = page.get_by_role("complementary", name="Webhook disabled")
        expect(card).to_contain_text(f"Webhook {url} was disabled on ")
        expect(card).to_contain_text("after failing for a day: no delivery accepted since ")
        expect(card).to_contain_text("last error: HTTP 503. Fix the receiver, then re-enable it.")
    page.goto("/console/settings/webhooks")
    expect(page.locator("table.data tbody tr.attention")).to_contain_text("disabled")
    card.get_by_role("link", name="Open the webhook settings").click()
    expect(page.locator("h2")).to_have_text(url)
    page.get_by_role("button", name="Enable").click()
    expect(page.get_by_role("status")).to_contain_text("Enabled")
    expect(card).to_have_count(0)
    assert console.api("GET", f"/webhooks/{endpoint['id']}", Role.admin)["enabled"] is True
