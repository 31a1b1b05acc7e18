"""`echo`: the diagnostic agent. No model call; it waits `delay_ms` (in slices, so it can be cancelled)
and returns its message. It exercises the engine end to end and smoke-tests a deployment."""

import time

from pydantic import BaseModel, ConfigDict, Field

from app.agents.base import Agent, RunContext
from app.agents.registry import register

_SLICE_SECONDS = 0.05


class EchoInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    message: str = Field(max_length=10_000)
    delay_ms: int = Field(0, ge=0, le=10_000)


class EchoOutput(BaseModel):
    message: str


class EchoAgent(Agent[EchoInput, EchoOutput]):
    name = "echo"
    input_model = EchoInput
    output_model = EchoOutput
    description = "Diagnostic: returns its message after an optional delay; no model call."

    def run(self, ctx: RunContext, payload: EchoInput) -> EchoOutput:
        ctx.step("wait", lambda _session: self._wait(ctx, payload.delay_ms))
        message = ctx.step("respond", lambda _session: payload.message)
        return EchoOutput(message=message)

    @staticmethod
    def _wait(ctx: RunContext, delay_ms: int) -> int:
        deadline = time.monotonic() + delay_ms / 1000
        while (remaining := deadline - time.monotonic()) > 0:
            ctx.check_cancelled()
            time.sleep(min(_SLICE_SECONDS, remaining))
        return delay_ms


register(EchoAgent())
