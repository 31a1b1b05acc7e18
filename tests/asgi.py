"""One request straight through an ASGI app, so a test can look at the database at the moment the
response starts, before a server would have written a byte to the client."""

import json
from collections.abc import Callable

import anyio


async def call_until_response_starts(app, method: str, path: str, headers: dict[str, str], body: dict,
                                     on_response_start: Callable[[], None]) -> int:
    payload = json.dumps(body).encode()
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "scheme": "http",
        "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
        "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode()),
                    *((k.lower().encode(), v.encode()) for k, v in headers.items())],
        "client": ("127.0.0.1", 50000), "server": ("testserver", 80), "state": {},
    }
    status = {}
    sent = False

    async def receive():
        nonlocal sent
        if sent:
            await anyio.sleep(3600)
        sent = True
        return {"type": "http.request", "body": payload, "more_body": False}

    async def send(message):
        if message["type"] == "http.response.start":
            status["code"] = message["status"]
            on_response_start()

    await app(scope, receive, send)
    return status["code"]
