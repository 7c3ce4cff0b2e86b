"""Database access: SQLAlchemy Core, one code path for SQLite and PostgreSQL.

Every query the server makes is written once, as a plain function of a
SQLAlchemy `Connection` (`def work(conn) -> T`), and run in a transaction by
`Database.read`, `Database.write` or `Database.batch`:

- **PostgreSQL** (asyncpg): on the async engine through `run_sync`, so any
  number of transactions run concurrently on the event loop. READ COMMITTED;
  writers that must see the current log head take the group row's lock with
  `UPDATE groups … RETURNING` or `SELECT … FOR UPDATE`; the unique
  constraints decide every race between processes.
- **SQLite** (the stdlib driver): writes run in one writer thread, reads in a
  small thread pool, and short reads on hot paths (`read(..., inline=True)`) on
  the event loop itself. Measured here, a statement through SQLAlchemy's async
  adapter (aiosqlite) costs ~190 µs of event-loop time and the same statement
  run synchronously ~22 µs; running the whole transaction in a thread costs one
  hand-off instead of one per statement. (This is why the default engine is not
  aiosqlite, as the brief suggested; aiosqlite is itself the stdlib driver in a
  thread, once per statement.) A hand-off still costs more than a short read,
  though: the driver releases the GIL at every row, and a thread that wants it
  back queues behind the event loop (see `Database.read`).

SQLite is opened in WAL mode with `synchronous=FULL`: a transaction that has
committed survives a power loss, not only a process kill. `secure_delete=ON`
overwrites deleted content (retracted ciphertext) with zeros. Writes use
`BEGIN IMMEDIATE`, which takes SQLite's write lock at the start of the
transaction, so a writer never reads a head that another process then changes
underneath it.

**Group commit** (SQLite): with `synchronous=FULL` every commit costs an
fsync, which caps one writer at a few hundred commits a second. The writer
thread therefore runs the write jobs that are waiting together in one
transaction, each inside its own SAVEPOINT (or none, for jobs that write only
after all their checks): a job that fails is rolled back alone, and every job
is answered only after the COMMIT that made it durable. Nothing is
acknowledged early; the fsync is shared. The thread takes the next batch by
itself as soon as a COMMIT returns, without waiting for the event loop. On
PostgreSQL, which groups concurrent commits itself, each job is its own
transaction.

**Work done together** (`Database.together`, SQLite): entry posts that wait
for the writer together are handed to one call, which checks each in order and
stores all of them with a handful of statements instead of four each. Measured
here, a statement costs the writer three to four times more under load than
alone (the driver gives up the GIL at every step and must wait for the busy
event loop to give it back); fewer statements per batch shorten the batch, and
with it every post's wait. Each
post gets the outcome it would have had alone after the ones before it; a call
that raises (a conflict with a stored row it cannot place) is run again item
by item, so that no post fails because of another.

**Hot statements** (`Statement`): the few statements an entry post or a page
read runs are compiled once per dialect and executed on the driver's cursor in
the same transaction, skipping SQLAlchemy's per-execution work (~15 µs a
statement here, several times SQLite's own cost).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import dataclasses
import os
import queue
import threading
from collections.abc import Callable
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.sql.expression import ClauseElement

from ..settings import Settings

T = TypeVar("T")
C = TypeVar("C")
X = TypeVar("X")
Work = Callable[[sa.Connection], T]
Together = Callable[[sa.Connection, C, list[X]], list["T | Exception"]]
"""Work for several items at once: `work(conn, context, items)` answers each item, in order,
with its result or the exception it fails with (see `Database.together`)."""

MAX_BATCH = 128
READ_THREADS = 4
STATEMENT_CACHE = 4 * MAX_BATCH + 64
"""Prepared statements each SQLite connection keeps (the stdlib driver keeps 128).

