"""Operations of more than one request: walking a cursor-paginated list, and following a run or a
pipeline through its event stream."""

import time
from collections.abc import Callable, Collection, Mapping
from typing import Any, TypeVar

import httpx

from agentline_client._engine import (
    Close, Core, Emit, Emitting, Finished, Op, Plan, ReadLine, Sleep, Stream, advance, exchange, parse_as, query,
)
from agentline_client._retry import NO_RETRIES
from agentline_client._sse import SSEDecoder, ServerSentEvent
from agentline_client.errors import (
    APIConnectionError, APIError, AuthenticationError, PermissionDeniedError, WaitTimeoutError,
)
from agentline_client.models import TERMINAL_RUN_STATUSES, Page, PipelineDetail, RunDetail, RunEvent

T = TypeVar("T")
R = TypeVar("R")

# The API sends a comment every 15 s on an idle event stream: a longer silence is a dead connection.
STREAM_IDLE_SECONDS = 20.0


def run_plan(run_id: object) -> Plan[RunDetail]:
    return Plan("GET", f"/runs/{run_id}", parse_as(RunDetail))


def pipeline_plan(pipeline_id: object) -> Plan[PipelineDetail]:
    return Plan("GET", f"/pipelines/{pipeline_id}", parse_as(PipelineDetail))


def paginate(core: Core, path: str, item: type[T], params: Mapping[str, Any]) -> Stream[T]:
    """Every item of a cursor-paginated list, page after page, until `next_cursor` is null."""
    parse = parse_as(Page[item])  # type: ignore[valid-type]
    cursor = None
    while True:
        page = yield from exchange(core, Plan("GET", path, parse, params={**params, **query(cursor=cursor)}))
        for entry in page.items:
            yield Emit(entry)
        if page.next_cursor is None:
            return
        cursor = page.next_cursor


def report(operation: Emitting[T, R], callback: Callable[[T], object] | None) -> Op[R]:
    """`operation`, its emitted items handed to `callback` (or dropped) rather than to an iterator."""
    sent: Any = None
    error: Exception | None = None
    try:
        while not isinstance(effect := advance(operation, sent, error), Finished):
            sent, error = None, None
            if isinstance(effect, Emit):
                if callback is not None:
                    callback(effect.item)
                continue
            try:
                sent = yield effect
            except Exception as exc:
                error = exc
        return effect.value
    finally:
        operation.close()


def follow_events(core: Core, path: str, handle: Callable[[ServerSentEvent], Emitting[T, bool]],
                  remaining: Callable[[], float]) -> Emitting[T, bool]:
    """Hand each event of the event stream at `path` to `handle` (an operation that returns True once it
    has what it waited for), each once, oldest first; return True then. A dropped stream is reopened with
    Last-Event-ID, so it resumes after the last event received. Returns False where the stream cannot be
    had (a proxy that does not pass it, a 5xx, a stream that keeps breaking): the caller polls instead.
    `remaining()` is the time left (it raises once there is none)."""
    last_id = 0
    broken = 0  # connections in a row that ended without sending anything
    while broken <= core.retry.max_retries:
        try:
            response = yield from exchange(core, _event_stream_plan(core, path, last_id,
                                                                    min(remaining(), STREAM_IDLE_SECONDS)))
        except (AuthenticationError, PermissionDeniedError):
            raise  # polling would be refused too
        except (APIError, APIConnectionError):
            return False
        if not response.headers.get("content-type", "").startswith("text/event-stream"):
            yield Close(response)
            return False
        alive = False  # a stream that sends anything, a keep-alive included, works: it is reopened if cut
        decoder = SSEDecoder()
        try:
            while (line := (yield ReadLine(response))) is not None:
                alive = True
                sse = decoder.feed(line)
                event_id = int(sse.id) if sse is not None and sse.id is not None and sse.id.isdigit() else 0
                if sse is None or event_id <= last_id:
                    continue
                last_id = event_id
                if (yield from handle(sse)):
                    yield Close(response)
                    return True
        except httpx.TransportError:
            pass  # the connection broke or went silent: reconnect below
        yield Close(response)
        broken = 0 if alive else broken + 1
        yield Sleep(min(core.retry.backoff(broken), remaining()))
    return False


