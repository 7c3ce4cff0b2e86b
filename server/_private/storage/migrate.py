"""Apply the Alembic migrations shipped in `server/migrations` to a database.

The server calls `upgrade` on start (unless told not to) and `chatham-server
migrate` calls it from the command line; both share the engine's connection,
so there is one way to open the database.
"""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from .db import Database

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    return cfg


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


async def upgrade(db: Database) -> None:
    """Bring the schema to the newest revision; safe to run from several processes at once."""

    def _run(connection: sa.Connection) -> None:
        cfg = alembic_config()
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "head")

    await db.migrate_with(_run)


async def current_revision(db: Database) -> str | None:
    def _current(connection: sa.Connection) -> str | None:
        return MigrationContext.configure(connection).get_current_revision()

    return await db.read(_current)
