"""Routing: every documented route is reached at its own path, whatever the order of the routers, and the
busiest route is tried first."""

import re
import uuid

from fastapi.testclient import TestClient


def test_every_api_route_is_reached_at_its_own_path(app):
    reached = {}

    async def recording(scope, receive, send):
        await app(scope, receive, send)
        reached["route"] = scope.get("route")

    client = TestClient(recording, raise_server_exceptions=False)
    paths = {path: operations for path, operations in app.openapi()["paths"].items() if path.startswith("/api/v1/")}
    assert len(paths) > 20
    for path, operations in paths.items():
        for method in operations:
            reached.clear()
            response = client.request(method.upper(), re.sub(r"\{[^}]+\}", str(uuid.uuid4()), path))
            route = reached.get("route")
            assert route is not None, (method, path, response.status_code)
            assert ("/api/v1" + route.path, method.upper() in route.methods) == (path, True), (method, path)


def test_the_run_accept_route_is_matched_first(app):
    api_paths = [path for path in app.openapi()["paths"] if path.startswith("/api/v1/")]
    assert api_paths[0] == "/api/v1/agents/{agent}/run"
