"""The one thread that writes to SQLite, with group commit.

With `synchronous=FULL` every commit waits for an fsync, which would cap one
commit per write at the disk's fsync rate. So the event loop only appends jobs to
a queue, and this thread takes every job that is waiting, runs them in one
transaction (each in its own SAVEPOINT, or none for jobs that write only after all
their checks), commits, and hands the outcomes back to the loop in one call; then
at once takes the jobs that arrived meanwhile, without waiting for the event loop.
A job that fails is rolled back alone, and no job is answered before the COMMIT
that made it durable: the fsync is shared, nothing is acknowledged early.

Items handed in with `Database.together` (entry posts) that wait together are run
as one call (`run_together`): a handful of statements for all of them instead of a
few for each, because under load each statement costs the writer far more than
its own CPU time (the driver gives up the GIL at every step and must queue for
it behind the event loop; docs/performance.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from collections.abc import Callable
from typing import Any, TypeVar

import sqlalchemy as sa

from ..metrics import METRICS

T = TypeVar("T")
C = TypeVar("C")
X = TypeVar("X")
Together = Callable[[sa.Connection, C, list[X]], list["T | Exception"]]
"""Work for several items at once: `work(conn, context, items)` answers each item, in order,
with its result or the exception it fails with (see `Database.together`)."""

MAX_BATCH = 128
"""Jobs the writer takes into one transaction at most."""
RECYCLE_BYTES = 32 << 20
"""The writer closes its connection, and opens a new one, once it has bound this much
ciphertext to statements.

The stdlib driver binds values by copy and keeps the copy with the cached
statement until that statement runs again: the INSERT for n posts holds the
ciphertext of the last batch of n posts, so without a bound a connection that has
stored large entries in batches of many sizes could hold far more memory than it
will ever read again. Reopening costs a few statements prepared again, once per
this many bytes written."""
_BOUND = "chatham_bound_bytes"


def note_bound(conn: sa.Connection, nbytes: int) -> None:
    """Count `nbytes` of values bound on `conn`'s driver connection (see `RECYCLE_BYTES`)."""
    conn.info[_BOUND] = conn.info.get(_BOUND, 0) + nbytes


class WriteFailed(BaseException):
    """Raised by work that has written and cannot undo it, or whose transaction SQLite
    ended by itself (see `Database.together`); its cause is the error underneath.

    Not an `Exception`, so that no job-level handler takes it: the writer rolls
    back the whole transaction and fails every job in it with the cause.
    """


def cause_of(e: WriteFailed) -> Exception:
    """The error underneath a `WriteFailed`: what a request handler knows how to answer."""
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


JOB = "job"
TOGETHER = "together"
CALL = "call"
_STOP: Any = None


class Item:
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


class Writer:
    """The writer thread (see the module docstring).

    When jobs are already waiting as a COMMIT returns and they are all `together`
    items (entry posts, whose statements are few and bounded), the outcomes that
    COMMIT made durable are handed back just before the *next* COMMIT rather than at
    once: the event loop then answers them while this thread waits for that fsync
    without the GIL, instead of competing with it for the GIL while this thread runs
    the next batch's statements. Nothing is answered before its own COMMIT returned.
    The outcomes are handed back at once when no job waits, before any other kind of
    batch (which may write much), before a maintenance call, when a transaction
    fails, and whenever several server processes share the database (`defer=False`:
    the next BEGIN may wait for another process's transaction).
    """

    def __init__(self, engine: sa.Engine, *, defer: bool, failed: Callable[[], None]) -> None:
        self._engine = engine
        self._failed = failed
        """Called after a transaction failed: what was read inside it may never have been."""
        self._queue: queue.SimpleQueue[Item | None] = queue.SimpleQueue()
        self._conn: sa.Connection | None = None
        self._committed: list[tuple[list[Item], list[tuple[bool, Any]]]] = []
        """Outcomes made durable by the last COMMIT, not yet handed back."""
        self._defer = defer
        self._thread = threading.Thread(target=self._run, name="chatham-db-write", daemon=True)
        self._thread.start()

    def submit(self, item: Item) -> asyncio.Future[Any]:
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

    def _next(self) -> Item | None:
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
                if item.kind == CALL:
                    self._call(item)
                    i += 1
                    continue
                j = i
                jobs: list[Item] = []
                while j < len(items) and (job := items[j]) is not None and job.kind != CALL:
                    jobs.append(job)
                    j += 1
                self._batch(jobs)
                i = j

    def _call(self, item: Item) -> None:
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

    def _batch(self, jobs: list[Item]) -> None:
        METRICS.writer_batch(len(jobs))
        if not (self._defer and all(job.kind == TOGETHER for job in jobs)):
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
                    if job.kind == TOGETHER:
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
            self._failed()
            # Each job fails with what failed the transaction (for WriteFailed, its cause: the
            # error a request handler knows how to answer), and is told at once.
            outcomes = [(False, cause_of(e) if isinstance(e, WriteFailed) else e)] * len(jobs)
            _hand_back(jobs, outcomes)
            return
        self._committed.append((jobs, outcomes))
        if conn.info.get(_BOUND, 0) >= RECYCLE_BYTES:
            # Closing the driver connection frees its statements and the values bound to them;
            # `_connection` opens a new one for the next batch.
            conn.invalidate()
            conn.close()
            self._conn = None


def _hand_back(jobs: list[Item], outcomes: list[tuple[bool, Any]]) -> None:
    """One hand-off per loop for a whole batch, after the COMMIT that made it durable."""
    by_loop: dict[asyncio.AbstractEventLoop, tuple[list[Any], list[tuple[bool, Any]]]] = {}
    for job, outcome in zip(jobs, outcomes, strict=True):
        futures, results = by_loop.setdefault(job.loop, ([], []))
        futures.append(job.future)
        results.append(outcome)
    for loop, (futures, results) in by_loop.items():
        _answer(loop, futures, results)


def _same_call(first: Item, other: Item) -> bool:
    return (
        other.kind == TOGETHER
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
