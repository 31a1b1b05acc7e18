"""How a run's failure is classified. The engine retries `TransientError`s with backoff and fails
`PermanentError`s at once; anything else is treated as transient (it may be a passing fault) and
dead-letters when the attempts run out, so an operator sees it."""

from typing import Any


class RunError(Exception):
    retryable: bool = True
    code: str = "error"

    def __init__(self, message: str, *, code: str | None = None, retry_after: float | None = None,
                 details: dict[str, Any] | None = None):
        super().__init__(message)
        self.message = message
        self.code = code or self.code
        self.retry_after = retry_after
        self.details = details or {}


class TransientError(RunError):
    """Timeouts, rate limits (429), server errors (5xx), lost connections: worth another attempt."""

    retryable = True
    code = "transient"


class PermanentError(RunError):
    """Invalid input, policy violations, exhausted budgets: another attempt would fail the same way."""

    retryable = False
    code = "permanent"


class RunCancelled(Exception):
    """Raised inside a run when an operator cancelled it; the engine records `cancelled`."""
