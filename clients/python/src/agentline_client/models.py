"""Request and response models of the Agentline API (pydantic v2).

Every model accepts fields it does not know, so a newer API does not break an older client, and statuses
are plain strings for the same reason (the enums below name the ones known today; they compare equal to
the strings). Money, rates and quantities are `Decimal`: the API sends them as strings ("490.00") and is
sent them as strings. Request models send only the fields that were set: in an update, a field set to
None clears it and a field left out is left alone.
"""

import uuid
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

T = TypeVar("T")


class Model(BaseModel):
    model_config = ConfigDict(extra="allow")


class Page(Model, Generic[T]):
    """One page of a list; pass `next_cursor` back as `cursor` for the next one, until it is None."""

    items: list[T]
    next_cursor: str | None = None


# --- auth ----------------------------------------------------------------------------------------------


class TokenPair(Model):
    access_token: str
    refresh_token: str
    token_type: str = "bearer"
    expires_in: int = Field(description="Seconds the access token is valid")


class Me(Model):
    tenant_id: uuid.UUID
    tenant_slug: str
    principal_type: str = Field(description="user or api_key")
    id: uuid.UUID | None = None
    email: str | None = None
    name: str | None = None
    role: str


# --- runs ----------------------------------------------------------------------------------------------


class Agent(Model):
    """An installed agent: `public` ones are started with `runs.start`; the others only by the system."""

    name: str
    description: str = ""
    queue: str
    public: bool = True
    uses_models: bool = False
    may_need_review: bool = Field(False, description="Some outputs wait for a reviewer (decided per output)")
    prompt_keys: list[str] = []
    input_schema: dict[str, Any] = Field(default_factory=dict, description="JSON Schema of a run's `input`")


class RunStatus(StrEnum):
    queued = "queued"
    running = "running"
    retry_scheduled = "retry_scheduled"
    awaiting_review = "awaiting_review"
    succeeded = "succeeded"
    failed = "failed"
    dead_lettered = "dead_lettered"
    cancelled = "cancelled"
    rejected = "rejected"


TERMINAL_RUN_STATUSES = frozenset({RunStatus.succeeded, RunStatus.failed, RunStatus.dead_lettered,
                                   RunStatus.cancelled, RunStatus.rejected})


class Run(Model):
    id: uuid.UUID
    agent: str
    status: str
    input: dict[str, Any]
    output: dict[str, Any] | None = None
    error: dict[str, Any] | None = Field(None, description="type, code, message, retryable")
    attempt: int
    attempt_base: int = 0
    max_attempts: int
    queued_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    heartbeat_at: datetime | None = None
    next_attempt_at: datetime | None = None
    worker: str | None = None
    requested_by_type: str
    requested_by_id: uuid.UUID | None = None
    pipeline_id: uuid.UUID | None = None
    parent_run_id: uuid.UUID | None = None
    idempotency_key: str | None = None
    overridden: bool = False
    override_reason: str | None = None
    cancel_requested: bool = False
    created_at: datetime
    updated_at: datetime

    @property
    def finished(self) -> bool:
        return self.status in TERMINAL_RUN_STATUSES


class RunStep(Model):
    name: str
    attempt: int
    result: Any = None
    started_at: datetime
    finished_at: datetime


class RunEvent(Model):
    """One state change of a run; `id` orders them (and resumes an event stream)."""

    id: int
    from_status: str | None = None
    to_status: str
    attempt: int
    detail: dict[str, Any] | None = None
    created_at: datetime


class ModelCall(Model):
    """One model call attempt (llm_logs)."""

    id: int
    created_at: datetime
    run_id: uuid.UUID | None = None
    run_attempt: int | None = None
    agent: str | None = None
    step: str | None = None
    attempt: int
    purpose: str
    is_retry: bool
    provider: str
    model: str
    prompt_key: str
    prompt_version: int
    prompt_source: str
    input_tokens: int
    output_tokens: int
    cached_tokens: int
    cost_usd: Decimal
    price_version: str
    latency_ms: float
    status: str
    error_code: str | None = None
    error: str | None = None
    request: dict[str, Any] | None = None
    response: dict[str, Any] | None = None


