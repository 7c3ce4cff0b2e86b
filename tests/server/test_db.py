"""The database layer: group commit, the writer thread, hot statements, reads on the loop."""

from __future__ import annotations

import asyncio
import gc
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from chatham.server._private.services import entry_pages
from chatham.server._private.storage import entries as entry_sql
from chatham.server._private.storage import schema as t
from chatham.server._private.storage.db import Database
from chatham.server._private.storage.migrate import upgrade
from chatham.server._private.storage.statements import Statement
from chatham.server._private.storage.writer import MAX_BATCH
from litestar.testing import TestClient

from tests.support.server_dbutil import HeldWriter
from tests.support.server_harness import World

_INSERT = Statement(sa.insert(t.auth_challenges))
_COUNT = Statement(
    sa.select(sa.func.count())
    .select_from(t.auth_challenges)
    .where(t.auth_challenges.c.expires >= sa.bindparam("e"))
)
_FIRST_TWO = Statement(
    sa.select(t.auth_challenges.c.challenge, t.auth_challenges.c.expires)
    .order_by(t.auth_challenges.c.expires)
    .limit(2)
)


def _commits(db: Database) -> list[int]:
    """Counts the COMMITs the writer issues from now on."""
    seen: list[int] = []
    assert db.sync_engine is not None
    sa.event.listen(db.sync_engine, "commit", lambda conn: seen.append(1))
    return seen


def _with_db(settings: Any, body: Callable[[Database], Any]) -> Any:
    async def run() -> Any:
        db = Database(settings)
        try:
            await upgrade(db)
            return await body(db)
        finally:
            await db.dispose()

    return asyncio.run(run())


def test_statement_runs_core_sql_and_raises_sqlalchemy_errors(
    server_settings: Callable[..., Any],
) -> None:
    async def body(db: Database) -> None:
        def insert(n: int) -> Callable[[sa.Connection], int]:
            return lambda conn: _INSERT.run(conn, {"challenge": bytes([n]) * 32, "expires": n})

        assert await asyncio.gather(*(db.batch(insert(n)) for n in range(1, 6))) == [1] * 5
        # A unique-constraint conflict is SQLAlchemy's IntegrityError, as conn.execute raises.
        with pytest.raises(sa.exc.IntegrityError):
            await db.batch(insert(3))
        assert await db.read(lambda conn: _COUNT.first(conn, {"e": 2})) == (4,)
        # LIMIT carried by the statement itself, on the loop's own connection.
        first = await db.read(lambda conn: _FIRST_TWO.rows(conn, {}), inline=True)
        assert first == [(bytes([1]) * 32, 1), (bytes([2]) * 32, 2)]

    _with_db(server_settings(), body)


def test_statements_for_every_batch_size_leave_little_for_the_garbage_collector() -> None:
    """Compiled for every batch size, the statements of posts stored together keep their SQL,
    not their Core constructs: those were 460,000 objects and 100 MiB, and a full collection
    (a pause of the event loop) took 210 ms with them against 40 ms without."""
    engine = sa.create_engine("sqlite://")
    makers = (
        entry_sql.group_rows,
        entry_sql.links,
        entry_sql.insert_entries,
        entry_sql.bump_cursors,
    )
    gc.collect()
    before = len(gc.get_objects())
    # Fresh statements (past the per-size cache), compiled and kept alive as the cache keeps them.
    kept = [make.__wrapped__(n) for make in makers for n in range(1, MAX_BATCH + 1)]
    for statement in kept:
        statement._compile(engine.dialect)
    gc.collect()
    assert len(kept) == 4 * MAX_BATCH
    assert len(gc.get_objects()) - before < 10 * len(kept)


