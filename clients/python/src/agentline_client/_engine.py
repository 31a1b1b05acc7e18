"""The life of a request, written once for the sync and the async client.

An operation is a generator that does no I/O itself: it yields effects (send this request, sleep this
long, read a line of that stream, …) and is sent back their results. The two clients differ only in the
driver that performs the effects (`agentline_client._client`); request building, authentication,
idempotency keys, retries and the mapping of errors all live here and in the operations built on it.
"""

import uuid
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import Enum
from typing import TYPE_CHECKING, Any, Generic, TypeAlias, TypeVar

import httpx
from pydantic import BaseModel, TypeAdapter

from agentline_client._retry import RetryPolicy, parse_retry_after
from agentline_client.errors import APIConnectionError, APIError, APITimeoutError, error_from_response

if TYPE_CHECKING:
    from agentline_client._auth import Auth

T = TypeVar("T")
R = TypeVar("R")
API_PREFIX = "/api/v1"
# Safe to send twice by the HTTP method's own definition (RFC 9110 §9.2.2).
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})


# --- effects: what an operation asks its driver to do ------------------------------------------------


@dataclass(frozen=True)
class Send:
    """Send the request; the result is the response. A `stream` response comes back unread and open when
    it succeeded (read it with ReadLine, end it with Close), read and closed otherwise."""

    request: httpx.Request
    stream: bool = False


@dataclass(frozen=True)
class Sleep:
    seconds: float


@dataclass(frozen=True)
class Exclusive:
    """Run `operation` holding the client's lock: one at a time per client (renewing its tokens)."""

    operation: "Op[Any]"


@dataclass(frozen=True)
class ReadLine:
    """The stream's next line, without its line ending; None once the stream has ended."""

    response: httpx.Response


@dataclass(frozen=True)
class Close:
    response: httpx.Response


@dataclass(frozen=True)
class Emit(Generic[T]):
    """Hand `item` to whoever iterates the operation (a page's items, a run's events)."""

    item: T


Effect: TypeAlias = Send | Sleep | Exclusive | ReadLine | Close
Op: TypeAlias = Generator[Effect, Any, T]
"""An operation that returns a T."""
Emitting: TypeAlias = Generator[Effect | Emit[T], Any, R]
"""An operation that emits T items and returns an R."""
Stream: TypeAlias = Emitting[T, Any]


@dataclass(frozen=True)
class Finished(Generic[T]):
    value: T


def advance(operation: Emitting[T, R], sent: Any, error: Exception | None) -> Effect | Emit[T] | Finished[R]:
    """The operation's next effect, after handing it the result (or the exception) of the previous one."""
    try:
        return operation.throw(error) if error is not None else operation.send(sent)
    except StopIteration as stop:
        return Finished(stop.value)


# --- requests ----------------------------------------------------------------------------------------


def parse_none(response: httpx.Response) -> None:
    return None


def parse_as(kind: Any) -> Callable[[httpx.Response], Any]:
    """A parser of the response body as `kind` (a model, list[Model], …)."""
    adapter: TypeAdapter[Any] = TypeAdapter(kind)
    return lambda response: adapter.validate_json(response.content)


@dataclass(frozen=True)
class Plan(Generic[T]):
    """One API call: what to send and how to read the answer. `path` is below /api/v1.

    `idempotency_key` goes out as the Idempotency-Key header: the API answers a repeat with the first
    answer, so retries of the call are safe. `replayable` says whether the call may be sent again after
    it may have reached the API (a lost answer, a 5xx); by default, for idempotent methods and keyed calls.
    """

    method: str
    path: str
    parse: Callable[[httpx.Response], T]
    params: Mapping[str, Any] | None = None
    json: Any = None
    files: Mapping[str, Any] | None = None
    data: Mapping[str, Any] | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    idempotency_key: str | None = None
    replayable: bool | None = None
    authenticated: bool = True
    stream: bool = False
    timeout: httpx.Timeout | None = None
    retry: RetryPolicy | None = None

    @property
    def may_replay(self) -> bool:
        if self.replayable is not None:
            return self.replayable
        return self.method in IDEMPOTENT_METHODS or self.idempotency_key is not None


