"""`Agentline` and `AsyncAgentline`: the same resources (ClientBase), each with the driver that performs
the operations' effects, blocking or on an event loop."""

import asyncio
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from types import TracebackType
from typing import Any, Self

import httpx

from agentline_client._version import __version__
from agentline_client._auth import ApiKey, Auth, Tokens
from agentline_client._engine import (
    Close, Core, Effect, Emit, Exclusive, Finished, Op, Plan, ReadLine, Send, Sleep, Stream, advance, parse_as,
)
from agentline_client._operations import follow_pipeline, follow_run, report
from agentline_client._resource import Async, M, Resource, Sync, call
from agentline_client._retry import RetryPolicy
from agentline_client.models import Me, PipelineDetail, RunDetail, RunEvent
from agentline_client.resources import (
    Agents, CheckIns, Clients, CreditNotes, Deals, DeadLetters, Invoices, Knowledge, Leads, Metrics, Pipelines, Prompts,
    ID, Reviews, Runs, Webhooks,
)

DEFAULT_TIMEOUT = 30.0


class ClientBase(Resource[M], ABC):
    """Everything both clients offer; see Agentline for the arguments. A client runs its own operations
    (it is the Runner of its resources)."""

    def __init__(self, base_url: str, *, api_key: str | None, email: str | None, password: str | None,
                 tenant: str | None, auth: Auth | None, timeout: float | httpx.Timeout, retry: RetryPolicy):
        if auth is None:
            if api_key is not None:
                auth = ApiKey(api_key)
            elif email is not None and password is not None:
                auth = Tokens(email, password, tenant)
            else:
                raise ValueError("give an api_key, an email and password, or auth")
        self.core = Core(base_url=base_url.rstrip("/"), auth=auth, retry=retry, timeout=httpx.Timeout(timeout),
                         headers={"User-Agent": f"agentline-client/{__version__}"})
        super().__init__(self)
        self.agents: Agents[M] = Agents(self)
        self.runs: Runs[M] = Runs(self)
        self.pipelines: Pipelines[M] = Pipelines(self)
        self.reviews: Reviews[M] = Reviews(self)
        self.leads: Leads[M] = Leads(self)
        self.deals: Deals[M] = Deals(self)
        self.invoices: Invoices[M] = Invoices(self)
        self.credit_notes: CreditNotes[M] = CreditNotes(self)
        self.clients: Clients[M] = Clients(self)
        self.check_ins: CheckIns[M] = CheckIns(self)
        self.knowledge: Knowledge[M] = Knowledge(self)
        self.prompts: Prompts[M] = Prompts(self)
        self.metrics: Metrics[M] = Metrics(self)
        self.dlq: DeadLetters[M] = DeadLetters(self)
        self.webhooks: Webhooks[M] = Webhooks(self)

    @abstractmethod
    def run(self, operation: Op[Any]) -> Any: ...

    @abstractmethod
    def iterate(self, operation: Stream[Any]) -> Any: ...

    @call
    def me(self) -> Op[Me]:
        """Who the credentials are: tenant, principal and role."""
        return self._call(Plan("GET", "/me", parse_as(Me)))

    @call
    def logout(self) -> Op[None]:
        """End the login: the API revokes its refresh tokens, and the client forgets its tokens (an access
        token copied elsewhere works until it expires). With a password, a later call logs in again. With
        an API key there is no login to end: nothing is done."""
        return self.core.auth.end(self.core)

    @call
    def wait_for_run(self, run_id: ID, *, timeout: float | None = 600.0,
                     on_progress: Callable[[RunEvent], object] | None = None,
                     poll_interval: float = 1.0) -> Op[RunDetail]:
        """Wait until the run has finished (succeeded, failed, dead_lettered, cancelled or rejected) and
        return it; `on_progress` is called with each state change. A run awaiting review is not finished.

        Follows the run's event stream, resuming it after a dropped connection, and polls every
        `poll_interval` seconds where no stream can be had. Raises WaitTimeoutError after `timeout` s."""
        return report(follow_run(self.core, run_id, timeout=timeout, poll_interval=poll_interval), on_progress)

    @call
    def wait_for_pipeline(self, pipeline_id: ID, *, timeout: float | None = 600.0,
                          on_progress: Callable[[PipelineDetail], object] | None = None,
                          poll_interval: float = 1.0) -> Op[PipelineDetail]:
        """Wait until the pipeline has ended (any status but running) and return it; `on_progress` is called
        with the pipeline each time its status or a stage's changes. A stage waiting for a review waits as
        long as the review does.

        Follows the pipeline's event stream, resuming it after a dropped connection, and polls every
        `poll_interval` seconds where no stream can be had. Raises WaitTimeoutError after `timeout` s."""
        return report(follow_pipeline(self.core, pipeline_id, timeout=timeout, poll_interval=poll_interval),
                      on_progress)


class _Result:
    """Where a driver leaves what its operation returned (an async generator cannot return a value)."""

    value: Any = None


