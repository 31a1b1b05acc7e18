"""What can be reviewed. A domain whose records must wait for a person registers a `ReviewKind` for its
entity type (the email domain for `email`, deals for `proposal`, …); the review mechanism then knows how
to validate an edit and what an approval or a rejection does, without importing any of those domains."""

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel
from sqlalchemy.orm import Session

from app.core.context import TenantContext

# apply(session, ctx, entity_id, content): the approved (or edited) content takes effect. It runs in the
# decision's transaction: it writes records and enqueues its side effects through the outbox (published
# after commit), so an approval that is posted twice, or retried after a crash, acts once.
Apply = Callable[[Session, TenantContext, uuid.UUID, dict[str, Any]], None]
# discard(session, ctx, entity_id, reason): the item was rejected, expired under a reject policy, or cancelled.
Discard = Callable[[Session, TenantContext, uuid.UUID, str], None]


@dataclass(frozen=True)
class ReviewKind:
    entity_type: str
    # The schema an edit is validated against: the editable content of the proposal.
    content_model: type[BaseModel]
    apply: Apply
    discard: Discard
    # Fields of the proposal a reviewer may not change (a price that code computed, say): an edit that
    # changes one is refused.
    locked_fields: frozenset[str] = frozenset()

    @property
    def editable_fields(self) -> list[str]:
        """The proposal's fields a reviewer may change, in the schema's order: an edit is validated against
        `content_model`, which forbids any other field."""
        return [name for name in self.content_model.model_fields if name not in self.locked_fields]


_KINDS: dict[str, ReviewKind] = {}


def register_kind(kind: ReviewKind) -> ReviewKind:
    if kind.entity_type in _KINDS and _KINDS[kind.entity_type] is not kind:
        raise ValueError(f"review kind {kind.entity_type!r} is registered twice")
    _KINDS[kind.entity_type] = kind
    return kind


def get_kind(entity_type: str) -> ReviewKind | None:
    _load_installed()
    return _KINDS.get(entity_type)


def entity_types() -> list[str]:
    _load_installed()
    return sorted(_KINDS)


def kinds() -> list[ReviewKind]:
    return [_KINDS[entity_type] for entity_type in entity_types()]


def _load_installed() -> None:
    """Kinds are registered by the modules app.installed lists (the email domain, the sales agent's
    proposals); whichever process asks first (an API replica deciding a review, a pipeline worker) loads
    them all, as the agent registry does."""
    from app.agents.registry import load_installed

    load_installed()