def new_idempotency_key(given: str | None) -> str:
    """The caller's key, or a fresh one: made once per call, so every retry of the call reuses it."""
    return given if given is not None else str(uuid.uuid4())


def query(**params: Any) -> dict[str, Any]:
    """Query parameters: None left out, the rest as the API spells them."""
    return {name: _query_value(value) for name, value in params.items() if value is not None}


def _query_value(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


def body(model: BaseModel) -> Any:
    """A request model as JSON: only the fields the caller set, so an explicit None (clearing a field
    in a PATCH) is sent and a field left out is not; money as strings."""
    return model.model_dump(mode="json", exclude_unset=True)


@dataclass
class Core:
    """What every call of one client shares."""

    base_url: str
    auth: "Auth"
    retry: RetryPolicy
    timeout: httpx.Timeout
    headers: dict[str, str]

    def build(self, plan: Plan[Any], auth_headers: Mapping[str, str]) -> httpx.Request:
        headers = {**self.headers, **auth_headers, **plan.headers}
        if plan.idempotency_key is not None:
            headers["Idempotency-Key"] = plan.idempotency_key
        if plan.stream:
            headers["Accept"] = "text/event-stream"
        request = httpx.Request(plan.method, f"{self.base_url}{API_PREFIX}{plan.path}", params=plan.params,
                                json=plan.json, files=plan.files, data=plan.data, headers=headers)
        request.extensions["timeout"] = (plan.timeout or self.timeout).as_dict()
        return request


# A connection that was never made carried nothing: sending again cannot repeat anything.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


def exchange(core: Core, plan: Plan[T]) -> Op[T]:
    """Send `plan` until it succeeds, fails for good or runs out of retries; return its parsed answer or
    raise the APIError / APIConnectionError that ended it.

    Retried: connection failures (after the request may have left only when the plan is replayable),
    429 (waiting Retry-After), and 5xx of replayable plans. A 401 renews the credentials once (when they
    can be renewed) and sends again at once; no other 4xx is retried.
    """
    policy = plan.retry or core.retry
    retries = 0
    renewed = False
    while True:
        if plan.authenticated:
            yield from core.auth.prepare(core)
        auth_headers = core.auth.headers() if plan.authenticated else {}
        try:
            response = yield Send(core.build(plan, auth_headers), plan.stream)
        except httpx.TransportError as exc:
            if retries < policy.max_retries and (plan.may_replay or isinstance(exc, _NOT_SENT)):
                yield Sleep(policy.backoff(retries))
                retries += 1
                continue
            kind = APITimeoutError if isinstance(exc, httpx.TimeoutException) else APIConnectionError
            raise kind(f"{plan.method} {plan.path}: {type(exc).__name__}: {exc}") from exc
        if response.is_success:
            return plan.parse(response)
        error = error_from_response(response)
        if error.status == 401 and plan.authenticated and not renewed and core.auth.renewable:
            renewed = True
            yield from core.auth.renew(core, auth_headers)
            continue
        delay = _retry_delay(policy, retries, error, plan)
        if delay is None:
            raise error
        yield Sleep(delay)
        retries += 1


def _retry_delay(policy: RetryPolicy, retries: int, error: APIError, plan: Plan[Any]) -> float | None:
    """Seconds to wait before sending again, or None not to."""
    # A 429 was refused before anything was done, so it may always go again; a 5xx only if replayable.
    if retries >= policy.max_retries or not (error.status == 429 or (error.status >= 500 and plan.may_replay)):
        return None
    retry_after = parse_retry_after(error.headers.get("Retry-After"))
    if retry_after is None:
        return policy.backoff(retries)
    return retry_after if retry_after <= policy.max_retry_after else None
