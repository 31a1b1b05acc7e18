"""Local HTTP servers that speak the OpenAI chat-completions, Anthropic messages and Ollama chat wire formats.

The real client libraries call them over TCP, so what is tested is the whole path: our request, the
official client's HTTP, its parsing of the reply and its exceptions. Each server plays a script: every
request takes the next reply (an answer with usage numbers, an HTTP error with headers, or a hang longer
than the client's timeout); when the script runs out, the last reply repeats.
"""

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal

Wire = Literal["openai", "anthropic", "ollama"]
PATHS = {"openai": "/v1/chat/completions", "anthropic": "/v1/messages", "ollama": "/api/chat"}


@dataclass(frozen=True)
class Answer:
    """A successful reply. `output` is the structured answer: a dict (sent as the JSON text, or as the
    tool input for Anthropic) or a raw string (sent as text as is, e.g. malformed JSON)."""

    output: dict[str, Any] | str
    input_tokens: int = 100
    output_tokens: int = 20
    cached_tokens: int = 0


@dataclass(frozen=True)
class Fail:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    message: str = "fake failure"
    code: str | None = None


@dataclass(frozen=True)
class Hang:
    seconds: float


@dataclass(frozen=True)
class Garbage:
    """A 200 that is not the provider's format: what a misconfigured proxy or gateway sends."""

    body: str = "<html><body>Gateway says hello</body></html>"


Reply = Answer | Fail | Hang | Garbage


class FakeProvider:
    def __init__(self, wire: Wire, *script: Reply):
        self.wire = wire
        self.script: list[Reply] = list(script)
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def base_url(self) -> str:
        """What the client is configured with: OpenAI's base URL includes /v1, the others' do not."""
        return f"{self.url}/v1" if self.wire == "openai" else self.url

    @property
    def calls(self) -> int:
        return len(self.requests)

    def play(self, *script: Reply) -> None:
        """From the next request on, play this script instead."""
        with self._lock:
            self.script = list(script)

    def __enter__(self) -> "FakeProvider":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _next(self, body: dict[str, Any]) -> Reply:
        with self._lock:
            self.requests.append(body)
            return self.script.pop(0) if len(self.script) > 1 else self.script[0]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))) or b"{}")
                if self.path != PATHS[fake.wire]:
                    return self._send(404, {"error": f"no route {self.path}"})
                reply = fake._next(body)
                if isinstance(reply, Hang):
                    time.sleep(reply.seconds)
                    return self._send(200, _answer(fake.wire, body, Answer({"late": True})))
                if isinstance(reply, Fail):
                    return self._send(reply.status, _error(fake.wire, reply), reply.headers)
                if isinstance(reply, Garbage):
                    return self._send_raw(200, reply.body.encode(), "text/html")
                return self._send(200, _answer(fake.wire, body, reply))

            def _send(self, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None) -> None:
                self._send_raw(status, json.dumps(payload).encode(), "application/json", headers)

            def _send_raw(self, status: int, data: bytes, content_type: str,
                          headers: dict[str, str] | None = None) -> None:
                try:
                    self.send_response(status)
                    self.send_header("content-type", content_type)
                    self.send_header("content-length", str(len(data)))
                    for name, value in (headers or {}).items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client timed out and hung up: that was the point

        return Handler


def _text(output: dict[str, Any] | str) -> str:
    return output if isinstance(output, str) else json.dumps(output)


def _answer(wire: Wire, request: dict[str, Any], answer: Answer) -> dict[str, Any]:
    model = request.get("model", "fake")
    if wire == "openai":
        return {
            "id": "chatcmpl-fake", "object": "chat.completion", "created": int(time.time()), "model": model,
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": _text(answer.output)}}],
            "usage": {"prompt_tokens": answer.input_tokens, "completion_tokens": answer.output_tokens,
                      "total_tokens": answer.input_tokens + answer.output_tokens,
                      "prompt_tokens_details": {"cached_tokens": answer.cached_tokens}},
        }
    if wire == "anthropic":
        if isinstance(answer.output, dict):
            tool = request["tools"][0]["name"]
            content = [{"type": "tool_use", "id": "toolu_fake", "name": tool, "input": answer.output}]
        else:
            content = [{"type": "text", "text": answer.output}]
        # Anthropic reports cache reads apart from input_tokens; the fake splits the total the same way.
        return {
            "id": "msg_fake", "type": "message", "role": "assistant", "model": model, "content": content,
            "stop_reason": "tool_use", "stop_sequence": None,
            "usage": {"input_tokens": answer.input_tokens - answer.cached_tokens,
                      "output_tokens": answer.output_tokens, "cache_read_input_tokens": answer.cached_tokens,
                      "cache_creation_input_tokens": 0},
        }
    return {
        "model": model, "created_at": "2026-01-01T00:00:00Z",
        "message": {"role": "assistant", "content": _text(answer.output)},
        "done": True, "done_reason": "stop", "prompt_eval_count": answer.input_tokens,
        "eval_count": answer.output_tokens, "total_duration": 1000,
    }


def _error(wire: Wire, fail: Fail) -> dict[str, Any]:
    if wire == "openai":
        return {"error": {"message": fail.message, "type": "fake_error", "code": fail.code}}
    if wire == "anthropic":
        kind = {429: "rate_limit_error", 529: "overloaded_error"}.get(fail.status, "api_error")
        return {"type": "error", "error": {"type": kind, "message": fail.message}}
    return {"error": fail.message}
