"""The async client on the same operations as the sync one: a password login refreshed once for
concurrent requests, a run started and waited for through its event stream, pages iterated with
`async for`, errors raised as in the sync client."""

import asyncio
import uuid

import httpx
import pytest

from agentline_client import AsyncAgentline, NotFoundError, PermissionDeniedError
from app.auth.permissions import Role
from tests.builders import PASSWORD
from tests.client.conftest import make_tenant

pytestmark = pytest.mark.slow


def test_the_async_client_starts_waits_iterates_and_raises(api, worker, factory):
    tenant = make_tenant(factory)
    paths: list[str] = []

    async def record(request: httpx.Request) -> None:
        paths.append(request.url.path)

    async def main() -> None:
        http = httpx.AsyncClient(event_hooks={"request": [record]})
        async with AsyncAgentline(api.url, email=tenant.email(Role.operator), password=PASSWORD,
                                  http_client=http) as client:
            runs = [await client.runs.start("echo", {"message": f"async {n}"}) for n in range(2)]
            events = []
            done = await client.wait_for_run(runs[1].id, timeout=30, on_progress=events.append)
            assert done.status == "succeeded" and done.output == {"message": "async 1"}
            assert [event.to_status for event in events] == ["queued", "running", "succeeded"]

            assert [run.id async for run in client.runs.iter(agent="echo", page_size=1)] == [
                run.id for run in reversed(runs)]
            with pytest.raises(NotFoundError):
                await client.pipelines.get(uuid.uuid4())

            await asyncio.sleep(2.1)  # the access token (1 s) has expired
            refreshes = paths.count("/api/v1/auth/refresh")
            answers = await asyncio.gather(*(client.me() for _ in range(5)))
            assert {me.role for me in answers} == {"operator"}
            assert paths.count("/api/v1/auth/refresh") == refreshes + 1  # one for all five
        await http.aclose()

    asyncio.run(main())
    assert paths.count("/api/v1/auth/token") == 1
    assert sum(path.endswith("/events") for path in paths) == 1


def test_an_async_role_error(api, tenant):
    async def main() -> None:
        async with AsyncAgentline(api.url, api_key=tenant.keys[Role.viewer]) as client:
            with pytest.raises(PermissionDeniedError):
                await client.runs.start("echo", {"message": "not allowed"})

    asyncio.run(main())
