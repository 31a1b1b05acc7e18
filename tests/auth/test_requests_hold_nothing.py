"""Authentication holds nothing a request does not need: no pooled connection or transaction while the
client is still sending the body, and no lock on the API key's row at all.

30 clients upload documents at once with one API key, each sending its multipart body slowly, to a real
uvicorn server whose pool has fewer connections than there are uploads. Every upload gets past
authentication and waits for its body holding nothing, a GET with the same key answers meanwhile, and each
upload is accepted once its body has arrived.
"""

import socket
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
import uvicorn
from sqlalchemy import select

from app.auth.permissions import Role
from app.core import db
from app.core.config import get_settings
from app.core.db import session_scope
from app.core.failpoints import acting
from app.models import ApiKey
from tests.builders import add_api_key, committed_tenant, make_tenant
from tests.holds import HoldFirst

UPLOADS = 30
POOL = {"DB_POOL_SIZE": "4", "DB_MAX_OVERFLOW": "4"}  # 8 connections for 30 uploads


class BodyReaders:
    """Counts requests whose application has started reading the body: for the upload route, that is in
    the handler, after its dependencies (authentication) are done."""

    def __init__(self, app) -> None:
        self.app, self.reading = app, 0

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        first = True

        async def counting_receive():
            nonlocal first
            if first:
                first = False
                self.reading += 1
            return await receive()

        await self.app(scope, counting_receive, send)


def _reset_engine() -> None:
    get_settings.cache_clear()
    if db.get_engine.cache_info().currsize:
        db.get_engine().dispose()
    db.get_engine.cache_clear()
    db.get_sessionmaker.cache_clear()


@pytest.fixture
def small_pool_server(migrated, monkeypatch) -> Iterator[tuple[str, BodyReaders]]:
    """The API in a uvicorn server on a thread of this process, with a pool of 8 connections."""
    from app.main import create_app

    original_engine = db.get_engine()
    for name, value in POOL.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    db.get_engine.cache_clear()
    db.get_sessionmaker.cache_clear()
    counted = BodyReaders(create_app())
    server = uvicorn.Server(uvicorn.Config(counted, host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        _wait(lambda: server.started, "the server did not start")
        port = server.servers[0].sockets[0].getsockname()[1]
        yield f"127.0.0.1:{port}", counted
    finally:
        server.should_exit = True
        thread.join(30)
        monkeypatch.undo()
        _reset_engine()
        assert original_engine.pool.checkedout() == 0


def _wait(condition, message, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, message() if callable(message) else message
        time.sleep(0.05)


def _begin_upload(address: str, key: str, number: int) -> tuple[socket.socket, bytes]:
    """Sends the request's head and the first bytes of its body; returns the socket and the rest."""
    boundary = uuid.uuid4().hex
    body = (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="note-{number}.txt"\r\n'
            f"Content-Type: text/plain\r\n\r\nSlow upload number {number}: renewals are due in March.\r\n"
            f"--{boundary}--\r\n").encode()
    head = (f"POST /api/v1/knowledge/documents HTTP/1.1\r\nHost: {address}\r\nX-API-Key: {key}\r\n"
            f"Content-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: {len(body)}\r\n"
            "Connection: close\r\n\r\n").encode()
    host, port = address.split(":")
    connection = socket.create_connection((host, int(port)), timeout=60)
    connection.sendall(head + body[:40])
    return connection, body[40:]


def _finish_upload(connection: socket.socket, rest: bytes) -> int:
    with connection:
        connection.sendall(rest)
        response = b""
        while chunk := connection.recv(65536):
            response += chunk
    return int(response.split(b" ", 2)[1])


def test_thirty_slow_uploads_hold_nothing_and_do_not_starve_other_requests(committed_db, small_pool_server):
    address, counted = small_pool_server
    with committed_db() as session, session.begin():
        tenant = make_tenant(session)
        key, _ = add_api_key(session, tenant.id, Role.operator)

    uploads = [_begin_upload(address, key, number) for number in range(UPLOADS)]
    _wait(lambda: counted.reading == UPLOADS,
          lambda: f"only {counted.reading} of {UPLOADS} uploads got past authentication to read their body")

    listed = httpx.get(f"http://{address}/api/v1/knowledge/documents", headers={"X-API-Key": key}, timeout=10)
    assert listed.status_code == 200, listed.text
    assert listed.json()["items"] == []

    statuses = [_finish_upload(connection, rest) for connection, rest in uploads]
    assert statuses == [202] * UPLOADS
    listed = httpx.get(f"http://{address}/api/v1/knowledge/documents", params={"limit": 100},
                       headers={"X-API-Key": key}, timeout=10)
    assert len(listed.json()["items"]) == UPLOADS


def test_a_request_in_flight_with_an_api_key_does_not_hold_up_the_keys_other_requests(committed_db, live_client):
    """The first use of a key records it (last_used_at), outside the request's transaction: that request,
    held open here at a failpoint inside its transaction, locks no row another request with the key needs."""
    tenant = committed_tenant(committed_db)
    with session_scope(tenant.id, committed_db) as session:
        key, record = add_api_key(session, tenant.id, Role.operator)
    headers = {"X-API-Key": key}

    hold = HoldFirst()
    with acting("idempotency.locked", hold), ThreadPoolExecutor(max_workers=2) as pool:
        held = pool.submit(live_client.post, "/api/v1/agents/echo/run", json={"input": {"message": "held"}},
                           headers={**headers, "Idempotency-Key": "held"})
        assert hold.reached.wait(30), "the first request never reached the failpoint"
        try:
            me = pool.submit(live_client.get, "/api/v1/me", headers=headers).result(timeout=10)
        finally:
            hold.released.set()
        assert me.status_code == 200, me.text
        assert held.result(timeout=30).status_code == 202

    with session_scope(tenant.id, committed_db) as session:
        assert session.scalar(select(ApiKey.last_used_at).where(ApiKey.id == record.id)) is not None
