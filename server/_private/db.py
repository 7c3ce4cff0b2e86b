"""Database access: SQLAlchemy Core, one code path for SQLite and PostgreSQL.

Every query the server makes is written once, as a plain function of a
SQLAlchemy `Connection` (`def work(conn) -> T`), and run in a transaction by
`Database.read`, `Database.write` or `Database.batch`:

- **PostgreSQL** (asyncpg): on the async engine through `run_sync`, so any
  number of transactions run concurrently on the event loop. READ COMMITTED;
  writers that must see the current log head take the group row's lock with
  `UPDATE groups … RETURNING` or `SELECT … FOR UPDATE`; the unique
  constraints decide every race between processes.
- **SQLite** (the stdlib driver): whole transactions run in threads — reads
  in a small pool, writes in one writer thread. Measured here, a statement
  through SQLAlchemy's async adapter (aiosqlite) costs ~190 µs of event-loop
  time and the same statement run synchronously ~22 µs; running the whole
  transaction in a thread costs one hand-off instead of one per statement.
  (This is why the default engine is not aiosqlite, as the brief suggested;
  aiosqlite is itself the stdlib driver in a thread, once per statement.)

SQLite is opened in WAL mode with `synchronous=FULL`: a transaction that has
committed survives a power loss, not only a process kill. `secure_delete=ON`
overwrites deleted content (retracted ciphertext) with zeros. Writes use
`BEGIN IMMEDIATE`, which takes SQLite's write lock at the start of the
transaction, so a writer never reads a head that another process then changes
underneath it.

**Group commit** (SQLite): with `synchronous=FULL` every commit costs an
fsync, which caps one writer at a few hundred commits a second. The writer
thread therefore runs the write jobs that are waiting together in one
transaction, each inside its own SAVEPOINT: a job that fails is rolled back
alone, and every job is answered only after the COMMIT that made it durable.
Nothing is acknowledged early; the fsync is shared. On PostgreSQL, which
groups concurrent commits itself, each job is its own transaction.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import threading
from collections.abc import Callable
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from .settings import Settings

T = TypeVar("T")
Work = Callable[[sa.Connection], T]

MAX_BATCH = 128
READ_THREADS = 4


class Database:
    """Runs `work(conn)` functions in transactions on SQLite or PostgreSQL."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.url = settings.sqlalchemy_url
        self.is_sqlite = self.url.startswith("sqlite")
        self.async_engine: AsyncEngine | None = None
        self.sync_engine: sa.Engine | None = None
        if self.is_sqlite:
            self.sync_engine = _make_sqlite_engine(self.url)
            self._reader = concurrent.futures.ThreadPoolExecutor(
                READ_THREADS, thread_name_prefix="chatham-db-read"
            )
            self._writer = concurrent.futures.ThreadPoolExecutor(
                1, thread_name_prefix="chatham-db-write"
            )
            self._queue: list[tuple[Work[Any], asyncio.Future[Any], bool]] = []
            self.on_failed_commit: Callable[[], None] | None = None
            self._draining: asyncio.Task[None] | None = None
            self._thread_conn = threading.local()
        else:
            self.async_engine = create_async_engine(
                self.url, pool_size=10, max_overflow=10, pool_pre_ping=True
            )

    @property
    def dialect(self) -> str:
        return "sqlite" if self.is_sqlite else "postgresql"

    # --- reads ---------------------------------------------------------------------------------

    async def read(self, work: Work[T]) -> T:
        """Run `work` in a read transaction (one consistent snapshot on SQLite)."""
        if self.async_engine is not None:
            async with self.async_engine.connect() as conn, conn.begin():
                return await conn.run_sync(work)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._reader, self._read_sync, work)

    def _read_sync(self, work: Work[T]) -> T:
        assert self.sync_engine is not None
        with self.sync_engine.connect() as conn, conn.begin():
            return work(conn)

    # --- writes --------------------------------------------------------------------------------

    async def write(self, work: Work[T]) -> T:
        """Run `work` in a write transaction; it is committed when this returns."""
        return await self.batch(work)

    async def batch(self, work: Work[T], *, savepoint: bool = True) -> T:
        """Like `write`, but on SQLite the commit (and its fsync) is shared with waiting jobs.

        `work` runs inside a savepoint of its own: it must not commit, and what it
        raises is raised here after its savepoint was rolled back. It returns only
        once its writes are committed. `savepoint=False` is for jobs that do all
        their reads and checks first and whose only write that can fail is their
        first (SQLite undoes a failed statement by itself): it saves two round trips.
        """
        if self.async_engine is not None:
            async with self.async_engine.connect() as conn, conn.begin():
                return await conn.run_sync(work)
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._queue.append((work, future, savepoint))
        if self._draining is None or self._draining.done():
            self._draining = asyncio.ensure_future(self._drain())
        return await future

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        while self._queue:
            jobs = self._queue[:MAX_BATCH]
            del self._queue[:MAX_BATCH]
            try:
                outcomes = await loop.run_in_executor(self._writer, self._run_batch, jobs)
            except Exception as e:  # the transaction itself failed: none of these happened
                if self.on_failed_commit is not None:
                    self.on_failed_commit()
                for _, future, _ in jobs:
                    if not future.done():
                        future.set_exception(e)
                continue
            for (_, future, _), (ok, value) in zip(jobs, outcomes, strict=True):
                if future.done():  # the caller went away; its job still ran
                    continue
                if ok:
                    future.set_result(value)
                else:
                    future.set_exception(value)

    def _writer_connection(self) -> sa.Connection:
        conn: sa.Connection | None = getattr(self._thread_conn, "conn", None)
        if conn is None or conn.closed or conn.invalidated:
            assert self.sync_engine is not None
            conn = self.sync_engine.connect().execution_options(chatham_write=True)
            self._thread_conn.conn = conn
        return conn

    def _run_batch(
        self, jobs: list[tuple[Work[Any], asyncio.Future[Any], bool]]
    ) -> list[tuple[bool, Any]]:
        conn = self._writer_connection()
        outcomes: list[tuple[bool, Any]] = []
        try:
            with conn.begin():
                for work, _, savepoint in jobs:
                    try:
                        if savepoint:
                            with conn.begin_nested():
                                outcomes.append((True, work(conn)))
                        else:
                            outcomes.append((True, work(conn)))
                    except Exception as e:
                        outcomes.append((False, e))
        except Exception:
            conn.invalidate()
            self._thread_conn.conn = None
            raise
        return outcomes

    # --- maintenance ---------------------------------------------------------------------------

    async def autocommit(self, statement: str) -> None:
        """Run one statement outside any transaction (VACUUM, checkpoints)."""
        if self.async_engine is not None:
            async with self.async_engine.connect() as aconn:
                aconn = await aconn.execution_options(isolation_level="AUTOCOMMIT")
                await aconn.exec_driver_sql(statement)
            return

        def run() -> None:
            assert self.sync_engine is not None
            # The raw driver connection is in autocommit mode (we emit BEGIN ourselves).
            raw = self.sync_engine.raw_connection()
            try:
                cursor = raw.cursor()
                cursor.execute(statement)
                cursor.fetchall()
                cursor.close()
            finally:
                raw.close()

        await asyncio.get_running_loop().run_in_executor(self._writer, run)

    async def migrate_with(self, work: Callable[[sa.Connection], T]) -> T:
        """Run Alembic (`work`) on a connection that begins and commits its own transaction."""
        if self.async_engine is not None:
            async with self.async_engine.connect() as aconn:
                result = await aconn.run_sync(work)
                await aconn.commit()
                return result

        def run() -> T:
            assert self.sync_engine is not None
            with self.sync_engine.connect() as conn:
                conn = conn.execution_options(chatham_write=True)
                result = work(conn)
                conn.commit()
                return result

        return await asyncio.get_running_loop().run_in_executor(self._writer, run)

    async def dispose(self) -> None:
        if self.async_engine is not None:
            await self.async_engine.dispose()
            return
        loop = asyncio.get_running_loop()

        def close_writer() -> None:
            conn = getattr(self._thread_conn, "conn", None)
            if conn is not None:
                conn.close()
                self._thread_conn.conn = None

        await loop.run_in_executor(self._writer, close_writer)
        self._writer.shutdown(wait=True)
        self._reader.shutdown(wait=True)
        assert self.sync_engine is not None
        self.sync_engine.dispose()


def _make_sqlite_engine(url: str) -> sa.Engine:
    sync_url = url
    path = sync_url.split(":///", 1)[1] if ":///" in sync_url else ""
    if path and path != ":memory:":
        directory = os.path.dirname(path) or "."
        os.makedirs(directory, mode=0o700, exist_ok=True)
        # Create the file owner-only; SQLite gives its -wal and -shm files the same mode.
        os.close(os.open(path, os.O_CREAT | os.O_RDWR, 0o600))
    engine = sa.create_engine(
        sync_url,
        connect_args={"timeout": 30, "check_same_thread": False},
        pool_size=READ_THREADS + 2,
        max_overflow=4,
        # Every transaction is ended explicitly; returning a connection needs no ROLLBACK.
        pool_reset_on_return=None,
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
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine
