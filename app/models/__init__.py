"""Every SQLAlchemy model, imported here so Alembic sees one metadata."""

from app.models.audit import AuditLog
from app.models.auth import ApiKey, RefreshToken
from app.models.base import Base
from app.models.coaching import CheckIn, CoachingCard, Plan, PlanChange, PlanVersion
from app.models.deal_flow import (
    Client, Contract, CreditNote, Invoice, InvoiceLine, NegotiationPolicy, NegotiationRound, NumberSeries,
)
from app.models.knowledge import Document, DocumentChunk
from app.models.llm import LlmLog, LlmUsageDaily
from app.models.outbox import OutboxMessage
from app.models.prompt import PromptActivation, PromptVersion
from app.models.review import Pipeline, PipelineStage, Review, ReviewDecision
from app.models.run import AgentRun, IdempotencyRecord, RunEvent, RunStep
from app.models.sales import Deal, EmailLog, Lead, PriceBookItem, Suppression
from app.models.tenant import Membership, Tenant, User
from app.models.webhooks import WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookEvent

__all__ = [
    "AgentRun", "ApiKey", "AuditLog", "Base", "CheckIn", "Client", "CoachingCard", "Contract", "CreditNote",
    "Deal", "Document", "DocumentChunk", "EmailLog", "IdempotencyRecord", "Invoice", "InvoiceLine", "Lead",
    "LlmLog", "LlmUsageDaily", "Membership", "NegotiationPolicy", "NegotiationRound", "NumberSeries",
    "OutboxMessage", "Pipeline", "PipelineStage", "Plan", "PlanChange", "PlanVersion", "PriceBookItem",
    "PromptActivation", "PromptVersion", "RefreshToken", "Review", "ReviewDecision", "RunEvent", "RunStep",
    "Suppression", "Tenant", "User", "WebhookAttempt", "WebhookDelivery", "WebhookEndpoint", "WebhookEvent",
]