class RunDetail(Run):
    steps: list[RunStep] = []
    events: list[RunEvent] = []
    model_calls: list[ModelCall] = []


class DlqRetryResult(Model):
    retried: list[uuid.UUID]


class DlqDiscardResult(Model):
    discarded: list[uuid.UUID]


# --- pipelines -----------------------------------------------------------------------------------------


class PipelineStatus(StrEnum):
    running = "running"
    succeeded = "succeeded"
    stopped = "stopped"
    rejected = "rejected"
    failed = "failed"
    cancelled = "cancelled"


class Stage(Model):
    position: int
    name: str
    kind: str
    status: str
    run_id: uuid.UUID | None = None
    run_status: str | None = None
    review_id: uuid.UUID | None = None
    review_status: str | None = None
    entity_id: uuid.UUID | None = None
    waiting_for: str | None = None
    waiting_until: datetime | None = None
    detail: dict[str, Any] | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None


class Pipeline(Model):
    id: uuid.UUID
    lead_id: uuid.UUID
    status: str
    current_stage: str | None = None
    stopped_reason: str | None = None
    requested_by_type: str
    requested_by_id: uuid.UUID | None = None
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None = None

    @property
    def finished(self) -> bool:
        return self.status != PipelineStatus.running


class PipelineDetail(Pipeline):
    stages: list[Stage] = []


class LeadSummary(Model):
    id: uuid.UUID
    name: str
    email: str
    company: str | None = None


class StageSummary(Model):
    position: int
    name: str
    kind: str
    status: str
    waiting_for: str | None = None
    waiting_until: datetime | None = None
    started_at: datetime | None = None


class PipelineListItem(Pipeline):
    """A pipeline as the list gives it: with its lead and the stage it is at (the current one while it runs,
    the last one started once it ended)."""

    lead: LeadSummary
    stage: StageSummary | None = None
    stage_count: int


# --- reviews -------------------------------------------------------------------------------------------


class Decision(StrEnum):
    approve = "approve"
    edit = "edit"
    reject = "reject"


class ReviewDecision(Model):
    decision: str
    reviewer_type: str
    reviewer_id: uuid.UUID | None = None
    comment: str | None = None
    approved_digest: str | None = None
    edited_output: dict[str, Any] | None = None
    diff: list[Any] | None = Field(None, description="The JSON Patch (RFC 6902) of an edit")
    created_at: datetime


class Review(Model):
    id: uuid.UUID
    entity_type: str
    entity_id: uuid.UUID
    agent: str
    status: str
    summary: str
    proposal: dict[str, Any]
    citations: list[Any] = []
    run_id: uuid.UUID | None = None
    pipeline_id: uuid.UUID | None = None
    deadline_at: datetime
    reminded_at: datetime | None = None
    expired_at: datetime | None = None
    decided_at: datetime | None = None
    escalated: bool = False
    created_at: datetime
    decision: ReviewDecision | None = None


class ReviewKind(Model):
    """A review type (`entity_type`) and what an `edit` of its proposal may change."""

    entity_type: str
    editable_fields: list[str]
    locked_fields: list[str]
    edit_schema: dict[str, Any] = Field(description="The JSON Schema an edited proposal is validated against")


# --- leads ---------------------------------------------------------------------------------------------


class Lead(Model):
    id: uuid.UUID
    name: str
    email: str
    company: str | None = None
    title: str | None = None
    industry: str | None = None
    company_size: int | None = None
    country: str | None = None
    timezone: str | None = None
    website: str | None = None
    source: str | None = None
    notes: str | None = None
    status: str
    score: int | None = None
    bucket: str | None = None
    qualification: dict[str, Any] | None = None
    created_at: datetime
    updated_at: datetime


