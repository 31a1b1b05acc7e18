"""The run API without workers: roles, tenant isolation, pagination, validation (rolled-back DB)."""

import uuid

import pytest
from sqlalchemy import select

from app.auth.permissions import Role
from app.core.context import TenantContext
from app.core.db import bind_tenant
from app.models import AuditLog
from app.runs import service
from app.runs.state import RunStatus, transition
from tests.builders import make_tenant, rebind

OPERATOR_ROLES = (Role.owner, Role.admin, Role.operator)
ALL_ROLES = tuple(Role)


def _make_run(db, tenant, status: RunStatus = RunStatus.queued, agent="echo"):
    bind_tenant(db, tenant.id)
    run = service.create_run(db, TenantContext.system(tenant.id), agent, {"message": "hi"})
    path = {
        RunStatus.queued: [],
        RunStatus.failed: [RunStatus.running, RunStatus.failed],
        RunStatus.dead_lettered: [RunStatus.running, RunStatus.dead_lettered],
        RunStatus.succeeded: [RunStatus.running, RunStatus.succeeded],
    }[status]
    for target in path:
        fields = {"attempt": run.attempt + 1} if target is RunStatus.running else {}
        assert transition(db, run, target, **fields)
    db.flush()
    return run


@pytest.mark.parametrize("role", ALL_ROLES)
def test_start_run_needs_operator(db, client, role):
    tenant = make_tenant(db)
    response = client.post("/api/v1/agents/echo/run", json={"input": {"message": "x"}}, headers=tenant.headers(role))
    assert response.status_code == (202 if role in OPERATOR_ROLES else 403)


@pytest.mark.parametrize("role", ALL_ROLES)
def test_reads_are_open_to_every_role(db, client, role):
    tenant = make_tenant(db)
    run = _make_run(db, tenant, RunStatus.succeeded)
    headers = tenant.headers(role)
    assert client.get("/api/v1/runs", headers=headers).json()["items"][0]["id"] == str(run.id)
    assert client.get(f"/api/v1/runs/{run.id}", headers=headers).status_code == 200
    assert client.get("/api/v1/dlq", headers=headers).status_code == 200
    with client.stream("GET", f"/api/v1/runs/{run.id}/events", headers=headers) as stream:
        assert stream.status_code == 200
        assert sum(1 for line in stream.iter_lines() if line.startswith("event: state")) == 3


@pytest.mark.parametrize("role", ALL_ROLES)
def test_operator_actions_need_operator(db, client, role):
    tenant = make_tenant(db)
    headers = tenant.headers(role)
    allowed = role in OPERATOR_ROLES
    failed, dead, dead2, queued = (_make_run(db, tenant, RunStatus.failed), _make_run(db, tenant, RunStatus.dead_lettered),
                                   _make_run(db, tenant, RunStatus.dead_lettered), _make_run(db, tenant))
    expectations = [
        (f"/api/v1/runs/{failed.id}/retry", None, 200),
        (f"/api/v1/runs/{queued.id}/cancel", None, 200),
        (f"/api/v1/runs/{dead.id}/manual-override", {"status": "failed", "reason": "known bad lead"}, 200),
        ("/api/v1/dlq/retry", {"run_ids": [str(dead2.id)]}, 200),
        ("/api/v1/dlq/discard", {"run_ids": [str(_make_run(db, tenant, RunStatus.dead_lettered).id)]}, 200),
    ]
    for path, body, ok in expectations:
        response = client.post(path, json=body, headers=headers)
        assert response.status_code == (ok if allowed else 403), (path, response.text)
    other_dead = _make_run(db, tenant, RunStatus.dead_lettered)
    assert client.post(f"/api/v1/dlq/{other_dead.id}/discard", headers=headers).status_code == (200 if allowed else 403)


