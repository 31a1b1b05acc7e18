"""A test-only agent that calls a model, loaded in worker processes through the AGENT_PLUGINS setting."""

from pydantic import BaseModel, Field

from app.agents.base import Agent, RunContext
from app.agents.echo import EchoAgent
from app.agents.registry import register
from app.llm.orchestrator import generate
from tests.llm.scenario import KEY, VARIABLES, Qualification


class QualifyInput(BaseModel):
    hold_ms: int = Field(0, ge=0, le=30_000, description="How long the step after the model call takes")


class QualifyOutput(BaseModel):
    qualification: Qualification
    provider: str
    finished_attempt: int


class LlmQualifyAgent(Agent[QualifyInput, QualifyOutput]):
    """Step `qualify` calls the model; step `hold` then takes `hold_ms`, long enough to kill the worker in."""

    name = "test_llm_qualify"
    input_model, output_model = QualifyInput, QualifyOutput
    max_attempts = 3
    uses_models = True

    def run(self, ctx: RunContext, payload: QualifyInput) -> QualifyOutput:
        generation = generate(ctx, step="qualify", prompt_key=KEY, variables=VARIABLES, output_model=Qualification)
        ctx.step("hold", lambda _session: EchoAgent._wait(ctx, payload.hold_ms))
        return QualifyOutput(qualification=generation.output, provider=generation.provider,
                             finished_attempt=ctx.attempt)


register(LlmQualifyAgent())
