"""A webhook receiver for the tests: http.server in a thread on 127.0.0.1, verifying every request with
the `standardwebhooks` package, as a tenant's own receiver would. It can be taken down and brought back
on the same port, or made to answer 500 to everything."""

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks import Webhook

from tests.runs.cluster import free_port


@dataclass
class Received:
    message_id: str
    headers: dict[str, str]
    body: dict


@dataclass
class Receiver:
    secret: str | None = None
    port: int = field(default_factory=free_port)
    status: int = 204
    received: list[Received] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)  # why a request failed verification
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/agentline"

    def start(self) -> "Receiver":
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("content-length", 0)))
                headers = {name.lower(): value for name, value in self.headers.items()}
                try:
                    payload = Webhook(receiver.secret).verify(raw, headers)
                except Exception as exc:  # noqa: BLE001 - any verification failure is recorded
                    receiver.refused.append(repr(exc))
                    self.send_response(400)
                    self.end_headers()
                    return
                if 200 <= receiver.status < 300:
                    receiver.received.append(Received(headers["webhook-id"], headers, payload))
                self.send_response(receiver.status)
                self.end_headers()
                self.wfile.write(json.dumps({"ok": receiver.status < 300}).encode())

            def log_message(self, *args) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def ids(self) -> list[str]:
        return [r.message_id for r in self.received]
