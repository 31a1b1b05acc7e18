"""Small local HTTP servers speaking the OpenAI embeddings and Ollama embed wire formats.

They answer with deterministic bag-of-words vectors, so a search through them finds what it should;
`fail_next` scripts error responses (status, body, headers) that are served before the next success.
Every request body is recorded for assertions.
"""

import hashlib
import json
import math
import re
import threading
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def word_vector(text: str, dimension: int) -> list[float]:
    vector = [0.0] * dimension
    for word in re.findall(r"[a-z0-9]+", text.lower()):
        value = int.from_bytes(hashlib.sha256(word.encode()).digest()[:8], "little")
        vector[value % dimension] += 1.0 if value >> 63 else -1.0
    norm = math.sqrt(sum(v * v for v in vector)) or 1.0
    return [v / norm for v in vector]


class FakeProvider:
    def __init__(self, dimension: int = 768):
        self.dimension = dimension
        self.requests: list[dict[str, Any]] = []
        self.failures: deque[tuple[int, dict[str, Any], dict[str, str]]] = deque()
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))) or b"{}")
                provider.requests.append({"path": self.path, "body": body})
                if provider.failures:
                    status, payload, headers = provider.failures.popleft()
                else:
                    status, payload, headers = 200, provider.answer(self.path, body), {}
                encoded = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(encoded)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(encoded)

            def log_message(self, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def fail_next(self, status: int, payload: dict[str, Any] | None = None,
                  headers: dict[str, str] | None = None) -> None:
        self.failures.append((status, payload or {"error": {"message": f"scripted {status}"}}, headers or {}))

    def answer(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
        dimension = body.get("dimensions") or self.dimension
        vectors = [word_vector(text, dimension) for text in texts]
        if path.endswith("/embeddings"):  # OpenAI: POST {base_url}/embeddings
            # Out of order on purpose: clients must sort by `index`.
            data = [{"object": "embedding", "index": i, "embedding": v} for i, v in enumerate(vectors)][::-1]
            return {"object": "list", "data": data, "model": body["model"],
                    "usage": {"prompt_tokens": 1, "total_tokens": 1}}
        if path == "/api/embed":  # Ollama
            return {"model": body["model"], "embeddings": vectors}
        raise AssertionError(f"unexpected path {path}")

    def __enter__(self) -> "FakeProvider":
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()
