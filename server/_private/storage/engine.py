"""Opening SQLite: the file, its pragmas, who emits BEGIN.

SQLite is opened in WAL mode with `synchronous=FULL`: a transaction that has
committed survives a power loss, not only a process kill. `secure_delete=ON`
overwrites deleted content (retracted ciphertext) with zeros. Writes use
`BEGIN IMMEDIATE`, which takes SQLite's write lock at the start of the
transaction, so a writer never reads a head that another process then changes
underneath it.
"""

from __future__ import annotations

import os
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event

from .writer import MAX_BATCH

READ_THREADS = 4
STATEMENT_CACHE = 4 * MAX_BATCH + 64
"""Prepared statements each SQLite connection keeps (the stdlib driver keeps 128).

Entry posts stored together run up to four statements per batch size, one SQL
text per size (`statements.per_size`); this holds every size of all four, so a
size that comes back is not prepared again (re-preparing costs throughput under
load; figures in docs/performance.md). The cache is least-recently-used, so
statements run once (a savepoint's numbered name) go first. The price is memory,
bounded by `MAX_BATCH`; the values bound to them are bounded by
`writer.RECYCLE_BYTES`."""


def make_sqlite_engine(url: str) -> sa.Engine:
    """A synchronous engine on the SQLite file `url` names, created owner-only if missing."""
    path = url.split(":///", 1)[1] if ":///" in url else ""
    if path and path != ":memory:":
        directory = os.path.dirname(path) or "."
        os.makedirs(directory, mode=0o700, exist_ok=True)
        # Create the file owner-only; SQLite gives its -wal and -shm files the same mode.
        os.close(os.open(path, os.O_CREAT | os.O_RDWR, 0o600))
    engine = sa.create_engine(
        url,
        connect_args={
            "timeout": 30,
            "check_same_thread": False,
            "cached_statements": STATEMENT_CACHE,
        },
        pool_size=READ_THREADS + 2,
        max_overflow=4,
        # Every transaction is ended explicitly; returning a connection needs no ROLLBACK.
        pool_reset_on_return=None,
        # An error names its statement, never the values bound to it (ids, hashes,
        # ciphertext): error messages reach logs and the CLI's hints.
        hide_parameters=True,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control away from the driver so BEGIN is ours to emit.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in (
            "PRAGMA journal_mode=WAL",
            # FULL: the WAL is fsynced at every commit, so a commit survives power loss.
            "PRAGMA synchronous=FULL",
            "PRAGMA secure_delete=ON",
            "PRAGMA foreign_keys=ON",
            "PRAGMA busy_timeout=30000",
        ):
            cursor.execute(pragma)
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        immediate = conn.get_execution_options().get("chatham_write", False)
        # On the driver connection directly: SQLAlchemy's statement path would cost more than
        # the BEGIN itself, once per transaction.
        dbapi_conn = conn.connection.dbapi_connection
        assert dbapi_conn is not None
        dbapi_conn.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine
