"""Backups: an online, consistent copy of the lasting tables in one SQLite file, and back.

A backup is a SQLite database at the server's schema revision, whichever engine
the server runs on, so one `restore` reads both and a backup moves a server
between SQLite and PostgreSQL:

- from **SQLite**, SQLite's online backup API copies the live file page by page
  inside one read transaction (a consistent snapshot; writers are not blocked);
- from **PostgreSQL**, one `REPEATABLE READ READ ONLY` transaction reads every
  table (one snapshot for all of them), streamed in batches into the file.

Login challenges and bearer tokens are not kept (`EPHEMERAL`): they are short-lived, and
members' clients log in again. Restoring writes every table of the backup into
an empty database in one transaction, the server's identity included, so the
members' clients recognise the restored server.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

import sqlalchemy as sa

from . import schema as t

EPHEMERAL: Final = frozenset({"auth_challenges", "tokens", "rate_buckets"})
"""Tables a backup leaves empty: nothing in them outlives a login or a minute."""
BATCH: Final = 256
"""Rows copied per statement (attachment chunks are up to 65 KiB each)."""


class NotABackup(ValueError):
    """The file is not a Chatham backup this version can restore (the message says why)."""


def lasting_tables() -> list[sa.Table]:
    """Every table a backup holds, parents before children."""
    return [table for table in t.metadata.sorted_tables if table.name not in EPHEMERAL]


def sqlite_path(url: str) -> Path:
    """The file a `sqlite+pysqlite:///path` URL names."""
    return Path(url.split(":///", 1)[1])


@contextlib.contextmanager
def _sqlite(path: Path, *, readonly: bool = False) -> Iterator[sqlite3.Connection]:
    if readonly:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)
    else:
        conn = sqlite3.connect(path, isolation_level=None)
    try:
        yield conn
    finally:
        conn.close()


def _finish(dest: Path) -> None:
    """Make the backup one self-contained file (no WAL) and check it."""
    with _sqlite(dest) as conn:
        conn.execute("PRAGMA journal_mode=DELETE")
        problems = conn.execute("PRAGMA integrity_check").fetchall()
        if problems != [("ok",)]:
            raise RuntimeError(f"the copy failed its integrity check: {problems[:3]}")


def copy_sqlite(source: Path, dest: Path) -> None:
    """SQLite's online backup API: `source` as of one moment, into the new file `dest`."""
    with _sqlite(source) as src, _sqlite(dest) as dst:  # the live file: WAL needs read-write
        src.backup(dst)  # all pages in one step: one read transaction, one snapshot
        dst.execute("PRAGMA secure_delete=ON")
        dst.execute("BEGIN")
        for name in sorted(EPHEMERAL):
            dst.execute(f'DELETE FROM "{name}"')  # noqa: S608 - our own table names
        dst.execute("COMMIT")
        dst.execute("VACUUM")
    _finish(dest)


def _insert_sql(table: sa.Table) -> str:
    names = [c.name for c in table.columns]
    columns = ", ".join(f'"{n}"' for n in names)
    marks = ", ".join("?" for _ in names)
    return f'INSERT INTO "{table.name}" ({columns}) VALUES ({marks})'  # noqa: S608


def dump_into(conn: sa.Connection, dest: Path) -> dict[str, int]:
    """Copy every lasting table that `conn` sees into `dest` (schema already made there).

    `conn` is in a REPEATABLE READ transaction, so all tables come from one snapshot.
    """
    counts: dict[str, int] = {}
    with _sqlite(dest) as dst:
        dst.execute("BEGIN")
        for table in lasting_tables():
            columns = list(table.columns)
            result = conn.execution_options(yield_per=BATCH).execute(sa.select(*columns))
            n = 0
            for rows in result.partitions():
                dst.executemany(_insert_sql(table), [_plain(row) for row in rows])
                n += len(rows)
            counts[table.name] = n
        dst.execute("COMMIT")
    _finish(dest)
    return counts


def _plain(row: Any) -> tuple[Any, ...]:
    return tuple(bytes(v) if isinstance(v, memoryview) else v for v in row)


def backup_revision(source: Path) -> str:
    """The schema revision of the backup file `source`, after checking it is whole."""
    try:
        with _sqlite(source, readonly=True) as conn:
            if conn.execute("PRAGMA integrity_check").fetchall() != [("ok",)]:
                raise NotABackup("the file is damaged (its integrity check fails)")
            names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
            if {"alembic_version", *(table.name for table in lasting_tables())} - names:
                raise NotABackup("not a Chatham server backup (tables are missing)")
            row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.DatabaseError as e:
        raise NotABackup(f"not a SQLite database ({e})") from None
    if row is None:
        raise NotABackup("not a Chatham server backup (no schema revision)")
    return str(row[0])


def target_is_empty(conn: sa.Connection) -> bool:
    """No group and no log op: nothing a restore would overwrite."""
    for table in (t.groups, t.log_ops):
        if conn.execute(sa.select(sa.func.count()).select_from(table)).scalar():
            return False
    return True


def restore_from(conn: sa.Connection, source: Path) -> dict[str, int]:
    """Replace every table's rows with the backup's, in `conn`'s one transaction."""
    counts: dict[str, int] = {}
    for table in reversed(t.metadata.sorted_tables):
        conn.execute(sa.delete(table))
    with _sqlite(source, readonly=True) as src:
        src.execute("BEGIN")  # one snapshot of the file
        for table in lasting_tables():
            names = [c.name for c in table.columns]
            columns = ", ".join(f'"{n}"' for n in names)
            cursor = src.execute(f'SELECT {columns} FROM "{table.name}"')  # noqa: S608
            n = 0
            while rows := cursor.fetchmany(BATCH):
                conn.execute(sa.insert(table), [dict(zip(names, r, strict=True)) for r in rows])
                n += len(rows)
            counts[table.name] = n
        src.execute("COMMIT")
    return counts


def remove_partial(path: Path) -> None:
    """Delete what a failed backup left (and SQLite's side files)."""
    for p in (path, Path(f"{path}-journal"), Path(f"{path}-wal"), Path(f"{path}-shm")):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(p)


def count_rows(sqlite_url: str) -> dict[str, int]:
    """Rows per lasting table in the SQLite file `sqlite_url` names."""
    with _sqlite(sqlite_path(sqlite_url), readonly=True) as conn:
        return {
            table.name: int(conn.execute(f'SELECT count(*) FROM "{table.name}"').fetchone()[0])  # noqa: S608
            for table in lasting_tables()
        }
