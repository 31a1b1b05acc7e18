"""LangChain chat models for the langchain provider's tests, named in LLM_LANGCHAIN_MODELS as
"tests.llm.chat_models:<attribute>", exactly as a deployment names its own."""

from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult


class ScriptedToolModel(BaseChatModel):
    """A chat model with tool calling whose replies (AIMessages or exceptions to raise) are scripted, and
    which records what it was sent and which tools were bound."""

    script: list[Any] = []
    received: list[dict[str, Any]] = []

    @property
    def _llm_type(self) -> str:
        return "scripted-tool-model"

    def bind_tools(self, tools: Any, *, tool_choice: str | None = None, **kwargs: Any) -> Any:
        return self.bind(tools=tools, tool_choice=tool_choice, **kwargs)

    def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None, run_manager: Any = None,
                  **kwargs: Any) -> ChatResult:
        self.received.append({"messages": messages, **kwargs})
        reply = self.script.pop(0)
        if isinstance(reply, Exception):
            raise reply
        return ChatResult(generations=[ChatGeneration(message=reply)])


def plain_model() -> GenericFakeChatModel:
    """langchain_core's own fake: no tool calling, so the provider asks for JSON in the prompt."""
    return GenericFakeChatModel(messages=iter([]))


plain = plain_model()
tools = ScriptedToolModel()


def reply(content: str = "", *, tool_args: dict | None = None, input_tokens: int = 0, output_tokens: int = 0,
          cached: int = 0) -> AIMessage:
    return AIMessage(
        content=content,
        tool_calls=[{"name": "Qualification", "args": tool_args, "id": "call-1"}] if tool_args is not None else [],
        usage_metadata={"input_tokens": input_tokens, "output_tokens": output_tokens,
                        "total_tokens": input_tokens + output_tokens, "input_token_details": {"cache_read": cached}},
    )
