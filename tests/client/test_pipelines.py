"""wait_for_pipeline against the real API and worker: a lead's pipeline followed through its SDR run's
event stream to the email review, which the reviewer rejects from the progress callback, to its end."""

import pytest

from agentline_client.models import PipelineDetail
from app.auth.permissions import Role
from tests.agents.conftest import World
from tests.agents.helpers import FIT_LEAD
from tests.client.conftest import Sleeps, connect, make_tenant

pytestmark = pytest.mark.slow


def test_wait_for_pipeline_follows_its_runs_and_reviews_to_the_end(api, worker, wire, factory):
    tenant = make_tenant(factory)
    world = World(tenant.fixture)
    world.add_icp()
    world.add_price_book()
    operator = connect(api, wire, sleep=Sleeps(real=1.0), api_key=tenant.keys[Role.operator])
    reviewer = connect(api, wire, api_key=tenant.keys[Role.reviewer])
    pipeline = operator.pipelines.start(world.add_lead(**FIT_LEAD))
    seen: list[PipelineDetail] = []

    def on_progress(progress: PipelineDetail) -> None:
        seen.append(progress)
        review = next(stage for stage in progress.stages if stage.name == "review_email")
        if review.review_status == "pending":
            reviewer.reviews.decide("email", review.entity_id, "reject", comment="not our tone")

    done = operator.wait_for_pipeline(pipeline.id, timeout=60, poll_interval=0.2, on_progress=on_progress)

    assert done.status == "rejected" and "not our tone" in done.stopped_reason
    assert seen[0].current_stage == "sdr" and seen[-1] == done
    sdr_run = next(stage.run_id for stage in done.stages if stage.name == "sdr")
    assert wire.requests("GET", f"/runs/{sdr_run}/events")  # the run was followed through its stream
    assert len(wire.requests("POST", "/decision")) == 1
