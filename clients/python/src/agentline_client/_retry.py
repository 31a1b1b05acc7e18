"""When to send a request again, and how long to wait first."""

import random
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime


@dataclass(frozen=True)
class RetryPolicy:
    """Retries of one request: on connection errors, 429 and 5xx, never on another 4xx.

    The n-th retry (from 0) waits a random time between 0 and min(max_backoff, initial_backoff × 2ⁿ)
    ("full jitter": clients that failed together do not come back together), or what the API's
    `Retry-After` says. A Retry-After longer than `max_retry_after` is not waited for: the error is raised.
    """

    max_retries: int = 3
    initial_backoff: float = 0.5
    max_backoff: float = 8.0
    max_retry_after: float = 60.0

    def backoff(self, retry: int, rng: random.Random | None = None) -> float:
        ceiling = min(self.max_backoff, self.initial_backoff * 2 ** retry)
        return (rng or random).uniform(0, ceiling)


NO_RETRIES = RetryPolicy(max_retries=0)


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds from a Retry-After header: delay-seconds or an HTTP date (RFC 9110 §10.2.3)."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # an HTTP date is always GMT; the obsolete formats parse without a zone
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())
