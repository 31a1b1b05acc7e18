"""The client's exceptions, one hierarchy.

    AgentlineError
    ├── APIError                  the API answered with an error (application/problem+json)
    │   ├── ValidationError       422, with the invalid fields in `errors`
    │   ├── AuthenticationError   401
    │   ├── PermissionDeniedError 403
    │   ├── NotFoundError         404
    │   ├── ConflictError         409
    │   ├── RateLimitedError      429, with `retry_after`
    │   └── ServerError           5xx
    ├── APIConnectionError        no answer: the connection failed or broke
    │   └── APITimeoutError       no answer in time (also a TimeoutError)
    └── WaitTimeoutError          wait_for_run / wait_for_pipeline gave up (also a TimeoutError)
"""

from dataclasses import dataclass
from typing import Any

import httpx

from agentline_client._retry import parse_retry_after


class AgentlineError(Exception):
    """Everything this client raises."""


@dataclass(frozen=True)
class FieldError:
    """One invalid field of a 422: `field` is a dotted path (`input.message`, `settings.icp.criteria.0.weight`)."""

    field: str
    message: str
    type: str = ""


class APIError(AgentlineError):
    """The API refused the request. `problem` is the whole problem+json body (RFC 9457) as sent."""

    def __init__(self, status: int, title: str, detail: str, *, request_id: str | None = None,
                 problem: dict[str, Any] | None = None, headers: httpx.Headers | None = None):
        super().__init__(f"{status} {title}: {detail}" + (f" (request {request_id})" if request_id else ""))
        self.status = status
        self.title = title
        self.detail = detail
        self.request_id = request_id
        self.problem = problem or {}
        self.headers = headers or httpx.Headers()


class ValidationError(APIError):
    @property
    def errors(self) -> list[FieldError]:
        return [FieldError(str(e.get("field", "")), str(e.get("message", "")), str(e.get("type", "")))
                for e in self.problem.get("errors") or [] if isinstance(e, dict)]


class AuthenticationError(APIError):
    pass


class PermissionDeniedError(APIError):
    pass


class NotFoundError(APIError):
    pass


class ConflictError(APIError):
    pass


class RateLimitedError(APIError):
    @property
    def retry_after(self) -> float | None:
        """Seconds the API asked to wait (`Retry-After`), if it said."""
        return parse_retry_after(self.headers.get("Retry-After"))


class ServerError(APIError):
    pass


class APIConnectionError(AgentlineError):
    """The request got no answer. Whether the API acted on it is unknown; requests that create work carry
    an Idempotency-Key, so sending them again with the same key is safe."""


class APITimeoutError(APIConnectionError, TimeoutError):
    pass


class WaitTimeoutError(AgentlineError, TimeoutError):
    """A wait ran out of time; `last_status` is the status last seen (None if none was)."""

    def __init__(self, message: str, last_status: str | None):
        super().__init__(message)
        self.last_status = last_status


_BY_STATUS: dict[int, type[APIError]] = {
    401: AuthenticationError, 403: PermissionDeniedError, 404: NotFoundError, 409: ConflictError,
    422: ValidationError, 429: RateLimitedError,
}


def error_from_response(response: httpx.Response) -> APIError:
    """The exception for an error response, from its problem+json body, or from whatever a proxy in
    between sent instead (HTML, plain text, nothing)."""
    try:
        body = response.json()
    except ValueError:
        body = None
    problem: dict[str, Any] = body if isinstance(body, dict) else {}
    status = response.status_code
    cls = ServerError if status >= 500 else _BY_STATUS.get(status, APIError)
    title = str(problem.get("title") or response.reason_phrase or "Error")
    detail = str(problem.get("detail") or response.text[:500] or title)
    request_id = problem.get("request_id") or response.headers.get("X-Request-ID")
    return cls(status, title, detail, request_id=request_id, problem=problem, headers=response.headers)
