"""A record's life cycle, declared once: its states, the moves between them, and the one function that
makes a move. Leads, deals and invoices each declare theirs with it (in their domain's `state.py`);
runs, reviews and pipelines, whose moves carry more (events, fences, signals), have their own."""

from collections.abc import Mapping
from enum import StrEnum
from typing import Any, Generic, TypeVar

from app.core.errors import Conflict

E = TypeVar("E", bound=StrEnum)


class IllegalTransition(Conflict):
    """A move the life cycle does not allow: 409 where it reaches the API. Each life cycle raises its own
    subclass (`IllegalLeadTransition`, …), so callers can catch one record's refusals."""

    def __init__(self, noun: str, current: StrEnum, target: StrEnum, allowed: frozenset, **extra: Any):
        listed = ", ".join(sorted(allowed)) or "none: it is final"
        super().__init__(f"{noun} cannot go from '{current}' to '{target}' (from '{current}': {listed}).", **extra)
        self.current, self.target = current, target


class Lifecycle(Generic[E]):
    def __init__(self, noun: str, states: type[E], transitions: Mapping[E, frozenset[E]], *, attribute: str,
                 error: type[IllegalTransition], problem_key: str | None = None):
        missing = set(states) - set(transitions)
        if missing:
            raise ValueError(f"{noun}: no transitions declared from {sorted(missing)}")
        self.noun, self.states, self.transitions = noun, states, dict(transitions)
        self.attribute, self.error, self.problem_key = attribute, error, problem_key
        self.terminal = frozenset(state for state, targets in self.transitions.items() if not targets)

    def can(self, current: E, target: E) -> bool:
        return target in self.transitions[current]

    def refuse(self, current: E, target: E) -> IllegalTransition:
        extra = {self.problem_key: current.value} if self.problem_key else {}
        return self.error(self.noun, current, target, self.transitions[current], **extra)

    def move(self, record: Any, target: E) -> bool:
        """Move `record` to `target`. True if it moved; False if it already was there (a repeated side
        effect is a no-op); the life cycle's IllegalTransition (409) for a move it does not allow."""
        current = self.states(getattr(record, self.attribute))
        if current == target:
            return False
        if not self.can(current, target):
            raise self.refuse(current, target)
        setattr(record, self.attribute, target.value)
        return True
