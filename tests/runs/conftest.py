import pytest

from tests.runs.cluster import Cluster, engine_env


@pytest.fixture
def cluster(migrated, tmp_path):
    """Worker and beat processes on the test database and Redis; stopped after the test."""
    running = Cluster(engine_env(migrated), tmp_path)
    yield running
    running.stop()


@pytest.fixture(scope="session", autouse=True)
def _test_agents_in_this_process():
    import tests.runs.agents  # noqa: F401  (registers the test agents for the API side too)
