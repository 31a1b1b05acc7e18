"""The review state machine, in one place."""

from enum import StrEnum

from app.core.errors import Conflict


class ReviewStatus(StrEnum):
    pending = "pending"
    escalated = "escalated"  # past its deadline under the escalate policy: only admins may decide it
    approved = "approved"
    edited = "edited"  # approved with changes
    rejected = "rejected"
    expired = "expired"  # past its deadline under the reject policy: nobody decided it
    cancelled = "cancelled"  # its pipeline or run was cancelled


class Decision(StrEnum):
    approve = "approve"
    edit = "edit"
    reject = "reject"


S = ReviewStatus
OPEN = frozenset({S.pending, S.escalated})
TRANSITIONS: dict[ReviewStatus, frozenset[ReviewStatus]] = {
    S.pending: frozenset({S.approved, S.edited, S.rejected, S.expired, S.escalated, S.cancelled}),
    S.escalated: frozenset({S.approved, S.edited, S.rejected, S.expired, S.cancelled}),
    S.approved: frozenset(),
    S.edited: frozenset(),
    S.rejected: frozenset(),
    S.expired: frozenset(),
    S.cancelled: frozenset(),
}
OUTCOME = {Decision.approve: S.approved, Decision.edit: S.edited, Decision.reject: S.rejected}


def check_transition(current: ReviewStatus, target: ReviewStatus) -> None:
    if target not in TRANSITIONS[current]:
        if current in (S.expired, S.cancelled):
            raise Conflict(f"The review is {current.value}; it can no longer be decided.", review_status=current.value)
        raise Conflict(f"The review is already {current.value}.", review_status=current.value)
