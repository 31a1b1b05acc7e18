"""`python -m app demo` against a running API, worker and beat: the whole story from lead to client, as
the demo tells it, and the same story again when it is run a second time (nothing is started twice)."""

import pytest

from app.demo import run_demo
from tests.runs.cluster import ApiServer, Cluster, engine_env

pytestmark = pytest.mark.slow
ALL_QUEUES = ("agents.echo,agents.sdr,agents.sales,agents.negotiation,agents.finance,agents.coaching,pipeline,email,"
              "knowledge,maintenance")


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


def test_the_demo_tells_the_story_from_lead_to_client_and_can_be_run_again(running_system, capsys):
    api, outbox = running_system
    assert run_demo(api.url) == 0
    first = capsys.readouterr().out
    pipelines = _pipeline_lines(first)
    assert "succeeded" in pipelines["lena.vogel@brightstack.example"]
    assert "succeeded" in pipelines["ruben@ledgerly.example"]
    assert "rejected" in pipelines["sophie.brandt@kanzlei-brandt.example"]
    assert "disqualified" in pipelines["tom@cornerbakery.example"]
    assert "suppression list" in pipelines["mia.jensen@quietmail.example"]
    waiting = pipelines["jana.novak@fernhill.example"]  # a review left pending, to decide in the console
    assert "running" in waiting and "review_email: left for you to decide in the console" in waiting
    assert "An idea for the Ledgerly team's wellbeing" in first  # the reviewer's edit is what was sent
    assert len(list(outbox.glob("*.eml"))) == 2
    rounds = first.split("Negotiation rounds of tenant 'demo':")[1].split("\n\n")[0]
    [refused] = [line for line in rounds.splitlines() if "below_floor" in line]
    assert "ruben@ledgerly.example" in refused and "4300.00 EUR" in refused  # code raised it to the floor
    invoices = first.split("Invoices of tenant 'demo':")[1].split("\n\n")[0].strip().splitlines()[1:]
    assert sorted(line.split()[:2] for line in invoices)[0][1] == "issued" and len(invoices) == 2
    assert all(line.split()[0].startswith("DFS-") and " issued " in line for line in invoices)
    coaching = first.split("Coaching reviews of tenant 'demo':")[1]
    anna, jonas = coaching.split("  Jonas Weber")
    assert "readiness green" in anna and "no plan change" in anna
    assert "readiness red" in jonas and "deload yes" in jonas and "missed_check_ins" in jonas
    assert "plan change approved" in jonas

    assert run_demo(api.url) == 0
    again = capsys.readouterr().out
    assert "already exists" in again
    assert _pipeline_lines(again) == pipelines
    assert len(list(outbox.glob("*.eml"))) == 2
