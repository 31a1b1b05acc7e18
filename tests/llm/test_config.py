from decimal import Decimal

import pytest
from pydantic import SecretStr

from app.core.config import Settings
from app.llm.config import LlmConfigError, Target, resolve_config


def _settings(**values) -> Settings:
    return Settings(_env_file=None, openai_api_key=SecretStr("sk-x"), anthropic_api_key=SecretStr("sk-y"), **values)


def test_without_tenant_settings_the_deployment_defaults_apply():
    config = resolve_config({}, _settings(llm_fallback=["offline"], llm_monthly_token_budget=1000))
    assert config.chain == (Target("offline", "offline-rules-1"),)  # the fallback equal to the primary is dropped
    assert (config.temperature, config.max_output_tokens, config.monthly_tokens, config.monthly_cost_usd) == (
        0.2, 2048, 1000, None)


def test_tenant_settings_override_provider_model_chain_and_budgets():
    config = resolve_config({"llm": {
        "provider": "openai", "model": "gpt-4.1", "temperature": 0.7, "max_output_tokens": 500,
        "fallback": ["anthropic", {"provider": "ollama", "model": "qwen3"}, "offline"],
        "budgets": {"monthly_cost_usd": "25.50"},
    }}, _settings(llm_provider="anthropic", llm_fallback=["ollama"], llm_monthly_token_budget=7))
    assert config.chain == (Target("openai", "gpt-4.1"), Target("anthropic", "claude-haiku-4-5"),
                            Target("ollama", "qwen3"), Target("offline", "offline-rules-1"))
    assert (config.temperature, config.max_output_tokens) == (0.7, 500)
    assert (config.monthly_tokens, config.monthly_cost_usd) == (7, Decimal("25.50"))


def test_a_tenant_model_alone_applies_to_the_deployment_provider():
    config = resolve_config({"llm": {"model": "gpt-4o"}}, _settings(llm_provider="openai"))
    assert config.chain == (Target("openai", "gpt-4o"),)


@pytest.mark.parametrize(("llm", "settings", "fragment"), [
    ({"provider": "gemini"}, {}, "llm.provider"),
    ({"temperature": 3}, {}, "temperature"),
    ({"colour": "blue"}, {}, "colour"),
    ({"fallback": ["offline"] * 5}, {}, "fallback"),
    ({"budgets": {"monthly_cost_usd": "-1"}}, {}, "monthly_cost_usd"),
    ({"provider": "openai"}, {"openai_api_key": None}, "OPENAI_API_KEY"),
    ({"fallback": ["anthropic"]}, {"anthropic_api_key": None}, "ANTHROPIC_API_KEY"),
    ({"provider": "langchain"}, {"llm_langchain_models": {"a": "x:y", "b": "x:z"}}, "not registered"),
])
def test_unusable_settings_are_refused_with_a_reason(llm, settings, fragment):
    base = {"openai_api_key": SecretStr("sk-x"), "anthropic_api_key": SecretStr("sk-y"), **settings}
    with pytest.raises(LlmConfigError) as refused:
        resolve_config({"llm": llm}, Settings(_env_file=None, **base))
    assert fragment in str(refused.value)


def test_a_single_registered_langchain_model_is_the_default():
    config = resolve_config({"llm": {"provider": "langchain"}},
                            _settings(llm_langchain_models={"house": "pkg.module:model"}))
    assert config.chain == (Target("langchain", "house"),)


def test_a_broken_deployment_setting_is_named_as_the_variable_to_fix():
    with pytest.raises(LlmConfigError) as refused:
        resolve_config({}, _settings(llm_fallback=["offline", "bard"]))
    assert "LLM_FALLBACK[1]" in str(refused.value)
