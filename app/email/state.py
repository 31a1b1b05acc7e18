"""The email state machine, in one place.

```
draft ──▶ approved ──▶ sent | suppressed | failed
  │          └──────▶ cancelled   (its pipeline was cancelled before the send)
  └──▶ rejected | cancelled       (its review was rejected or expired, or cancelled)
```

`transition()` is the only writer of `status`: one conditional UPDATE (`WHERE status = <expected>`), so two
processes can never both move an email out of the same state. Every terminal state signals the email's
pipeline (durably, through the outbox), so the pipeline moves on after the send, or stops.
"""

from enum import StrEnum
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from app.core.signals import advance_pipeline
from app.models import EmailLog


class EmailStatus(StrEnum):
    draft = "draft"
    approved = "approved"
    sent = "sent"
    suppressed = "suppressed"
    failed = "failed"
    rejected = "rejected"
    cancelled = "cancelled"


S = EmailStatus
TRANSITIONS: dict[EmailStatus, frozenset[EmailStatus]] = {
    S.draft: frozenset({S.approved, S.rejected, S.cancelled}),
    S.approved: frozenset({S.sent, S.suppressed, S.failed, S.cancelled}),
    S.sent: frozenset(),
    S.suppressed: frozenset(),
    S.failed: frozenset(),
    S.rejected: frozenset(),
    S.cancelled: frozenset(),
}
TERMINAL = frozenset(state for state, targets in TRANSITIONS.items() if not targets)


class IllegalTransition(Exception):
    def __init__(self, current: EmailStatus, target: EmailStatus):
        super().__init__(f"an email cannot go from {current} to {target}")
        self.current, self.target = current, target


def can_transition(current: EmailStatus, target: EmailStatus) -> bool:
    return target in TRANSITIONS[current]


def transition(session: Session, email: EmailLog, target: EmailStatus, *, expected: EmailStatus | None = None,
               **fields: Any) -> bool:
    """Move `email` to `target` if it is still in `expected` (default: its loaded status), setting `fields`
    in the same UPDATE. Returns False, changing nothing, when another process moved it first."""
    current = EmailStatus(expected or email.status)
    if not can_transition(current, target):
        raise IllegalTransition(current, target)
    moved = session.execute(
        update(EmailLog)
        .where(EmailLog.id == email.id, EmailLog.tenant_id == email.tenant_id, EmailLog.status == current.value)
        .values(status=target.value, **fields)
        .returning(EmailLog.id)
    ).scalar_one_or_none()
    if moved is None:
        return False
    session.refresh(email)
    if target in TERMINAL:
        advance_pipeline(session, email.tenant_id, email.pipeline_id)
    return True
