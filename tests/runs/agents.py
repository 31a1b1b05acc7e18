"""Test-only agents, loaded in worker processes through the AGENT_PLUGINS setting."""

from typing import Literal

from pydantic import BaseModel, Field

from app.agents.base import Agent, RunContext
from app.agents.echo import EchoAgent
from app.agents.registry import register
from app.models import AuditLog
from app.runs.errors import PermanentError, TransientError


class FlakyInput(BaseModel):
    fail_attempts: int = Field(0, ge=0, description="attempts 1..N fail")
    mode: Literal["transient", "permanent", "unexpected"] = "transient"
    retry_after: float | None = None


class FlakyOutput(BaseModel):
    succeeded_on_attempt: int


class FlakyAgent(Agent[FlakyInput, FlakyOutput]):
    name = "test_flaky"
    input_model, output_model = FlakyInput, FlakyOutput
    max_attempts = 3

    def run(self, ctx: RunContext, payload: FlakyInput) -> FlakyOutput:
        if payload.mode == "permanent":
            raise PermanentError("the input breaks a policy", code="policy_violation")
        if ctx.attempt <= payload.fail_attempts:
            if payload.mode == "unexpected":
                raise RuntimeError(f"boom on attempt {ctx.attempt}")
            raise TransientError(f"upstream 503 on attempt {ctx.attempt}", code="upstream_unavailable",
                                 retry_after=payload.retry_after)
        return FlakyOutput(succeeded_on_attempt=ctx.attempt)


class SideEffectInput(BaseModel):
    delay_ms: int = Field(0, ge=0, le=10_000)


class SideEffectOutput(BaseModel):
    effect_attempt: int
    finished_attempt: int


class SideEffectAgent(Agent[SideEffectInput, SideEffectOutput]):
    """Step 1 writes one audit row (a stand-in for sending an email); step 2 waits. A retry after a crash
    in step 2 must reuse step 1, so every run ends with exactly one such row."""

    name = "test_side_effect"
    input_model, output_model = SideEffectInput, SideEffectOutput
    max_attempts = 6

    def run(self, ctx: RunContext, payload: SideEffectInput) -> SideEffectOutput:
        def effect(session) -> int:
            session.add(AuditLog(tenant_id=ctx.tenant_id, actor_type="system", action="test.side_effect",
                                 entity_type="run", entity_id=str(ctx.run_id)))
            return ctx.attempt

        effect_attempt = ctx.step("effect", effect)
        ctx.step("wait", lambda _s: EchoAgent._wait(ctx, payload.delay_ms))
        return SideEffectOutput(effect_attempt=effect_attempt, finished_attempt=ctx.attempt)


class ReviewedOutput(BaseModel):
    text: str


class ReviewedAgent(Agent[SideEffectInput, ReviewedOutput]):
    name = "test_reviewed"
    input_model, output_model = SideEffectInput, ReviewedOutput

    def run(self, ctx: RunContext, payload: SideEffectInput) -> ReviewedOutput:
        return ReviewedOutput(text="draft")

    def needs_review(self, output: ReviewedOutput) -> bool:
        return True


class InternalAgent(Agent[SideEffectInput, ReviewedOutput]):
    name = "test_internal"
    input_model, output_model = SideEffectInput, ReviewedOutput
    public = False

    def run(self, ctx: RunContext, payload: SideEffectInput) -> ReviewedOutput:
        return ReviewedOutput(text="internal")


for agent in (FlakyAgent(), SideEffectAgent(), ReviewedAgent(), InternalAgent()):
    register(agent)
