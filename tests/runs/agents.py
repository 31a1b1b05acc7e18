"""Test-only agents, loaded in worker processes through the AGENT_PLUGINS setting."""

import time
from typing import Literal

from pydantic import BaseModel, Field
from sqlalchemy import select

from app.agents.base import Agent, RunContext
from app.agents.echo import EchoAgent
from app.agents.registry import register
from app.core.db import session_scope
from app.models import AgentRun, AuditLog
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


def count_call(ctx: RunContext, work: str) -> None:
    """Count one call of `work` with a row committed on its own, as an email sent or a paid model call
    stays done whatever becomes of the step that made it."""
    with session_scope(ctx.tenant_id) as session:
        session.add(AuditLog(tenant_id=ctx.tenant_id, actor_type="system", action=f"test.call.{work}",
                             entity_type="run", entity_id=str(ctx.run_id)))


class ThreeStepInput(BaseModel):
    fail_third_until_attempt: int = Field(0, ge=0, description="step three fails permanently up to this attempt")


class ThreeStepOutput(BaseModel):
    step_attempts: dict[str, int]


class ThreeStepAgent(Agent[ThreeStepInput, ThreeStepOutput]):
    """Steps one, two and three, each counting its calls; the third fails permanently on the first
    attempts, as a policy an operator then fixes would."""

    name = "test_three_steps"
    input_model, output_model = ThreeStepInput, ThreeStepOutput
    max_attempts = 3

    def run(self, ctx: RunContext, payload: ThreeStepInput) -> ThreeStepOutput:
        def work(name: str):
            def call(_session) -> int:
                count_call(ctx, name)
                if name == "three" and ctx.attempt <= payload.fail_third_until_attempt:
                    raise PermanentError(f"step three refused on attempt {ctx.attempt}", code="policy_violation")
                return ctx.attempt
            return call

        return ThreeStepOutput(step_attempts={name: ctx.step(name, work(name)) for name in ("one", "two", "three")})


class CancelRaceInput(BaseModel):
    wait_seconds: float = Field(30, ge=0, le=60)


class CancelRaceAgent(Agent[CancelRaceInput, ReviewedOutput]):
    """Waits, without a step boundary that would notice it, until an operator asks to cancel the run,
    then fails transiently: the cancellation lands while the attempt's transient failure is recorded."""

    name = "test_cancel_race"
    input_model, output_model = CancelRaceInput, ReviewedOutput

    def run(self, ctx: RunContext, payload: CancelRaceInput) -> ReviewedOutput:
        deadline = time.monotonic() + payload.wait_seconds
        while time.monotonic() < deadline:
            with ctx.session() as session:
                if session.scalar(select(AgentRun.cancel_requested).where(AgentRun.id == ctx.run_id)):
                    break
            time.sleep(0.05)
        raise TransientError("upstream 503 just after the cancel was asked", code="upstream_unavailable")


for agent in (FlakyAgent(), SideEffectAgent(), ReviewedAgent(), InternalAgent(), ThreeStepAgent(), CancelRaceAgent()):
    register(agent)
