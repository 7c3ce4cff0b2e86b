"""Entry posts that reach the SQLite writer together are stored by one call (`_store_entries`).

They must come out exactly as if each had been posted alone, in order: the same
status, code and cursor for each, the same rows at rest, contiguous cursors. The
posts here are sent over the real HTTP route while the writer is held, so that
they form one batch; the same expectations hold on PostgreSQL, where each post is
its own transaction.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from chatham.crypto import SealedEntry, decode_entry
from chatham.server import Settings, create_app
from chatham.server._private.services import entry_checks, entry_store
from chatham.server._private.storage import entries as entry_sql
from chatham.server._private.storage import schema as t
from chatham.server._private.storage import writer as writer_module
from chatham.server._private.storage.statements import Statement
from chatham.server._private.storage.writer import run_together
from hypothesis import given, settings
from hypothesis import strategies as st
from litestar.testing import TestClient

from tests.support.server_dbutil import HeldWriter
from tests.support.server_harness import HOST, Group, Person, World, assert_error, b64

Post = tuple[Person, Group, SealedEntry]


def _calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Records how many posts each call of `_store_entries` was given."""
    sizes: list[int] = []
    store = entry_store.store_entries

    def counted(conn: sa.Connection, services: Any, posts: list[Any]) -> list[Any]:
        sizes.append(len(posts))
        return store(conn, services, posts)

    monkeypatch.setattr(entry_store, "store_entries", counted)
    return sizes


def post_together(client: TestClient[Any], posts: list[Post]) -> list[httpx.Response]:
    """Send the posts over HTTP; on SQLite they reach the writer in this order, together."""
    db = client.app.state.services.db

    async def run() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=client.app)
        async with httpx.AsyncClient(transport=transport, base_url=f"http://{HOST}") as ac:

            def send(by: Person, group: Group, sealed: SealedEntry) -> Any:
                body = {"entry": b64(sealed.data)}
                return ac.post(f"{group.path}/entries", json=body, headers=by.headers)

            if not db.is_sqlite:
                return [await send(*post) for post in posts]
            tasks = []
            async with HeldWriter(db) as held:
                for post in posts:
                    task = asyncio.ensure_future(send(*post))
                    await held.until_waiting(held.waiting() + 1, task)
                    tasks.append(task)
            return list(await asyncio.gather(*tasks))

    return client.blocking_portal.call(run)


def _cursors(r: httpx.Response) -> int:
    assert r.status_code == 201, r.text
    cursor: int = r.json()["cursor"]
    return cursor


def _chain(group: Group, by: Person, *bodies: bytes) -> list[SealedEntry]:
    """Entries continuing `by`'s chain, each linking to the one before (nothing posted)."""
    out: list[SealedEntry] = []
    seq, link = by.chain_seq, by.chain_link
    for body in bodies:
        sealed = group.seal(by, body, seq=seq + 1, prev=link)
        out.append(sealed)
        seq, link = seq + 1, sealed.link
    return out


