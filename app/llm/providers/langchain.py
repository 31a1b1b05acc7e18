"""Any LangChain chat model (langchain-core's BaseChatModel) as a provider.

The deployment lists the models it offers in LLM_LANGCHAIN_MODELS (name -> "module:attribute"); tenants
pick a name. A model that implements tool calling gets the output schema as a forced tool; any other is
asked for JSON in the system prompt and its text is validated like every provider's.

Temperature, output limit, timeout and client retries are the chat model's own settings (`temperature=`,
`max_tokens=`, `timeout=`, `max_retries=` on most integrations): configure them where the model is built,
with retries at 0 so this layer's policy applies; the tenant's temperature does not reach such a model.
"""

import importlib
import json
from typing import Any

import httpx
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, HumanMessage, SystemMessage

from app.llm.providers.base import ModelRequest, ModelResponse, ProviderError, classify_status, parse_retry_after


def load_chat_model(import_path: str) -> BaseChatModel:
    module_name, _, attribute = import_path.partition(":")
    if not module_name or not attribute:
        raise ValueError(f"'{import_path}' is not 'package.module:attribute'")
    target = getattr(importlib.import_module(module_name), attribute)
    model = target if isinstance(target, BaseChatModel) else target()
    if not isinstance(model, BaseChatModel):
        raise TypeError(f"'{import_path}' is not a LangChain chat model (got {type(model).__name__})")
    return model


class LangChainProvider:
    name = "langchain"

    def __init__(self, model: BaseChatModel, *, label: str):
        self.endpoint = f"langchain:{label}"
        self._model = model
        # Without tool calling the orchestrator puts the schema in the system prompt instead.
        self.structured_output = type(model).bind_tools is not BaseChatModel.bind_tools

    def complete(self, request: ModelRequest) -> ModelResponse:
        messages: list[BaseMessage] = [SystemMessage(request.system)]
        messages += [HumanMessage(c) if role == "user" else AIMessage(c) for role, c in request.messages]
        runnable: Any = self._model
        if self.structured_output:
            tool = {"type": "function", "function": {
                "name": request.schema_name, "description": f"Record the {request.schema_name}.",
                "parameters": request.json_schema}}
            runnable = self._model.bind_tools([tool], tool_choice=request.schema_name)
        try:
            answer = runnable.invoke(messages)
        except Exception as exc:  # any integration's errors; classified below, the orchestrator decides
            raise _classify(exc) from exc
        if not isinstance(answer, (AIMessage, AIMessageChunk)):
            raise ProviderError(f"langchain: expected an AIMessage, got {type(answer).__name__}",
                                kind="permanent", code="request_rejected")
        if answer.tool_calls:
            text = json.dumps(answer.tool_calls[0]["args"])
        else:
            text = answer.content if isinstance(answer.content, str) else json.dumps(answer.content)
        usage = answer.usage_metadata or {}
        details = usage.get("input_token_details") or {}
        return ModelResponse(
            text=text,
            input_tokens=usage.get("input_tokens", 0),
            output_tokens=usage.get("output_tokens", 0),
            cached_tokens=details.get("cache_read", 0) or 0,
            finish_reason=(answer.response_metadata or {}).get("finish_reason"),
            response_id=answer.id,
        )


def _classify(exc: Exception) -> ProviderError:
    message = f"langchain: {type(exc).__name__}: {exc}"
    status = getattr(exc, "status_code", None)
    if isinstance(status, int):
        response = getattr(exc, "response", None)
        return classify_status(status, message, parse_retry_after(getattr(response, "headers", None)))
    if isinstance(exc, (TimeoutError, httpx.TimeoutException)) or "timeout" in type(exc).__name__.lower():
        return ProviderError(message, kind="transient", code="timeout")
    if isinstance(exc, (ConnectionError, httpx.TransportError)):
        return ProviderError(message, kind="transient", code="connection")
    # Unknown failures of third-party code may pass; treated as transient, they are retried, then fall
    # back, and finally surface to the run engine, which dead-letters what keeps failing.
    return ProviderError(message, kind="transient", code="provider_error")
