"""Every SQLAlchemy model, imported here so Alembic sees one metadata."""

from app.models.audit import AuditLog
from app.models.auth import ApiKey, RefreshToken
from app.models.base import Base
from app.models.knowledge import Document, DocumentChunk
from app.models.llm import LlmLog, LlmUsageDaily
from app.models.outbox import OutboxMessage
from app.models.prompt import PromptActivation, PromptVersion
from app.models.run import AgentRun, IdempotencyRecord, RunEvent, RunStep
from app.models.tenant import Membership, Tenant, User

__all__ = [
    "AgentRun", "ApiKey", "AuditLog", "Base", "Document", "DocumentChunk", "IdempotencyRecord", "LlmLog",
    "LlmUsageDaily", "Membership", "OutboxMessage", "PromptActivation", "PromptVersion", "RefreshToken", "RunEvent",
    "RunStep", "Tenant", "User",
]
