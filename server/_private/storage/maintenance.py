"""Statements outside the request path: scrubbing freed ciphertext, the health ping, and
the storage each table takes (for the metrics)."""

from __future__ import annotations

import sqlalchemy as sa

from . import schema as t
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


def table_sizes(conn: sa.Connection) -> dict[str, tuple[int, int]]:
    """Each table's (rows, bytes on disk with its indexes); bytes 0 where SQLite was built
    without the `dbstat` table."""
    rows = {
        table.name: int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar() or 0)
        for table in t.metadata.sorted_tables
    }
    sizes: dict[str, int] = dict.fromkeys(rows, 0)
    if conn.dialect.name == "postgresql":
        found = conn.execute(
            sa.text(
                "SELECT relname, pg_total_relation_size(oid) FROM pg_class "
                "WHERE relkind = 'r' AND relname = ANY(:names)"
            ),
            {"names": list(rows)},
        ).all()
        sizes.update({name: int(size) for name, size in found})
    else:
        try:
            found = conn.execute(
                sa.text(
                    "SELECT m.tbl_name, SUM(d.pgsize) FROM dbstat AS d "
                    "JOIN sqlite_master AS m ON m.name = d.name GROUP BY m.tbl_name"
                )
            ).all()
        except sa.exc.OperationalError:
            found = []
        sizes.update({name: int(size) for name, size in found if name in sizes})
    return {name: (rows[name], sizes[name]) for name in rows}