class LeadCreate(Model):
    name: str
    email: str
    company: str | None = None
    title: str | None = None
    industry: str | None = None
    company_size: int | None = None
    country: str | None = Field(None, description="ISO 3166-1 alpha-2, e.g. DE")
    timezone: str | None = Field(None, description="IANA, e.g. Europe/Berlin")
    website: str | None = None
    source: str | None = None
    notes: str | None = None


class LeadUpdate(Model):
    """Only the fields set change; None clears an optional field. `status` moves along the life cycle."""

    name: str | None = None
    email: str | None = None
    company: str | None = None
    title: str | None = None
    industry: str | None = None
    company_size: int | None = None
    country: str | None = None
    timezone: str | None = None
    website: str | None = None
    source: str | None = None
    notes: str | None = None
    status: str | None = None


class RowError(Model):
    field: str
    message: str
    type: str | None = None


class LeadImportRow(Model):
    row: int = Field(description="The record's number in the file, the header being row 1")
    status: str = Field(description="created, updated or error")
    lead_id: uuid.UUID | None = None
    errors: list[RowError] = []


class LeadImportResult(Model):
    created: int
    updated: int
    failed: int
    rows: list[LeadImportRow]


# --- deals and negotiation -----------------------------------------------------------------------------


class DealLead(Model):
    id: uuid.UUID
    name: str
    email: str
    company: str | None = None
    status: str


class Deal(Model):
    id: uuid.UUID
    lead_id: uuid.UUID
    lead: DealLead
    package_id: uuid.UUID | None = None
    package_code: str
    currency: str
    list_price: Decimal
    amount: Decimal = Field(description="What is proposed now: the list price until a negotiation concedes")
    stage: str
    proposal: dict[str, Any] | None = None
    pipeline_id: uuid.UUID | None = None
    run_id: uuid.UUID | None = None
    created_at: datetime
    updated_at: datetime


class OfferTerms(Model):
    concessions: list[str] = []
    term_months: int | None = None
    note: str | None = None


class OfferCreate(Model):
    """The client's move: `counter` (with an amount), `accept` or `walk_away`."""

    kind: str
    amount: Decimal | None = None
    currency: str | None = None
    terms: OfferTerms | None = None
    message: str | None = None


class NegotiationPolicy(Model):
    package_code: str
    source: str
    floor_price: Decimal | None = None
    currency: str | None = None
    max_discount_pct: Decimal
    approval_threshold_pct: Decimal
    max_rounds: int
    allowed_concessions: list[str]
    updated_at: datetime | None = None
    overrides: list[str] = []


class NegotiationRound(Model):
    id: uuid.UUID
    round: int
    side: str
    kind: str
    amount: Decimal | None = None
    currency: str
    discount_pct: Decimal | None = None
    terms: dict[str, Any] = {}
    message: str = ""
    status: str
    model_amount: Decimal | None = None
    clamped: bool = False
    clamp_reasons: list[dict[str, Any]] = []
    review_reasons: list[dict[str, Any]] = []
    reasoning: str | None = None
    policy: dict[str, Any] | None = None
    run_id: uuid.UUID | None = None
    review_id: uuid.UUID | None = None
    created_by_type: str
    created_by_id: uuid.UUID | None = None
    created_at: datetime


class DealState(Model):
    id: uuid.UUID
    stage: str
    package_code: str
    currency: str
    list_price: Decimal
    amount: Decimal
    pipeline_id: uuid.UUID | None = None


class RunRef(Model):
    id: uuid.UUID
    status: str


class OfferAccepted(Model):
    deal: DealState
    round: NegotiationRound
    run: RunRef | None = Field(None, description="The negotiation run answering a counter-offer")


class Negotiation(Model):
    deal: DealState
    policy: NegotiationPolicy
    standing_offer: Decimal
    waiting_for: str | None = None
    rounds: list[NegotiationRound]


# --- invoices and credit notes -------------------------------------------------------------------------


class InvoiceLine(Model):
    position: int
    description: str
    quantity: Decimal
    unit_price: Decimal
    tax_rate: Decimal
    net_amount: Decimal


class TaxSubtotal(Model):
    rate: Decimal
    taxable_amount: Decimal
    tax_amount: Decimal


