"""The Python client (clients/python) against the real API: uvicorn processes and a Celery worker started
once for these tests, committed tenants with a user and an API key for every role.

Requests go over real HTTP through `Wire`, an httpx transport that records what the client sent and can
inject one network fault at a time (an answer lost after the API acted, a proxy that refuses event
streams, a stream cut after its first event): the client's handling of those is what is under test,
and the API behind them is the real one.
"""

import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import httpx
import pytest
from sqlalchemy.orm import sessionmaker

from agentline_client import Agentline, RetryPolicy
from app.auth.permissions import Role
from tests.builders import TenantFixture, add_api_key, committed_tenant, rebind
from tests.runs.cluster import ApiServer, Cluster, engine_env

# Short-lived access tokens, so that refreshing them can be seen within a test.
ACCESS_TOKEN_TTL_SECONDS = "1"
WORKER_QUEUES = "agents.echo,agents.sdr,pipeline"


@pytest.fixture(scope="package")
def factory(app_engine) -> sessionmaker:
    return sessionmaker(bind=app_engine, expire_on_commit=False)


@dataclass
class Services:
    api: ApiServer
    limited_api: ApiServer
    worker: Cluster


@pytest.fixture(scope="package")
def services(migrated, tmp_path_factory) -> Iterator[Services]:
    """Started once for the package and together (an API process takes seconds to import): the API, a
    second API allowing a tenant two requests at once and one a second after them, and a Celery worker
    on the queues of the echo agent and of a pipeline's first stages (the API publishes runs at commit)."""
    from app.core.redis import get_redis

    get_redis().delete(*WORKER_QUEUES.split(","))  # messages that earlier tests left behind
    logs = tmp_path_factory.mktemp("client")
    started = Services(
        api=ApiServer(engine_env(migrated, ACCESS_TOKEN_TTL_SECONDS=ACCESS_TOKEN_TTL_SECONDS), logs),
        limited_api=ApiServer(engine_env(migrated, RATE_LIMIT_BURST="2", RATE_LIMIT_PER_SECOND="1"), logs),
        worker=Cluster(engine_env(migrated), logs))
    try:
        started.worker.start_worker("client", concurrency=2, queues=WORKER_QUEUES)
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(ApiServer.start, (started.api, started.limited_api)))
        yield started
    finally:
        started.api.stop()
        started.limited_api.stop()
        started.worker.stop()


@pytest.fixture
def api(services) -> ApiServer:
    return services.api


@pytest.fixture
def limited_api(services) -> ApiServer:
    return services.limited_api


@pytest.fixture
def worker(services) -> Cluster:
    return services.worker


@dataclass
class Tenant:
    fixture: TenantFixture
    keys: dict[Role, str]

    @property
    def id(self):
        return self.fixture.id

    def email(self, role: Role) -> str:
        return self.fixture.emails[role]


def make_tenant(factory: sessionmaker) -> Tenant:
    fixture = committed_tenant(factory)
    with factory() as session, session.begin():
        rebind(session, fixture.id)
        keys = {role: add_api_key(session, fixture.id, role)[0] for role in Role}
    return Tenant(fixture, keys)


@pytest.fixture(scope="package")
def tenant(factory) -> Tenant:
    return make_tenant(factory)


def is_event_stream(request: httpx.Request) -> bool:
    return request.url.path.endswith("/events")


@dataclass
class Fault:
    matches: Callable[[httpx.Request], bool]
    act: Callable[[httpx.Request], httpx.Response]
    times: float = 1


class Wire(httpx.BaseTransport):
    """The network to the test API, recording each request and its response status."""

    def __init__(self) -> None:
        self._network = httpx.HTTPTransport()
        self.sent: list[httpx.Request] = []
        self.statuses: list[int | None] = []
        self._faults: list[Fault] = []

    def inject(self, matches: Callable[[httpx.Request], bool], act: Callable[[httpx.Request], httpx.Response],
               times: float = 1) -> None:
        self._faults.append(Fault(matches, act, times))

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(request)
        fault = next((fault for fault in self._faults if fault.matches(request)), None)
        if fault is not None:
            fault.times -= 1
            if fault.times <= 0:
                self._faults.remove(fault)
        try:
            response = fault.act(request) if fault is not None else self._network.handle_request(request)
        except httpx.TransportError:
            self.statuses.append(None)
            raise
        self.statuses.append(response.status_code)
        return response

    def close(self) -> None:
        self._network.close()

    def requests(self, method: str, path_part: str) -> list[httpx.Request]:
        return [r for r in self.sent if r.method == method and path_part in r.url.path]

    # --- faults ---

    def lose_answer(self, request: httpx.Request) -> httpx.Response:
        """The API receives and answers the request; the answer never arrives."""
        response = self._network.handle_request(request)
        response.read()
        response.close()
        raise httpx.RemoteProtocolError("Server disconnected without sending a response.", request=request)

    @staticmethod
    def bad_gateway(request: httpx.Request) -> httpx.Response:
        """What a proxy that does not pass the request on answers."""
        return httpx.Response(502, text="<html><body>502 Bad Gateway</body></html>",
                              headers={"Content-Type": "text/html"}, request=request)

    def cut_after_first_event(self, request: httpx.Request) -> httpx.Response:
        """The API's event stream, its connection dropped right after the first event."""
        response = self._network.handle_request(request)
        return httpx.Response(response.status_code, headers=response.headers, stream=_FirstEventOnly(response),
                              request=request)


class _FirstEventOnly(httpx.SyncByteStream):
    def __init__(self, response: httpx.Response):
        self._response = response

    def __iter__(self) -> Iterator[bytes]:
        received = b""
        for chunk in self._response.stream:
            received += chunk
            end = received.find(b"\n\n")
            if end >= 0:
                yield received[: end + 2]
                break
        self._response.close()
        raise httpx.RemoteProtocolError("peer closed connection without sending complete message body")

    def close(self) -> None:
        self._response.close()


@pytest.fixture
def wire() -> Iterator[Wire]:
    made = Wire()
    yield made
    made.close()


@dataclass
class Sleeps:
    """An injected `sleep` that records what it was asked and waits `real` of it (0: none)."""

    real: float = 0.0
    asked: list[float] = field(default_factory=list)

    def __call__(self, seconds: float) -> None:
        self.asked.append(seconds)
        time.sleep(seconds * self.real)


def connect(api: ApiServer, wire: Wire, *, sleep: Callable[[float], None] | None = None,
            retry: RetryPolicy = RetryPolicy(), **credentials) -> Agentline:
    return Agentline(api.url, http_client=httpx.Client(transport=wire), sleep=sleep or Sleeps(), retry=retry,
                     **credentials)
