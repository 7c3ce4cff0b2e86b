"""No power outlives its op: an author's claimed log head never lends a power they lost.

An entry claims the log head it was written at, and every client judges what its author
may do there. A demoted leader, or a member after the notes policy became stricter, could
claim a head from before: an honest server refuses such an entry (409 stale_log_head,
the client reseals), and when a colluding operator stores it anyway, every client judges
it where its author's chain places it, after the op that pinned that chain.
"""

from __future__ import annotations

import datetime
from typing import Any

import httpx
import pytest
from chatham import crypto
from chatham.client import Group, errors
from chatham.client.journal import Issue, Meeting, Note, Retraction, encode_body

from tests.support.client_fixtures import Person, Tamper, form_group
from tests.support.tamper_kit import World, backdated, inject_entry


def titles(g: Group) -> list[str]:
    return [i.title for i in g.journal().view.list_items()]


def test_a_demoted_leaders_backdated_entry_is_refused_by_an_honest_server(world: World) -> None:
    w = world
    w.ga.set_role("Bob", "leader")
    w.gb.sync()
    as_leader = (w.gb.state.seq, w.gb.state.head)
    w.ga.set_role("Bob", "member")
    w.gb.sync()
    meeting = encode_body(Meeting(ts=1, date=datetime.date(2026, 12, 24), title="X"))
    sealed = backdated(w.gb, meeting, as_leader)
    with pytest.raises(errors.Conflict) as info:
        w.gb._api().post_entry(w.gb.id_bytes, sealed.data)
    assert info.value.code == "stale_log_head"


def test_a_demoted_leaders_backdated_entry_has_no_leader_power(world: World) -> None:
    w = world
    issue = w.gc.journal().new_issue(title="Carol's issue", priority="B")
    w.ga.set_role("Bob", "leader")
    w.gb.sync()
    as_leader = (w.gb.state.seq, w.gb.state.head)
    w.gb.post(b"while Bob leads")  # an entry of his as a leader: the demotion pins it
    w.ga.set_role("Bob", "member")
    w.gb.sync()
    # Bob signs, as if still a leader, a meeting and the withdrawal of Carol's issue, and a
    # colluding operator stores both despite the server's own refusal.
    meeting = Meeting(ts=2, date=datetime.date(2026, 12, 24), title="Bob's meeting")
    inject_entry(w.db_path, w.ga.id_bytes, backdated(w.gb, encode_body(meeting), as_leader))
    w.gb.sync()  # Bob's own client takes his entry in, and chains the next one to it
    cid = bytes.fromhex(issue.id)
    withdraw = Retraction(ts=3, item=cid, entries=[cid])
    sealed = backdated(w.gb, encode_body(withdraw), as_leader, retracts=[cid])
    inject_entry(w.db_path, w.ga.id_bytes, sealed)
    for g in (w.ga, w.gc):
        report = g.sync()
        shown = titles(g)
        assert "Bob's meeting" not in shown
        assert "Carol's issue" in shown  # the local copy is kept: the deletion did not verify
        warnings = g.journal().view.warnings
        assert {x.code for x in warnings} >= {"unauthorized"}
        assert any(a.check == "role" for a in report.alarms)
    # Where it stands in his chain (after the demotion), Bob's entry is judged as a member's.
    [entry] = [e for e in w.ga.entries() if e.body == encode_body(meeting)]
    assert entry.log_seq == as_leader[0]
    assert entry.authority_seq > as_leader[0]


def test_a_member_cannot_backdate_a_note_past_a_stricter_notes_policy(world: World) -> None:
    w = world
    w.gb.post(b"Bob's entry before the policy")
    w.ga.sync()
    before = (w.gb.state.seq, w.gb.state.head)
    w.ga.set_policy(notes="leaders")  # pins Bob's and Carol's chains
    w.gb.sync()
    note = encode_body(Note(ts=5, body="Bob's note, backdated"))
    sealed = backdated(w.gb, note, before)
    with pytest.raises(errors.Conflict):
        w.gb._api().post_entry(w.gb.id_bytes, sealed.data)
    inject_entry(w.db_path, w.ga.id_bytes, sealed)
    w.ga.sync()
    view = w.ga.journal().view
    assert view.notes() == []
    assert any(x.code == "unauthorized" for x in view.warnings)
    # A note Bob writes now is refused before anything is posted.
    with pytest.raises(errors.NotAllowed):
        w.gb.journal().new_note("an honest try", meeting=None)


def test_a_retraction_does_not_stop_anyones_sync(world: World) -> None:
    """The way this once wedged a group: Bob retracted an issue; Carol had not synced the
    entry, and a member added later had never seen it. Both sync, and so does everyone."""
    w = world
    bob = w.gb.journal()
    issue = bob.new_issue(title="Take this back", priority="B")
    bob.new_issue(title="Keep this", priority="C")
    bob.retract(bob.item(issue.id))
    for g in (w.ga, w.gc):
        assert g.sync().alarms == ()
        assert titles(g) == ["Keep this"]
    w.gb.post(b"after the retraction")
    assert w.gc.sync().alarms == ()
    assert [e.body for e in w.gc.entries()][-1] == b"after the retraction"
    assert w.gc.verify().ok


