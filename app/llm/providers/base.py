"""What every provider is to the orchestrator: one request in, one response or one classified error out.

Providers do not retry, fall back or log: the orchestrator does, once, for all of them, so every attempt
is visible in llm_logs and the circuit breaker sees every failure. The official clients are built with
`max_retries=0` for that reason.
"""

import email.utils
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

Role = Literal["user", "assistant"]


@dataclass(frozen=True)
class ModelRequest:
    model: str
    system: str
    # The conversation after the system prompt: the rendered user prompt, and for a repair attempt the
    # model's invalid answer and the validation errors.
    messages: tuple[tuple[Role, str], ...]
    schema_name: str
    json_schema: dict[str, Any]
    temperature: float
    max_output_tokens: int
    # The prompt's key and variables, for providers that build output without a model (offline).
    variables: dict[str, Any] = field(default_factory=dict)
    prompt_key: str = ""

    def as_log(self) -> dict[str, Any]:
        return {"model": self.model, "system": self.system,
                "messages": [{"role": role, "content": content} for role, content in self.messages],
                "schema": self.schema_name, "temperature": self.temperature,
                "max_output_tokens": self.max_output_tokens}


@dataclass(frozen=True)
class ModelResponse:
    # The structured answer as JSON text, exactly as the provider produced it (a tool call's arguments
    # are serialised), so the orchestrator validates one thing whatever the provider.
    text: str
    input_tokens: int = 0
    output_tokens: int = 0
    # Prompt tokens served from the provider's cache; a subset of input_tokens.
    cached_tokens: int = 0
    finish_reason: str | None = None
    response_id: str | None = None


ErrorKind = Literal["transient", "permanent"]


class ProviderError(Exception):
    """A failed call, classified: transient errors (timeouts, 429, 5xx, lost connections) are retried and
    count against the provider's circuit breaker; permanent ones (bad request, auth, unknown model) are not."""

    def __init__(self, message: str, *, kind: ErrorKind, code: str, status: int | None = None,
                 retry_after: float | None = None):
        super().__init__(message)
        self.message, self.kind, self.code, self.status, self.retry_after = message, kind, code, status, retry_after

    @property
    def transient(self) -> bool:
        return self.kind == "transient"


class Provider(Protocol):
    name: str
    # Where calls go, for the circuit breaker's key: one breaker per provider endpoint.
    endpoint: str
    # True when the provider constrains its output to the JSON schema itself (JSON schema mode, a forced
    # tool); otherwise the orchestrator adds the schema to the system prompt.
    structured_output: bool

    def complete(self, request: ModelRequest) -> ModelResponse: ...


def parse_retry_after(headers: Any) -> float | None:
    """Seconds to wait from `retry-after-ms`, `Retry-After` (seconds or an HTTP date), or None."""
    if headers is None:
        return None
    milliseconds = headers.get("retry-after-ms")
    if milliseconds:
        try:
            return max(float(milliseconds) / 1000, 0.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - datetime.now(UTC)).total_seconds(), 0.0)


def classify_status(status: int, message: str, retry_after: float | None) -> ProviderError:
    if status == 429:
        return ProviderError(message, kind="transient", code="rate_limited", status=status, retry_after=retry_after)
    if status in (408, 409) or status >= 500:
        return ProviderError(message, kind="transient", code="server_error", status=status, retry_after=retry_after)
    if status in (401, 403):
        return ProviderError(message, kind="permanent", code="auth_failed", status=status)
    if status == 404:
        return ProviderError(message, kind="permanent", code="model_not_found", status=status)
    return ProviderError(message, kind="permanent", code="request_rejected", status=status)
