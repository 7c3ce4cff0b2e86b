"""Storage: migrations equal the schema, durable SQLite, nothing identifying at rest."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from chatham.server._private.settings import normalize_database_url
from chatham.server._private.storage import schema
from chatham.server._private.storage.db import Database
from chatham.server._private.storage.migrate import head_revision, upgrade
from litestar.testing import TestClient

from tests.support.server_dbutil import rows, run_read, scalar_rows
from tests.support.server_harness import World


def test_migrations_create_exactly_the_schema(server_settings: Callable[..., Any]) -> None:
    settings = server_settings()

    async def run() -> list[Any]:
        db = Database(settings)
        try:
            await upgrade(db)
            await upgrade(db)  # idempotent
            diff: list[Any] = await db.read(
                lambda c: compare_metadata(MigrationContext.configure(c), schema.metadata)
            )
            return diff
        finally:
            await db.dispose()

    assert asyncio.run(run()) == []
    assert head_revision() == "0005_group_quota"


def test_sqlite_is_durable_and_scrubbing(tmp_path: Any) -> None:
    from chatham.server import Settings

    pragmas = ("journal_mode", "synchronous", "secure_delete", "foreign_keys")
    values = run_read(
        Settings(data_dir=tmp_path),
        lambda conn: [conn.execute(sa.text(f"PRAGMA {p}")).scalar() for p in pragmas],
    )
    assert values == ["wal", 2, 1, 1]  # synchronous 2 = FULL


def test_database_urls() -> None:
    from pathlib import Path

    d = Path("/d")
    assert normalize_database_url(None, d) == "sqlite+pysqlite:////d/chatham.sqlite3"
    assert normalize_database_url("postgresql://u@h/db", d) == "postgresql+asyncpg://u@h/db"
    assert normalize_database_url("postgres://u@h/db", d) == "postgresql+asyncpg://u@h/db"
    assert normalize_database_url("sqlite:///x.db", d) == "sqlite+pysqlite:///x.db"


def test_no_addresses_and_blurred_times_at_rest(
    make_client: Callable[..., TestClient[Any]], server_settings: Callable[..., Any]
) -> None:
    world = World(make_client(time_bucket=3600))
    alice, bob = world.person(), world.person()
    group = world.create_group(alice)
    invite = group.invite(alice)
    world.client.post(
        f"{group.path}/join-requests",
        json={
            "request": __import__("base64").b64encode(invite.request(bob.card, created=0)).decode()
        },
    )
    group.post_entry(alice)
    settings = server_settings()
    for table in (schema.groups, schema.join_requests):
        for created in scalar_rows(settings, sa.select(table.c.created)):
            assert created % 3600 == 0
    # No column anywhere holds the client's address or user agent.
    for table in schema.metadata.sorted_tables:
        for row in rows(settings, sa.select(table)):
            for value in row:
                blob = value if isinstance(value, bytes) else str(value).encode()
                for needle in (b"127.0.0.1", b"testclient", b"testserver"):
                    assert needle not in blob, (table.name, needle)
