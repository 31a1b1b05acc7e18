import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer

LogStatus = Literal["ok", "invalid_output", "error"]
# US dollars as a fixed-point string with the 8 decimals stored ("0.00255000", never "2.55E-3").
Usd = Annotated[Decimal, PlainSerializer(lambda value: f"{value:.8f}", return_type=str, when_used="json")]


class ModelCall(BaseModel):
    """One model call attempt, as llm_logs keeps it (request and response redacted)."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    created_at: datetime
    run_id: uuid.UUID | None
    run_attempt: int | None
    agent: str | None
    step: str | None
    attempt: int = Field(description="Attempt number within the model call (retries, repair, fallback)")
    purpose: Literal["generate", "repair"]
    is_retry: bool = Field(description="This attempt repeats a request that an earlier attempt did not answer")
    provider: str
    model: str
    prompt_key: str
    prompt_version: int
    prompt_source: Literal["default", "tenant"]
    input_tokens: int = Field(description="All prompt tokens, cached ones included")
    output_tokens: int
    cached_tokens: int
    cost_usd: Usd
    price_version: str
    latency_ms: float
    status: LogStatus
    error_code: str | None
    error: str | None
    request: dict[str, Any] | None = None
    response: dict[str, Any] | None = None


class ModelCallPage(BaseModel):
    items: list[ModelCall]
    next_cursor: str | None


class Tokens(BaseModel):
    input: int
    output: int
    cached: int


class Latency(BaseModel):
    p50_ms: float | None
    p95_ms: float | None


class Figures(BaseModel):
    runs: dict[str, int] = Field(description="Runs created in the period, by status")
    runs_total: int
    success_rate: float | None = Field(
        description="succeeded / (succeeded + failed + dead_lettered); null when no run ended that way")
    latency: Latency = Field(description="started_at to finished_at of finished runs (the last attempt)")
    model_calls: int
    failed_model_calls: int
    tokens: Tokens
    cost_usd: Usd


class DayFigures(Figures):
    day: date


class ReviewFigures(BaseModel):
    """Decisions on the agent's output in the period: how much a person had to change."""

    decided: int
    approved_unchanged: int
    edited: int
    rejected: int
    expired: int
    approved_unchanged_share: float | None
    edited_share: float | None
    rejected_share: float | None


class AgentFigures(Figures):
    agent: str
    days: list[DayFigures]
    reviews: ReviewFigures | None = None


class AgentMetrics(BaseModel):
    since: date
    until: date = Field(description="Inclusive; days are UTC")
    agents: list[AgentFigures]
