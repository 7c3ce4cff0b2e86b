"""Rate limits: 429 with Retry-After when a key spends its allowance.

Two kinds of bucket (docs/operations.md, *Limits and abuse*):

- **Per device and per group** (`("device", id)`, `("join", group id)`): shared by every
  process on one database whenever there can be more than one (PostgreSQL, or SQLite
  with several workers), in the `rate_buckets` table. A process takes tokens from the
  shared bucket in small leases (`LEASE_SHARE` of a minute's allowance) and spends them
  locally, so the database sees one short write per lease, not one per request; a
  leased token is spent in the database when taken, so all processes together never
  exceed the limit (a lease left unused only makes the limit stricter for a minute).
- **Per client address** (`("auth", address)`): always in this process's memory. An
  address is never written anywhere, not even hashed (a hash of an IPv4 address is
  reversed by trying all four billion), so with N processes a client may log in up to
  N times the limit; the proxy in front can limit by address instead.

A single process on SQLite keeps every bucket in memory: there is no one to share with.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable

from .errors import ErrorCode, ServiceError
from .storage import ratelimits
from .storage.db import Database

LEASE_SHARE = 0.02
"""A lease is this share of a minute's allowance (at least one token)."""
LEASE_LIFE = 30.0
"""Seconds a process keeps unused leased tokens before dropping them."""


def _limited(retry: int) -> ServiceError:
    return ServiceError(ErrorCode.RATE_LIMITED, "too many requests; slow down", retry_after=retry)


class RateLimiter:
    """In-memory token buckets holding up to `per_minute` tokens, refilled continuously."""

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
            raise _limited(retry)
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


class Limits:
    """Every rate limit of one process: shared through `db` when given, else in memory."""

    def __init__(self, clock: Callable[[], float], db: Database | None) -> None:
        self._clock = clock
        self._db = db
        self.memory = RateLimiter(clock)
        self._leases: dict[bytes, tuple[float, float]] = {}

    @property
    def shared(self) -> bool:
        return self._db is not None

    async def hit(self, key: tuple[str, bytes | str], per_minute: int, cost: float = 1.0) -> None:
        """Spend `cost` tokens of `key`'s bucket, or raise 429 with the seconds to wait."""
        kind, ident = key
        if per_minute <= 0:
            return
        if self._db is None or isinstance(ident, str):  # client addresses stay in memory
            self.memory.hit(key, per_minute, cost)
            return
        bucket = kind.encode() + b":" + ident
        now = self._clock()
        tokens, leased = self._leases.get(bucket, (0.0, now))
        if now - leased > LEASE_LIFE:
            tokens = 0.0
        if tokens >= cost:
            self._leases[bucket] = (tokens - cost, leased)
            return
        need = cost - tokens
        want = max(need, math.ceil(per_minute * LEASE_SHARE))
        granted, retry = await self._db.write(
            lambda conn: ratelimits.take(conn, bucket, per_minute, want, need, now)
        )
        if granted < need:
            raise _limited(retry)
        if len(self._leases) > 100_000:
            self._leases.clear()
        self._leases[bucket] = (tokens + granted - cost, now)
