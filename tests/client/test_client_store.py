"""The local store: no plaintext at rest, and any edit of its state is detected."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from chatham.client import Account, Group, errors
from chatham.crypto import Secrets

from tests.support.client_fixtures import Person, form_group

CANARY = b"the canary: my co-founder wants out"


def reopen(j: Account) -> Group:
    """The same member's home, opened afresh (as the next command would)."""
    fresh = Account(j.home, j._secrets, http=j._http)
    return fresh.group()


def edit(j: Account, sql: str, *params: object) -> None:
    db = sqlite3.connect(j.home.store_path, isolation_level=None)
    db.execute(sql, params)
    db.close()


def flip(j: Account, table: str, column: str, at: int) -> None:
    """Flip the bits of one byte of every value in a column."""
    db = sqlite3.connect(j.home.store_path, isolation_level=None)
    for rowid, value in db.execute(f"SELECT rowid, {column} FROM {table}").fetchall():
        b = bytearray(value)
        b[at] ^= 0xFF
        db.execute(f"UPDATE {table} SET {column} = ? WHERE rowid = ?", (bytes(b), rowid))
    db.close()


@pytest.fixture
def synced(person: Person) -> tuple[Account, Group]:
    alice, bob = person("Alice"), person("Bob")
    ga, gb = form_group(alice, bob)
    ga.post(CANARY)
    ga.post(b"second")
    gb.sync()
    return bob, gb


def files(home: Path) -> bytes:
    return b"".join(p.read_bytes() for p in home.iterdir() if p.is_file())


def test_no_plaintext_at_rest(synced: tuple[Account, Group]) -> None:
    bob, gb = synced
    assert next(i.body for i in gb.entries()) == CANARY
    gb._account._store.queue(gb.id_bytes, b"\x01" * 16, b"queued canary, never sent", 0)
    gb._account._store.db.execute("PRAGMA wal_checkpoint(FULL)")
    blob = files(bob.home.path)
    assert CANARY not in blob
    assert b"queued canary" not in blob
    assert b"Thursday Forum" not in blob  # the group's name is sealed too
    assert b"Bob" not in blob


def test_copied_store_is_useless_without_the_keys(synced: tuple[Account, Group]) -> None:
    bob, _ = synced
    thief = Account(bob.home, Secrets.generate(created=0))
    with pytest.raises(errors.StoreTampered):
        thief.groups()


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda j: flip(j, "groups", "pinned", -1), id="pinned-state"),
        pytest.param(
            lambda j: edit(j, "DELETE FROM ops WHERE seq = (SELECT MAX(seq) FROM ops)"),
            id="log-truncated",
        ),
        pytest.param(lambda j: edit(j, "DELETE FROM entries WHERE seq = 2"), id="entry-deleted"),
        pytest.param(lambda j: edit(j, "UPDATE entries SET cursor = cursor + 7"), id="entry-moved"),
        pytest.param(
            lambda j: edit(j, "UPDATE epoch_keys SET epoch = epoch + 10"), id="key-relabelled"
        ),
        pytest.param(lambda j: flip(j, "entries", "ct", 100), id="ciphertext-edited"),
        # The row MAC covers every column, not only the bytes: an offline edit of where an
        # entry sits cannot hide it from `verify`.
        pytest.param(lambda j: edit(j, "UPDATE entries SET epoch = epoch + 1"), id="epoch"),
        pytest.param(lambda j: edit(j, "UPDATE entries SET seq = seq + 10"), id="seq"),
        pytest.param(lambda j: edit(j, "UPDATE entries SET device = zeroblob(32)"), id="device"),
        pytest.param(lambda j: edit(j, "UPDATE entries SET log_seq = 0"), id="log-seq"),
        pytest.param(
            lambda j: edit(j, "UPDATE entries SET retracted_by = zeroblob(16)"), id="retracted"
        ),
    ],
)
def test_edited_store_is_detected(
    synced: tuple[Account, Group], tamper: Callable[[Account], None]
) -> None:
    bob, _ = synced
    tamper(bob)
    with pytest.raises(errors.StoreTampered) as info:
        list(reopen(bob).entries())
    assert info.value.hint
    assert CANARY.decode() not in str(info.value)


def test_outbox_survives_and_is_sealed(person: Person) -> None:
    alice, bob = person("Alice"), person("Bob")
    _ga, gb = form_group(alice, bob)
    gb._account._store.queue(gb.id_bytes, b"\x02" * 16, b"left in the outbox", 0)
    g = reopen(bob)
    assert g.queued == 1
    assert g.sync().sent == ("02" * 16,)
    assert [i.body for i in g.entries()] == [b"left in the outbox"]


def test_a_queued_write_whose_id_another_entry_holds_is_kept_and_sent(person: Person) -> None:
    """The outbox counts a write as delivered only when the stored entry with its id is this
    device's, with this text; otherwise the write goes out under a new id, with an alarm."""
    alice, bob = person("Alice"), person("Bob")
    ga, gb = form_group(alice, bob)
    taken = b"\x03" * 16
    gb._account._store.queue(gb.id_bytes, taken, b"bob's queued words", 0)
    ga._account._store.queue(ga.id_bytes, taken, b"alice's entry, same id", 0)
    assert ga.sync().sent == (taken.hex(),)
    report = gb.sync()
    assert [a.check for a in report.alarms] == ["entry_id"]
    assert gb.queued == 0
    [sent] = report.sent
    assert sent != taken.hex()
    ga.sync()
    for g in (ga, gb):
        bodies = {e.id: e.body for e in g.entries()}
        assert bodies[taken.hex()] == b"alice's entry, same id"
        assert bodies[sent] == b"bob's queued words"


def test_a_draft_is_sealed_survives_a_reopen_and_cannot_be_moved(person: Person) -> None:
    alice, bob = person("Alice"), person("Bob")
    ga, _gb = form_group(alice, bob)
    other = alice.create_group("Tuesday Board", "http://testserver.local")
    ga.keep_draft("issue-new", {"title": "Selling?", "what": CANARY.decode()})
    alice._store.db.execute("PRAGMA wal_checkpoint(FULL)")
    assert CANARY not in files(alice.home.path)
    again = Account(alice.home, alice._secrets, http=alice._http).group(ga.id)
    assert again.draft("issue-new") == {"title": "Selling?", "what": CANARY.decode()}
    assert other.draft("issue-new") is None  # one group's draft is not another's
    # A sealed draft copied into another group's slot does not open there.
    edit(
        alice,
        "INSERT INTO meta (key, value) SELECT ?, value FROM meta WHERE key = ?",
        f"draft {other.id} issue-new",
        f"draft {ga.id} issue-new",
    )
    with pytest.raises(errors.StoreTampered):
        other.draft("issue-new")
    # Bounded, and named plainly; forgetting it leaves nothing.
    with pytest.raises(errors.UsageError, match="at most 40 fields"):
        ga.keep_draft("issue-new", {str(i): "x" for i in range(41)})
    with pytest.raises(errors.UsageError, match="no such draft"):
        ga.keep_draft("../x", {})
    ga.drop_draft("issue-new")
    assert again.draft("issue-new") is None
