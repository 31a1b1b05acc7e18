"""The stages of a pipeline, declared once. A stage is a run of an agent, the review of what an earlier
run produced, or an action the pipeline waits for (an email leaving). app.pipelines.service starts each
stage when the one before it succeeded, and reads where each stands from the records themselves (the
run, the review, the email), so advancing is idempotent: it can be done again at any time."""

from dataclasses import dataclass
from typing import Any, Literal


@dataclass(frozen=True)
class Stage:
    name: str
    kind: Literal["run", "review", "action"]
    waiting_for: str
    agent: str | None = None  # run: the agent to run with {"lead_id": …}
    entity_type: str | None = None  # review: the item the previous run opened; action: what it acts on


def sdr_stop_reason(output: dict[str, Any] | None) -> str | None:
    """The SDR run ends the pipeline when it drafted no email: the lead was disqualified."""
    if output and output.get("email_id"):
        return None
    score = (output or {}).get("score")
    return f"the lead was disqualified by the SDR agent (score {score})" if score is not None else \
        "the SDR agent drafted no email"


STOP_REASONS = {"sdr": sdr_stop_reason}

LEAD_TO_PROPOSAL: tuple[Stage, ...] = (
    Stage("sdr", "run", "the SDR agent to qualify the lead and draft the first email", agent="sdr"),
    Stage("review_email", "review", "a reviewer to approve, edit or reject the first email", entity_type="email"),
    Stage("send_email", "action", "the approved email to be sent", entity_type="email"),
    Stage("sales", "run", "the sales agent to write the proposal", agent="sales"),
    Stage("review_proposal", "review", "a reviewer to approve, edit or reject the proposal", entity_type="proposal"),
)

STAGES = LEAD_TO_PROPOSAL