def test_group_commit_fails_jobs_alone_and_answers_after_commit(tmp_path: Any) -> None:
    from chatham.server import Settings

    async def body(db: Database) -> None:
        def job(n: int, fail: bool) -> Callable[[sa.Connection], int]:
            def work(conn: sa.Connection) -> int:
                conn.execute(
                    sa.insert(t.auth_challenges).values(challenge=bytes([n]) * 32, expires=n)
                )
                if fail:
                    raise ValueError(n)
                return n

            return work

        async with HeldWriter(db):
            commits = _commits(db)
            pending = asyncio.gather(
                *(db.batch(job(n, fail=n % 3 == 0)) for n in range(1, 10)),
                return_exceptions=True,
            )
            await asyncio.sleep(0.05)
        results = await pending
        assert [r if isinstance(r, int) else "failed" for r in results] == [
            1, 2, "failed", 4, 5, "failed", 7, 8, "failed"
        ]  # fmt: skip
        assert len(commits) == 2  # the held job's, then one for all nine jobs (one fsync)
        # Each answer came after the commit: another connection sees exactly the others.
        stored = await db.read(
            lambda conn: conn.execute(sa.select(t.auth_challenges.c.expires)).scalars().all()
        )
        assert sorted(stored) == [1, 2, 4, 5, 7, 8]

    _with_db(Settings(data_dir=tmp_path), body)


def test_together_runs_waiting_items_in_one_call_and_each_alone_if_it_raises(
    tmp_path: Any,
) -> None:
    from chatham.server import Settings

    calls: list[tuple[str, list[int]]] = []

    def work(conn: sa.Connection, context: str, items: list[int]) -> list[int | Exception]:
        calls.append((context, list(items)))
        for n in items:
            if n != 3:
                conn.execute(
                    sa.insert(t.auth_challenges).values(challenge=bytes([n]) * 32, expires=n)
                )
        if 3 in items and len(items) > 1:
            raise RuntimeError("the call fails as a whole, after writing")
        return [ValueError(n) if n == 3 else n * 10 for n in items]

    async def body(db: Database) -> None:
        async with HeldWriter(db) as held:
            commits = _commits(db)
            pending = asyncio.gather(
                *(db.together(work, "a", n) for n in (1, 2, 3, 4)),
                db.together(work, "b", 5),
                return_exceptions=True,
            )
            await held.until_waiting(5, pending)
        results = await pending
        assert [r if isinstance(r, int) else repr(r) for r in results] == [
            10, 20, "ValueError(3)", 40, 50
        ]  # fmt: skip
        # One call for the four items of ("a"); it raised, so its writes were undone (else
        # the second inserts would conflict) and each ran alone; ("b") is another call.
        assert calls == [
            ("a", [1, 2, 3, 4]),
            ("a", [1]),
            ("a", [2]),
            ("a", [3]),
            ("a", [4]),
            ("b", [5]),
        ]
        assert len(commits) == 2  # the held job's, then one for all of them
        stored = await db.read(
            lambda conn: conn.execute(sa.select(t.auth_challenges.c.expires)).scalars().all()
        )
        assert sorted(stored) == [1, 2, 4, 5]

    _with_db(Settings(data_dir=tmp_path), body)


def test_an_answer_never_waits_for_a_later_batch_that_is_not_entry_posts(tmp_path: Any) -> None:
    """The writer may hand a batch's outcomes back as late as the next batch's COMMIT, but
    only when that batch is entry posts (few, bounded statements): never behind a slow one."""
    from chatham.server import Settings

    started, go = threading.Event(), threading.Event()

    def first(conn: sa.Connection, context: str, items: list[int]) -> list[int | Exception]:
        started.set()
        go.wait(10)
        return [n * 10 for n in items]

    def slow(conn: sa.Connection) -> str:
        time.sleep(1.5)  # a large write, or a BEGIN waiting for another process
        return "slow"

    async def body(db: Database) -> None:
        posted = asyncio.ensure_future(db.together(first, "ctx", 1))
        await asyncio.to_thread(started.wait, 10)
        later = asyncio.ensure_future(db.batch(slow))
        await asyncio.sleep(0.05)  # the slow job waits in the queue as the first commits
        t0 = time.monotonic()
        go.set()
        assert await posted == 10
        assert time.monotonic() - t0 < 1.0
        assert not later.done()
        assert await later == "slow"

    _with_db(Settings(data_dir=tmp_path), body)


