"""create_app(): routers, middleware, error handlers and the outbox publisher's lifetime; nothing else."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI
from fastapi.concurrency import run_in_threadpool
from fastapi.middleware.cors import CORSMiddleware

from app.agents.registry import load_installed
from app.api_keys.router import router as api_keys_router
from app.audit.router import router as audit_router
from app.auth.router import router as auth_router
from app.clients.router import router as clients_router
from app.coaching.router import router as coaching_router
from app.console.headers import ConsoleHeadersMiddleware
from app.console.router import ASSETS_PATH as CONSOLE_ASSETS_PATH
from app.console.router import assets as console_assets
from app.console.router import router as console_router
from app.contracts.router import router as contracts_router
from app.core import outbox
from app.core.config import get_settings
from app.core.db import refuse_unsafe_runtime_role
from app.core.errors import install_error_handlers
from app.core.logging import configure_logging
from app.core.middleware import RequestContextMiddleware
from app.deals.router import router as deals_router
from app.email.router import router as email_router
from app.health.router import router as health_router
from app.invoices.router import router as invoices_router
from app.knowledge.router import router as knowledge_router
from app.leads.router import router as leads_router
from app.llm.router import router as llm_router
from app.negotiation.router import router as negotiation_router
from app.pipelines.router import router as pipelines_router
from app.price_book.router import router as price_book_router
from app.prompts.router import router as prompts_router
from app.reviews.router import router as reviews_router
from app.runs.router import router as runs_router
from app.suppressions.router import router as suppressions_router
from app.tenants.router import router as tenant_router
from app.users.router import router as users_router
from app.webhooks.router import router as webhooks_router

# The first one is matched first: the runs router, with the busiest route (POST /agents/{agent}/run), leads.
# No path of one router is a path of another (tests/core/test_routing.py), so the order changes nothing else.
API_ROUTERS = (runs_router, auth_router, tenant_router, users_router, api_keys_router, audit_router,
               prompts_router, knowledge_router, llm_router, reviews_router, pipelines_router,
               leads_router, suppressions_router, price_book_router, deals_router, email_router,
               contracts_router, invoices_router, clients_router, negotiation_router, coaching_router,
               webhooks_router)


@asynccontextmanager
async def lifespan(_: FastAPI) -> AsyncIterator[None]:
    """The API refuses to start as a database role that row-level security does not hold. Accepted runs are
    published after commit by a background thread (app.core.outbox); at shutdown it publishes what is
    still queued before the process goes."""
    await run_in_threadpool(refuse_unsafe_runtime_role)
    outbox.start_publisher()
    try:
        yield
    finally:
        await run_in_threadpool(outbox.stop_publisher)


def create_app() -> FastAPI:
    configure_logging()
    load_installed()  # every agent and domain registered (app.installed) before the first request
    app = FastAPI(
        title="Agentline",
        version="0.1.0",
        description="Multi-tenant backend that runs a business's customer lifecycle with AI agents.",
        lifespan=lifespan,
    )
    api = APIRouter(prefix="/api/v1")
    for router in API_ROUTERS:
        api.include_router(router)
    app.include_router(api)
    app.include_router(health_router)
    # The assets first: under /console/static a path is a file, never one of the console's pages.
    app.mount(CONSOLE_ASSETS_PATH, console_assets)
    app.include_router(console_router)
    app.add_middleware(ConsoleHeadersMiddleware)
    app.add_middleware(RequestContextMiddleware)
    origins = get_settings().cors_origins
    if origins:
        app.add_middleware(CORSMiddleware, allow_origins=origins, allow_credentials=False,
                           allow_methods=["*"], allow_headers=["Authorization", "Content-Type", "X-API-Key",
                                                               "Idempotency-Key", "X-Request-ID", "Last-Event-ID"],
                           expose_headers=["X-Request-ID", "Retry-After", "Idempotent-Replayed"])
    install_error_handlers(app)
    return app