@pytest.mark.parametrize("role", ALL_ROLES)
def test_another_tenants_run_is_404_for_every_role_and_endpoint(db, client, role):
    mine, theirs = make_tenant(db), make_tenant(db)
    foreign = _make_run(db, theirs, RunStatus.dead_lettered)
    headers = mine.headers(role)
    bind_tenant(db, mine.id)
    for method, path, body in [
        ("GET", f"/api/v1/runs/{foreign.id}", None),
        ("GET", f"/api/v1/runs/{foreign.id}/events", None),
        ("POST", f"/api/v1/runs/{foreign.id}/retry", None),
        ("POST", f"/api/v1/runs/{foreign.id}/cancel", None),
        ("POST", f"/api/v1/runs/{foreign.id}/manual-override", {"status": "failed", "reason": "not mine"}),
        ("POST", f"/api/v1/dlq/{foreign.id}/discard", None),
    ]:
        response = client.request(method, path, json=body, headers=headers)
        assert response.status_code == 404, (method, path, response.status_code)
    assert client.get("/api/v1/runs", headers=headers).json()["items"] == []
    if role in OPERATOR_ROLES:
        for action in ("retry", "discard"):
            response = client.post(f"/api/v1/dlq/{action}", json={"run_ids": [str(foreign.id)]}, headers=headers)
            assert response.status_code == 404 and response.json()["missing"] == [str(foreign.id)]


