"""SQL for the rate-limit buckets every process on one database shares (`ratelimit.Limits`).

A bucket holds up to `per_minute` tokens and refills continuously. A process takes
tokens from it in small leases (`take`), under the row's lock, so that all processes
together never spend more than the bucket allows.
"""

from __future__ import annotations

import math

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from . import schema as t

IDLE: float = 60.0
"""A bucket untouched this long is full again: its row is deleted (`purge_idle`)."""


def take(
    conn: sa.Connection, bucket: bytes, per_minute: int, want: float, need: float, now: float
) -> tuple[float, int]:
    """Take up to `want` tokens from the shared bucket, at least `need` or none.

    Returns (tokens granted, seconds to wait when none were).
    """
    b = t.rate_buckets
    insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    conn.execute(
        insert(b)
        .values(bucket=bucket, tokens=float(per_minute), updated=now)
        .on_conflict_do_nothing(index_elements=["bucket"])
    )
    row = conn.execute(
        sa.select(b.c.tokens, b.c.updated).where(b.c.bucket == bucket).with_for_update()
    ).one()
    rate = per_minute / 60.0
    tokens = min(float(per_minute), row.tokens + max(0.0, now - row.updated) * rate)
    if tokens < need:
        conn.execute(sa.update(b).where(b.c.bucket == bucket).values(tokens=tokens, updated=now))
        return 0.0, max(1, math.ceil((need - tokens) / rate))
    granted = min(want, tokens)
    conn.execute(
        sa.update(b).where(b.c.bucket == bucket).values(tokens=tokens - granted, updated=now)
    )
    return granted, 0


def purge_idle(conn: sa.Connection, now: float) -> None:
    """Delete buckets idle for `IDLE` seconds (they would be full again)."""
    conn.execute(sa.delete(t.rate_buckets).where(t.rate_buckets.c.updated < now - IDLE))
