from fastapi import APIRouter, Response
from fastapi.concurrency import run_in_threadpool
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest
from sqlalchemy import text

from app.core.db import get_engine
from app.core.errors import ServiceUnavailable
from app.core.redis import get_redis
from app.runs.metrics import ActiveRunsCollector

router = APIRouter(tags=["operations"])


@router.get("/health")
def health() -> dict[str, str]:
    return {"status": "ok"}


def _check_dependencies() -> dict[str, str]:
    checks: dict[str, str] = {}
    try:
        with get_engine().connect() as connection:
            connection.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:  # a readiness probe reports any failure; it must not raise
        checks["database"] = f"error: {type(exc).__name__}"
    try:
        get_redis().ping()
        checks["broker"] = "ok"
    except Exception as exc:
        checks["broker"] = f"error: {type(exc).__name__}"
    return checks


@router.get("/ready")
async def ready() -> dict[str, object]:
    checks = await run_in_threadpool(_check_dependencies)
    if any(value != "ok" for value in checks.values()):
        raise ServiceUnavailable("A dependency is unavailable.", checks=checks)
    return {"status": "ready", "checks": checks}


REGISTRY.register(ActiveRunsCollector())


@router.get("/metrics", include_in_schema=False)
def metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
