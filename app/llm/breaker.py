"""A circuit breaker per provider endpoint, its state in Redis so every worker process shares it.

Closed: calls go through; each transient failure (timeout, 429, 5xx, lost connection) adds one to a
consecutive-failure count, and a success resets it. At the threshold the breaker opens for the cooldown:
calls skip the provider (the fallback chain takes over) without waiting for it to time out. When the
cooldown ends it is half-open: exactly one caller, cluster-wide, gets a trial call; its success closes the
breaker, its failure opens it for another cooldown.

Each transition is one Lua script, so concurrent workers cannot both take the trial slot. If Redis is
unreachable the breaker lets calls through: it protects the providers and our latency, it must never be
the reason a call is not made. An open breaker stores when it may let a trial through, read against the
caller's clock (`clock`, which tests move forward instead of waiting out a cooldown).
"""

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

import redis
import structlog

from app.core.redis import get_redis

log = structlog.get_logger(__name__)

# A count older than this is forgotten: five failures spread over a day are not an outage.
FAILURE_MEMORY_MS = 10 * 60 * 1000

# Seconds since the epoch, as every process of the deployment reads them.
clock: Callable[[], float] = time.time

# KEYS: failures, open, trial. ARGV: threshold, trial_ttl_ms, now_ms. Returns [decision, open_ms_left, failures].
_ALLOW = """
local left = tonumber(redis.call('GET', KEYS[2]) or '0') - tonumber(ARGV[3])
local failures = tonumber(redis.call('GET', KEYS[1]) or '0')
if left > 0 then return {0, left, failures} end
if failures < tonumber(ARGV[1]) then return {1, 0, failures} end
if redis.call('SET', KEYS[3], '1', 'NX', 'PX', ARGV[2]) then return {2, 0, failures} end
return {0, 0, failures}
"""
# KEYS: failures, open, trial. ARGV: threshold, cooldown_ms, memory_ms, now_ms. Returns the count. The open
# key holds the end of the cooldown; it also expires then, so an idle breaker leaves nothing behind.
_FAILURE = """
local failures = redis.call('INCR', KEYS[1])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
if failures >= tonumber(ARGV[1]) then
  redis.call('SET', KEYS[2], tonumber(ARGV[4]) + tonumber(ARGV[2]), 'PX', ARGV[2])
  redis.call('DEL', KEYS[3])
end
return failures
"""


class Decision(StrEnum):
    closed = "closed"
    trial = "trial"  # half-open: this caller makes the one trial call
    open = "open"


@dataclass(frozen=True)
class Permit:
    decision: Decision
    # How long until an open breaker lets a trial through; 0 when unknown or not open.
    retry_after: float = 0.0
    # Consecutive failures so far: a success only has something to reset when there are some.
    failures: int = 0

    @property
    def allowed(self) -> bool:
        return self.decision is not Decision.open

    @property
    def needs_reset(self) -> bool:
        """Whether a success must be recorded. Skipping it on the healthy path saves a Redis round trip; the
        price is that a failure another process counts between this permit and this success survives it,
        so under a mix of failures the breaker may open a little early, never late."""
        return self.failures > 0 or self.decision is Decision.trial


class CircuitBreaker:
    def __init__(self, provider: str, endpoint: str, *, threshold: int, cooldown_seconds: float,
                 trial_timeout_seconds: float, client: redis.Redis | None = None):
        digest = hashlib.sha256(endpoint.encode()).hexdigest()[:12]
        prefix = f"llm:breaker:{provider}:{digest}"
        self.provider = provider
        self._keys = [f"{prefix}:failures", f"{prefix}:open", f"{prefix}:trial"]
        self._threshold = threshold
        self._cooldown_ms = int(cooldown_seconds * 1000)
        self._trial_ms = int(trial_timeout_seconds * 1000)
        self._redis = client or get_redis()
        self._allow = self._redis.register_script(_ALLOW)
        self._failure = self._redis.register_script(_FAILURE)

    def permit(self) -> Permit:
        try:
            decision, left_ms, failures = self._allow(keys=self._keys,
                                                      args=[self._threshold, self._trial_ms, _now_ms()])
        except redis.RedisError:
            log.warning("llm_breaker_unavailable", provider=self.provider, exc_info=True)
            return Permit(Decision.closed)
        return Permit({0: Decision.open, 1: Decision.closed, 2: Decision.trial}[int(decision)], int(left_ms) / 1000,
                      int(failures))

    def record_success(self) -> None:
        try:
            self._redis.delete(*self._keys)
        except redis.RedisError:
            log.warning("llm_breaker_unavailable", provider=self.provider, exc_info=True)

    def record_failure(self) -> int:
        """Count one transient failure; returns the consecutive count (0 if Redis is unreachable)."""
        try:
            return int(self._failure(keys=self._keys,
                                     args=[self._threshold, self._cooldown_ms, FAILURE_MEMORY_MS, _now_ms()]))
        except redis.RedisError:
            log.warning("llm_breaker_unavailable", provider=self.provider, exc_info=True)
            return 0


def _now_ms() -> int:
    return int(clock() * 1000)