def test_an_issue_by_bob_before_his_demotion_keeps_its_owner_rights(world: World) -> None:
    """Pins take powers away from what comes after them, not before."""
    w = world
    w.ga.set_role("Bob", "leader")
    w.gb.sync()
    j = w.gb.journal()
    j.new_issue(title="Written as a leader", priority="A")
    w.ga.set_role("Bob", "member")
    w.gb.sync()
    assert "Written as a leader" in titles(w.ga)
    j = w.gb.journal()
    [item] = [i for i in j.view.issues() if i.title == "Written as a leader"]
    j.edit_issue(item, title="Edited as a member")
    w.ga.sync()
    assert "Edited as a member" in titles(w.ga)


def test_an_entry_withheld_from_the_leader_is_named_to_its_author(
    person: Person, tamper: Tamper, tampered_http: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A checkpoint attests what its leader holds. A server that hides Sam's entry from the
    leader (and accepts her checkpoint anyway) is caught by Sam, whose client holds it."""
    from chatham.server._private.services import groups as server_groups

    dana, sam = person("Dana", http=tampered_http), person("Sam")
    gd, gs = form_group(dana, sam)
    gs.post(b"seen by everyone")
    hidden = gs.post(b"the entry the server keeps from the leader")

    def drop(_: httpx.Request, page: dict[str, Any]) -> None:
        page["entries"] = [e for e in page["entries"] if e["entry_id"].hex() != hidden]

    tamper.on("GET", "/entries", drop)
    monkeypatch.setattr(server_groups, "_check_pinned_heads", lambda *a: None)  # it colludes
    gd.sync()
    gd.checkpoint()
    report = gs.sync()
    [alarm] = [a for a in report.alarms if a.check == "checkpoint"]
    assert isinstance(alarm.error(), errors.WithheldError)
    assert "does not cover your entry 2" in alarm.text
    assert not gs.verify().ok


def test_an_entry_the_server_deleted_without_a_valid_retraction_is_not_listed_as_readable(
    world: World,
) -> None:
    """Bob never held Alice's issue: the operator deleted its ciphertext on a retraction by
    Carol, who may not retract it. Bob is told, and his index does not call the stub readable
    (the journal would otherwise look for it on every load)."""
    w = world
    issue = w.ga.journal().new_issue(title="Alice's issue", priority="B")
    w.gc.sync()
    cid = bytes.fromhex(issue.id)
    withdraw = Retraction(ts=3, item=cid, entries=[cid])
    at = (w.gc.state.seq, w.gc.state.head)
    inject_entry(w.db_path, w.ga.id_bytes, backdated(w.gc, encode_body(withdraw), at, [cid]))
    report = w.gb.sync()
    assert any(a.record == f"entry {issue.id}" for a in report.alarms)
    [ref] = [r for r in w.gb.entry_index() if r.id == issue.id]
    assert not ref.readable
    assert "Alice's issue" not in titles(w.gb)
    assert "Alice's issue" in titles(w.ga)  # Alice kept her copy: the retraction is invalid


def test_a_leader_demoted_while_their_retraction_is_on_its_way_is_told_and_keeps_syncing(
    world: World,
) -> None:
    """Alice's demotion of Bob reaches the server just before Bob's retraction of Carol's
    issue. The server refuses the retraction; Bob is told, the write leaves his outbox, and
    every later sync of his finishes (it once failed with the same refusal forever)."""
    w = world
    w.ga.set_role("Bob", "leader")
    w.gc.journal().new_issue(title="Carol's issue", priority="B")
    w.gb.sync()
    w.tamper.race("POST", "/entries", lambda: w.ga.set_role("Bob", "member"))
    bob = w.gb.journal()
    [item] = [i for i in bob.view.issues() if i.title == "Carol's issue"]
    with pytest.raises(errors.NotAllowed) as info:
        bob.retract(item)
    assert "not sent" in f"{info.value} {info.value.hint}"
    report = w.gb.sync()
    assert report.queued == 0
    assert report.alarms == ()
    assert "Carol's issue" in titles(w.gb)
    w.gb.journal().new_issue(title="Bob's issue, after", priority="C")
    for g in (w.ga, w.gc):
        assert g.sync().alarms == ()
        assert titles(g) == ["Carol's issue", "Bob's issue, after"]


def test_a_removed_devices_entry_accepted_while_the_removal_was_hidden_goes_once_it_is_seen(
    world: World,
) -> None:
    """The server hides Carol's removal from Bob and serves him an entry Carol signed after
    it. Bob cannot tell yet (the freshness bound limits that); once he sees the removal,
    the entry beyond Carol's final head is judged after it, and is no longer shown."""
    w = world
    seen = w.gb.state.seq

    def hide_newer(_: httpx.Request, page: dict[str, Any]) -> dict[str, Any]:
        if "ops" in page:
            page["ops"] = [op for op in page["ops"] if crypto.decode_signed_op(op).op.seq <= seen]
            if page["ops"]:
                page["seq"], page["head"] = seen, crypto.op_hash(page["ops"][-1])
        return page

    w.tamper.on("GET", "/log", hide_newer)
    at = (w.gc.state.seq, w.gc.state.head)
    w.ga.remove(w.ga.member(w.carol.member_id).id)
    late = encode_body(Issue(ts=9, title="Carol, after her removal"))
    inject_entry(w.db_path, w.ga.id_bytes, backdated(w.gc, late, at))
    w.gb.sync()
    assert "Carol, after her removal" in titles(w.gb)  # the limit: he could not know
    w.tamper.clear()
    w.gb.sync()
    assert "Carol, after her removal" not in titles(w.gb)
    assert any(x.code == "not_a_member" for x in w.gb.journal().view.warnings)
    w.ga.sync()
    assert "Carol, after her removal" not in titles(w.ga)
