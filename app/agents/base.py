"""What an agent is to the run engine: typed input and output, a queue, and `run(ctx, input)`.

An agent's work is a sequence of named steps (`ctx.step`). A step's result is stored once; when a run
is executed again after a crash, completed steps return their stored result instead of running again,
so model calls and side effects (an email, an invoice) are not repeated.
"""

import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, ClassVar, Generic, Protocol, TypeVar

from pydantic import BaseModel
from sqlalchemy.orm import Session

from app.core.context import TenantContext

InputT = TypeVar("InputT", bound=BaseModel)
OutputT = TypeVar("OutputT", bound=BaseModel)
T = TypeVar("T")


class RunContext(Protocol):
    """What a running agent may use. Implemented by app.runs.executor."""

    run_id: uuid.UUID
    tenant_id: uuid.UUID
    agent: str
    attempt: int
    context: TenantContext

    def step(self, name: str, fn: Callable[[Session], T]) -> T:
        """Run `fn` once for this run: its JSON-serialisable result is stored under `name` in the same
        transaction as whatever `fn` wrote through the session it is given. A step already recorded
        (by an earlier attempt) returns the stored result without calling `fn`."""

    def step_key(self, name: str) -> str:
        """A stable idempotency key for an external side effect done in step `name` (the same on every
        attempt), for providers that deduplicate requests."""

    def check_cancelled(self) -> None:
        """Raise RunCancelled if an operator cancelled the run; call it between long pieces of work."""

    def session(self) -> Session:
        """A new session bound to the run's tenant, for reads outside steps (caller closes it)."""


class Agent(ABC, Generic[InputT, OutputT]):
    name: ClassVar[str]
    input_model: ClassVar[type[BaseModel]]
    output_model: ClassVar[type[BaseModel]]
    max_attempts: ClassVar[int] = 4
    # Internal agents (document ingestion, for example) run through the engine but cannot be started
    # with POST /api/v1/agents/{agent}/run.
    public: ClassVar[bool] = True
    # Agents that call models (app.llm.orchestrator.generate): their runs are refused when they are started
    # while the tenant's LLM settings are unusable (422) or its monthly model budget is spent (402).
    uses_models: ClassVar[bool] = False
    # The prompts its model calls use (app/prompts), by key.
    prompt_keys: ClassVar[tuple[str, ...]] = ()
    description: ClassVar[str] = ""

    @property
    def queue(self) -> str:
        return f"agents.{self.name}"

    @abstractmethod
    def run(self, ctx: RunContext, payload: InputT) -> OutputT: ...

    def needs_review(self, output: OutputT) -> bool:
        """True when the output must wait for a reviewer (status awaiting_review) before it takes effect."""
        return False

    @property
    def may_need_review(self) -> bool:
        """Whether some of its outputs wait for a reviewer: it decides per output, in `needs_review`."""
        return type(self).needs_review is not Agent.needs_review

    def output_json(self, output: OutputT) -> dict[str, Any]:
        return output.model_dump(mode="json")