def test_a_transaction_sqlite_ended_itself_fails_every_job_and_nothing_reruns(
    tmp_path: Any,
) -> None:
    """After a disk error SQLite may roll the transaction back by itself; running the items
    again alone would then write outside any transaction, committing them one by one."""
    from chatham.server import Settings

    def ended(conn: sa.Connection, context: str, items: list[int]) -> list[int | Exception]:
        for n in items:
            conn.execute(sa.insert(t.auth_challenges).values(challenge=bytes([n]) * 32, expires=n))
        dbapi = conn.connection.dbapi_connection
        assert dbapi is not None
        dbapi.execute("ROLLBACK")  # as SQLite does on SQLITE_FULL or an I/O error
        raise sa.exc.OperationalError("INSERT", {}, Exception("disk I/O error"))

    async def body(db: Database) -> None:
        async with HeldWriter(db) as held:
            pending = asyncio.gather(
                *(db.together(ended, "a", n, savepoint=False) for n in (1, 2)),
                return_exceptions=True,
            )
            await held.until_waiting(2, pending)
        outcomes = await pending
        assert all(isinstance(o, sa.exc.OperationalError) for o in outcomes)
        count = await db.read(
            lambda conn: conn.execute(sa.select(sa.func.count()).select_from(t.auth_challenges))
        )
        assert count.scalar() == 0
        # The writer goes on with a fresh connection.
        insert = sa.insert(t.auth_challenges).values(challenge=b"x" * 32, expires=3)
        assert await db.batch(lambda conn: conn.execute(insert).rowcount) == 1

    _with_db(Settings(data_dir=tmp_path), body)


class _Abort(BaseException):
    """Not an Exception: escapes the job's own handling and fails its whole transaction."""


def test_a_failed_transaction_fails_every_job_in_it(tmp_path: Any) -> None:
    from chatham.server import Settings

    cleared: list[bool] = []

    async def body(db: Database) -> None:
        db.on_failed_commit = lambda: cleared.append(True)

        def insert(n: int) -> Callable[[sa.Connection], int]:
            def work(conn: sa.Connection) -> int:
                conn.execute(
                    sa.insert(t.auth_challenges).values(challenge=bytes([n]) * 32, expires=n)
                )
                return n

            return work

        def abort(conn: sa.Connection) -> int:
            raise _Abort

        async with HeldWriter(db):
            pending = asyncio.gather(
                db.batch(insert(1)), db.batch(abort), db.batch(insert(2)), return_exceptions=True
            )
            await asyncio.sleep(0.05)
        outcomes = await pending
        assert all(isinstance(o, _Abort) for o in outcomes)
        assert cleared == [True]
        count = await db.read(
            lambda conn: conn.execute(sa.select(sa.func.count()).select_from(t.auth_challenges))
        )
        assert count.scalar() == 0
        # The writer goes on with a fresh connection.
        assert await db.batch(insert(3)) == 3

    _with_db(Settings(data_dir=tmp_path), body)


def test_maintenance_calls_run_in_the_writer_between_transactions(tmp_path: Any) -> None:
    from chatham.server import Settings

    async def body(db: Database) -> None:
        insert = sa.insert(t.auth_challenges).values(challenge=b"x" * 32, expires=1)
        await asyncio.gather(
            db.batch(lambda conn: conn.execute(insert).rowcount),
            db.autocommit("PRAGMA wal_checkpoint(TRUNCATE)"),
        )

    _with_db(Settings(data_dir=tmp_path), body)


def test_large_pages_are_read_off_the_event_loop(
    client: TestClient[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    world = World(client)
    alice = world.person()
    group = world.create_group(alice)
    monkeypatch.setattr(entry_pages, "INLINE_PAGE_BYTES", 4096)
    posted = [group.post_entry(alice, bytes([n]) * 3000).json()["cursor"] for n in range(4)]
    services = client.app.state.services
    threaded: list[bool] = []
    if services.db.is_sqlite:
        read_sync = services.db._read_sync
        monkeypatch.setattr(
            services.db, "_read_sync", lambda work: threaded.append(True) or read_sync(work)
        )
    # Small pages are read on the loop, a page past INLINE_PAGE_BYTES in a reader thread.
    small = group.list_entries(alice, limit=1).json()
    assert [e["cursor"] for e in small["entries"]] == posted[:1]
    assert threaded == []
    page = group.list_entries(alice).json()
    assert [e["cursor"] for e in page["entries"]] == posted
    assert page["more"] is False
    assert threaded == ([True] if services.db.is_sqlite else [])
