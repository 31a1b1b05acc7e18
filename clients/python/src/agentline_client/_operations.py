"""Operations of more than one request: walking a cursor-paginated list, following a run's events, and
following a pipeline through its runs."""

import time
from collections.abc import Callable, Collection, Mapping
from typing import Any, TypeVar

import httpx

from agentline_client._engine import (
    Close, Core, Emit, Emitting, Finished, Op, Plan, ReadLine, Sleep, Stream, advance, exchange, parse_as, query,
)
from agentline_client._retry import NO_RETRIES
from agentline_client._sse import SSEDecoder
from agentline_client.errors import (
    APIConnectionError, APIError, AuthenticationError, PermissionDeniedError, WaitTimeoutError,
)
from agentline_client.models import (
    TERMINAL_RUN_STATUSES, Page, PipelineDetail, RunDetail, RunEvent, RunStatus,
)

T = TypeVar("T")
R = TypeVar("R")

# The API sends a comment every 15 s on an idle event stream: a longer silence is a dead connection.
STREAM_IDLE_SECONDS = 20.0
ACTIVE_RUN_STATUSES = frozenset({RunStatus.queued, RunStatus.running, RunStatus.retry_scheduled})
# Where a pipeline's run stops being the thing to watch: it ended, or the pipeline now waits for a review.
_RUN_SETTLED_FOR_PIPELINE = TERMINAL_RUN_STATUSES | {RunStatus.awaiting_review}


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


def follow_run(core: Core, run_id: object, *, timeout: float | None, poll_interval: float,
               until: Collection[str] = TERMINAL_RUN_STATUSES) -> Emitting[RunEvent, RunDetail]:
    """Emit the run's state changes (RunEvent, oldest first, each once) until it reaches a status in
    `until`; return the run then.

    The changes come from the run's event stream (GET /runs/{id}/events). A dropped stream is reopened
    with Last-Event-ID, so it resumes after the last event received. Where the stream cannot be had (a
    proxy that does not pass it, a stream that keeps breaking), the run is polled instead. Raises
    WaitTimeoutError after `timeout` seconds (None: no limit).
    """
    deadline = None if timeout is None else time.monotonic() + timeout
    last_id = 0
    status: str | None = None
    broken = 0  # connections in a row that ended without sending anything

    def remaining() -> float:
        left = float("inf") if deadline is None else deadline - time.monotonic()
        if left <= 0:
            raise WaitTimeoutError(f"run {run_id} did not finish within {timeout} s (last status: {status})",
                                   status)
        return left

    while broken <= core.retry.max_retries:
        try:
            response = yield from exchange(core, _event_stream_plan(core, run_id, last_id,
                                                                    min(remaining(), STREAM_IDLE_SECONDS)))
        except (AuthenticationError, PermissionDeniedError):
            raise  # polling would be refused too
        except (APIError, APIConnectionError):
            break  # no stream to be had here (a proxy that does not pass it, a 5xx): poll instead
        if not response.headers.get("content-type", "").startswith("text/event-stream"):
            yield Close(response)
            break
        alive = False  # a stream that sends anything, a keep-alive included, works: it is reopened if cut
        decoder = SSEDecoder()
        try:
            while (line := (yield ReadLine(response))) is not None:
                alive = True
                sse = decoder.feed(line)
                if sse is None or sse.event != "state":
                    continue
                event = RunEvent.model_validate_json(sse.data)
                if event.id <= last_id:
                    continue
                last_id, status = event.id, event.to_status
                yield Emit(event)
                if event.to_status in until:
                    # The stream says so; the run itself is the answer (and it may have moved on already:
                    # an operator's retry of a failed run).
                    run = yield from exchange(core, run_plan(run_id))
                    if run.status in until:
                        yield Close(response)
                        return run
        except httpx.TransportError:
            pass  # the connection broke or went silent: reconnect below
        yield Close(response)
        broken = 0 if alive else broken + 1
        yield Sleep(min(core.retry.backoff(broken), remaining()))

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


def _event_stream_plan(core: Core, run_id: object, after: int, idle: float) -> Plan[httpx.Response]:
    headers = {"Last-Event-ID": str(after)} if after else {}
    connect = core.timeout.connect
    return Plan("GET", f"/runs/{run_id}/events", lambda response: response, headers=headers, stream=True,
                timeout=httpx.Timeout(connect, read=idle),
                # Reconnecting is this operation's business (from the last event, or by polling instead).
                retry=NO_RETRIES)


def follow_pipeline(core: Core, pipeline_id: object, *, timeout: float | None,
                    poll_interval: float) -> Emitting[PipelineDetail, PipelineDetail]:
    """Emit the pipeline each time its status or a stage's changes, until it has ended; return it then.

    Pipelines have no event stream of their own: while a stage's run is active, its event stream is
    followed (follow_run), and in between (a stage waiting for a review, the next stage starting) the
    pipeline is polled. Raises WaitTimeoutError after `timeout` seconds (None: no limit).
    """
    deadline = None if timeout is None else time.monotonic() + timeout
    seen: tuple[Any, ...] | None = None
    while True:
        pipeline = yield from exchange(core, pipeline_plan(pipeline_id))
        if (progress := _progress(pipeline)) != seen:
            seen = progress
            yield Emit(pipeline)
        if pipeline.finished:
            return pipeline
        left = float("inf") if deadline is None else deadline - time.monotonic()
        if left <= 0:
            raise WaitTimeoutError(f"pipeline {pipeline_id} did not finish within {timeout} s (at stage "
                                   f"{pipeline.current_stage})", pipeline.status)
        active = next((stage.run_id for stage in pipeline.stages
                       if stage.run_id is not None and stage.run_status in ACTIVE_RUN_STATUSES), None)
        if active is None:
            yield Sleep(min(poll_interval, left))
            continue
        try:
            yield from report(follow_run(core, active, timeout=None if deadline is None else left,
                                         poll_interval=poll_interval, until=_RUN_SETTLED_FOR_PIPELINE), None)
        except WaitTimeoutError:
            raise WaitTimeoutError(f"pipeline {pipeline_id} did not finish within {timeout} s (at stage "
                                   f"{pipeline.current_stage})", pipeline.status) from None


def _progress(pipeline: PipelineDetail) -> tuple[Any, ...]:
    return (pipeline.status, pipeline.current_stage,
            tuple((stage.status, stage.run_status, stage.review_status) for stage in pipeline.stages))
