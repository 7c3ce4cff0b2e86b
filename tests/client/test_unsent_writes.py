"""A write the server refuses for good is kept, sealed, readable, reported and discardable.

A queued write may reach the server after its author lost the power it needs (a leader
demoted while their write waited offline). The server refuses it (403) for good; the
member's text must not vanish with it.
"""

from __future__ import annotations

import datetime
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from chatham.client import Account, Group, errors
from chatham.client.journal import Note, encode_body

from tests.support.client_fixtures import SERVER_URL, Person, form_group

NOTE_TEXT = "Minutes of the 4 March meeting: Sam will sell the bakery to his niece"


class Switch(httpx.BaseTransport):
    """A transport that can be cut (the network is down)."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner
        self.down = False
        self.entry_posts = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if self.down:
            raise httpx.ConnectError("network is down", request=request)
        if request.method == "POST" and request.url.path.endswith("/entries"):
            self.entry_posts += 1
        return self.inner.handle_request(request)


@dataclass
class Forum:
    alice: Account
    bob: Account
    ga: Group
    gb: Group
    gc: Group
    switch: Switch
    carol_note: str


@pytest.fixture
def forum(person: Person, server: httpx.Client) -> Iterator[Forum]:
    """Alice leads; Bob leads too, and his network is about to go down; Carol has written a
    draft of the meeting's notes."""
    switch = Switch(server._transport)
    with httpx.Client(transport=switch, base_url=SERVER_URL) as http:
        alice, bob, carol = person("Alice"), person("Bob", http=http), person("Carol")
        ga, gb, gc = form_group(alice, bob, carol)
        ga.set_role("Bob", "leader")
        meeting = ga.journal().new_meeting(date=datetime.date(2026, 3, 4), title="March")
        gc.sync()
        cj = gc.journal()
        draft = cj.new_note("Carol's draft", meeting=cj.meeting(meeting.id))
        gb.sync()
        yield Forum(alice, bob, ga, gb, gc, switch, draft.id)


def queue_meeting_notes_then_demote(f: Forum) -> str:
    """Bob, offline, writes the meeting's notes in place of Carol's draft (a leader may
    withdraw another's entry); Alice demotes him before his notes go out. Its id."""
    f.switch.down = True
    [meeting] = f.gb.journal().view.meetings()
    body = encode_body(Note(ts=1, body=NOTE_TEXT, title="March notes", meeting=meeting.id))
    eid = f.gb.post(body, retracts=[f.carol_note])
    assert f.gb.queued == 1
    f.ga.set_role("Bob", "member")
    f.switch.down = False
    return eid


def test_a_demoted_leaders_queued_meeting_note_is_kept_readable_and_reported(
    forum: Forum,
) -> None:
    f = forum
    eid = queue_meeting_notes_then_demote(f)
    report = f.gb.sync()
    assert [rid for rid, _ in report.refused] == [eid]
    assert report.queued == 0
    assert report.unsent == 1
    [kept] = f.gb.unsent()
    assert kept.id == eid
    assert kept.kind == "note"
    assert NOTE_TEXT in kept.text
    assert "March notes" in kept.text
    assert kept.reason
    assert kept.refused_at > 0
    # Every later sync still says so, and never sends it again.
    posts = f.switch.entry_posts
    later = f.gb.sync()
    assert later.unsent == 1
    assert later.refused == ()
    assert f.switch.entry_posts == posts
    assert [k.id for k in f.gb.unsent()] == [eid]


def test_a_refusal_triggered_by_queueing_another_write_is_reported(forum: Forum) -> None:
    f = forum
    f.switch.down = True
    eid = queue_meeting_notes_then_demote(f)
    # Back online, Bob writes something else: its send takes the waiting notes along.
    posted = f.gb.journal().new_issue(title="Bob's issue", priority="C")
    assert not posted.queued
    assert posted.unsent == 1
    [kept] = f.gb.unsent()
    assert kept.id == eid
    assert NOTE_TEXT in kept.text
    f.ga.sync()
    assert "Bob's issue" in [i.title for i in f.ga.journal().view.issues()]


def test_a_write_refused_as_it_is_made_is_kept_and_the_member_told(forum: Forum) -> None:
    f = forum
    # Demoted on the server after Bob's last sync: his write is refused as he makes it.
    f.ga.set_role("Bob", "member")
    [meeting] = f.gb.journal().view.meetings()
    body = encode_body(Note(ts=1, body=NOTE_TEXT, title="March notes", meeting=meeting.id))
    with pytest.raises(errors.NotAllowed) as info:
        f.gb.post(body, retracts=[f.carol_note])
    assert "chatham unsent" in f"{info.value} {info.value.hint}"
    [kept] = f.gb.unsent()
    assert kept.kind == "note"
    assert NOTE_TEXT in kept.text


def test_discarding_a_kept_write_removes_it(forum: Forum) -> None:
    f = forum
    eid = queue_meeting_notes_then_demote(f)
    f.gb.sync()
    f.gb.discard_unsent(eid[:8])
    assert f.gb.unsent() == []
    assert f.gb.sync().unsent == 0
    with pytest.raises(errors.NotFound):
        f.gb.discard_unsent(eid)


def test_a_kept_write_is_sealed_on_disk(forum: Forum) -> None:
    f = forum
    queue_meeting_notes_then_demote(f)
    f.gb.sync()
    assert NOTE_TEXT in f.gb.unsent()[0].text
    f.bob._store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    path = f.bob._store.path
    on_disk = b"".join(
        p.read_bytes() for p in (path, path.with_name(path.name + "-wal")) if p.exists()
    )
    assert b"sell the bakery" not in on_disk
    assert "sell the bakery".encode("utf-16-le") not in on_disk


def test_a_kept_write_moved_back_into_the_outbox_is_not_sent(forum: Forum) -> None:
    """An edit of the store cannot send a refused write again: it is sealed for `unsent`."""
    f = forum
    queue_meeting_notes_then_demote(f)
    f.gb.sync()
    db = sqlite3.connect(f.bob.home.store_path, isolation_level=None)
    db.execute(
        "INSERT INTO outbox (group_id, entry_id, sealed, added) "
        "SELECT group_id, entry_id, sealed, added FROM unsent"
    )
    db.close()
    posts = f.switch.entry_posts
    with pytest.raises(errors.StoreTampered):
        f.gb.sync()
    assert f.switch.entry_posts == posts


def test_a_store_from_before_kept_writes_gains_their_table(forum: Forum) -> None:
    f = forum
    db = sqlite3.connect(f.bob.home.store_path, isolation_level=None)
    db.execute("DROP TABLE unsent")
    db.close()
    again = Account(f.bob.home, f.bob._secrets, http=f.bob._http)
    try:
        g = again.group()
        assert g.unsent() == []
        assert g.sync().unsent == 0
    finally:
        again.close()