A batch of n entry posts runs statements written for n posts or n groups
(`Statement` compiles one per size): up to four per size, each SQL text its own
prepared statement. With the default 128, a batch size that came back after
others had pushed it out was prepared again: measured here at 64 connections,
entry posts rose from 2,722–2,781/s to 3,025–3,091/s (server CPU per post
446–455 → 409–414 µs) with the larger cache. The cache is least-recently-used: statements
run once (a savepoint's numbered name) are the first to go. The cost is memory:
prepared, the largest (a 128-row INSERT) holds 250 KiB and every size of all
four about 27 MiB (measured with `sqlite3_memory_used`), plus the values last
bound to each, which the driver keeps until the statement runs again: see
`RECYCLE_BYTES`."""
RECYCLE_BYTES = 32 << 20
"""The writer closes its connection, and opens a new one, once it has bound this much
ciphertext to statements.

The stdlib driver binds values by copy and keeps the copy with the cached
statement until that statement runs again: the INSERT for n posts holds the
ciphertext of the last batch of n posts, so a connection that has stored large
entries in batches of many sizes could hold gigabytes it will never read
(measured: a 10 MB value stayed held after its INSERT until the statement left
the cache). What the writer keeps is bounded by this; reopening costs about a
millisecond and a few statements prepared again, once per 32 MiB written."""
_BOUND = "chatham_bound_bytes"


class Database:
    """Runs `work(conn)` functions in transactions on SQLite or PostgreSQL."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.url = settings.sqlalchemy_url
        self.is_sqlite = self.url.startswith("sqlite")
        self.async_engine: AsyncEngine | None = None
        self.sync_engine: sa.Engine | None = None
        self.on_failed_commit: Callable[[], None] | None = None
        if self.is_sqlite:
            self.sync_engine = _make_sqlite_engine(self.url)
            self._reader = concurrent.futures.ThreadPoolExecutor(
                READ_THREADS, thread_name_prefix="chatham-db-read"
            )
            self._writer = _Writer(self.sync_engine, self)
            self._inline_conn: sa.Connection | None = None
        else:
            self.async_engine = create_async_engine(
                self.url, pool_size=10, max_overflow=10, pool_pre_ping=True
            )

    @property
    def dialect(self) -> str:
        return "sqlite" if self.is_sqlite else "postgresql"

    # --- reads ---------------------------------------------------------------------------------

    async def read(self, work: Work[T], *, inline: bool = False) -> T:
        """Run `work` in a read transaction (one consistent snapshot on SQLite).

        `inline=True` is for short reads on hot paths (a few indexed rows, a page of
        modest size, a roster already cached): on SQLite they run on the event loop
        itself. Handing a read to a thread costs more than such a read: measured here,
        a 50-entry page took ~240 µs of CPU inline and ~650 µs through the 4-thread
        pool, because the stdlib driver releases the GIL at every row it steps and
        each thread then queues for it again. Anything that may take long (a log
        replay on a cold cache, a page of megabytes, a cold disk) stays in the pool.
        """
        if self.async_engine is not None:
            async with self.async_engine.connect() as conn, conn.begin():
                return await conn.run_sync(work)
        if inline:
            return self._read_inline(work)
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
        if self.async_engine is not None:
            async with self.async_engine.connect() as conn, conn.begin():
                return await conn.run_sync(work)
        done: T = await self._writer.submit(_Item(_JOB, work, savepoint))
        return done

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
                    return _unwrap(work(conn, context, [item])[0])
                except WriteFailed as e:  # the transaction is rolled back either way
                    raise _cause(e) from e

            return await self.batch(alone)
        job = _Item(_TOGETHER, work, savepoint, context, item)
        done: T = await self._writer.submit(job)
        return done

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
        await self._writer.submit(_Item(_CALL, run))

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

        done: T = await self._writer.submit(_Item(_CALL, run))
        return done

    async def dispose(self) -> None:
        if self.async_engine is not None:
            await self.async_engine.dispose()
            return
        await self._writer.submit(_Item(_CALL, self._writer.close_connection))
        self._writer.stop()
        if self._inline_conn is not None:
            self._inline_conn.close()
            self._inline_conn = None
        self._reader.shutdown(wait=True)
        assert self.sync_engine is not None
        self.sync_engine.dispose()


def note_bound(conn: sa.Connection, nbytes: int) -> None:
    """Count `nbytes` of values bound on `conn`'s driver connection (see `RECYCLE_BYTES`)."""
    conn.info[_BOUND] = conn.info.get(_BOUND, 0) + nbytes


def _unwrap(outcome: T | Exception) -> T:
    if isinstance(outcome, Exception):
        raise outcome
    return outcome


class WriteFailed(BaseException):
    """Raised by work that has written and cannot undo it, or whose transaction SQLite
    ended by itself (see `Database.together`); its cause is the error underneath.

    Not an `Exception`, so that no job-level handler takes it: the writer rolls
    back the whole transaction and fails every job in it with the cause.
    """


def _cause(e: WriteFailed) -> Exception:
    cause = e.__cause__
    return cause if isinstance(cause, Exception) else RuntimeError(str(e))


def _in_transaction(conn: sa.Connection) -> bool:
    dbapi_conn = conn.connection.dbapi_connection
    return bool(getattr(dbapi_conn, "in_transaction", True))


def run_together(
    conn: sa.Connection,
    work: Together[C, X, T],
    context: C,
    items: list[X],
    *,
    savepoint: bool = True,
) -> list[T | Exception]:
    """One call of `work` for `items`; if it raises, each item alone.

    What the writer does with items handed to `Database.together`; the outcome of
    each item is what it would have been had it run alone after the ones before it.
    """
    try:
        with conn.begin_nested() if savepoint else contextlib.nullcontext():
            outcomes = work(conn, context, items)
            if len(outcomes) != len(items):  # pragma: no cover - a bug in `work`
                raise RuntimeError(f"{len(outcomes)} outcomes for {len(items)} items")
            return outcomes
    except Exception as e:
        if not _in_transaction(conn):  # SQLite ended it (a disk error): nothing may go on
            raise WriteFailed("the transaction ended under a write") from e
        if len(items) == 1:
            return [e]
    # The call failed as a whole (a conflict it could not place, a bug): each alone, in
    # order, so that no item fails because of another.
    return [run_together(conn, work, context, [it], savepoint=savepoint)[0] for it in items]


_JOB = "job"
_TOGETHER = "together"
_CALL = "call"
_STOP: Any = None


class _Item:
    """A job for the writer: a `work(conn)` job, a `together` item, or a call between
    transactions; answered through `future` on the loop that submitted it."""

    __slots__ = ("arg", "context", "future", "kind", "loop", "savepoint", "work")

    def __init__(
        self,
        kind: str,
        work: Callable[..., Any],
        savepoint: bool = False,
        context: Any = None,
        arg: Any = None,
    ) -> None:
        self.kind = kind
        self.work = work
        self.savepoint = savepoint
        self.context = context
        self.arg = arg
        self.loop = asyncio.get_running_loop()
        self.future: asyncio.Future[Any] = self.loop.create_future()


class _Writer:
    """The one thread that writes to SQLite, with group commit.

    The event loop only appends jobs to a queue. The thread takes every job that
    is waiting, runs them in one transaction (each in its own savepoint, unless
    the job says it needs none), commits, and hands the outcomes back to the loop
    in one call; then at once takes the jobs that arrived meanwhile. It never
    waits for the event loop to start the next transaction, so the loop being busy
    with other requests does not leave the database idle.

    When jobs are already waiting as a COMMIT returns and they are all entry posts
    (`together` items, whose statements are few and bounded), the outcomes it made
    durable are handed back just before the next COMMIT rather than at once: the
    event loop then answers them while the thread waits for that fsync, instead of
    holding the GIL while the thread runs the next batch's statements (each of
    which gives the GIL up and must get it back). Measured 15–25% faster on a slow
    VM (in A/B rounds of fixed order, which may have favoured it) and neutral on a
    faster one (docs/performance.md). Nothing is answered before its own COMMIT
    returned. The outcomes are handed back at once when no job waits, before any
    other kind of batch (which may write much), before a maintenance call, when a
    transaction fails, and always when several server processes share the
    database (the next BEGIN may wait for another's transaction).
    """

    def __init__(self, engine: sa.Engine, owner: Database) -> None:
        self._engine = engine
        self._owner = owner
        self._queue: queue.SimpleQueue[_Item | None] = queue.SimpleQueue()
        self._conn: sa.Connection | None = None
        self._committed: list[tuple[list[_Item], list[tuple[bool, Any]]]] = []
        """Outcomes made durable by the last COMMIT, not yet handed back."""
        self._defer = owner.settings.workers == 1
        """Only a single server process defers answers: with several, the next BEGIN may
        wait for another process's transaction."""
        self._thread = threading.Thread(target=self._run, name="chatham-db-write", daemon=True)
        self._thread.start()

    def submit(self, item: _Item) -> asyncio.Future[Any]:
        self._queue.put(item)
        return item.future

    def stop(self) -> None:
        self._queue.put(_STOP)
        self._thread.join()

    def close_connection(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _hand_back(self) -> None:
        while self._committed:  # one batch at a time: none is dropped should one fail
            jobs, outcomes = self._committed.pop(0)
            _hand_back(jobs, outcomes)

    def _next(self) -> _Item | None:
        try:
            return self._queue.get_nowait()
        except queue.Empty:
            self._hand_back()  # nothing else to do: answer now
            return self._queue.get()

    def _run(self) -> None:
        while True:
            items = [self._next()]
            while len(items) < MAX_BATCH:
                try:
                    items.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            # Consecutive jobs share one transaction; a call runs alone, in order.
            i = 0
            while i < len(items):
                item = items[i]
                if item is None:
                    self._hand_back()
                    return
                if item.kind == _CALL:
                    self._call(item)
                    i += 1
                    continue
                j = i
                jobs: list[_Item] = []
                while j < len(items) and (job := items[j]) is not None and job.kind != _CALL:
                    jobs.append(job)
                    j += 1
                self._batch(jobs)
                i = j

    def _call(self, item: _Item) -> None:
        self._hand_back()
        try:
            outcome: tuple[bool, Any] = (True, item.work())
        except BaseException as e:
            outcome = (False, e)
        _answer(item.loop, [item.future], [outcome])

    def _connection(self) -> sa.Connection:
        conn = self._conn
        if conn is None or conn.closed or conn.invalidated:
            conn = self._engine.connect().execution_options(chatham_write=True)
            self._conn = conn
        return conn

    def _batch(self, jobs: list[_Item]) -> None:
        if not (self._defer and all(job.kind == _TOGETHER for job in jobs)):
            # This batch may take long (its BEGIN may wait for another process's write lock;
            # an attachment or a rotation writes much): answer the last one first.
            self._hand_back()
        outcomes: list[tuple[bool, Any]] = []
        try:
            conn = self._connection()
            with conn.begin():
                i = 0
                while i < len(jobs):
                    job = jobs[i]
                    if job.kind == _TOGETHER:
                        # The items of the same work and context that follow run as one call.
                        j = i + 1
                        while j < len(jobs) and _same_call(job, jobs[j]):
                            j += 1
                        args = [other.arg for other in jobs[i:j]]
                        done = run_together(
                            conn, job.work, job.context, args, savepoint=job.savepoint
                        )
                        for outcome in done:
                            ok = not isinstance(outcome, Exception)
                            outcomes.append((ok, outcome))
                        i = j
                        continue
                    try:
                        if job.savepoint:
                            with conn.begin_nested():
                                outcomes.append((True, job.work(conn)))
                        else:
                            outcomes.append((True, job.work(conn)))
                    except Exception as e:
                        outcomes.append((False, e))
                    i += 1
                # The previous batch's answers, while this one's COMMIT waits for the disk.
                self._hand_back()
        except BaseException as e:  # the transaction itself failed: none of these happened
            self._hand_back()
            if self._conn is not None:
                self._conn.invalidate()
                self._conn = None
            if self._owner.on_failed_commit is not None:
                self._owner.on_failed_commit()
            # Each job fails with what failed the transaction (for WriteFailed, its cause: the
            # error a request handler knows how to answer), and is told at once.
            outcomes = [(False, _cause(e) if isinstance(e, WriteFailed) else e)] * len(jobs)
            _hand_back(jobs, outcomes)
            return
        self._committed.append((jobs, outcomes))
        if conn.info.get(_BOUND, 0) >= RECYCLE_BYTES:
            # Closing the driver connection frees its statements and the values bound to them;
            # `_connection` opens a new one for the next batch.
            conn.invalidate()
            conn.close()
            self._conn = None


def _hand_back(jobs: list[_Item], outcomes: list[tuple[bool, Any]]) -> None:
    """One hand-off per loop for a whole batch, after the COMMIT that made it durable."""
    by_loop: dict[asyncio.AbstractEventLoop, tuple[list[Any], list[tuple[bool, Any]]]] = {}
    for job, outcome in zip(jobs, outcomes, strict=True):
        futures, results = by_loop.setdefault(job.loop, ([], []))
        futures.append(job.future)
        results.append(outcome)
    for loop, (futures, results) in by_loop.items():
        _answer(loop, futures, results)


def _same_call(first: _Item, other: _Item) -> bool:
    return (
        other.kind == _TOGETHER
        and other.work is first.work
        and other.context is first.context
        and other.savepoint == first.savepoint
    )


def _answer(
    loop: asyncio.AbstractEventLoop,
    futures: list[asyncio.Future[Any]],
    outcomes: list[tuple[bool, Any]],
) -> None:
    with contextlib.suppress(RuntimeError):  # the loop is closed: nobody is waiting
        loop.call_soon_threadsafe(_settle, futures, outcomes)


def _settle(futures: list[asyncio.Future[Any]], outcomes: list[tuple[bool, Any]]) -> None:
    for future, (ok, value) in zip(futures, outcomes, strict=True):
        if future.done():  # the caller went away; its job still ran
            continue
        if ok:
            future.set_result(value)
        else:
            future.set_exception(value)


@dataclasses.dataclass(frozen=True)
class _Compiled:
    sql: str
    names: tuple[str, ...]
    fixed: dict[str, Any]


class Statement:
    """A Core statement compiled once per dialect and run straight on the DBAPI cursor.

    For the few statements on the hottest paths (an entry post, a page of entries).
    SQLAlchemy's per-execution work — cache key, execution context, result
    metadata — costs ~15–20 µs a statement here, several times what SQLite itself
    spends; this runs the same SQL, written once as Core, in the same transaction
    of the same connection. Only for statements whose parameters and columns are
    bytes, integers or NULL, which both drivers hand over unchanged (no type
    processing is skipped). Driver errors are raised as SQLAlchemy's
    (`IntegrityError` …), exactly as `conn.execute` raises them.
    """

    def __init__(self, statement: ClauseElement | Callable[[], ClauseElement]) -> None:
        """`statement`, or a function that builds it when it is compiled.

        A function is for statements made per size (n posts at once), whose Core
        constructs are not worth keeping: measured here, those of every size of the
        four entry-post statements were 460,000 objects and 100 MiB, and a full
        garbage collection (a pause of the event loop) took 210 ms with them and
        40 ms without.
        """
        self._source = statement
        self._compiled: dict[tuple[str, str], _Compiled] = {}

    def _compile(self, dialect: sa.Dialect) -> _Compiled:
        if dialect.paramstyle not in ("qmark", "numeric_dollar", "format"):  # pragma: no cover
            raise RuntimeError(f"unsupported paramstyle {dialect.paramstyle}")
        source = self._source
        statement = source if isinstance(source, ClauseElement) else source()
        compiled = statement.compile(dialect=dialect)
        names = tuple(getattr(compiled, "positiontup", None) or ())
        # Literals the statement carries (LIMIT/OFFSET defaults, constants) as bound values.
        binds: dict[str, sa.BindParameter[Any]] = getattr(compiled, "binds", {})
        fixed = {name: bind.effective_value for name, bind in binds.items() if not bind.required}
        result = _Compiled(compiled.string, names, fixed)
        self._compiled[(dialect.name, dialect.driver)] = result
        return result

    def _run(self, conn: sa.Connection, params: dict[str, Any]) -> Any:
        dialect = conn.dialect
        compiled = self._compiled.get((dialect.name, dialect.driver)) or self._compile(dialect)
        sql, fixed = compiled.sql, compiled.fixed
        args = tuple([params[n] if n in params else fixed[n] for n in compiled.names])
        dbapi_conn = conn.connection.dbapi_connection
        assert dbapi_conn is not None
        cursor = dbapi_conn.cursor()
        try:
            cursor.execute(sql, args)
        except dialect.loaded_dbapi.Error as e:
            cursor.close()
            if dialect.is_disconnect(e, dbapi_conn, cursor):
                conn.invalidate(e)
            raise sa.exc.DBAPIError.instance(
                sql, args, e, dialect.loaded_dbapi.Error, dialect=dialect
            ) from e
        return cursor

    def rows(self, conn: sa.Connection, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        cursor = self._run(conn, params)
        rows: list[tuple[Any, ...]] = cursor.fetchall()
        cursor.close()
        return rows

    def first(self, conn: sa.Connection, params: dict[str, Any]) -> tuple[Any, ...] | None:
        rows = self.rows(conn, params)
        return rows[0] if rows else None

    def run(self, conn: sa.Connection, params: dict[str, Any]) -> int:
        """Execute a statement that returns no rows; the number of rows it changed."""
        cursor = self._run(conn, params)
        count: int = cursor.rowcount
        cursor.close()
        return count


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
        connect_args={
            "timeout": 30,
            "check_same_thread": False,
            "cached_statements": STATEMENT_CACHE,
        },
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
        # On the driver connection directly: SQLAlchemy's statement path would cost more than
        # the BEGIN itself, once per transaction.
        dbapi_conn = conn.connection.dbapi_connection
        assert dbapi_conn is not None
        dbapi_conn.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine
