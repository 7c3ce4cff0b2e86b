"""A server restored from an older backup, or that lost its database: members' clients see
every rollback (of the log, of any author's chain, of the entry cursor) and name it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from chatham.client import Account, Group, Home
from chatham.client import errors as E
from chatham.crypto import Secrets

from tests.support.client_fixtures import form_group
from tests.support.restorable import RestorableServer


@pytest.fixture
def restorable(tmp_path: Path) -> Iterator[RestorableServer]:
    s = RestorableServer(tmp_path / "server")
    yield s
    s.close()


@pytest.fixture
def members(tmp_path: Path, restorable: RestorableServer) -> Iterator[list[Account]]:
    made = []
    for name in ("Alice", "Bob", "Carol"):
        a = Account(
            Home(tmp_path / f"home-{name.lower()}"),
            Secrets.generate(created=1767225600),
            http=restorable.http,
        )
        a.set_name(name)
        made.append(a)
    yield made
    for a in made:
        a.close()


def rollback_alarms(g: Group) -> list[str]:
    return [a.text for a in g.sync().alarms if a.kind == "RollbackError"]


def test_a_server_that_lost_entries_but_no_log_op_is_seen_as_a_rollback(
    restorable: RestorableServer, members: list[Account]
) -> None:
    alice, bob = form_group(*members[:2])
    alice.post(b"before the backup")
    bob.sync()
    copy = restorable.backup()
    for i in range(3):
        alice.post(f"after the backup {i}".encode())
    bob.sync()
    restorable.restore(copy)

    report = bob.sync()
    found = [a for a in report.alarms if a.kind == "RollbackError"]
    assert found, report.alarms
    assert "Alice" in found[0].text
    assert "older copy" in found[0].text
    assert found[0].error().check == "rollback"
    # The author's own client sees it too, before its next write fails on a missing link.
    assert rollback_alarms(alice)


def test_a_rollback_hidden_by_new_posts_is_still_seen(
    restorable: RestorableServer, members: list[Account]
) -> None:
    """Entries lost, then as many new entries by someone else: the entry cursor is back where
    it was, but Alice's chain on the server is shorter than the one Bob verified."""
    alice, bob, carol = form_group(*members)
    alice.post(b"one")
    for g in (alice, bob, carol):
        g.sync()
    copy = restorable.backup()
    for i in range(2):
        alice.post(f"lost {i}".encode())
    bob.sync()
    restorable.restore(copy)
    for i in range(3):
        carol.post(f"carol {i}".encode())

    texts = rollback_alarms(bob)
    assert any("Alice" in t for t in texts), texts


def test_an_honest_server_raises_no_rollback_alarm(
    restorable: RestorableServer, members: list[Account]
) -> None:
    alice, bob = form_group(*members[:2])
    for i in range(3):
        alice.post(f"entry {i}".encode())
        assert not bob.sync().alarms
    restorable.stop()
    restorable.start()  # a restart is not a restore
    assert not bob.sync().alarms
    assert not alice.sync().alarms


def test_the_rollback_error_names_the_server_restore_and_what_to_do(
    restorable: RestorableServer, members: list[Account]
) -> None:
    alice, bob = form_group(*members[:2])
    copy = restorable.backup()
    alice.post(b"lost")
    bob.sync()
    restorable.restore(copy)
    report = bob.sync()
    with pytest.raises(E.RollbackError) as caught:
        report.raise_for_alarms()
    assert "restored" in caught.value.hint or "backup" in caught.value.hint
