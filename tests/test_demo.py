"""`python -m app demo` against a running API, worker and beat: the whole lead-to-proposal story, as
the demo tells it, and the same story again when it is run a second time (nothing is started twice)."""

import pytest

from app.demo import run_demo
from tests.runs.cluster import ApiServer, Cluster, engine_env

pytestmark = pytest.mark.slow
ALL_QUEUES = "agents.echo,agents.sdr,agents.sales,pipeline,email,knowledge,maintenance"


@pytest.fixture
def running_system(migrated, tmp_path):
    env = engine_env(migrated, EMAIL_OUTBOX_DIR=str(tmp_path / "outbox"))
    cluster, api = Cluster(env, tmp_path), ApiServer(env, tmp_path)
    cluster.start_worker("all", queues=ALL_QUEUES)
    cluster.start_beat()
    api.start()
    yield api, tmp_path / "outbox"
    api.stop()
    cluster.stop()


def _pipeline_lines(output: str) -> dict[str, str]:
    block = output.split("Pipelines of tenant 'demo':")[1].split("\n\n")[0]
    return {line.split()[0]: line for line in block.strip().splitlines()[1:]}


def test_the_demo_tells_the_lead_to_proposal_story_and_can_be_run_again(running_system, capsys):
    api, outbox = running_system
    assert run_demo(api.url) == 0
    first = capsys.readouterr().out
    pipelines = _pipeline_lines(first)
    assert "succeeded" in pipelines["lena.vogel@brightstack.example"]
    assert "succeeded" in pipelines["ruben@ledgerly.example"]
    assert "rejected" in pipelines["sophie.brandt@kanzlei-brandt.example"]
    assert "disqualified" in pipelines["tom@cornerbakery.example"]
    assert "suppression list" in pipelines["mia.jensen@quietmail.example"]
    assert "An idea for the Ledgerly team's wellbeing" in first  # the reviewer's edit is what was sent
    assert len(list(outbox.glob("*.eml"))) == 2

    assert run_demo(api.url) == 0
    again = capsys.readouterr().out
    assert "already exists" in again
    assert _pipeline_lines(again) == pipelines
    assert len(list(outbox.glob("*.eml"))) == 2
