"""Ollama /api/chat through the official client, with the output JSON schema as `format`.

The client raises httpx's timeout errors as they are and the builtin ConnectionError when the server is
unreachable; its ResponseError carries the status code but not the headers, so a Retry-After from an
Ollama server (rare: it is usually local) cannot be honoured and the backoff applies.
"""

import httpx
import ollama

from app.llm.providers.base import ModelRequest, ModelResponse, ProviderError, classify_status


class OllamaProvider:
    name = "ollama"
    structured_output = True

    def __init__(self, *, host: str, timeout: float):
        self.endpoint = host
        self._client = ollama.Client(host=host, timeout=timeout)

    def complete(self, request: ModelRequest) -> ModelResponse:
        messages = [{"role": "system", "content": request.system}]
        messages += [{"role": role, "content": content} for role, content in request.messages]
        try:
            response = self._client.chat(
                model=request.model,
                messages=messages,
                format=request.json_schema,
                options={"temperature": request.temperature, "num_predict": request.max_output_tokens},
            )
        except httpx.TimeoutException as exc:
            raise ProviderError(f"ollama: timed out ({exc})", kind="transient", code="timeout") from exc
        except (ConnectionError, httpx.TransportError) as exc:
            raise ProviderError(f"ollama: connection failed ({exc})", kind="transient", code="connection") from exc
        except ollama.ResponseError as exc:
            raise classify_status(exc.status_code, f"ollama: HTTP {exc.status_code}: {exc.error}", None) from exc
        except ValueError as exc:  # a body that is not Ollama's JSON (a proxy's page): the client fails to parse it
            raise ProviderError(f"ollama: the reply is not a chat response ({exc})", kind="transient",
                                code="provider_error") from exc
        return ModelResponse(
            text=response.message.content or "",
            input_tokens=response.prompt_eval_count or 0,
            output_tokens=response.eval_count or 0,
            finish_reason=response.done_reason,
        )
