"""Server-sent event streams of what any process writes to the database (a run's events, a pipeline's
stages). Each stream polls the rows itself, so no broker fan-out is needed; every event carries its `id`,
so a client that reconnects with Last-Event-ID resumes after the last event it received."""

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any, Protocol, TypeVar

from fastapi import Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse

POLL_SECONDS = 0.5
KEEPALIVE_SECONDS = 15.0
# For the OpenAPI of a streaming route.
RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/event-stream": {}}, "description": "Server-sent events"}}


class Event(Protocol):
    id: int

    def model_dump(self, *, mode: str) -> dict[str, Any]: ...


E = TypeVar("E", bound=Event)


def last_event_id(header: str | None) -> int:
    """The id named by a reconnecting client's Last-Event-ID; 0 (from the start) for none or one we never sent."""
    return int(header) if header and header.isascii() and header.isdigit() and len(header) <= 18 else 0


def event_stream(request: Request, read: Callable[[int], Sequence[E]], after: int, *, name: Callable[[E], str],
                 ends: Callable[[E], bool]) -> StreamingResponse:
    """The events `read(after)` returns (those after an id, oldest first; called in a worker thread), sent
    as they appear, each as `event: name(event)`, until one `ends` the stream. A comment line every
    KEEPALIVE_SECONDS keeps an idle connection open through proxies."""
    return StreamingResponse(_events(request, read, after, name, ends), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


async def _events(request: Request, read: Callable[[int], Sequence[E]], after: int, name: Callable[[E], str],
                  ends: Callable[[E], bool]) -> AsyncIterator[str]:
    idle = 0.0
    while not await request.is_disconnected():
        events = await run_in_threadpool(read, after)
        for event in events:
            after = event.id
            yield f"id: {event.id}\nevent: {name(event)}\ndata: {json.dumps(event.model_dump(mode='json'))}\n\n"
        if events and ends(events[-1]):
            return
        idle = 0.0 if events else idle + POLL_SECONDS
        if idle >= KEEPALIVE_SECONDS:
            idle = 0.0
            yield ": keep-alive\n\n"
        await asyncio.sleep(POLL_SECONDS)
