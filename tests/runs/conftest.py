import pytest

from tests.runs.cluster import ApiServer, Cluster, engine_env


@pytest.fixture
def cluster(migrated, tmp_path):
    """Worker and beat processes on the test database and Redis; stopped after the test."""
    running = Cluster(engine_env(migrated), tmp_path)
    yield running
    running.stop()


@pytest.fixture
def api_server(migrated, tmp_path):
    server = ApiServer(engine_env(migrated), tmp_path)
    yield server
    server.stop()


@pytest.fixture(scope="session", autouse=True)
def _test_agents_in_this_process():
    import tests.runs.agents  # noqa: F401  (registers the test agents for the API side too)
