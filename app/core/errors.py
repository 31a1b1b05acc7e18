"""One error hierarchy, rendered as application/problem+json (RFC 9457) by one set of handlers."""

from typing import Any

import psycopg
import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, IntegrityError
from starlette.exceptions import HTTPException as StarletteHTTPException

PROBLEM_JSON = "application/problem+json"
log = structlog.get_logger(__name__)


class AppError(Exception):
    status: int = 400
    title: str = "Bad request"
    type: str = "about:blank"

    def __init__(self, detail: str | None = None, *, headers: dict[str, str] | None = None, **extra: Any):
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.headers = headers
        self.extra = extra


class BadRequest(AppError):
    status, title = 400, "Bad request"


class Unauthorized(AppError):
    status, title = 401, "Not authenticated"

    def __init__(self, detail: str | None = None, **extra: Any):
        super().__init__(detail, headers={"WWW-Authenticate": "Bearer"}, **extra)


class Forbidden(AppError):
    status, title = 403, "Forbidden"


class NotFound(AppError):
    status, title = 404, "Not found"


class Conflict(AppError):
    status, title = 409, "Conflict"


class PayloadTooLarge(AppError):
    status, title = 413, "Request body too large"


class UnsupportedMediaType(AppError):
    status, title = 415, "Unsupported media type"


class UnprocessableEntity(AppError):
    status, title = 422, "Unprocessable entity"


class TooManyRequests(AppError):
    status, title = 429, "Too many requests"


class ServiceUnavailable(AppError):
    status, title = 503, "Service unavailable"


def problem(request: Request, status: int, title: str, detail: str, headers: dict[str, str] | None = None,
            **extra: Any) -> JSONResponse:
    body = {
        "type": extra.pop("type", "about:blank"),
        "title": title,
        "status": status,
        "detail": detail,
        "instance": request.url.path,
        "request_id": getattr(request.state, "request_id", None),
        **extra,
    }
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _location(loc: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in loc if part not in ("body",)) or "body"


def _is_unstorable_text(exc: DataError) -> bool:
    """A NUL character, valid in JSON, that PostgreSQL cannot store: psycopg refuses it in a text
    parameter (no SQLSTATE), the server in a JSON document (22P05)."""
    orig = exc.orig
    return isinstance(orig, psycopg.errors.UntranslatableCharacter) or (
        isinstance(orig, psycopg.DataError) and orig.sqlstate is None and "NUL" in str(orig)
    )


# What a constraint the request broke means to the client, by SQLSTATE; never the SQL, the constraint or
# the values, which name tables and may hold other rows' data.
_INTEGRITY_DETAILS = {
    "23505": "It duplicates something that already exists.",
    "23P01": "It overlaps something that already exists.",
    "23503": "It refers to something that does not exist (any more), or something still refers to what it removes.",
    "23502": "A required value is missing.",
    "23514": "A value is outside what is allowed.",
}


def integrity_detail(exc: IntegrityError) -> str:
    sqlstate = getattr(exc.orig, "sqlstate", None)
    return ("The request conflicts with the data already stored. "
            + _INTEGRITY_DETAILS.get(sqlstate, "Reload what it changes and try again."))


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(AppError)
    async def _app_error(request: Request, exc: AppError) -> JSONResponse:
        return problem(request, exc.status, exc.title, exc.detail, exc.headers, type=exc.type, **exc.extra)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"field": _location(tuple(e.get("loc", ()))), "message": e.get("msg", ""), "type": e.get("type", "")}
            for e in exc.errors()
        ]
        return problem(request, 422, "Validation failed", f"{len(errors)} field(s) are invalid.", errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        titles = {404: "Not found", 405: "Method not allowed", 413: PayloadTooLarge.title}
        return problem(request, exc.status_code, titles.get(exc.status_code, "Error"), str(exc.detail),
                       getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _unhandled(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled_error", path=request.url.path)
        # This handler runs outside the request middleware, so the request id header is set here.
        request_id = getattr(request.state, "request_id", None)
        return problem(request, 500, "Internal server error", "An unexpected error occurred; it has been logged.",
                       {"X-Request-ID": request_id} if request_id else None)

    @app.exception_handler(IntegrityError)
    async def _integrity_error(request: Request, exc: IntegrityError) -> JSONResponse:
        """A constraint the service did not expect to be broken (a race, or a case it does not handle):
        the write was refused and rolled back, so it is the client's conflict, not a server error."""
        diag = getattr(exc.orig, "diag", None)
        log.warning("integrity_error", path=request.url.path, sqlstate=getattr(exc.orig, "sqlstate", None),
                    constraint=getattr(diag, "constraint_name", None), table=getattr(diag, "table_name", None))
        return problem(request, 409, Conflict.title, integrity_detail(exc))

    @app.exception_handler(DataError)
    async def _data_error(request: Request, exc: DataError) -> JSONResponse:
        if not _is_unstorable_text(exc):
            return await _unhandled(request, exc)
        return problem(request, 422, "Validation failed", "Text may not contain NUL (\\u0000) characters.")
