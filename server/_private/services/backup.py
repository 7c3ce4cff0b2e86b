"""`chatham-server backup` and `restore`: a consistent copy of the database, and putting one back.

The rules: a backup is written beside its destination and renamed into place only
once whole and checked (mode 0600: it holds everything the database holds but
keys); a restore goes only into a database that holds no group, and only from
a backup at this version's schema revision. See `storage/backup.py` for how.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from pathlib import Path

from ..errors import Refused
from ..settings import Settings
from ..storage import backup as store
from ..storage import migrate
from .admin import opened


@dataclass(frozen=True)
class Copied:
    """What a backup or restore copied: rows per table, and the backup file's size."""

    counts: dict[str, int]
    size: int


def _count_rows(path: Path) -> dict[str, int]:
    """Rows per lasting table in a backup file (for the report)."""
    settings = Settings(database_url=f"sqlite:///{path}")
    return store.count_rows(settings.sqlalchemy_url)


def backup(settings: Settings, dest: Path) -> Copied:
    """Write an online, consistent copy of the server's database to the new file `dest`."""
    if dest.exists():
        raise Refused(f"{dest} already exists", "name a new file; a backup never overwrites")
    if not dest.parent.is_dir():
        raise Refused(f"no directory {dest.parent}", "create it first (mode 0700)")
    partial = dest.with_name(f".{dest.name}.partial")
    store.remove_partial(partial)
    os.close(os.open(partial, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    try:
        asyncio.run(_backup(settings, partial))
        os.replace(partial, dest)
    except BaseException:
        store.remove_partial(partial)
        raise
    return Copied(_count_rows(dest), dest.stat().st_size)


async def _backup(settings: Settings, partial: Path) -> None:
    async with opened(settings, upgrade=False) as db:
        revision = await migrate.current_revision(db)
        if revision != migrate.head_revision():
            raise Refused(
                f"the database is at schema revision {revision}, this server expects "
                f"{migrate.head_revision()}",
                "run `chatham-server migrate` with this version first, or back up with the "
                "version that serves it",
            )
        if db.is_sqlite:
            store.copy_sqlite(store.sqlite_path(db.url), partial)
        else:
            async with opened(Settings(database_url=f"sqlite:///{partial}")):
                pass  # the copy's schema, at this revision, before the rows go in
            await db.snapshot(lambda conn: store.dump_into(conn, partial))


def restore(settings: Settings, source: Path) -> Copied:
    """Put the backup `source` into the server's database, which must hold no group."""
    if not source.is_file():
        raise Refused(f"no backup file {source}", "name the file `backup` wrote")
    try:
        revision = store.backup_revision(source)
    except store.NotABackup as e:
        raise Refused(f"{source} cannot be restored: {e}", "name a file `backup` wrote") from None
    if revision != migrate.head_revision():
        raise Refused(
            f"the backup is at schema revision {revision}, this version restores "
            f"{migrate.head_revision()}",
            "restore it with the version that wrote it, then upgrade",
        )
    counts = asyncio.run(_restore(settings, source))
    return Copied(counts, source.stat().st_size)


async def _restore(settings: Settings, source: Path) -> dict[str, int]:
    async with opened(settings) as db:
        if not await db.read(store.target_is_empty):
            raise Refused(
                "the database already holds groups; a restore never merges or overwrites",
                "stop the server and restore into an empty database (a new --data-dir, or a "
                "new PostgreSQL database), then point the server at it",
            )
        return await db.write(lambda conn: store.restore_from(conn, source))
