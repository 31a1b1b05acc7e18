"""Runs executed by a real Celery worker, waited for through the API's event stream: followed to the end,
resumed with Last-Event-ID after the connection dropped, polled where a proxy refuses the stream, given
up on at the timeout; cursor pagination over several pages; dead letters retried and discarded in bulk."""

import math
import uuid

import pytest

from agentline_client import ConflictError, NotFoundError, WaitTimeoutError
from agentline_client.models import LeadCreate
from app.auth.permissions import Role
from tests.client.conftest import Sleeps, connect, is_event_stream, make_tenant

pytestmark = pytest.mark.slow


def test_wait_for_run_follows_its_event_stream_to_the_end(api, worker, wire, tenant):
    client = connect(api, wire, api_key=tenant.keys[Role.operator])
    run = client.runs.start("echo", {"message": "hello", "delay_ms": 200})
    events = []

    done = client.wait_for_run(run.id, timeout=30, on_progress=events.append)

    assert done.status == "succeeded" and done.output == {"message": "hello"}
    assert [event.to_status for event in events] == ["queued", "running", "succeeded"]
    assert events == done.events
    assert [step.name for step in done.steps] == ["wait", "respond"]
    assert [(r.method, r.url.path) for r in wire.sent] == [
        ("POST", "/api/v1/agents/echo/run"), ("GET", f"/api/v1/runs/{run.id}/events"), ("GET", f"/api/v1/runs/{run.id}")]
    assert wire.sent[1].headers["Accept"] == "text/event-stream" and "Last-Event-ID" not in wire.sent[1].headers


def test_a_dropped_stream_is_resumed_after_the_last_event_received(api, worker, wire, tenant):
    wire.inject(is_event_stream, wire.cut_after_first_event)
    client = connect(api, wire, api_key=tenant.keys[Role.operator])
    run = client.runs.start("echo", {"message": "resumed", "delay_ms": 500})
    events = []

    done = client.wait_for_run(run.id, timeout=30, on_progress=events.append)

    assert done.status == "succeeded"
    first, second = wire.requests("GET", "/events")
    assert "Last-Event-ID" not in first.headers and second.headers["Last-Event-ID"] == str(events[0].id)
    assert [event.to_status for event in events] == ["queued", "running", "succeeded"]  # each once
    assert events == done.events


def test_where_the_stream_is_refused_the_run_is_polled(api, worker, wire, tenant):
    wire.inject(is_event_stream, wire.bad_gateway, times=math.inf)
    client = connect(api, wire, sleep=Sleeps(real=1.0), api_key=tenant.keys[Role.operator])
    run = client.runs.start("echo", {"message": "polled", "delay_ms": 300})
    events = []

    done = client.wait_for_run(run.id, timeout=30, poll_interval=0.2, on_progress=events.append)

    assert done.status == "succeeded" and done.output == {"message": "polled"}
    assert len(wire.requests("GET", "/events")) == 1  # refused once: not asked again
    assert len(wire.requests("GET", f"/runs/{run.id}")) >= 2
    assert [event.to_status for event in events] == ["queued", "running", "succeeded"]


def test_events_iterates_the_state_changes_until_the_run_has_finished(api, worker, wire, tenant):
    client = connect(api, wire, api_key=tenant.keys[Role.operator])
    run = client.runs.start("echo", {"message": "iterated"})
    assert [event.to_status for event in client.runs.events(run.id, timeout=30)] == [
        "queued", "running", "succeeded"]


def test_a_wait_past_its_timeout_raises_with_the_last_status(api, worker, wire, tenant):
    client = connect(api, wire, api_key=tenant.keys[Role.operator])
    run = client.runs.start("echo", {"message": "slow", "delay_ms": 5000})
    with pytest.raises(WaitTimeoutError) as raised:
        client.wait_for_run(run.id, timeout=0.5)
    assert raised.value.last_status in ("queued", "running") and isinstance(raised.value, TimeoutError)
    assert client.runs.cancel(run.id).status in ("cancelled", "running")


def test_iter_follows_next_cursor_over_every_page(api, wire, factory):
    client = connect(api, wire, api_key=make_tenant(factory).keys[Role.operator])
    created = [client.leads.create(LeadCreate(name=f"Lead {n}", email=f"lead-{n}-{uuid.uuid4().hex[:6]}@example.com"))
               for n in range(5)]
    wire.sent.clear()

    page = client.leads.list(limit=2)
    assert len(page.items) == 2 and page.next_cursor
    assert [lead.id for lead in client.leads.iter(page_size=2)] == [lead.id for lead in reversed(created)]
    pages = wire.requests("GET", "/leads")[1:]
    assert len(pages) == 3 and "cursor" not in pages[0].url.params
    assert pages[1].url.params["cursor"] and pages[2].url.params["cursor"] != pages[1].url.params["cursor"]


def test_dead_letters_are_retried_and_discarded_in_bulk(api, wire, factory):
    from app.core.context import TenantContext
    from app.runs import service
    from app.runs.state import RunStatus, transition
    from tests.builders import rebind

    tenant = make_tenant(factory)
    with factory() as session, session.begin():
        rebind(session, tenant.id)
        runs = [service.create_run(session, TenantContext.system(tenant.id), "echo", {"message": f"dead {n}"})
                for n in range(3)]
        for run in runs:
            assert transition(session, run, RunStatus.running, attempt=1)
            assert transition(session, run, RunStatus.dead_lettered)
    client = connect(api, wire, api_key=tenant.keys[Role.operator])
    ids = [run.id for run in runs]
    assert {run.id for run in client.dlq.iter()} == set(ids)

    with pytest.raises(NotFoundError):
        client.dlq.discard([ids[0], uuid.uuid4()])
    assert client.dlq.discard(ids[:2]).discarded == ids[:2]
    assert all(client.runs.get(run_id).error["discarded"] for run_id in ids[:2])
    with pytest.raises(ConflictError):
        client.dlq.retry(ids)  # two of them are not dead letters any more: nothing is retried
    assert [run.id for run in client.dlq.iter()] == [ids[2]]
