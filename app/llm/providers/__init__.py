"""Provider instances, one per configuration per process: the official clients keep connection pools, so
they are built once and reused by every call. Client libraries are imported on first use: a deployment on
the offline default never pays for importing openai or anthropic."""

from functools import lru_cache

from app.core.config import Settings
from app.llm.providers.base import ModelRequest, ModelResponse, Provider, ProviderError

__all__ = ["ModelRequest", "ModelResponse", "Provider", "ProviderError", "get_provider"]


def get_provider(provider: str, model: str, settings: Settings) -> Provider:
    if provider == "offline":
        return _offline()
    if provider == "openai":
        return _openai(settings.openai_api_key.get_secret_value() if settings.openai_api_key else "",
                       settings.openai_base_url, settings.llm_timeout_seconds)
    if provider == "anthropic":
        return _anthropic(settings.anthropic_api_key.get_secret_value() if settings.anthropic_api_key else "",
                          settings.anthropic_base_url, settings.llm_timeout_seconds)
    if provider == "ollama":
        return _ollama(settings.ollama_host, settings.llm_timeout_seconds)
    if provider == "langchain":
        return _langchain(model, settings.llm_langchain_models[model])
    raise ValueError(f"unknown provider {provider!r}")


@lru_cache(maxsize=1)
def _offline() -> Provider:
    from app.llm.providers.offline import OfflineProvider

    return OfflineProvider()


@lru_cache(maxsize=8)
def _openai(api_key: str, base_url: str | None, timeout: float) -> Provider:
    from app.llm.providers.openai import OpenAIProvider

    return OpenAIProvider(api_key=api_key, base_url=base_url, timeout=timeout)


@lru_cache(maxsize=8)
def _anthropic(api_key: str, base_url: str | None, timeout: float) -> Provider:
    from app.llm.providers.anthropic import AnthropicProvider

    return AnthropicProvider(api_key=api_key, base_url=base_url, timeout=timeout)


@lru_cache(maxsize=8)
def _ollama(host: str, timeout: float) -> Provider:
    from app.llm.providers.ollama import OllamaProvider

    return OllamaProvider(host=host, timeout=timeout)


@lru_cache(maxsize=16)
def _langchain(name: str, import_path: str) -> Provider:
    from app.llm.providers.langchain import LangChainProvider, load_chat_model

    return LangChainProvider(load_chat_model(import_path), label=name)