class CreditNoteRef(Model):
    id: uuid.UUID
    number: str
    total_with_tax: Decimal
    issued_at: datetime


class Invoice(Model):
    id: uuid.UUID
    status: str
    number: str | None = None
    currency: str
    issue_date: date | None = None
    due_date: date | None = None
    seller: dict[str, Any]
    buyer: dict[str, Any]
    memo: str
    deal_id: uuid.UUID | None = None
    contract_id: uuid.UUID | None = None
    client_id: uuid.UUID | None = None
    pipeline_id: uuid.UUID | None = None
    run_id: uuid.UUID | None = None
    line_total: Decimal
    tax_total: Decimal
    total_with_tax: Decimal
    paid_amount: Decimal
    rounding_amount: Decimal
    amount_due: Decimal
    tax_breakdown: list[TaxSubtotal]
    credited_total: Decimal
    left_to_credit: Decimal
    issued_at: datetime | None = None
    created_at: datetime
    updated_at: datetime


class InvoiceDetail(Invoice):
    lines: list[InvoiceLine]
    credit_notes: list[CreditNoteRef] = []


class CreditLine(Model):
    position: int
    quantity: Decimal | None = Field(None, description="What is left of the line when left out")


class CreditNoteCreate(Model):
    """By lines, or by a net `amount` (with `tax_rate` when the invoice has several rates)."""

    reason: str
    lines: list[CreditLine] | None = None
    amount: Decimal | None = None
    tax_rate: Decimal | None = None


class CreditNoteLine(Model):
    position: int | None = None
    description: str
    quantity: Decimal
    unit_price: Decimal
    tax_rate: Decimal
    net_amount: Decimal


class CreditNote(Model):
    id: uuid.UUID
    invoice_id: uuid.UUID
    invoice_number: str
    number: str
    reason: str
    currency: str
    lines: list[CreditNoteLine]
    line_total: Decimal
    tax_total: Decimal
    total_with_tax: Decimal
    tax_breakdown: list[TaxSubtotal]
    issued_at: datetime
    created_by_type: str
    created_by_id: uuid.UUID | None = None
    created_at: datetime


# --- clients and check-ins -----------------------------------------------------------------------------


class Client(Model):
    id: uuid.UUID
    lead_id: uuid.UUID | None = None
    deal_id: uuid.UUID | None = None
    name: str
    email: str | None = None
    company: str | None = None
    timezone: str
    goal: str | None = None
    start_date: date | None = None
    coach_id: uuid.UUID | None = None
    status: str
    created_at: datetime
    updated_at: datetime


class ClientCreate(Model):
    name: str
    email: str | None = None
    company: str | None = None
    timezone: str | None = Field(None, description="IANA; the tenant's when left out")
    goal: str | None = None
    start_date: date | None = None
    coach_id: uuid.UUID | None = None
    status: str | None = None
    lead_id: uuid.UUID | None = None


class ClientUpdate(Model):
    name: str | None = None
    email: str | None = None
    company: str | None = None
    timezone: str | None = None
    goal: str | None = None
    start_date: date | None = None
    coach_id: uuid.UUID | None = None
    status: str | None = None


class CheckInWrite(Model):
    """A client-local day's check-in; writing a day again changes only the fields set."""

    day: date
    weight_kg: Decimal | None = None
    sleep_hours: Decimal | None = None
    sleep_quality: int | None = None
    stress: int | None = None
    mood: int | None = None
    soreness: int | None = None
    energy: int | None = None
    training_adherence_pct: int | None = None
    nutrition_adherence_pct: int | None = None
    notes: str | None = None


class CheckIn(Model):
    id: uuid.UUID
    client_id: uuid.UUID
    day: date
    weight_kg: Decimal | None = None
    sleep_hours: Decimal | None = None
    sleep_quality: int | None = None
    stress: int | None = None
    mood: int | None = None
    soreness: int | None = None
    energy: int | None = None
    training_adherence_pct: int | None = None
    nutrition_adherence_pct: int | None = None
    notes: str | None = None
    created_at: datetime
    updated_at: datetime


