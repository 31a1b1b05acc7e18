"""Which providers and models a tenant's calls use, and its budgets: tenant settings over deployment defaults.

A tenant's `settings["llm"]` (set with PATCH /api/v1/tenant) may hold:

    {"provider": "openai", "model": "gpt-4o-mini", "temperature": 0.2, "max_output_tokens": 1024,
     "fallback": ["anthropic:claude-haiku-4-5", {"provider": "offline"}],
     "budgets": {"monthly_tokens": 2000000, "monthly_cost_usd": "50.00"}}

Every key is optional; a missing one takes the deployment default from Settings (LLM_*). Keys and endpoints
are never tenant settings: a tenant cannot point the workers at an address of its choosing.
"""

import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.core.config import Settings
from app.models import Tenant

ProviderName = Literal["offline", "openai", "anthropic", "ollama", "langchain"]
PROVIDERS: tuple[str, ...] = get_args(ProviderName)
DEFAULT_MODELS = {
    "offline": "offline-rules-1",
    "openai": "gpt-4o-mini",
    "anthropic": "claude-haiku-4-5",
    "ollama": "llama3.1",
}
MAX_FALLBACKS = 4


class LlmConfigError(ValueError):
    """The tenant's or the deployment's LLM configuration cannot be used; retrying will not help."""


def _split_reference(value: Any) -> Any:
    if isinstance(value, str):
        provider, _, model = value.partition(":")
        return {"provider": provider, "model": model or None}
    return value


class ProviderRef(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    provider: ProviderName
    model: str | None = Field(None, min_length=1, max_length=128)


ProviderReference = Annotated[ProviderRef, BeforeValidator(_split_reference)]


class Budgets(BaseModel):
    model_config = ConfigDict(extra="forbid")

    monthly_tokens: int | None = Field(None, ge=0)
    monthly_cost_usd: Decimal | None = Field(None, ge=0, max_digits=18, decimal_places=8)


class TenantLlmSettings(BaseModel):
    """The shape of a tenant's settings["llm"]."""

    model_config = ConfigDict(extra="forbid")

    provider: ProviderName | None = None
    model: str | None = Field(None, min_length=1, max_length=128)
    temperature: float | None = Field(None, ge=0, le=2)
    max_output_tokens: int | None = Field(None, ge=1, le=32_000)
    fallback: list[ProviderReference] | None = Field(None, max_length=MAX_FALLBACKS)
    budgets: Budgets | None = None


@dataclass(frozen=True)
class Target:
    """One provider and model of the chain, fully resolved."""

    provider: str
    model: str


@dataclass(frozen=True)
class LlmConfig:
    chain: tuple[Target, ...]
    temperature: float
    max_output_tokens: int
    monthly_tokens: int | None
    monthly_cost_usd: Decimal | None


def _describe(exc: ValidationError, *, deployment: bool) -> str:
    """Each error located where the operator fixes it: settings.llm.fallback.1, or LLM_FALLBACK."""
    def where(loc: tuple) -> str:
        if deployment:
            return f"LLM_{str(loc[0]).upper()}" + "".join(f"[{p}]" for p in loc[1:])
        return ".".join(["settings.llm", *(str(p) for p in loc)])

    return "; ".join(f"{where(e['loc'])}: {e['msg']}" for e in exc.errors())


def _target(ref: ProviderRef, settings: Settings) -> Target:
    if ref.provider == "openai" and settings.openai_api_key is None:
        raise LlmConfigError("provider 'openai' is not configured on this deployment (OPENAI_API_KEY is unset)")
    if ref.provider == "anthropic" and settings.anthropic_api_key is None:
        raise LlmConfigError("provider 'anthropic' is not configured on this deployment (ANTHROPIC_API_KEY is unset)")
    if ref.provider == "langchain":
        registered = settings.llm_langchain_models
        model = ref.model or (next(iter(registered)) if len(registered) == 1 else None)
        if model not in registered:
            raise LlmConfigError(
                f"LangChain model '{ref.model}' is not registered (LLM_LANGCHAIN_MODELS has: "
                f"{', '.join(registered) or 'none'})")
        return Target("langchain", model)
    return Target(ref.provider, ref.model or DEFAULT_MODELS[ref.provider])


def resolve_config(tenant_settings: dict[str, Any] | None, settings: Settings) -> LlmConfig:
    try:
        tenant = TenantLlmSettings.model_validate((tenant_settings or {}).get("llm") or {})
    except ValidationError as exc:
        raise LlmConfigError(f"invalid tenant LLM settings: {_describe(exc, deployment=False)}") from exc
    try:
        defaults = TenantLlmSettings.model_validate({
            "provider": settings.llm_provider, "model": settings.llm_model, "fallback": settings.llm_fallback,
        })
    except ValidationError as exc:
        raise LlmConfigError(f"invalid deployment LLM settings: {_describe(exc, deployment=True)}") from exc
    if tenant.provider is not None:
        primary = ProviderRef(provider=tenant.provider, model=tenant.model)
    else:
        primary = ProviderRef(provider=defaults.provider, model=tenant.model or defaults.model)
    fallback = tenant.fallback if tenant.fallback is not None else defaults.fallback or []
    chain: list[Target] = []
    for ref in (primary, *fallback):
        target = _target(ref, settings)
        if target not in chain:
            chain.append(target)
    budgets = tenant.budgets or Budgets()
    return LlmConfig(
        chain=tuple(chain),
        temperature=tenant.temperature if tenant.temperature is not None else settings.llm_temperature,
        max_output_tokens=tenant.max_output_tokens or settings.llm_max_output_tokens,
        monthly_tokens=budgets.monthly_tokens if budgets.monthly_tokens is not None else settings.llm_monthly_token_budget,
        monthly_cost_usd=(budgets.monthly_cost_usd if budgets.monthly_cost_usd is not None
                          else settings.llm_monthly_cost_budget_usd),
    )


def load_config(session: Session, tenant_id: uuid.UUID, settings: Settings) -> LlmConfig:
    tenant_settings = session.scalar(select(Tenant.settings).where(Tenant.id == tenant_id))
    return resolve_config(tenant_settings, settings)
