from datetime import date

from pydantic import BaseModel, Field

from app.core.money import Usd
from app.runs.schemas import ModelCall

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
