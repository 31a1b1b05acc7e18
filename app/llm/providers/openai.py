"""OpenAI chat completions through the official client, with `response_format: json_schema`.

Non-strict schema mode: strict mode rejects common Pydantic schemas (optional fields, defaults, string
formats), and the orchestrator validates and repairs the answer anyway.
"""

import json

import openai
from openai.types.chat import ChatCompletion

from app.llm.providers.base import ModelRequest, ModelResponse, ProviderError, classify_status, parse_retry_after


class OpenAIProvider:
    name = "openai"
    structured_output = True

    def __init__(self, *, api_key: str, base_url: str | None, timeout: float):
        self.endpoint = base_url or "https://api.openai.com/v1"
        self._client = openai.OpenAI(api_key=api_key, base_url=base_url, timeout=timeout, max_retries=0)

    def complete(self, request: ModelRequest) -> ModelResponse:
        messages = [{"role": "system", "content": request.system}]
        messages += [{"role": role, "content": content} for role, content in request.messages]
        try:
            completion = self._client.chat.completions.create(
                model=request.model,
                messages=messages,  # type: ignore[arg-type]
                temperature=request.temperature,
                max_completion_tokens=request.max_output_tokens,
                response_format={"type": "json_schema", "json_schema": {
                    "name": request.schema_name, "schema": request.json_schema, "strict": False}},
            )
        except openai.APITimeoutError as exc:
            raise ProviderError(f"openai: timed out ({exc})", kind="transient", code="timeout") from exc
        except openai.APIConnectionError as exc:
            raise ProviderError(f"openai: connection failed ({exc})", kind="transient", code="connection") from exc
        except openai.APIStatusError as exc:
            raise _status_error(exc) from exc
        if not isinstance(completion, ChatCompletion):
            # The client hands back the raw body when it is not JSON: a proxy's or gateway's page, not OpenAI's.
            raise ProviderError(f"openai: the reply is not a chat completion: {str(completion)[:200]!r}",
                                kind="transient", code="provider_error")
        choice = completion.choices[0] if completion.choices else None
        if choice is None:
            raise ProviderError("openai: the response has no choices", kind="transient", code="empty_response")
        usage = completion.usage
        cached = (usage.prompt_tokens_details.cached_tokens or 0) if usage and usage.prompt_tokens_details else 0
        # A refusal is an answer that fails validation: the orchestrator's repair attempt handles it.
        text = choice.message.content or json.dumps({"refusal": choice.message.refusal or ""})
        return ModelResponse(
            text=text,
            input_tokens=usage.prompt_tokens if usage else 0,
            output_tokens=usage.completion_tokens if usage else 0,
            cached_tokens=cached,
            finish_reason=choice.finish_reason,
            response_id=completion.id,
        )


def _status_error(exc: openai.APIStatusError) -> ProviderError:
    body = exc.body if isinstance(exc.body, dict) else {}
    error = body.get("error", body) if isinstance(body.get("error", body), dict) else {}
    message = f"openai: HTTP {exc.status_code}: {error.get('message') or exc.message}"
    # 429 also means "out of credit", which waiting does not fix.
    if exc.status_code == 429 and error.get("code") == "insufficient_quota":
        return ProviderError(message, kind="permanent", code="insufficient_quota", status=429)
    return classify_status(exc.status_code, message, parse_retry_after(exc.response.headers))
