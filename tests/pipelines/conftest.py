"""A tenant with an ICP, a price book and leads (tests.agents' World), a real SMTP server, and real
worker and beat processes consuming every queue a pipeline uses."""

from collections.abc import Callable, Iterator

import pytest

from tests.agents.conftest import World
from tests.builders import committed_tenant
from tests.email.smtp_sink import Sink, start_smtp
from tests.runs.cluster import Cluster, engine_env, free_port

PIPELINE_QUEUES = "agents.sdr,agents.sales,agents.negotiation,agents.finance,pipeline,email,maintenance"
FAST_EMAIL = {"EMAIL_RETRY_BASE_SECONDS": "0.2", "EMAIL_RETRY_MAX_SECONDS": "0.5", "SMTP_TIMEOUT_SECONDS": "5"}


@pytest.fixture
def world(committed_db) -> World:
    world = World(committed_tenant(committed_db))
    world.add_icp()
    world.add_price_book()
    return world


@pytest.fixture
def smtp() -> Iterator[tuple[int, Sink]]:
    port = free_port()
    controller, sink = start_smtp(port)
    yield port, sink
    controller.stop()


@pytest.fixture
def pipeline_cluster(migrated, tmp_path, smtp) -> Iterator[Callable[..., Cluster]]:
    """start(name, queues=…, **env): a worker on the pipeline's queues, sending through the test's SMTP
    server; beat runs too (the outbox relay, the reaper)."""
    from app.core.redis import get_redis

    get_redis().delete(*PIPELINE_QUEUES.split(","))  # messages that earlier tests left behind
    cluster = Cluster(engine_env(migrated, SMTP_URL=f"smtp://127.0.0.1:{smtp[0]}", **FAST_EMAIL), tmp_path)
    cluster.start_beat()

    def start(name: str = "all", queues: str = PIPELINE_QUEUES, **env: str) -> Cluster:
        saved = cluster.env
        cluster.env = {**saved, **env}
        cluster.start_worker(name, queues=queues)
        cluster.env = saved
        return cluster

    yield start
    cluster.stop()
