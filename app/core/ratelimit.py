"""Token buckets (per tenant, per login email) in Redis, refilled continuously; one atomic Lua script per request."""

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import redis
import structlog

from app.core.config import get_settings
from app.core.redis import get_redis

log = structlog.get_logger(__name__)

# KEYS[1] bucket hash; ARGV: rate per second, burst, now (seconds, float), cost.
# Returns {allowed (0/1), tokens left (floor), seconds until one token is available (ceil)}.
TOKEN_BUCKET = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local cost = tonumber(ARGV[4])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1]) or burst
local ts = tonumber(state[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - ts) * rate)
local allowed = 0
local wait = 0
if tokens >= cost then
  tokens = tokens - cost
  allowed = 1
else
  wait = (cost - tokens) / rate
end
redis.call('HSET', KEYS[1], 'tokens', tokens, 'ts', now)
redis.call('EXPIRE', KEYS[1], math.ceil(burst / rate) + 1)
return {allowed, math.floor(tokens), tostring(wait)}
"""


@dataclass(frozen=True)
class RateDecision:
    allowed: bool
    remaining: int
    retry_after_seconds: int


class RateLimiter:
    """`clock` gives seconds since the epoch; every process sharing a bucket must read the same time (tests
    pass their own to refill a bucket without waiting)."""

    def __init__(self, client: redis.Redis, rate_per_second: float | None = None, burst: int | None = None,
                 clock: Callable[[], float] = time.time):
        settings = get_settings()
        self.rate = rate_per_second or settings.rate_limit_per_second
        self.burst = burst or settings.rate_limit_burst
        self._clock = clock
        self._script = client.register_script(TOKEN_BUCKET)

    def hit(self, key: str, cost: int = 1) -> RateDecision:
        allowed, remaining, wait = self._script(keys=[f"ratelimit:{key}"],
                                                args=[self.rate, self.burst, self._clock(), cost])
        return RateDecision(bool(allowed), int(remaining), max(1, math.ceil(float(wait))) if not allowed else 0)


def charge(limiter: RateLimiter, key: str) -> RateDecision | None:
    """The limiter's decision, or None when Redis cannot be reached. Limits fail open: with Redis away
    nothing can be counted, and refusing every request (or every login) would turn a broker outage into a
    full outage; accepted runs wait in the outbox until Redis is back."""
    try:
        return limiter.hit(key)
    except redis.RedisError:
        log.warning("rate_limit_unavailable", limit=key.partition(":")[0], exc_info=True)
        return None


@lru_cache
def tenant_limiter() -> RateLimiter:
    return RateLimiter(get_redis())


@lru_cache
def login_limiter() -> RateLimiter:
    """Password guessing: ten attempts per email, refilled at one every six seconds."""
    return RateLimiter(get_redis(), rate_per_second=1 / 6, burst=10)
