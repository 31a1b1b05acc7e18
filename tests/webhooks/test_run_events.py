"""Run events through the real path: a Celery worker ends each run and, right after its commit, announces it;
the delivery goes out through the `webhooks` queue to the receiver, signed, once per id."""

from collections import Counter

from app.core.context import TenantContext
from app.core.db import session_scope
from app.runs import service as runs
from app.webhooks.schemas import EventType
from tests.runs import agents  # noqa: F401 - registers test_flaky in this process, as AGENT_PLUGINS does in workers
from tests.runs.cluster import wait_until

QUEUES = "agents.echo,agents.test_flaky,webhooks,maintenance"


def _start(tenant_id, agent: str, payload: dict) -> str:
    with session_scope(tenant_id) as session:
        return str(runs.create_run(session, TenantContext.system(tenant_id), agent, payload).id)


def test_a_run_that_succeeds_fails_or_is_dead_lettered_is_announced_once(tenant, subscribe, receiver, webhook_cluster):
    receiver.start()
    subscribe(receiver, EventType.run_succeeded, EventType.run_failed, EventType.run_dead_lettered)
    cluster = webhook_cluster()
    cluster.start_worker("agents", queues=QUEUES)
    expected = {
        _start(tenant.id, "echo", {"message": "hello"}): "run.succeeded",
        _start(tenant.id, "test_flaky", {"mode": "permanent"}): "run.failed",
        _start(tenant.id, "test_flaky", {"fail_attempts": 5}): "run.dead_lettered",  # 3 attempts, all failing
    }
    wait_until(lambda: len(receiver.received) >= 3, 90, message=f"run events received: {receiver.received}")
    assert receiver.refused == []
    got = {item.body["data"]["run"]["id"]: item.body["type"] for item in receiver.received}
    assert got == expected
    assert all(count == 1 for count in Counter(item.message_id for item in receiver.received).values())
    dead = next(item.body["data"]["run"] for item in receiver.received if item.body["type"] == "run.dead_lettered")
    assert dead["attempt"] == 3 and dead["error"]["retryable"] is True
