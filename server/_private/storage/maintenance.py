"""Statements outside the request path: scrubbing freed ciphertext, the health ping."""

from __future__ import annotations

import sqlalchemy as sa

from .db import Database


async def scrub_freed(db: Database) -> None:
    """After a retraction or deletion: make the freed ciphertext unrecoverable from the files.

    SQLite's secure_delete has zeroed the freed cells; a TRUNCATE checkpoint then
    copies the zeroed pages into the main file and empties the WAL, which still held
    the old page images. PostgreSQL keeps dead tuples until VACUUM, which makes their
    space reusable (it does not overwrite it: `scrub_all` does).
    """
    if db.is_sqlite:
        await db.autocommit("PRAGMA wal_checkpoint(TRUNCATE)")
    else:
        await db.autocommit("VACUUM entries, attachment_chunks")


async def scrub_all(db: Database) -> None:
    """Rewrite storage so retracted ciphertext is gone from the live database files.

    SQLite: VACUUM rebuilds the file from live rows, then a TRUNCATE checkpoint
    empties the WAL. PostgreSQL: VACUUM FULL rewrites the tables (it takes an
    exclusive lock; run it in a quiet hour).
    """
    if db.is_sqlite:
        await db.autocommit("VACUUM")
        await db.autocommit("PRAGMA wal_checkpoint(TRUNCATE)")
    else:
        await db.autocommit("VACUUM FULL entries, attachment_chunks")


def ping(conn: sa.Connection) -> None:
    """A statement that only the reachable database answers."""
    conn.execute(sa.text("SELECT 1")).scalar()
