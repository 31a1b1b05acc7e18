"""The console as the API serves it, without a browser: one page for every app route, its assets with their
types and cache headers, the security headers on every console response (and on no other), and sources a
strict Content-Security-Policy can run: no inline script or style, no eval, no markup parsed from strings;
and the API's names the console offers as choices."""

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from app.console.headers import CONTENT_SECURITY_POLICY
from app.webhooks.schemas import EventType

STATIC = Path(__file__).resolve().parents[2] / "app" / "console" / "static"
SCRIPTS = sorted(STATIC.rglob("*.js"))
POLICY = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
          "base-uri 'none'; form-action 'self'; frame-ancestors 'none'")


def _assert_console_headers(response) -> None:
    assert response.headers["content-security-policy"] == POLICY
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"


def test_the_policy_is_the_one_documented():
    assert CONTENT_SECURITY_POLICY == POLICY


@pytest.mark.parametrize("path", ["/console", "/console/", "/console/reviews", "/console/reviews/email/6f1c",
                                  "/console/runs/6f1c7e2a-0000-4000-8000-000000000000", "/console/settings/icp",
                                  "/console/settings/webhooks"])
def test_every_console_route_is_the_page(client, path):
    response = client.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["cache-control"] == "no-cache"
    _assert_console_headers(response)
    assert '<script type="module" src="/console/static/js/main.js"></script>' in response.text


@pytest.mark.parametrize(("path", "media_types"), [
    ("/console/static/js/main.js", {"text/javascript", "application/javascript"}),
    ("/console/static/js/pages/settings/icp.js", {"text/javascript", "application/javascript"}),
    ("/console/static/js/pages/settings/webhooks.js", {"text/javascript", "application/javascript"}),
    ("/console/static/console.css", {"text/css"}),
    ("/console/static/favicon.svg", {"image/svg+xml"}),
])
def test_assets_have_their_type_and_are_revalidated(client, path, media_types):
    response = client.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"].split(";")[0] in media_types
    assert response.headers["cache-control"] == "no-cache"
    _assert_console_headers(response)
    unchanged = client.get(path, headers={"If-None-Match": response.headers["etag"]})
    assert unchanged.status_code == 304


@pytest.mark.parametrize("path", ["/console/static/nothing.js", "/console/static/%2e%2e/router.py"])
def test_what_is_not_an_asset_is_not_found(client, path):
    response = client.get(path)
    assert response.status_code == 404
    _assert_console_headers(response)


def test_the_api_keeps_its_own_headers(client):
    response = client.get("/health")
    assert "content-security-policy" not in response.headers


class _InlineCode(HTMLParser):
    """Collects what a strict policy would refuse in a page: inline scripts, style elements and
    attributes, event-handler attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.refused: list[str] = []

    def handle_starttag(self, tag, attrs):
        names = {name for name, _ in attrs}
        if tag == "script" and "src" not in names:
            self.refused.append("inline <script>")
        if tag == "style":
            self.refused.append("<style>")
        self.refused += [f"{name}= on <{tag}>" for name in names if name == "style" or name.startswith("on")]


def test_the_page_has_no_inline_script_or_style():
    pages = sorted(STATIC.rglob("*.html"))
    assert pages
    for page in pages:
        parser = _InlineCode()
        parser.feed(page.read_text())
        assert parser.refused == [], page


# What would run a string as code or parse it as markup, or write an inline style the policy refuses.
FORBIDDEN = re.compile(r"innerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function|"
                       r"setTimeout\(\s*[\"'`]|\.style\.|setAttribute\(\s*[\"']style|javascript:")


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda path: str(path.relative_to(STATIC)))
def test_scripts_build_the_dom_without_parsing_strings(script):
    assert FORBIDDEN.findall(script.read_text()) == []


IMPORT = re.compile(r'import\s*(?:\{([^}]*)\}|\*\s+as\s+\w+)\s*from\s*"([^"]+)"')
EXPORT = re.compile(r"export\s+(?:async\s+)?(?:function\*?|const|let|class)\s+(\w+)")


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda path: str(path.relative_to(STATIC)))
def test_every_import_names_a_module_and_its_exports(script):
    """A broken import stops the whole console in the browser; here it is a line of the test's output."""
    for names, target in IMPORT.findall(script.read_text()):
        module = (script.parent / target).resolve()
        assert target.startswith(".") and module.is_file(), f"{script.name} imports {target}"
        exported = set(EXPORT.findall(module.read_text()))
        wanted = {name.split(" as ")[0].strip() for name in names.split(",") if name.strip()}
        assert wanted <= exported, f"{script.name} imports {sorted(wanted - exported)} from {target}"


def test_the_webhook_events_offered_are_those_the_api_accepts():
    """A new event type gets its checkbox in the webhooks settings (vocabulary.js), in the API's order."""
    source = (STATIC / "js" / "vocabulary.js").read_text()
    offered = re.search(r"export const WEBHOOK_EVENTS = \[([^\]]*)\]", source).group(1)
    assert re.findall(r'"([^"]+)"', offered) == [event.value for event in EventType]
