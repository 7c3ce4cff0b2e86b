"""`Database`: runs `work(conn)` functions in transactions, on SQLite or PostgreSQL.

Every query the server makes is written once, as a plain function of a
SQLAlchemy `Connection` (`def work(conn) -> T`), and run in a transaction by
`Database.read`, `Database.write`, `Database.batch` or `Database.together`:

- **PostgreSQL** (asyncpg): on the async engine through `run_sync`, so any
  number of transactions run concurrently on the event loop, each job its own
  transaction (PostgreSQL groups concurrent commits itself). READ COMMITTED;
  writers that must see the current log head take the group row's lock with
  `UPDATE groups … RETURNING` or `SELECT … FOR UPDATE`; the unique constraints
  decide every race between processes.
- **SQLite** (the stdlib driver, synchronously): writes run in one writer thread
  with group commit (`writer.py`), reads in a small thread pool, and short reads
  on hot paths (`read(..., inline=True)`) on the event loop itself. Not
  SQLAlchemy's async adapter (aiosqlite): it hands every statement to a thread,
  where running the whole transaction in one costs one hand-off
  (docs/performance.md).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import time
from collections.abc import Callable
from typing import TypeVar

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from ..metrics import METRICS
from ..settings import Settings
from .engine import READ_THREADS, make_sqlite_engine
from .writer import CALL, JOB, TOGETHER, Item, Together, WriteFailed, Writer, cause_of

T = TypeVar("T")
C = TypeVar("C")
X = TypeVar("X")
Work = Callable[[sa.Connection], T]


class Database:
    """Runs `work(conn)` functions in transactions on SQLite or PostgreSQL."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.url = settings.sqlalchemy_url
        self.is_sqlite = self.url.startswith("sqlite")
        self.async_engine: AsyncEngine | None = None
        self.sync_engine: sa.Engine | None = None
        self.on_failed_commit: Callable[[], None] | None = None
        """Called when a SQLite transaction failed (the runtime forgets the rosters it cached)."""
        if self.is_sqlite:
            self.sync_engine = make_sqlite_engine(self.url)
            self._reader = concurrent.futures.ThreadPoolExecutor(
                READ_THREADS, thread_name_prefix="chatham-db-read"
            )
            # Only a single server process defers answers: with several, the next BEGIN may
            # wait for another process's transaction.
            self._writer = Writer(
                self.sync_engine, defer=settings.workers == 1, failed=self._failed_commit
            )
            self._inline_conn: sa.Connection | None = None
        else:
            self.async_engine = create_async_engine(
                self.url,
                pool_size=10,
                max_overflow=10,
                pool_pre_ping=True,
                hide_parameters=True,  # as the SQLite engine: values never reach a message
            )

    @property
    def dialect(self) -> str:
        return "sqlite" if self.is_sqlite else "postgresql"

    def _failed_commit(self) -> None:
        if self.on_failed_commit is not None:
            self.on_failed_commit()

    # --- reads ---------------------------------------------------------------------------------

    async def read(self, work: Work[T], *, inline: bool = False) -> T:
        """Run `work` in a read transaction (one consistent snapshot on SQLite).

        `inline=True` is for short reads on hot paths (a few indexed rows, a page of
        modest size, a roster already cached): on SQLite they run on the event loop
        itself, because handing such a read to a thread costs more than the read:
        the stdlib driver releases the GIL at every row it steps, and the thread then
        queues for it behind the event loop (docs/performance.md). Anything that may
        take long (a log replay on a cold cache, a page of megabytes, a cold disk)
        stays in the pool, since a read on the loop holds up every other request.
        """
        started = time.perf_counter()
        try:
            if self.async_engine is not None:
                async with self.async_engine.connect() as conn, conn.begin():
                    return await conn.run_sync(work)
            if inline:
                return self._read_inline(work)
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self._reader, self._read_sync, work)
        finally:
            METRICS.database("read", time.perf_counter() - started)

    async def snapshot(self, work: Work[T]) -> T:
        """Run `work` in a read-only transaction that sees one moment of every table
        (PostgreSQL: REPEATABLE READ; SQLite: any read transaction). For backups."""
        if self.async_engine is not None:
            async with self.async_engine.connect() as aconn:
                aconn = await aconn.execution_options(isolation_level="REPEATABLE READ")
                async with aconn.begin():
                    await aconn.exec_driver_sql("SET TRANSACTION READ ONLY")
                    return await aconn.run_sync(work)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._reader, self._read_sync, work)

    def _read_sync(self, work: Work[T]) -> T:
        assert self.sync_engine is not None
        with self.sync_engine.connect() as conn, conn.begin():
            return work(conn)

    def _read_inline(self, work: Work[T]) -> T:
        # One connection for the event loop's reads: `work` is synchronous, so no two of
        # them ever use it at once.
        conn = self._inline_conn
        if conn is None or conn.closed or conn.invalidated:
            assert self.sync_engine is not None
            conn = self._inline_conn = self.sync_engine.connect()
        with conn.begin():
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
        started = time.perf_counter()
        try:
            if self.async_engine is not None:
                async with self.async_engine.connect() as conn, conn.begin():
                    return await conn.run_sync(work)
            done: T = await self._writer.submit(Item(JOB, work, savepoint))
            return done
        finally:
            METRICS.database("write", time.perf_counter() - started)

    async def together(
        self, work: Together[C, X, T], context: C, item: X, *, savepoint: bool = True
    ) -> T:
        """Like `batch`, for work that can handle many items in one call (entry posts).

        On SQLite, the items of the same `work` and `context` that are waiting for
        the writer together are handed to one call, `work(conn, context, items)`: a
        few statements for all of them instead of a few for each. `work` answers
        each item with its result or the exception it fails with, as it would have
        alone and in this order (an item sees the writes of the items before it),
        and writes only after all its checks, so that an item it fails has written
        nothing. If the call raises, each item runs again alone (`run_together`), so
        that no item fails because of another. On PostgreSQL every item is its own
        transaction: `work(conn, context, [item])`.

        The call runs in a savepoint of its own. `savepoint=False` is for work whose
        first write is the only one that can fail with an `Exception` (SQLite undoes
        a failed statement by itself); should a later write fail, `work` raises
        `WriteFailed`, which fails the whole transaction and every job in it.
        """
        if self.async_engine is not None:

            def alone(conn: sa.Connection) -> T:
                try:
                    outcome = work(conn, context, [item])[0]
                except WriteFailed as e:  # the transaction is rolled back either way
                    raise cause_of(e) from e
                if isinstance(outcome, Exception):
                    raise outcome
                return outcome

            return await self.batch(alone)
        started = time.perf_counter()
        try:
            job = Item(TOGETHER, work, savepoint, context, item)
            done: T = await self._writer.submit(job)
            return done
        finally:
            METRICS.database("write", time.perf_counter() - started)

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

        # In the writer thread, between transactions: never racing our own writes.
        await self._writer.submit(Item(CALL, run))

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

        done: T = await self._writer.submit(Item(CALL, run))
        return done

    async def dispose(self) -> None:
        if self.async_engine is not None:
            await self.async_engine.dispose()
            return
        await self._writer.submit(Item(CALL, self._writer.close_connection))
        self._writer.stop()
        if self._inline_conn is not None:
            self._inline_conn.close()
            self._inline_conn = None
        self._reader.shutdown(wait=True)
        assert self.sync_engine is not None
        self.sync_engine.dispose()
