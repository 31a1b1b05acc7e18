from functools import lru_cache

import redis

from app.core.embedded import resolved_urls


@lru_cache
def get_redis() -> redis.Redis:
    return redis.Redis.from_url(resolved_urls().redis_url, socket_timeout=5, socket_connect_timeout=5)
