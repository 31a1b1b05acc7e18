"""A review kind for the tests of the mechanism: a note whose approval and rejection are recorded."""

import uuid
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from app.core.context import TenantContext
from app.reviews.registry import ReviewKind, register_kind

APPLIED: list[tuple[uuid.UUID, dict[str, Any]]] = []
DISCARDED: list[tuple[uuid.UUID, str]] = []


class NoteContent(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=200)
    amount: str


def _apply(session: Session, ctx: TenantContext, entity_id: uuid.UUID, content: dict[str, Any]) -> None:
    APPLIED.append((entity_id, content))


def _discard(session: Session, ctx: TenantContext, entity_id: uuid.UUID, reason: str) -> None:
    DISCARDED.append((entity_id, reason))


NOTE = register_kind(ReviewKind("test_note", NoteContent, _apply, _discard, locked_fields=frozenset({"amount"})))