def test_cursor_pagination_walks_every_run_once_newest_first(db, client):
    tenant = make_tenant(db)
    created = [_make_run(db, tenant) for _ in range(7)] + [_make_run(db, tenant, RunStatus.failed)]
    headers = tenant.headers(Role.viewer)
    seen, cursor, pages = [], None, 0
    while True:
        params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = client.get("/api/v1/runs", params=params, headers=headers).json()
        seen += [item["id"] for item in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == 3 and len(seen) == len(set(seen)) == 8
    assert set(seen) == {str(run.id) for run in created}
    failed_only = client.get("/api/v1/runs", params={"status": "failed"}, headers=headers).json()["items"]
    assert [item["id"] for item in failed_only] == [str(created[-1].id)]
    assert client.get("/api/v1/runs", params={"agent": "nope"}, headers=headers).json()["items"] == []


@pytest.mark.parametrize("params", [{"cursor": "garbage!"}, {"status": "sleeping"}, {"limit": 0}, {"limit": 1000},
                                    {"created_from": "yesterday"}])
def test_bad_list_parameters_are_4xx_problem_json(db, client, params):
    tenant = make_tenant(db)
    response = client.get("/api/v1/runs", params=params, headers=tenant.headers(Role.viewer))
    assert response.status_code in (400, 422)
    assert response.headers["content-type"].startswith("application/problem+json")


def test_operator_actions_refuse_runs_in_the_wrong_state(db, client):
    tenant = make_tenant(db)
    headers = tenant.headers(Role.operator)
    done = _make_run(db, tenant, RunStatus.succeeded)
    queued = _make_run(db, tenant)
    assert client.post(f"/api/v1/runs/{done.id}/retry", headers=headers).status_code == 409
    assert client.post(f"/api/v1/runs/{done.id}/cancel", headers=headers).status_code == 409
    assert client.post(f"/api/v1/dlq/{queued.id}/discard", headers=headers).status_code == 409
    mixed = client.post("/api/v1/dlq/retry", json={"run_ids": [str(queued.id)]}, headers=headers)
    assert mixed.status_code == 409 and mixed.json()["not_dead_lettered"] == [str(queued.id)]
    bad_status = client.post(f"/api/v1/runs/{queued.id}/manual-override",
                             json={"status": "running", "reason": "force it"}, headers=headers)
    assert bad_status.status_code == 422
    assert client.get(f"/api/v1/runs/{queued.id}", headers=headers).json()["status"] == "queued"
    assert client.get(f"/api/v1/runs/{uuid.uuid4()}", headers=headers).status_code == 404


def test_dead_letters_are_discarded_in_bulk_all_or_nothing(db, client):
    tenant = make_tenant(db)
    headers = tenant.headers(Role.operator)
    dead = [_make_run(db, tenant, RunStatus.dead_lettered) for _ in range(3)]
    queued = _make_run(db, tenant)
    ids = [str(run.id) for run in dead]

    mixed = client.post("/api/v1/dlq/discard", json={"run_ids": [*ids, str(queued.id)]}, headers=headers)
    assert mixed.status_code == 409 and mixed.json()["not_dead_lettered"] == [str(queued.id)]
    unknown = client.post("/api/v1/dlq/discard", json={"run_ids": [ids[0], str(uuid.uuid4())]}, headers=headers)
    assert unknown.status_code == 404 and "nothing was discarded" in unknown.json()["detail"]
    assert {client.get(f"/api/v1/runs/{i}", headers=headers).json()["status"] for i in ids} == {"dead_lettered"}

    discarded = client.post("/api/v1/dlq/discard", json={"run_ids": [ids[1], ids[0], ids[1], ids[2]]}, headers=headers)
    assert discarded.status_code == 200 and discarded.json() == {"discarded": [ids[1], ids[0], ids[2]]}
    for run_id in ids:
        run = client.get(f"/api/v1/runs/{run_id}", headers=headers).json()
        assert run["status"] == "failed" and run["error"]["discarded"] is True
        assert run["events"][-1]["detail"]["action"] == "dlq.discard"
    assert client.get("/api/v1/dlq", headers=headers).json()["items"] == []
    rebind(db, tenant.id)
    audited = db.scalars(select(AuditLog.entity_id).where(AuditLog.action == "dlq.discard")).all()
    assert sorted(audited) == sorted(ids)
    again = client.post("/api/v1/dlq/discard", json={"run_ids": [ids[0]]}, headers=headers)
    assert again.status_code == 409
    for body in ({"run_ids": []}, {"run_ids": ids, "reason": "x"}, {}):
        assert client.post("/api/v1/dlq/discard", json=body, headers=headers).status_code == 422


def test_the_openapi_schema_types_a_runs_model_calls(client):
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    assert schemas["RunDetail"]["properties"]["model_calls"]["items"] == {"$ref": "#/components/schemas/ModelCall"}
    assert {"provider", "model", "input_tokens", "cost_usd", "status"} <= schemas["ModelCall"]["properties"].keys()
    assert schemas["ModelCallPage"]["properties"]["items"]["items"] == {"$ref": "#/components/schemas/ModelCall"}


@pytest.mark.parametrize("role", [Role.viewer, Role.operator])
def test_the_installed_agents_are_listed_with_their_queue_prompts_and_input_schema(db, client, role):
    tenant = make_tenant(db)
    response = client.get("/api/v1/agents", headers=tenant.headers(role))
    assert response.status_code == 200
    agents = {agent["name"]: agent for agent in response.json()}
    assert list(agents) == sorted(agents) and {"sdr", "sales", "negotiation", "finance", "coaching", "echo"} <= set(agents)
    sdr = agents["sdr"]
    assert (sdr["queue"], sdr["public"], sdr["uses_models"], sdr["may_need_review"]) == ("agents.sdr", True, True, True)
    assert sdr["prompt_keys"] == ["sdr.qualify", "sdr.first_email"] and "lead_id" in sdr["input_schema"]["properties"]
    assert (agents["echo"]["may_need_review"], agents["echo"]["prompt_keys"]) == (False, [])
    assert agents["knowledge_ingest"]["public"] is False
    prompts = {prompt["key"] for prompt in client.get("/api/v1/prompts", headers=tenant.headers(role)).json()}
    product = [agents[name] for name in ("sdr", "sales", "negotiation", "finance", "coaching")]
    assert all(agent["prompt_keys"] and set(agent["prompt_keys"]) <= prompts and agent["may_need_review"]
               for agent in product)
    assert client.get("/api/v1/agents").status_code == 401
