"""The langchain provider: any BaseChatModel, with tool calling when it has it, JSON instructions when not."""

import json
from types import SimpleNamespace

import pytest

from app.runs.errors import TransientError
from tests.llm import chat_models
from tests.llm.chat_models import reply
from tests.llm.scenario import GOOD, qualify

MODELS = {"house": "tests.llm.chat_models:plain", "tools": "tests.llm.chat_models:tools"}


class RateLimited(Exception):
    """What an integration raises on 429: a status code and the response with its headers."""

    status_code = 429
    response = SimpleNamespace(headers={"retry-after": "0.2"})


@pytest.fixture
def langchain_world(llm_run, llm_settings):
    llm_settings(LLM_LANGCHAIN_MODELS=MODELS)
    chat_models.tools.script.clear()
    chat_models.tools.received.clear()
    return llm_run


def test_a_plain_chat_model_is_asked_for_json_and_its_usage_recorded(langchain_world):
    fenced = "```json\n" + json.dumps(GOOD) + "\n```"
    chat_models.plain.messages = iter([reply(fenced, input_tokens=321, output_tokens=45, cached=21)])
    world = langchain_world({"provider": "langchain", "model": "house"})
    generation = qualify(world)
    assert (generation.provider, generation.model, generation.output.score) == ("langchain", "house", 82)
    [row] = world.logs()
    assert (row.input_tokens, row.output_tokens, row.cached_tokens, row.status) == (321, 45, 21, "ok")
    assert "JSON schema" in row.request["system"]


def test_a_tool_calling_model_gets_the_schema_as_a_forced_tool(langchain_world):
    chat_models.tools.script.extend([reply(tool_args=GOOD, input_tokens=10, output_tokens=5)])
    world = langchain_world({"provider": "langchain", "model": "tools"})
    generation = qualify(world)
    assert generation.output.bucket == "hot"
    [sent] = chat_models.tools.received
    assert sent["tool_choice"] == "Qualification"
    assert sent["tools"][0]["function"]["parameters"]["properties"]["bucket"]["enum"] == [
        "hot", "warm", "cold", "disqualified"]
    assert "JSON schema" not in sent["messages"][0].content


def test_integration_errors_are_classified_retried_and_repaired(langchain_world):
    chat_models.tools.script.extend([
        RateLimited("slow down"),
        reply(tool_args={"score": "very high"}, input_tokens=7, output_tokens=3),
        reply(tool_args=GOOD, input_tokens=9, output_tokens=4),
    ])
    world = langchain_world({"provider": "langchain", "model": "tools"})
    generation = qualify(world)
    assert generation.repaired and generation.output.score == 82
    assert [(r.status, r.error_code, r.purpose) for r in world.logs()] == [
        ("error", "rate_limited", "generate"), ("invalid_output", "schema_validation", "generate"),
        ("ok", None, "repair")]


def test_an_unknown_failure_is_transient_for_the_engine(langchain_world, llm_settings):
    llm_settings(LLM_MAX_RETRIES="0")
    chat_models.tools.script.extend([RuntimeError("the integration broke")])
    world = langchain_world({"provider": "langchain", "model": "tools"})
    with pytest.raises(TransientError) as failure:
        qualify(world)
    assert "the integration broke" in failure.value.message
    assert [(r.status, r.error_code) for r in world.logs()] == [("error", "provider_error")]
