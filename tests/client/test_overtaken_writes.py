"""A queued write the journal's rules no longer allow is kept unsent, never sent to be ignored.

The server cannot read notes, so it accepts a note whose author lost the right to write it
while it waited offline (a stricter notes policy, a demotion); every client would then
ignore it as unauthorized, its author's included, and the text would be lost. The client
judges each queued write on the head it will be sealed on, and keeps what the rules no
longer allow with the rest of the unsent writes.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import httpx
import pytest
from chatham.client import Account, Group, errors
from chatham.client._private.journal.permissions import (
    REFUSALS,
    full_powers,
    no_longer_allowed,
)

from tests.support.client_fixtures import SERVER_URL, Person, form_group

NOTE_TEXT = "Carol's notes: the treasurer will step down after the spring audit"
MEETING_TITLE = "Emergency budget meeting"


class Switch(httpx.BaseTransport):
    """A transport that can be cut (the network is down)."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner
        self.down = False
        self.before_post: Callable[[], None] | None = None
        """Runs once, just before the next entry post reaches the server."""

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if self.down:
            raise httpx.ConnectError("network is down", request=request)
        if request.method == "POST" and "/entries" in request.url.path and self.before_post:
            before, self.before_post = self.before_post, None
            before()
        return self.inner.handle_request(request)


@dataclass
class Forum:
    alice: Account
    ga: Group
    gb: Group
    gc: Group
    switch: Switch


@pytest.fixture
def forum(person: Person, server: httpx.Client) -> Iterator[Forum]:
    """Alice leads, Bob leads too, Carol is a member; Bob's and Carol's network is about to
    go down. A meeting is planned."""
    switch = Switch(server._transport)
    with httpx.Client(transport=switch, base_url=SERVER_URL) as http:
        alice, bob, carol = person("Alice"), person("Bob", http=http), person("Carol", http=http)
        ga, gb, gc = form_group(alice, bob, carol)
        ga.set_role("Bob", "leader")
        ga.journal().new_meeting(date=datetime.date(2026, 3, 4), title="March")
        gb.sync()
        gc.sync()
        yield Forum(alice, ga, gb, gc, switch)


def server_entries(f: Forum) -> set[str]:
    """Every entry id the server hands Alice."""
    f.ga.sync()
    return {ref.id for ref in f.ga.entry_index()}


def test_a_note_queued_before_notes_became_leaders_only_is_kept_unsent(forum: Forum) -> None:
    f = forum
    f.switch.down = True
    cj = f.gc.journal()
    note = cj.new_note(NOTE_TEXT, title="March", meeting=cj.meeting(default="to-open"))
    assert note.queued
    f.ga.set_policy(notes="leaders")
    f.switch.down = False
    report = f.gc.sync()
    [(rid, reason)] = report.refused
    assert rid == note.id
    assert "leaders only" in reason
    assert report.queued == 0
    assert report.unsent == 1
    assert note.id not in server_entries(f)
    [kept] = f.gc.unsent()
    assert kept.id == note.id
    assert kept.kind == "note"
    assert NOTE_TEXT in kept.text
    assert kept.reason == reason
    # Every later sync still reports it and never sends it.
    later = f.gc.sync()
    assert later.unsent == 1
    assert later.refused == ()
    assert note.id not in server_entries(f)


def test_a_note_overtaken_while_it_is_being_sent_is_kept_unsent(forum: Forum) -> None:
    """The policy changes after Carol's sync fetched the log, before her note reaches the
    server: the server sends her back to catch up, and the note is judged again."""
    f = forum
    f.switch.down = True
    cj = f.gc.journal()
    note = cj.new_note(NOTE_TEXT, meeting=None)
    f.switch.down = False
    f.switch.before_post = lambda: f.ga.set_policy(notes="leaders")
    report = f.gc.sync()
    assert f.switch.before_post is None
    assert [rid for rid, _ in report.refused] == [note.id]
    assert note.id not in server_entries(f)
    [kept] = f.gc.unsent()
    assert NOTE_TEXT in kept.text
    assert "leaders only" in kept.reason


