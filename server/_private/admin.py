"""Operator actions behind `chatham-server issue-token` and `chatham-server scrub`."""

from __future__ import annotations

import sqlalchemy as sa

from .auth import hash_token, new_token
from .settings import Settings
from .storage import migrate
from .storage import schema as t
from .storage.db import Database


async def issue_registration_token(settings: Settings, *, uses: int, expires_in: int) -> str:
    """A fresh registration token; only its hash is stored, so this is the one chance to see it."""
    db = Database(settings)
    try:
        await migrate.upgrade(db)
        token = new_token()
        row = {
            "token_hash": hash_token(token),
            "uses_left": uses,
            "expires": settings.now() + expires_in,
        }
        await db.write(lambda conn: conn.execute(sa.insert(t.registration_tokens).values(**row)))
        return token
    finally:
        await db.dispose()


async def scrub_now(settings: Settings) -> None:
    """Rewrite storage so retracted ciphertext is gone from the live database files.

    SQLite: VACUUM rebuilds the file from live rows, then a TRUNCATE checkpoint
    empties the WAL. PostgreSQL: VACUUM FULL rewrites the tables (it takes an
    exclusive lock; run it in a quiet hour).
    """
    db = Database(settings)
    try:
        if db.is_sqlite:
            await db.autocommit("VACUUM")
            await db.autocommit("PRAGMA wal_checkpoint(TRUNCATE)")
        else:
            await db.autocommit("VACUUM FULL entries, attachment_chunks")
    finally:
        await db.dispose()
