"""In-memory token buckets: 429 with Retry-After when a key spends its allowance.

Buckets live only in this process's memory and are never written anywhere, so
keying the login buckets by client address keeps no IP address at rest. With
several processes each enforces its own limits (docs/operations.md).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable

from .errors import ErrorCode, ServiceError


class RateLimiter:
    """Token buckets holding up to `per_minute` tokens, refilled continuously."""

    def __init__(self, clock: Callable[[], float], max_keys: int = 100_000) -> None:
        self._clock = clock
        self._buckets: dict[Hashable, tuple[float, float]] = {}
        self._max_keys = max_keys

    def hit(self, key: Hashable, per_minute: int, cost: float = 1.0) -> None:
        """Spend `cost` tokens for `key`, or raise 429."""
        if per_minute <= 0:
            return
        now = self._clock()
        rate = per_minute / 60.0
        tokens, last = self._buckets.get(key, (float(per_minute), now))
        tokens = min(float(per_minute), tokens + (now - last) * rate)
        if tokens < cost:
            retry = max(1, math.ceil((cost - tokens) / rate))
            self._buckets[key] = (tokens, now)
            raise ServiceError(
                ErrorCode.RATE_LIMITED, "too many requests; slow down", retry_after=retry
            )
        if len(self._buckets) >= self._max_keys and key not in self._buckets:
            self._evict(now)
        self._buckets[key] = (tokens - cost, now)

    def _evict(self, now: float) -> None:
        # Drop buckets idle for a minute (they would be full again anyway), then the oldest.
        stale = [k for k, (_, last) in self._buckets.items() if now - last > 60]
        for k in stale:
            del self._buckets[k]
        while len(self._buckets) >= self._max_keys:
            del self._buckets[next(iter(self._buckets))]
