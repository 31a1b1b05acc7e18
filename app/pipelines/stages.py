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
    agent: str | None = None  # run: the agent to run
    entity_type: str | None = None  # review: the item the previous run opened; action: what it waits on
    # run: what the agent's input names: the pipeline's lead, or the lead's deal
    input: Literal["lead", "deal"] = "lead"


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
# The negotiation is driven by the client's offers, posted to the deal (POST /deals/{id}/offers): each
# counter-offer is a negotiation run of this pipeline; the stage ends when the deal is won or lost.
PROPOSAL_TO_CLIENT: tuple[Stage, ...] = (
    Stage("negotiation", "action", "the client's answer to the proposal: an acceptance, a counter-offer "
          "(answered by the negotiation agent) or a walk-away", entity_type="deal"),
    Stage("finance", "run", "the finance agent to write the contract and the invoice", agent="finance",
          input="deal"),
    Stage("review_invoice", "review", "a reviewer to approve the invoice, which issues it", entity_type="invoice"),
    Stage("issue_invoice", "action", "the approved invoice to be issued with its number", entity_type="invoice"),
    Stage("client", "action", "the lead to become a client", entity_type="client"),
)

STAGES = LEAD_TO_PROPOSAL + PROPOSAL_TO_CLIENT
