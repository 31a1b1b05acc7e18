"""wait_for_pipeline against the real API and worker: a lead's pipeline followed through the pipeline's
event stream to the email review, which the reviewer rejects from the progress callback, to its end;
resumed with Last-Event-ID after the stream dropped; polled where a proxy refuses the stream."""

import math

import pytest

from agentline_client.models import PipelineDetail
from app.auth.permissions import Role
from tests.agents.conftest import World
from tests.agents.helpers import FIT_LEAD
from tests.client.conftest import Sleeps, connect, is_event_stream, make_tenant

pytestmark = pytest.mark.slow


def _rejecting_the_email(reviewer, seen: list[PipelineDetail]):
    """A progress callback that records what it is given and rejects the first email once it waits."""
    def on_progress(progress: PipelineDetail) -> None:
        seen.append(progress)
        review = next(stage for stage in progress.stages if stage.name == "review_email")
        if review.review_status == "pending":
            reviewer.reviews.decide("email", review.entity_id, "reject", comment="not our tone")

    return on_progress


def _pipeline(factory, api, wire, **connect_options):
    tenant = make_tenant(factory)
    world = World(tenant.fixture)
    world.add_icp()
    world.add_price_book()
    operator = connect(api, wire, api_key=tenant.keys[Role.operator], **connect_options)
    reviewer = connect(api, wire, api_key=tenant.keys[Role.reviewer])
    return operator, reviewer, operator.pipelines.start(world.add_lead(**FIT_LEAD))


def test_wait_for_pipeline_follows_its_event_stream_to_the_end(api, worker, wire, factory):
    operator, reviewer, pipeline = _pipeline(factory, api, wire)
    seen: list[PipelineDetail] = []

    done = operator.wait_for_pipeline(pipeline.id, timeout=60, on_progress=_rejecting_the_email(reviewer, seen))

    assert done.status == "rejected" and "not our tone" in done.stopped_reason
    assert seen[0].current_stage == "sdr" and seen[-1] == done
    assert [stage.status for stage in done.stages[:2]] == ["succeeded", "rejected"]
    assert len(wire.requests("GET", f"/pipelines/{pipeline.id}/events")) == 1  # followed to its end at once
    assert not wire.requests("GET", "/runs/")
    assert len(wire.requests("POST", "/decision")) == 1


def test_a_dropped_pipeline_stream_is_resumed_after_the_last_event_received(api, worker, wire, factory):
    wire.inject(is_event_stream, wire.cut_after_first_event)
    operator, reviewer, pipeline = _pipeline(factory, api, wire)
    seen: list[PipelineDetail] = []

    done = operator.wait_for_pipeline(pipeline.id, timeout=60, on_progress=_rejecting_the_email(reviewer, seen))

    assert done.status == "rejected"
    first, second = wire.requests("GET", "/events")
    assert "Last-Event-ID" not in first.headers and second.headers["Last-Event-ID"] == "1"  # the sdr stage began
    assert seen[-1] == done and len(wire.requests("POST", "/decision")) == 1


def test_where_the_pipeline_stream_is_refused_the_pipeline_is_polled(api, worker, wire, factory):
    wire.inject(is_event_stream, wire.bad_gateway, times=math.inf)
    operator, reviewer, pipeline = _pipeline(factory, api, wire, sleep=Sleeps(real=1.0))
    seen: list[PipelineDetail] = []

    done = operator.wait_for_pipeline(pipeline.id, timeout=60, poll_interval=0.2,
                                      on_progress=_rejecting_the_email(reviewer, seen))

    assert done.status == "rejected" and seen[-1] == done
    assert len(wire.requests("GET", "/events")) == 1  # refused once: not asked again
    assert len(wire.requests("GET", f"/pipelines/{pipeline.id}")) >= 3


def test_the_list_gives_each_pipeline_with_its_lead_and_the_stage_it_is_at(api, wire, factory):
    operator, _, pipeline = _pipeline(factory, api, wire)

    [listed] = operator.pipelines.list().items

    assert listed.id == pipeline.id and listed.lead.id == pipeline.lead_id
    assert listed.lead.name == FIT_LEAD["name"] and listed.lead.company == FIT_LEAD["company"]
    assert (listed.stage.name, listed.stage.status, listed.stage_count) == ("sdr", "active", len(pipeline.stages))
