"""A server restored from an older backup, or that lost its database: members' clients see
every rollback (of the log, of any author's chain, of the entry cursor) and name it."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import msgspec
import pytest
from chatham import crypto
from chatham.client import Account, Group, Home
from chatham.client import errors as E
from chatham.crypto import Secrets

from tests.support.client_fixtures import form_group
from tests.support.restorable import RestorableServer

NEW_URL = "http://new-server.local"


@pytest.fixture
def servers() -> dict[str, RestorableServer]:
    """Every server the members can reach, by address."""
    return {}


@pytest.fixture
def restorable(tmp_path: Path, servers: dict[str, RestorableServer]) -> Iterator[RestorableServer]:
    s = RestorableServer(tmp_path / "server")
    servers[s.url] = s
    yield s
    s.close()


@pytest.fixture
def new_server(tmp_path: Path, servers: dict[str, RestorableServer]) -> Iterator[RestorableServer]:
    s = RestorableServer(tmp_path / "new-server", NEW_URL)
    servers[s.url] = s
    yield s
    s.close()


@pytest.fixture
def members(
    tmp_path: Path, restorable: RestorableServer, servers: dict[str, RestorableServer]
) -> Iterator[list[Account]]:
    made = []
    for name in ("Alice", "Bob", "Carol"):
        a = Account(
            Home(tmp_path / f"home-{name.lower()}"),
            Secrets.generate(created=1767225600),
            http=lambda url: servers[url].http,
        )
        a.set_name(name)
        made.append(a)
    yield made
    for a in made:
        a.close()


@contextlib.contextmanager
def rolled_back(server: RestorableServer) -> Iterator[Path]:
    """What happens in the block is lost: the server is then restored from a backup taken
    just before it (the backup is what the block yields)."""
    copy = server.backup()
    yield copy
    server.restore(copy)


def rollback_alarms(g: Group) -> list[str]:
    return [a.text for a in g.sync().alarms if a.kind == "RollbackError"]


def test_a_server_that_lost_entries_but_no_log_op_is_seen_as_a_rollback(
    restorable: RestorableServer, members: list[Account]
) -> None:
    alice, bob = form_group(*members[:2])
    alice.post(b"before the backup")
    bob.sync()
    with rolled_back(restorable):
        for i in range(3):
            alice.post(f"after the backup {i}".encode())
        bob.sync()

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
    with rolled_back(restorable):
        for i in range(2):
            alice.post(f"lost {i}".encode())
        bob.sync()
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
    with rolled_back(restorable):
        alice.post(b"lost")
        bob.sync()
    report = bob.sync()
    with pytest.raises(E.RollbackError) as caught:
        report.raise_for_alarms()
    assert "restored" in caught.value.hint or "backup" in caught.value.hint


# --- healing ---------------------------------------------------------------------------------


def test_a_member_heals_a_restored_server_and_everyone_converges(
    restorable: RestorableServer, members: list[Account]
) -> None:
    alice, bob, carol = form_group(*members)
    alice.post(b"kept")
    for g in (alice, bob, carol):
        g.sync()
    with rolled_back(restorable):
        lost = [alice.post(f"lost {i}".encode()) for i in range(3)]
        retracted = bob.post(b"bob writes, then withdraws it")
        bob.post(b"withdrawn", retracts=[retracted])
        bob.sync()
    assert rollback_alarms(carol) == []  # Carol never saw what was lost: nothing to see
    assert rollback_alarms(bob)

    report = bob.heal()
    assert report.healed
    assert report.entries == 5  # Alice's three, Bob's retracted entry (a stub) and retraction
    assert report.refused == ()
    for g in (alice, bob, carol):
        assert not g.sync().alarms, g
    bodies = [e.body for e in carol.entries()]
    assert bodies[:4] == [b"kept", b"lost 0", b"lost 1", b"lost 2"]
    assert b"bob writes, then withdraws it" not in bodies
    assert {e.id for e in carol.entries()} >= set(lost)
    # Alice writes again where her chain really ends, and everyone verifies everything.
    alice.post(b"after the heal")
    for g in (alice, bob, carol):
        g.sync()
        assert g.verify().ok
    assert [e.body for e in bob.entries()][-1] == b"after the heal"


def test_a_heal_brings_back_lost_log_ops_and_the_lockboxes_it_holds(
    restorable: RestorableServer, members: list[Account]
) -> None:
    alice, bob, carol = form_group(*members)
    with rolled_back(restorable):
        alice.rotate()
        for g in (bob, carol):
            g.sync()
        alice.post(b"under the new key")
        for g in (bob, carol):
            g.sync()
    assert rollback_alarms(bob)
    report = carol.heal()
    assert report.ops == 1
    assert report.entries == 1
    for g in (alice, bob, carol):
        assert not g.sync().alarms
        assert g.verify().ok
    alice.post(b"after")
    bob.sync()
    assert [e.body for e in bob.entries()] == [b"under the new key", b"after"]


def test_a_server_that_rolls_back_again_after_a_heal_is_seen_again(
    restorable: RestorableServer, members: list[Account]
) -> None:
    alice, bob = form_group(*members[:2])
    with rolled_back(restorable) as copy:
        alice.post(b"lost twice")
        bob.sync()
    bob.heal()
    assert not bob.sync().alarms
    restorable.restore(copy)
    assert rollback_alarms(bob)
    assert rollback_alarms(alice)


def test_nothing_to_heal_sends_nothing(
    restorable: RestorableServer, members: list[Account]
) -> None:
    alice, bob = form_group(*members[:2])
    alice.post(b"one")
    bob.sync()
    report = bob.heal()
    assert not report.healed
    assert report.entries == 0


# --- attacks on a heal ---------------------------------------------------------------------------


def _post_as_before_removal(g: Group, body: bytes, removal_seq: int) -> bytes:
    """What a removed member's device can still sign: an entry claiming the last log head
    before their removal, under the key they held then (sent with the raw API)."""
    snap = g._load()
    state = snap.state
    log_seq = removal_seq - 1
    epoch = state.epoch_at[log_seq]
    device = g._device()
    head = snap.tracker.head(device.id)
    sealed = crypto.seal_entry(
        device=device,
        epoch_key=snap.keyring.keys[epoch],
        group=g.id_bytes,
        epoch=epoch,
        seq=head.seq + 1 if head else 1,
        prev=head.link if head else bytes(32),
        log_seq=log_seq,
        log_head=state.op_hashes[log_seq],
        body=body,
    )
    g._api().post_entry(g.id_bytes, sealed.data)
    return sealed.entry.header.entry_id


def test_a_removed_member_cannot_heal_a_server_that_holds_their_removal(
    restorable: RestorableServer, members: list[Account]
) -> None:
    alice, bob, mallory = form_group(*members)
    mallory.post(b"before")
    alice.remove("Carol")
    mallory.sync()
    with pytest.raises((E.Forbidden, E.NotAMember)):
        mallory.heal()
    assert not bob.sync().alarms


def test_a_removed_members_heal_restores_their_own_removal(
    restorable: RestorableServer, members: list[Account]
) -> None:
    """The server went back to before Carol's removal: what she can push is the signed log
    she holds, and it ends with her removal. She cannot heal past it."""
    alice, bob, mallory = form_group(*members)
    with rolled_back(restorable):
        alice.remove("Carol")
        mallory.sync()  # she holds the log up to her own removal
    mallory.heal()
    # The lockboxes of the removal's rotation: only its signer holds the others' (Bob had not
    # fetched his before the restore), so the leader heals too.
    assert not alice.heal().healed
    alice.post(b"after Carol's removal")
    assert not bob.sync().alarms
    assert [e.body for e in bob.entries()] == [b"after Carol's removal"]
    mallory.sync()
    assert b"after Carol's removal" not in [e.body for e in mallory.entries()]
    assert mallory.status == "removed"


def test_an_entry_a_removed_member_slipped_in_is_a_fork_no_heal_covers(
    restorable: RestorableServer, members: list[Account]
) -> None:
    """While the server is back before her removal, Carol posts as a member again. A heal
    would restore her removal over an entry beyond its final head: the server refuses it
    (not a prefix), the healer is told, and honest clients never take her entry."""
    alice, bob, mallory = form_group(*members)
    with rolled_back(restorable):
        removal = alice.remove("Carol")
        for g in (bob, mallory):
            g.sync()
    slipped = _post_as_before_removal(mallory, b"slipped in", removal.seq)
    with pytest.raises(E.ForkError) as caught:
        bob.heal()
    assert "move" in caught.value.hint
    for g in (alice, bob):
        report = g.sync()
        assert any(a.kind == "RollbackError" for a in report.alarms)
        assert slipped.hex() not in {e.id for e in g.entries()}


# --- moving to another server --------------------------------------------------------------------


def test_a_leader_moves_the_group_and_members_follow(
    restorable: RestorableServer, new_server: RestorableServer, members: list[Account]
) -> None:
    alice, bob, carol = form_group(*members)
    for i in range(3):
        bob.post(f"bob {i}".encode())
    withdrawn = carol.post(b"carol withdraws this")
    carol.post(b"withdrawn", retracts=[withdrawn])
    alice.checkpoint()
    for g in (alice, bob, carol):
        g.sync()
    report = alice.move(NEW_URL)
    assert report.created
    assert alice.server == NEW_URL
    restorable.stop()  # the old server is abandoned
    for g in (bob, carol):
        with pytest.raises(E.Unreachable):
            g.sync()
        assert g.use_server(NEW_URL) is None
        assert not g.sync().alarms
    for g in (alice, bob, carol):
        assert g.verify().ok
    codes = {g.meeting_code() for g in (alice, bob, carol)}
    assert len(codes) == 1
    bob.post(b"on the new server")
    carol.sync()
    bodies = [e.body for e in carol.entries()]
    assert bodies[:3] == [b"bob 0", b"bob 1", b"bob 2"]
    assert bodies[-1] == b"on the new server"
    assert b"carol withdraws this" not in bodies


def test_only_a_leader_moves_the_group(
    restorable: RestorableServer, new_server: RestorableServer, members: list[Account]
) -> None:
    _, bob = form_group(*members[:2])
    with pytest.raises(E.NotAllowed):
        bob.move(NEW_URL)
    assert bob.server != NEW_URL


def test_a_server_holding_nothing_of_the_group_is_refused_unless_given_a_copy(
    restorable: RestorableServer, new_server: RestorableServer, members: list[Account]
) -> None:
    alice, bob = form_group(*members[:2])
    alice.post(b"held by members")
    bob.sync()
    with pytest.raises(E.ServerNotFound):
        bob.use_server(NEW_URL)
    assert bob.server != NEW_URL
    report = bob.use_server(NEW_URL, give_copy=True)
    assert report is not None
    assert report.created
    assert bob.server == NEW_URL
    assert alice.use_server(NEW_URL) is None  # the copy Bob gave agrees with hers
    assert [e.body for e in alice.entries()] == [b"held by members"]
    assert alice.verify().ok


def test_a_server_rebuilt_from_nothing_at_the_same_address_gets_the_group_back(
    restorable: RestorableServer, members: list[Account]
) -> None:
    alice, bob, carol = form_group(*members)
    alice.post(b"held by members")
    for g in (bob, carol):
        g.sync()
    restorable.wipe()
    with pytest.raises(E.ServerChanged):
        bob.sync()
    report = bob.use_server(restorable.url, give_copy=True)
    assert report is not None
    assert report.created
    for g in (alice, carol):
        assert g.use_server(restorable.url) is None
    for g in (alice, bob, carol):
        assert not g.sync().alarms
        assert g.verify().ok
    alice.post(b"after the rebuild")
    carol.sync()
    assert [e.body for e in carol.entries()] == [b"held by members", b"after the rebuild"]


class _OtherLog(httpx.BaseTransport):
    """A server that serves another log at the head a member pinned (a stranger's, a fork)."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        resp = self.inner.handle_request(request)
        if request.method != "GET" or not request.url.path.endswith("/log"):
            return resp
        resp.read()
        page = msgspec.msgpack.decode(resp.content)
        page["head"] = bytes(32)
        if page["ops"]:
            page["ops"][0] = page["ops"][0][:-1] + bytes([page["ops"][0][-1] ^ 1])
        headers = {k: v for k, v in resp.headers.items() if k.lower() != "content-length"}
        return httpx.Response(200, headers=headers, content=msgspec.msgpack.encode(page))


def test_a_server_serving_another_log_is_refused_and_nothing_changes(
    restorable: RestorableServer, new_server: RestorableServer, members: list[Account]
) -> None:
    alice, bob = form_group(*members[:2])
    alice.post(b"one")
    bob.sync()
    alice.move(NEW_URL)
    new_server.http = httpx.Client(
        transport=_OtherLog(new_server.http._transport), base_url=NEW_URL
    )
    before = bob.verify()
    with pytest.raises(E.ForkError) as caught:
        bob.use_server(NEW_URL)
    assert "another log" in caught.value.message
    assert bob.server == restorable.url
    assert bob.verify() == before
    assert not bob.sync().alarms  # the old server still serves the group: nothing changed


def test_members_follow_a_signed_move_on_their_next_sync(
    restorable: RestorableServer, new_server: RestorableServer, members: list[Account]
) -> None:
    alice, bob, carol = form_group(*members)
    bob.post(b"before the move")
    carol.sync()
    alice.move(NEW_URL)
    for g in (bob, carol):
        report = g.sync()
        texts = [a.text for a in report.announcements]
        assert any(f"moved the group to the server at {NEW_URL}" in t for t in texts), texts
        assert any("now uses" in t for t in texts), texts
        assert g.server == NEW_URL
        assert not report.alarms
    restorable.stop()
    carol.post(b"after the move")
    bob.sync()
    assert [e.body for e in bob.entries()] == [b"before the move", b"after the move"]
    assert bob.verify().ok


def test_a_write_queued_when_the_move_arrives_goes_to_the_new_server(
    restorable: RestorableServer, new_server: RestorableServer, members: list[Account]
) -> None:
    alice, bob = form_group(*members[:2])
    alice.move(NEW_URL)
    bob.post(b"written as the move arrives")  # its sync verifies the move first
    assert bob.server == NEW_URL
    assert bob.queued == 0
    restorable.stop()
    alice.sync()
    assert [e.body for e in alice.entries()] == [b"written as the move arrives"]


def test_only_a_leader_signs_a_move_and_it_names_a_web_address(
    restorable: RestorableServer, members: list[Account]
) -> None:
    alice, bob = form_group(*members[:2])
    with pytest.raises(E.NotAllowed):
        bob.append_op(lambda c: crypto.build_move(c.state, c.device, NEW_URL, time=c.time))
    with pytest.raises(E.NotAllowed):
        alice.append_op(
            lambda c: crypto.build_move(c.state, c.device, "javascript:alert(1)", time=c.time)
        )
    state = alice.state.copy()
    forged = crypto.build_move(state, bob._device(), NEW_URL, time=int(time.time()))
    with pytest.raises(crypto.LogError) as caught:
        state.apply(forged.op)
    assert caught.value.check == "role"


def test_a_rebuilt_server_that_is_refused_leaves_the_old_identity_pinned(
    restorable: RestorableServer, members: list[Account]
) -> None:
    _, bob = form_group(*members[:2])
    restorable.wipe()
    with pytest.raises(E.ServerNotFound):
        bob.use_server(restorable.url)  # empty, and no copy given: refused
    with pytest.raises(E.ServerChanged):
        bob.sync()  # the identity Bob first pinned still stands
