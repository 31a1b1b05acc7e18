import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Integer, String, Text, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, IdMixin, TenantMixin


class PromptVersion(IdMixin, TenantMixin, Base):
    """A tenant's own version of a prompt. Shipped defaults live in app/prompts/defaults, not here; a tenant's
    version numbers count 1, 2, 3… per key, separately from the defaults' (a version is `source` + number)."""

    __tablename__ = "prompt_versions"
    __table_args__ = (UniqueConstraint("tenant_id", "key", "version", name="uq_prompt_versions_key_version"),)

    key: Mapped[str] = mapped_column(String(128))
    version: Mapped[int] = mapped_column(Integer)
    system_template: Mapped[str] = mapped_column(Text)
    user_template: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(String(500), default="")
    created_by_type: Mapped[str] = mapped_column(String(16))
    created_by_id: Mapped[uuid.UUID | None]
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())


class PromptActivation(Base):
    """Which version of a key a tenant uses. No row: the newest shipped default. `version` NULL with source
    `default` also follows the newest default, so a tenant that went back to the defaults gets future ones."""

    __tablename__ = "prompt_activations"
    __table_args__ = (
        CheckConstraint("source IN ('default', 'tenant')", name="source"),
        CheckConstraint("source = 'default' OR version IS NOT NULL", name="tenant_version"),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True)
    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    source: Mapped[str] = mapped_column(String(16))
    version: Mapped[int | None] = mapped_column(Integer)
    updated_by_type: Mapped[str] = mapped_column(String(16))
    updated_by_id: Mapped[uuid.UUID | None]
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now(), onupdate=func.now())
