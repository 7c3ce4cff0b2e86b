"""Alembic environment for the Chatham server.

The server runs migrations itself (`chatham.server._private.storage.migrate`), passing
an open connection in `config.attributes["connection"]`. Run by hand
(`alembic -c server/alembic.ini upgrade head`), the database URL comes from
CHATHAM_SERVER_DATABASE_URL, or the SQLite file under CHATHAM_SERVER_DATA_DIR.

On PostgreSQL every migration run holds a transaction-scoped advisory lock, so
several server processes starting at once apply each migration exactly once.
On SQLite the migration transaction is BEGIN IMMEDIATE, which does the same.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import sqlalchemy as sa
from alembic import context
from chatham.server._private.storage.schema import metadata
from sqlalchemy.engine import Connection

# An arbitrary constant naming "the Chatham schema migration" among advisory locks.
MIGRATION_LOCK_ID = 0x43484154  # "CHAT"

config = context.config
target_metadata = metadata


def do_run_migrations(connection: Connection) -> None:
    # SQLite and PostgreSQL both have transactional DDL: a failed migration leaves nothing behind.
    context.configure(
        connection=connection, target_metadata=target_metadata, transactional_ddl=True
    )
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            connection.execute(sa.text(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK_ID})"))
        context.run_migrations()


async def _run_standalone() -> None:
    from chatham.server._private.settings import Settings
    from chatham.server._private.storage.db import Database

    settings = Settings(
        data_dir=Path(os.environ.get("CHATHAM_SERVER_DATA_DIR", ".")),
        database_url=os.environ.get("CHATHAM_SERVER_DATABASE_URL") or None,
    )
    db = Database(settings)
    try:
        await db.migrate_with(do_run_migrations)
    finally:
        await db.dispose()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        do_run_migrations(connection)
    else:
        asyncio.run(_run_standalone())


if context.is_offline_mode():
    raise SystemExit("offline (SQL script) migrations are not supported")
run_migrations_online()
