"""ASGI middleware: request ids, structured access logs, HTTP metrics, and the request body size limits."""

import json
import time
import uuid

import structlog
from fastapi import params
from starlette.exceptions import HTTPException
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.config import get_settings
from app.core.errors import PROBLEM_JSON
from app.core.metrics import HTTP_LATENCY, HTTP_REQUESTS

log = structlog.get_logger("app.http")


class _BodyTooLarge(HTTPException):
    """Raised from `receive` once a streamed body passes the limit. An HTTPException because FastAPI's body
    parsing re-raises those and turns any other exception into a 400; the error handlers render the 413."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, _too_large_detail(limit))
        self.limit = limit


def _too_large_detail(limit: int) -> str:
    return f"The request body exceeds the limit of {limit} bytes."


def _takes_uploads(route: BaseRoute | None) -> bool:
    """Whether the route declares a multipart/form-data body: file or form parameters, or an OpenAPI request
    body naming it (a route that reads its upload as a stream)."""
    declared = (getattr(route, "openapi_extra", None) or {}).get("requestBody", {}).get("content", {})
    body = getattr(route, "body_field", None)
    return "multipart/form-data" in declared or (body is not None and isinstance(body.field_info, params.Form))


class RequestContextMiddleware:
    """Also sets `request.state.body_pending` while the request has a body the application has not read in
    full, so that nothing is held open while a slow client sends it (app.auth.deps)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        settings = get_settings()
        self.body_limit = settings.max_request_body_bytes
        self.upload_limit = settings.max_upload_bytes

    def _limit(self, scope: Scope, content_type: bytes) -> int:
        """The upload limit for a multipart body sent to a route that takes uploads; the (smaller) body limit
        for everything else, whatever Content-Type the client chose. Known once the route is matched."""
        if content_type.startswith(b"multipart/form-data") and _takes_uploads(scope.get("route")):
            return self.upload_limit
        return self.body_limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        request_id = headers.get(b"x-request-id", b"").decode("latin-1")[:64] or uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        started = time.perf_counter()
        status = {"code": 500, "sent": False}

        length = headers.get(b"content-length")
        declared = int(length) if length is not None and length.isdigit() else None
        if declared is not None and declared > max(self.body_limit, self.upload_limit):
            await self._too_large(send, request_id, max(self.body_limit, self.upload_limit))
            self._observe(scope, 413, started)
            return
        scope["state"]["body_pending"] = bool(declared) or (declared is None and b"transfer-encoding" in headers)

        received = 0
        limit: int | None = None

        async def limited_receive() -> Message:
            nonlocal received, limit
            if limit is None:  # the first read comes after routing
                limit = self._limit(scope, headers.get(b"content-type", b""))
                if declared is not None and declared > limit:
                    raise _BodyTooLarge(limit)
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _BodyTooLarge(limit)
                if not message.get("more_body", False):
                    scope["state"]["body_pending"] = False
            return message

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"], status["sent"] = message["status"], True
                message.setdefault("headers", []).append((b"x-request-id", request_id.encode()))
            await send(message)

        try:
            await self.app(scope, limited_receive, send_with_id)
        except _BodyTooLarge as exc:
            if status["sent"]:
                raise
            status["code"] = 413
            await self._too_large(send, request_id, exc.limit)
        finally:
            self._observe(scope, status["code"], started)

    @staticmethod
    async def _too_large(send: Send, request_id: str, limit: int) -> None:
        body = json.dumps({
            "type": "about:blank", "title": "Request body too large", "status": 413,
            "detail": _too_large_detail(limit), "request_id": request_id,
        }).encode()
        await send({"type": "http.response.start", "status": 413, "headers": [
            (b"content-type", PROBLEM_JSON.encode()), (b"content-length", str(len(body)).encode()),
            (b"x-request-id", request_id.encode()),
        ]})
        await send({"type": "http.response.body", "body": body})

    @staticmethod
    def _observe(scope: Scope, status: int, started: float) -> None:
        route = _route_template(scope)
        elapsed = time.perf_counter() - started
        HTTP_REQUESTS.labels(scope["method"], route, str(status)).inc()
        HTTP_LATENCY.labels(scope["method"], route).observe(elapsed)
        log.info("request", method=scope["method"], path=scope["path"], route=route, status=status,
                 duration_ms=round(elapsed * 1000, 2))


def _route_template(scope: Scope) -> str:
    """The matched route with its parameters as placeholders (/api/v1/runs/{run_id}): a bounded label."""
    if "route" not in scope:
        return "unmatched"
    path = scope["path"]
    for name, value in scope.get("path_params", {}).items():
        path = path.replace(f"/{value}", f"/{{{name}}}", 1)
    return path
