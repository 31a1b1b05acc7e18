"""Anthropic messages through the official client, with the output schema as a forced tool call.

Tool use is Anthropic's structured-output mode: the model must call the one tool offered, and the tool's
`input` is the answer. The messages API of this client generation takes no sampling temperature, so the
tenant's temperature does not apply to Anthropic models. Usage: `input_tokens` excludes cache reads and writes, so they are added back, and
cache reads are reported as cached tokens.
"""

import json

import anthropic
from anthropic.types import Message

from app.llm.providers.base import ModelRequest, ModelResponse, ProviderError, classify_status, parse_retry_after


class AnthropicProvider:
    name = "anthropic"
    structured_output = True

    def __init__(self, *, api_key: str, base_url: str | None, timeout: float):
        self.endpoint = base_url or "https://api.anthropic.com"
        self._client = anthropic.Anthropic(api_key=api_key, base_url=base_url, timeout=timeout, max_retries=0)

    def complete(self, request: ModelRequest) -> ModelResponse:
        try:
            message = self._client.messages.create(
                model=request.model,
                system=request.system,
                messages=[{"role": role, "content": content} for role, content in request.messages],
                max_tokens=request.max_output_tokens,
                tools=[{"name": request.schema_name, "description": f"Record the {request.schema_name}.",
                        "input_schema": request.json_schema}],
                tool_choice={"type": "tool", "name": request.schema_name},
            )
        except anthropic.APITimeoutError as exc:
            raise ProviderError(f"anthropic: timed out ({exc})", kind="transient", code="timeout") from exc
        except anthropic.APIConnectionError as exc:
            raise ProviderError(f"anthropic: connection failed ({exc})", kind="transient", code="connection") from exc
        except anthropic.APIStatusError as exc:
            message = f"anthropic: HTTP {exc.status_code}: {exc.api_message or exc.message}"
            raise classify_status(exc.status_code, message, parse_retry_after(exc.response.headers)) from exc
        if not isinstance(message, Message):
            # The client hands back the raw body when it is not JSON: a proxy's or gateway's page, not Anthropic's.
            raise ProviderError(f"anthropic: the reply is not a message: {str(message)[:200]!r}",
                                kind="transient", code="provider_error")
        tool_input = next((block.input for block in message.content if block.type == "tool_use"), None)
        if tool_input is not None:
            text = json.dumps(tool_input)
        else:
            # No tool call (a refusal, or an endpoint that ignores tool_choice): validate whatever text came.
            text = "".join(block.text for block in message.content if block.type == "text")
        usage = message.usage
        cache_read = usage.cache_read_input_tokens or 0
        return ModelResponse(
            text=text,
            input_tokens=usage.input_tokens + cache_read + (usage.cache_creation_input_tokens or 0),
            output_tokens=usage.output_tokens,
            cached_tokens=cache_read,
            finish_reason=message.stop_reason,
            response_id=message.id,
        )
