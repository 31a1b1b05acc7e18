"""Chaos: workers SIGKILLed again and again (pool children and main processes) while hundreds of runs
execute. Afterwards every run has ended exactly once and no step was recorded or performed twice."""

import random
import time
from collections import Counter

from sqlalchemy import func, select

from app.auth.permissions import Role
from app.core.db import session_scope
from app.models import AgentRun, AuditLog, RunEvent, RunStep
from app.runs.state import TERMINAL
from tests.builders import committed_tenant
from tests.runs.cluster import wait_until

RUNS = 240
# Fixed rounds, not a time window: a loaded machine slows the rounds down but never skips one.
KILL_ROUNDS = 15


def _statuses(tenant_id) -> Counter:
    with session_scope(tenant_id) as session:
        return Counter(dict(session.execute(select(AgentRun.status, func.count()).group_by(AgentRun.status)).all()))


def test_runs_survive_repeated_worker_kills(committed_db, live_client, cluster):
    tenant = committed_tenant(committed_db)
    for name in ("w1", "w2"):
        cluster.start_worker(name)
    cluster.start_beat()
    wait_until(lambda: all(cluster.pool_ready(name) for name in ("w1", "w2")), 30, message="workers did not start")
    headers = tenant.headers(Role.operator)
    rng = random.Random(7)
    for i in range(RUNS):
        agent, payload = (("test_side_effect", {"delay_ms": rng.randint(200, 700)}) if i % 2
                          else ("echo", {"message": f"m{i}", "delay_ms": rng.randint(200, 700)}))
        while (response := live_client.post(f"/api/v1/agents/{agent}/run", json={"input": payload},
                                            headers=headers)).status_code == 429:
            time.sleep(float(response.headers["Retry-After"]))  # the tenant's rate limit: back off as told
        assert response.status_code == 202

    kills = {"pool_child": 0, "main_process": 0}
    for round_ in range(1, KILL_ROUNDS + 1):
        time.sleep(rng.uniform(0.8, 1.6))
        cluster.supervise()
        name = rng.choice(sorted(cluster.workers))
        if round_ % 3:
            cluster.kill_pool_child(name)
            kills["pool_child"] += 1
        else:
            cluster.kill_worker(name)
            kills["main_process"] += 1
            cluster.start_worker(name)
    assert kills == {"pool_child": 10, "main_process": 5}, kills

    def all_ended() -> bool:
        cluster.supervise()
        return sum(n for s, n in _statuses(tenant.id).items() if s in TERMINAL) == RUNS

    wait_until(all_ended, 180,
               interval=1, message=f"not every run ended: {_statuses(tenant.id)}")

    with session_scope(tenant.id) as session:
        runs = list(session.scalars(select(AgentRun)))
        assert len(runs) == RUNS
        assert not [r.id for r in runs if r.status not in TERMINAL]
        # Exactly one terminal event per run: it ended once.
        terminal_events = Counter(session.scalars(
            select(RunEvent.run_id).where(RunEvent.to_status.in_([s.value for s in TERMINAL]))))
        assert set(terminal_events.values()) == {1} and len(terminal_events) == RUNS
        # No step recorded twice, and the side effect happened at most once per run (exactly once if done).
        steps = Counter(session.execute(select(RunStep.run_id, RunStep.name)).all())
        assert set(steps.values()) == {1}
        effects = Counter(session.scalars(select(AuditLog.entity_id).where(AuditLog.action == "test.side_effect")))
        assert set(effects.values()) <= {1}
        for run in runs:
            if run.agent == "test_side_effect" and run.status == "succeeded":
                assert effects[str(run.id)] == 1
                assert run.output["effect_attempt"] <= run.output["finished_attempt"] == run.attempt
        assert all(run.attempt <= run.max_attempts for run in runs)
        retried = [r for r in runs if r.attempt > 1]
    statuses = _statuses(tenant.id)
    print(f"\nchaos: kills={kills} statuses={dict(statuses)} runs with >1 attempt={len(retried)}")
    assert retried, "no run was interrupted: the chaos did not bite"
    assert statuses["succeeded"] >= RUNS * 0.9