def test_a_write_still_allowed_goes_out_beside_one_held_back(forum: Forum) -> None:
    f = forum
    f.switch.down = True
    cj = f.gc.journal()
    note = cj.new_note(NOTE_TEXT, meeting=None)
    issue = cj.new_issue(title="Spring audit", priority="B")
    assert issue.queued
    f.ga.set_policy(notes="leaders")
    f.switch.down = False
    report = f.gc.sync()
    assert [rid for rid, _ in report.refused] == [note.id]
    assert report.queued == 0
    on_server = server_entries(f)
    assert issue.id in on_server
    assert note.id not in on_server
    assert "Spring audit" in [i.title for i in f.ga.journal().view.issues()]
    assert [k.id for k in f.gc.unsent()] == [note.id]


def test_a_demoted_leaders_queued_meeting_and_agenda_are_kept_unsent(forum: Forum) -> None:
    f = forum
    f.switch.down = True
    bj = f.gb.journal()
    planned = bj.new_meeting(date=datetime.date(2026, 4, 1), title=MEETING_TITLE)
    with pytest.raises(errors.Unreachable):
        bj.publish_agenda(bj.meeting(default="to-open"))
    assert f.gb.queued == 2
    f.ga.set_role("Bob", "member")
    f.switch.down = False
    report = f.gb.sync()
    assert len(report.refused) == 2
    assert all(reason == "you are no longer a leader" for _, reason in report.refused)
    assert report.queued == 0
    on_server = server_entries(f)
    assert not {rid for rid, _ in report.refused} & on_server
    kept = f.gb.unsent()
    assert sorted(k.kind for k in kept) == ["agenda", "meeting"]
    assert any(MEETING_TITLE in k.text for k in kept if k.id == planned.id)
    assert MEETING_TITLE not in [m.title for m in f.ga.journal().view.meetings()]


def test_a_leaders_queued_note_goes_out_under_a_leaders_only_policy(forum: Forum) -> None:
    f = forum
    f.switch.down = True
    bj = f.gb.journal()
    note = bj.new_note(NOTE_TEXT, meeting=None)
    f.ga.set_policy(notes="leaders")
    f.switch.down = False
    report = f.gb.sync()
    assert report.refused == ()
    assert report.unsent == 0
    assert note.id in server_entries(f)
    assert NOTE_TEXT in [n.body.body for n in f.ga.journal().view.notes()]


def test_only_a_leader_has_every_power_a_policy_could_take_away() -> None:
    assert full_powers("leader", notes="leaders")
    assert full_powers("leader", notes="all")
    assert not full_powers("member", notes="all")
    assert not full_powers(None, notes="all")


def test_the_reason_a_held_back_write_gives_is_in_the_members_words() -> None:
    words = no_longer_allowed
    assert words("note.create", role="member", notes="leaders") == (
        "the group's leaders now keep notes to leaders only"
    )
    assert words("note.edit", role="member", notes="leaders") == (
        "the group's leaders now keep notes to leaders only"
    )
    assert words("agenda.publish", role="member", notes="all") == "you are no longer a leader"
    assert words("meeting.create", role="member", notes="leaders") == "you are no longer a leader"
    assert words("comment.create", role=None, notes="all") == (
        "you are no longer a member of the group"
    )
    # Each reason only where it is the reason: not the notes policy while notes are open to
    # all, or for a leader; not a lost leadership for an action members may take, or for a
    # leader.
    assert words("note.create", role="member", notes="all") == REFUSALS["note.create"][0]
    assert words("note.create", role="leader", notes="leaders") == REFUSALS["note.create"][0]
    assert words("comment.create", role="member", notes="all") == REFUSALS["comment.create"][0]
    assert words("agenda.publish", role="leader", notes="all") == REFUSALS["agenda.publish"][0]
