"""Screenshots of the console's pages for docs/console.md.

    python -m tests.console.screenshots

runs the browser tests' screenshot test (on the system those tests start: API, workers, a tenant with work
waiting) with CONSOLE_SCREENSHOTS=docs/console, which writes one PNG a page there.
"""

import os
import sys
from pathlib import Path

from PIL import Image

from app.core.config import PROJECT_ROOT

FOLDER = PROJECT_ROOT / "docs" / "console"


def pages(console) -> list[tuple[str, str, str]]:
    """(file name, path, a selector that is there once the page has loaded), as an admin sees them."""
    return [
        ("reviews", "/console/reviews", "table.data"),
        ("review", f"/console/reviews/email/{console.stage('approve', 'review_email')['entity_id']}", ".citations"),
        ("review-decided", f"/console/reviews/email/{console.stage('proposal', 'review_email')['entity_id']}", "dl.fields"),
        ("runs", "/console/runs", "table.data"),
        ("run", f"/console/runs/{console.stage('proposal', 'sdr')['run_id']}", "tr.event"),
        ("pipelines", "/console/pipelines", "ol.stages"),
        ("pipeline", f"/console/pipelines/{console.pipelines['proposal']}", "ol.stages"),
        ("dead-letters", "/console/dead-letters", "table.data"),
        ("metrics", "/console/metrics", "svg.chart"),
        ("settings", "/console/settings/icp", "form"),
        ("prompts", "/console/settings/prompts", "table.data"),
    ]


def webhook_pages(console) -> list[tuple[str, str, str]]:
    """The same for the pages taken once the tenant has webhooks, one of them disabled by the system."""
    return [("webhooks", "/console/settings/webhooks", "table.data")]


def shrink(png: Path) -> None:
    """256 colours: the console's flat colours lose nothing a reader sees, and the file a good part of its size."""
    with Image.open(png) as image:
        small = image.convert("RGB").quantize(colors=256)
    small.save(png, optimize=True)


def main() -> int:
    import pytest

    os.environ["CONSOLE_SCREENSHOTS"] = str(FOLDER)
    test = "test_every_page_renders_without_a_script_error_and_is_photographed"
    return pytest.main([f"{Path(__file__).parent / 'test_browser.py'}::{test}"])


if __name__ == "__main__":
    sys.exit(main())
