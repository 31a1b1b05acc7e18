import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from app.core.money import Usd
from app.runs.state import RunStatus


class AgentOut(BaseModel):
    name: str
    description: str
    queue: str
    public: bool = Field(description="Started with POST /api/v1/agents/{name}/run; an internal one only by the system")
    uses_models: bool
    may_need_review: bool = Field(description="Some outputs wait for a reviewer (the agent decides per output)")
    prompt_keys: list[str]
    input_schema: dict[str, Any] = Field(description="JSON Schema of the run's `input`")


class RunCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    input: dict[str, Any] = Field(description="The agent's input; validated against its input schema.")


class RunError(BaseModel):
    type: str
    code: str
    message: str
    retryable: bool


class RunOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    agent: str
    status: RunStatus
    input: dict[str, Any]
    output: dict[str, Any] | None
    error: dict[str, Any] | None
    attempt: int = Field(description="Executions claimed so far; it only grows, across operator retries too")
    attempt_base: int = Field(description="`attempt` when the current budget began (0, or at the last operator "
                                          "retry): transient failures are retried until attempt - attempt_base "
                                          "reaches max_attempts")
    max_attempts: int
    queued_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    heartbeat_at: datetime | None
    next_attempt_at: datetime | None
    worker: str | None
    requested_by_type: str
    requested_by_id: uuid.UUID | None
    pipeline_id: uuid.UUID | None
    parent_run_id: uuid.UUID | None
    idempotency_key: str | None
    overridden: bool
    override_reason: str | None
    cancel_requested: bool
    created_at: datetime
    updated_at: datetime


class StepOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    name: str
    attempt: int
    result: Any
    started_at: datetime
    finished_at: datetime


class EventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    from_status: RunStatus | None
    to_status: RunStatus
    attempt: int
    detail: dict[str, Any] | None
    created_at: datetime


LogStatus = Literal["ok", "invalid_output", "error"]


class ModelCall(BaseModel):
    """One model call attempt, as llm_logs keeps it (request and response redacted). Defined by the run
    engine, which shows a run's calls, for app.llm, which records and lists them (app.runs.hooks)."""

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


class RunDetail(RunOut):
    steps: list[StepOut]
    events: list[EventOut]
    model_calls: list[ModelCall] = Field(description="Every model call attempt of the run, oldest first (llm_logs)")


class RunPage(BaseModel):
    items: list[RunOut]
    next_cursor: str | None


class OverrideRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: RunStatus = Field(description="succeeded, failed or cancelled")
    output: dict[str, Any] | None = Field(None, description="Required for succeeded; validated against the agent's output schema.")
    reason: str = Field(min_length=3, max_length=2000)


class DlqRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    run_ids: list[uuid.UUID] = Field(min_length=1, max_length=500)


class DlqRetryResult(BaseModel):
    retried: list[uuid.UUID]


class DlqDiscardResult(BaseModel):
    discarded: list[uuid.UUID]
