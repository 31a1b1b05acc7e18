"""The console's one HTML page for every app route (/console, /console/runs/…; the scripts route in the
browser) and its static assets at /console/static, all read from this package: no build step, no CDN."""

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

STATIC_DIR = Path(__file__).parent / "static"
ASSETS_PATH = "/console/static"
# File names carry no content hash (there is no build step), so a browser revalidates every asset; an
# unchanged one costs a 304 against its ETag, and a new release is picked up at once.
REVALIDATE = "no-cache"

router = APIRouter(prefix="/console", include_in_schema=False)


@router.get("")
@router.get("/{page:path}")
def console_page(page: str = "") -> FileResponse:
    return FileResponse(STATIC_DIR / "index.html", media_type="text/html", headers={"Cache-Control": REVALIDATE})


class ConsoleAssets(StaticFiles):
    def file_response(self, full_path, stat_result, scope: Scope, status_code: int = 200) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        response.headers["Cache-Control"] = REVALIDATE
        return response


assets = ConsoleAssets(directory=STATIC_DIR)