class CheckInImportRow(Model):
    row: int
    day: date | None = None
    status: str = Field(description="created, updated, unchanged or invalid")
    check_in_id: uuid.UUID | None = None
    errors: list[RowError] = []


class CheckInImportResult(Model):
    created: int
    updated: int
    unchanged: int
    invalid: int
    rows: list[CheckInImportRow]


# --- knowledge -----------------------------------------------------------------------------------------


class Document(Model):
    id: uuid.UUID
    title: str
    content_type: str
    filename: str | None = None
    tags: list[str] = []
    status: str = Field(description="pending, processing, ready or failed")
    error: str | None = None
    chunk_count: int
    size_bytes: int
    content_hash: str
    embedding_model: str | None = None
    embedding_dim: int | None = None
    run_id: uuid.UUID | None = Field(None, description="The latest ingestion run")
    created_at: datetime
    updated_at: datetime
    ingested_at: datetime | None = None


class SearchHit(Model):
    document_id: uuid.UUID
    title: str
    chunk_id: uuid.UUID
    text: str
    score: float
    metadata: dict[str, Any] = {}
    vector_rank: int | None = None
    lexical_rank: int | None = None


class SearchResult(Model):
    hits: list[SearchHit]
    mode: str
    embedding_model: str | None = None


# --- prompts -------------------------------------------------------------------------------------------


class PromptVersion(Model):
    version: int
    source: str = Field(description="default (shipped) or tenant")
    description: str
    system: str
    user: str
    variables: list[str]
    active: bool
    created_at: datetime | None = None
    created_by_id: uuid.UUID | None = None


class ActivePrompt(Model):
    source: str
    version: int
    follows_latest_default: bool


class Prompt(Model):
    key: str
    description: str
    variables: list[str]
    active: ActivePrompt
    default_versions: int
    tenant_versions: int


class PromptDetail(Prompt):
    versions: list[PromptVersion]


# --- agent metrics -------------------------------------------------------------------------------------


class Tokens(Model):
    input: int
    output: int
    cached: int


class Latency(Model):
    p50_ms: float | None = None
    p95_ms: float | None = None


class Figures(Model):
    runs: dict[str, int]
    runs_total: int
    success_rate: float | None = None
    latency: Latency
    model_calls: int
    failed_model_calls: int
    tokens: Tokens
    cost_usd: Decimal


class DayFigures(Figures):
    day: date


class ReviewFigures(Model):
    decided: int
    approved_unchanged: int
    edited: int
    rejected: int
    expired: int
    approved_unchanged_share: float | None = None
    edited_share: float | None = None
    rejected_share: float | None = None


class AgentFigures(Figures):
    agent: str
    days: list[DayFigures]
    reviews: ReviewFigures | None = None


class AgentMetrics(Model):
    since: date
    until: date
    agents: list[AgentFigures]


# --- webhooks ------------------------------------------------------------------------------------------


class Webhook(Model):
    id: uuid.UUID
    url: str
    events: list[str]
    enabled: bool
    disabled_at: datetime | None = None
    disabled_reason: str | None = None
    disabled_by: Literal["admin", "system"] | None = None
    failing_since: datetime | None = None
    created_at: datetime
    updated_at: datetime


class WebhookCreated(Webhook):
    secret: str = Field(description="The signing secret (whsec_…), shown only in this response")


class DeliveryAttempt(Model):
    attempt: int
    status_code: int | None = None
    latency_ms: int | None = None
    response_excerpt: str | None = None
    error: str | None = None
    created_at: datetime


class Delivery(Model):
    id: uuid.UUID
    event_id: uuid.UUID
    message_id: str
    event_type: str
    status: str
    attempts: int
    next_attempt_at: datetime | None = None
    last_status_code: int | None = None
    last_latency_ms: int | None = None
    last_response_excerpt: str | None = None
    last_error: str | None = None
    delivered_at: datetime | None = None
    created_at: datetime
    attempt_log: list[DeliveryAttempt] = []