class Agentline(ClientBase[Sync]):
    """The Agentline API, blocking. Thread-safe: one client may serve many threads (it keeps one pool of
    connections and one set of tokens).

        client = Agentline("https://agentline.example.com", api_key="al_…")
        client = Agentline("https://agentline.example.com", email="…", password="…")

    `auth` takes credentials made by hand (`Tokens(access_token=…, refresh_token=…, on_tokens=save)`).
    `retry` sets retries and backoff; `sleep` is what waits between them (tests pass their own);
    `http_client` an httpx.Client of yours (proxies, certificates, event hooks); it is not closed by `close()`.
    """

    def __init__(self, base_url: str, *, api_key: str | None = None, email: str | None = None,
                 password: str | None = None, tenant: str | None = None, auth: Auth | None = None,
                 timeout: float | httpx.Timeout = DEFAULT_TIMEOUT, retry: RetryPolicy = RetryPolicy(),
                 http_client: httpx.Client | None = None, sleep: Callable[[float], None] = time.sleep):
        super().__init__(base_url, api_key=api_key, email=email, password=password, tenant=tenant, auth=auth,
                         timeout=timeout, retry=retry)
        self._http = http_client or httpx.Client()
        self._owns_http = http_client is None
        self._sleep = sleep
        self._lock = threading.Lock()

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.close()

    def run(self, operation: Op[Any]) -> Any:
        result = _Result()
        for _ in self._drive(operation, result):
            raise TypeError("this operation emits items: iterate it")
        return result.value

    def iterate(self, operation: Stream[Any]) -> Iterator[Any]:
        return self._drive(operation, _Result())

    def _drive(self, operation: Stream[Any], result: _Result) -> Iterator[Any]:
        streams: dict[httpx.Response, Iterator[str]] = {}
        sent: Any = None
        error: Exception | None = None
        try:
            while not isinstance(effect := advance(operation, sent, error), Finished):
                sent, error = None, None
                if isinstance(effect, Emit):
                    yield effect.item
                    continue
                try:
                    sent = self._perform(effect, streams)
                except Exception as exc:  # raised where the operation asked for the effect
                    error = exc
            result.value = effect.value
        finally:
            operation.close()
            for response in streams:
                response.close()

    def _perform(self, effect: Effect, streams: dict[httpx.Response, Iterator[str]]) -> Any:
        match effect:
            case Send(request, stream=False):
                return self._http.send(request)
            case Send(request, stream=True):
                response = self._http.send(request, stream=True)
                if response.is_success:
                    streams[response] = response.iter_lines()
                else:  # an error is read whole, for its problem+json
                    response.read()
                    response.close()
                return response
            case ReadLine(response):
                return next(streams[response], None)
            case Close(response):
                streams.pop(response, None)
                response.close()
            case Sleep(seconds):
                self._sleep(seconds)
            case Exclusive(operation):
                with self._lock:
                    return self.run(operation)
        return None


class AsyncAgentline(ClientBase[Async]):
    """The Agentline API on asyncio; the same arguments and resources as Agentline, every call awaited
    and every `iter`/`events` an async iterator. Use one client per event loop.

        async with AsyncAgentline("https://agentline.example.com", api_key="al_…") as client:
            run = await client.runs.start("echo", {"message": "hi"})
            run = await client.wait_for_run(run.id)
    """

    def __init__(self, base_url: str, *, api_key: str | None = None, email: str | None = None,
                 password: str | None = None, tenant: str | None = None, auth: Auth | None = None,
                 timeout: float | httpx.Timeout = DEFAULT_TIMEOUT, retry: RetryPolicy = RetryPolicy(),
                 http_client: httpx.AsyncClient | None = None,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep):
        super().__init__(base_url, api_key=api_key, email=email, password=password, tenant=tenant, auth=auth,
                         timeout=timeout, retry=retry)
        self._http = http_client or httpx.AsyncClient()
        self._owns_http = http_client is None
        self._sleep = sleep
        self._lock = asyncio.Lock()

    async def close(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        await self.close()

    async def run(self, operation: Op[Any]) -> Any:
        result = _Result()
        async for _ in self._drive(operation, result):
            raise TypeError("this operation emits items: iterate it")
        return result.value

    def iterate(self, operation: Stream[Any]) -> AsyncIterator[Any]:
        return self._drive(operation, _Result())

    async def _drive(self, operation: Stream[Any], result: _Result) -> AsyncIterator[Any]:
        streams: dict[httpx.Response, AsyncIterator[str]] = {}
        sent: Any = None
        error: Exception | None = None
        try:
            while not isinstance(effect := advance(operation, sent, error), Finished):
                sent, error = None, None
                if isinstance(effect, Emit):
                    yield effect.item
                    continue
                try:
                    sent = await self._perform(effect, streams)
                except Exception as exc:  # raised where the operation asked for the effect
                    error = exc
            result.value = effect.value
        finally:
            operation.close()
            for response in streams:
                await response.aclose()

    async def _perform(self, effect: Effect, streams: dict[httpx.Response, AsyncIterator[str]]) -> Any:
        match effect:
            case Send(request, stream=False):
                return await self._http.send(request)
            case Send(request, stream=True):
                response = await self._http.send(request, stream=True)
                if response.is_success:
                    streams[response] = response.aiter_lines()
                else:  # an error is read whole, for its problem+json
                    await response.aread()
                    await response.aclose()
                return response
            case ReadLine(response):
                return await anext(streams[response], None)
            case Close(response):
                streams.pop(response, None)
                await response.aclose()
            case Sleep(seconds):
                await self._sleep(seconds)
            case Exclusive(operation):
                async with self._lock:
                    return await self.run(operation)
        return None