def test_posts_stored_together_answer_as_each_alone(
    client: TestClient[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    world = World(client)
    group, (alice, bob, carol) = world.group_of(3)
    group.rotate(alice)  # epoch 2: an entry sealed under epoch 1 is refused
    other, (dave,) = world.group_of(1)
    outsider = world.person()
    a1, a2, a3 = _chain(group, alice, b"a1", b"a2", b"a3")
    (b1,) = _chain(group, bob, b"b1")
    (k1,) = _chain(group, carol, b"k1")
    (k1_other,) = _chain(group, carol, b"another first entry")
    (d1,) = _chain(other, dave, b"d1")
    gap = group.seal(alice, b"a5", seq=5, prev=bytes(32))
    unlinked = group.seal(bob, b"b2", seq=2, prev=bytes(32))
    stale = group.seal(carol, b"old", seq=2, prev=k1.link, epoch=1, epoch_key=group.keyring.keys[1])
    stranger = group.seal(outsider, b"not a member", seq=1, prev=bytes(32))
    calls = _calls(monkeypatch)

    answers = post_together(
        client,
        [
            (alice, group, a1),
            (alice, group, a2),  # builds on a1, stored in this same call
            (bob, group, b1),
            (bob, group, b1),  # the same entry again: the same cursor
            (carol, group, k1),
            (carol, group, k1_other),  # another entry with carol's seq 1
            (dave, other, d1),  # another group, its own cursors
            (alice, group, gap),
            (bob, group, unlinked),
            (carol, group, stale),
            (outsider, group, stranger),
            (carol, group, b1),  # bob's entry, posted with carol's token
            (alice, group, a3),
        ],
    )

    if client.app.state.services.db.is_sqlite:
        assert calls == [13]
    assert [_cursors(answers[i]) for i in (0, 1, 2, 3, 4)] == [1, 2, 3, 3, 4]
    assert_error(answers[5], 409, "duplicate_entry")
    assert _cursors(answers[6]) == 1
    assert_error(answers[7], 409, "chain_gap")
    assert assert_error(answers[8], 422, "invalid_entry")["check"] == "chain"
    assert assert_error(answers[9], 422, "invalid_entry")["check"] == "epoch"
    assert_error(answers[10], 403, "not_a_member")
    assert_error(answers[11], 403, "not_author")
    assert _cursors(answers[12]) == 5
    # At rest: what was accepted, once, under contiguous cursors, in the order posted.
    page = group.list_entries(alice).json()["entries"]
    stored = [(e["cursor"], e["entry_id"]) for e in page]
    expected = [a1, a2, b1, k1, a3]
    assert stored == [(i + 1, b64(s.entry.header.entry_id)) for i, s in enumerate(expected)]
    assert [e["cursor"] for e in other.list_entries(dave).json()["entries"]] == [1]
    # The cursor the group row keeps follows: the next post gets 6.
    alice.chain_seq, alice.chain_link = 3, a3.link
    assert _cursors(group.post_entry(alice, b"a4")) == 6


def test_a_conflict_with_a_stored_row_is_placed_by_storing_each_alone(
    client: TestClient[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    world = World(client)
    group, (alice, bob, carol) = world.group_of(3)
    first = group.post_entry(bob, b"b1").json()["cursor"]
    stored_b1 = _stored_entry(group, bob)
    b1_again = group.seal(bob, b"x", seq=1, prev=bytes(32))  # bob's seq 1, another entry
    a1, a2 = _chain(group, alice, b"a1", b"a2")
    (k1,) = _chain(group, carol, b"k1")
    calls = _calls(monkeypatch)

    answers = post_together(
        client,
        [
            (alice, group, a1),
            (bob, group, stored_b1),  # a retry of a stored entry: its cursor
            (carol, group, k1),
            (bob, group, b1_again),  # a different entry where bob's seq 1 is stored
            (alice, group, a2),
        ],
    )

    if client.app.state.services.db.is_sqlite:
        # The one INSERT for all conflicted: then each post alone, in order.
        assert calls == [5, 1, 1, 1, 1, 1]
    assert [_cursors(answers[i]) for i in (0, 1, 2, 4)] == [first + 1, first, first + 2, first + 3]
    assert_error(answers[3], 409, "duplicate_entry")
    page = group.list_entries(alice).json()["entries"]
    assert [e["cursor"] for e in page] == [1, 2, 3, 4]


def _stored_entry(group: Group, by: Person) -> SealedEntry:
    """The entry `by` posted last, as the server keeps it: to post it again byte for byte."""
    data = base64.b64decode(group.list_entries(by).json()["entries"][-1]["entry"])
    return SealedEntry(decode_entry(data), data, by.chain_link)


def test_the_quota_is_counted_across_the_posts_of_one_call(
    make_client: Callable[..., TestClient[Any]],
) -> None:
    client = make_client(group_quota=3000)
    world = World(client)
    group, (alice, bob) = world.group_of(2)
    (a1,) = _chain(group, alice, b"a" * 1000)
    (b1,) = _chain(group, bob, b"b" * 1000)
    size = len(a1.entry.ct)
    assert 1500 < size * 2 <= 3000 < size * 3
    b2 = group.seal(bob, b"b" * 1000, seq=2, prev=b1.link)
    answers = post_together(client, [(alice, group, a1), (bob, group, b1), (bob, group, b2)])
    assert [r.status_code for r in answers[:2]] == [201, 201]
    assert_error(answers[2], 413, "quota_exceeded")


def test_a_retry_in_a_batch_takes_nothing_from_the_posts_after_it(
    make_client: Callable[..., TestClient[Any]],
) -> None:
    probe = World(make_client())
    probe_group, (somebody,) = probe.group_of(1)
    size = len(_chain(probe_group, somebody, b"k" * 1000)[0].entry.ct)
    client = make_client(group_quota=2 * size)  # room for two entries of this size
    world = World(client)
    group, (alice, bob) = world.group_of(2)
    first = group.post_entry(alice, b"k" * 1000).json()["cursor"]
    retry = _stored_entry(group, alice)
    (b1,) = _chain(group, bob, b"b" * 1000)
    answers = post_together(client, [(alice, group, retry), (bob, group, b1)])
    # The retry is a stored entry: it counts nothing again, and bob's post fits.
    assert [_cursors(r) for r in answers] == [first, first + 1]


def test_a_write_failing_after_the_insert_fails_the_whole_transaction(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with _sqlite_client(tmp_path) as client:
        world = World(client)
        group, (alice, bob) = world.group_of(2)
        (a1,) = _chain(group, alice, b"a1")
        (b1,) = _chain(group, bob, b"b1")
        real = entry_sql.bump_cursors

        class Broken(Statement):
            def run(self, conn: sa.Connection, params: dict[str, Any]) -> int:
                raise sa.exc.OperationalError("UPDATE", {}, Exception("disk I/O error"))

        monkeypatch.setattr(entry_sql, "bump_cursors", lambda n: Broken(sa.select(sa.literal(1))))
        answers = post_together(client, [(alice, group, a1), (bob, group, b1)])
        for r in answers:
            assert_error(r, 500, "internal_error")
        monkeypatch.setattr(entry_sql, "bump_cursors", real)
        # Nothing of it was committed, and the writer goes on: the same posts now succeed.
        assert group.list_entries(alice).json()["entries"] == []
        assert [_cursors(r) for r in post_together(client, [(alice, group, a1)])] == [1]
        assert _cursors(group.post_sealed(bob, b1)) == 2


def test_the_writer_reopens_its_connection_after_binding_much_ciphertext(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The driver keeps the values last bound to each cached statement; past `RECYCLE_BYTES`
    of ciphertext the writer's connection is replaced (freeing them), and nothing is lost."""
    body = b"x" * 3000
    with _sqlite_client(tmp_path) as client:
        world = World(client)
        group, (alice, bob) = world.group_of(2)
        sealed = _chain(group, alice, *(body + bytes([i]) for i in range(12)))
        size = len(decode_entry(sealed[0].data).ct)
        monkeypatch.setattr(writer_module, "RECYCLE_BYTES", 4 * size)
        writer = client.app.state.services.db._writer
        seen: list[Any] = []  # the driver connections themselves, so no id is reused
        for i, s in enumerate(sealed):
            assert _cursors(group.post_sealed(alice, s)) == i + 1
            conn = writer._conn
            seen.append(conn.connection.dbapi_connection if conn is not None else None)
        # Closed after the 4th, 8th and 12th post; between them, one connection serves.
        assert [x is not None for x in seen] == [True, True, True, False] * 3
        assert seen[0] is seen[1] is seen[2]
        assert len({id(seen[0]), id(seen[4]), id(seen[8])}) == 3
        # Every post is there, in order, readable by another member.
        listed = group.list_entries(bob).json()["entries"]
        assert [e["cursor"] for e in listed] == list(range(1, 13))


def _sqlite_client(tmp_path: Path, **overrides: Any) -> TestClient[Any]:
    settings_ = Settings(data_dir=tmp_path / "data", open_registration=True, **overrides)
    return TestClient(create_app(settings_), base_url=f"http://{HOST}")


# --- one call against each alone, on any mix of posts -------------------------------------------


@pytest.fixture(scope="module")
def pool(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient[Any], list[Post]]]:
    """A SQLite server with two groups and a pool of posts good and bad, nothing posted yet
    but a few entries the pool builds on."""
    with _sqlite_client(tmp_path_factory.mktemp("together"), group_quota=40_000) as client:
        world = World(client)
        group, (alice, bob, carol) = world.group_of(3)
        other, (dave,) = world.group_of(1)
        group.post_entry(carol, b"k1")  # under epoch 1: a retry of it is refused
        group.rotate(alice)
        group.post_entry(bob, b"b1")  # under epoch 2: a retry of it gets its cursor
        stored_k1, stored_b1 = _stored_entry(group, carol), _stored_entry(group, bob)
        posts: list[Post] = []
        posts += [(alice, group, s) for s in _chain(group, alice, b"a1", b"a2", b"a3")]
        posts += [(bob, group, s) for s in _chain(group, bob, b"b2", b"b3")]
        posts += [(carol, group, s) for s in _chain(group, carol, b"k2", b"k3")]
        posts += [(dave, other, s) for s in _chain(other, dave, b"d1", b"d2")]
        zero = bytes(32)
        posts += [
            (bob, group, stored_b1),
            (bob, group, group.seal(bob, b"other b1", seq=1, prev=zero)),
            (carol, group, stored_k1),
            (carol, group, group.seal(carol, b"other k1", seq=1, prev=zero)),
            (alice, group, group.seal(alice, b"gap", seq=3, prev=zero)),
            # Three large ones: any two fit the quota, the third does not.
            (alice, group, group.seal(alice, b"x" * 15_000, seq=1, prev=zero)),
            (bob, group, group.seal(bob, b"y" * 15_000, seq=2, prev=stored_b1.link)),
            (carol, group, group.seal(carol, b"z" * 15_000, seq=2, prev=stored_k1.link)),
            # Another post under the id of a stored entry.
            (alice, group, group.seal(alice, b"id", seq=1, prev=zero, entry_id=_id(stored_b1))),
            (alice, other, _chain(other, dave, b"d1")[0]),
            (dave, group, group.seal(dave, b"outsider", seq=1, prev=zero)),
        ]
        yield client, posts


def _id(sealed: SealedEntry) -> bytes:
    return sealed.entry.header.entry_id


def _outcome(o: int | Exception) -> Any:
    if isinstance(o, int):
        return o
    body = getattr(o, "body", None)
    return (type(o).__name__, getattr(o, "status", None), body)


def _apply(
    client: TestClient[Any], posts: list[Post], together: bool
) -> tuple[list[Any], list[Any]]:
    """Outcomes and the rows written, in a transaction that is then rolled back."""
    services = client.app.state.services
    prepared = [entry_checks.prepare(services, g.id, by.device_id, s.data) for by, g, s in posts]
    engine = services.db.sync_engine
    with engine.connect().execution_options(chatham_write=True) as conn:
        tx = conn.begin()
        try:
            store = entry_store.store_entries
            if together:
                outcomes = run_together(conn, store, services, prepared, savepoint=False)
            else:
                outcomes = [
                    run_together(conn, store, services, [p], savepoint=False)[0] for p in prepared
                ]
            rows = conn.execute(
                sa.select(t.entries.c.group_id, t.entries.c.cursor, t.entries.c.entry_id).order_by(
                    t.entries.c.group_id, t.entries.c.cursor
                )
            ).all()
            groups = conn.execute(
                sa.select(t.groups.c.entry_cursor, t.groups.c.stored_bytes).order_by(
                    t.groups.c.group_id
                )
            ).all()
        finally:
            tx.rollback()
    return [_outcome(o) for o in outcomes], [*map(tuple, rows), *map(tuple, groups)]


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_one_call_equals_each_post_alone(
    pool: tuple[TestClient[Any], list[Post]], data: st.DataObject
) -> None:
    client, posts = pool
    picks = data.draw(st.lists(st.sampled_from(range(len(posts))), min_size=1, max_size=12))
    chosen = [posts[i] for i in picks]
    assert _apply(client, chosen, together=True) == _apply(client, chosen, together=False)