def _event_stream_plan(core: Core, path: str, after: int, idle: float) -> Plan[httpx.Response]:
    headers = {"Last-Event-ID": str(after)} if after else {}
    connect = core.timeout.connect
    return Plan("GET", path, lambda response: response, headers=headers, stream=True,
                timeout=httpx.Timeout(connect, read=idle),
                # Reconnecting is the caller's business (from the last event, or by polling instead).
                retry=NO_RETRIES)


def _deadline(timeout: float | None, expired: Callable[[], WaitTimeoutError]) -> Callable[[], float]:
    """The seconds left of `timeout` (None: no limit), raising `expired()` once none are."""
    deadline = None if timeout is None else time.monotonic() + timeout

    def remaining() -> float:
        left = float("inf") if deadline is None else deadline - time.monotonic()
        if left <= 0:
            raise expired()
        return left

    return remaining


def follow_run(core: Core, run_id: object, *, timeout: float | None, poll_interval: float,
               until: Collection[str] = TERMINAL_RUN_STATUSES) -> Emitting[RunEvent, RunDetail]:
    """Emit the run's state changes (RunEvent, oldest first, each once) until it reaches a status in
    `until`; return the run then.

    The changes come from the run's event stream (GET /runs/{id}/events), resumed where it broke off, and
    from polling the run where there is none (follow_events). Raises WaitTimeoutError after `timeout`
    seconds (None: no limit).
    """
    last_id = 0
    status: str | None = None
    finished: RunDetail | None = None
    remaining = _deadline(timeout, lambda: WaitTimeoutError(
        f"run {run_id} did not finish within {timeout} s (last status: {status})", status))

    def handle(sse: ServerSentEvent) -> Emitting[RunEvent, bool]:
        nonlocal last_id, status, finished
        if sse.event != "state":
            return False
        event = RunEvent.model_validate_json(sse.data)
        last_id, status = event.id, event.to_status
        yield Emit(event)
        if event.to_status in until:
            # The stream says so; the run itself is the answer (and it may have moved on already: an
            # operator's retry of a failed run).
            finished = yield from exchange(core, run_plan(run_id))
            return finished.status in until
        return False

    if (yield from follow_events(core, f"/runs/{run_id}/events", handle, remaining)):
        return finished
    while True:
        run = yield from exchange(core, run_plan(run_id))
        for event in run.events:
            if event.id > last_id:
                last_id = event.id
                yield Emit(event)
        status = run.status
        if run.status in until:
            return run
        yield Sleep(min(poll_interval, remaining()))


def follow_pipeline(core: Core, pipeline_id: object, *, timeout: float | None,
                    poll_interval: float) -> Emitting[PipelineDetail, PipelineDetail]:
    """Emit the pipeline each time its status or a stage's changes, until it has ended; return it then.

    The pipeline is read again at each event of its event stream (GET /pipelines/{id}/events: a stage
    started or ended, the pipeline ended), which is resumed where it broke off, and polled every
    `poll_interval` seconds where there is no stream (follow_events). Raises WaitTimeoutError after
    `timeout` seconds (None: no limit).
    """
    pipeline: PipelineDetail | None = None
    seen: tuple[Any, ...] | None = None
    remaining = _deadline(timeout, lambda: WaitTimeoutError(
        f"pipeline {pipeline_id} did not finish within {timeout} s (at stage "
        f"{pipeline.current_stage if pipeline else None})", pipeline.status if pipeline else None))

    def read() -> Emitting[PipelineDetail, bool]:
        nonlocal pipeline, seen
        pipeline = yield from exchange(core, pipeline_plan(pipeline_id))
        if (progress := _progress(pipeline)) != seen:
            seen = progress
            yield Emit(pipeline)
        return pipeline.finished

    if not (yield from follow_events(core, f"/pipelines/{pipeline_id}/events", lambda _: read(), remaining)):
        while not (yield from read()):
            yield Sleep(min(poll_interval, remaining()))
    return pipeline


def _progress(pipeline: PipelineDetail) -> tuple[Any, ...]:
    return (pipeline.status, pipeline.current_stage,
            tuple((stage.status, stage.run_status, stage.review_status) for stage in pipeline.stages))
