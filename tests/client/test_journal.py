"""The journal view: folding, state machines, permissions, merge determinism and queries."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

import pytest
from chatham.client.errors import AmbiguousItem, InvalidDate, UnknownItem
from chatham.client.journal import (
    KINDS,
    PERMISSIONS,
    AgendaPublication,
    Body,
    Comment,
    CommentEdit,
    Commitment,
    CommitmentEdit,
    CommitmentItem,
    CommitmentStatus,
    EntryMeta,
    Issue,
    IssueEdit,
    IssueItem,
    IssueStatus,
    JournalView,
    Meeting,
    MeetingEdit,
    MeetingItem,
    MeetingStatus,
    Note,
    NoteEdit,
    Retraction,
    Review,
    Revision,
    RoleHistory,
    Update,
    UpdateEdit,
    allowed,
    encode_body,
    export_json,
    parse_date,
    permission_table,
    thread,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

LEE, ANN, BOB, CAL, EVE = (bytes([c]) * 32 for c in b"LABCE")  # EVE is not a member
NAMES = {LEE: "Lee", ANN: "Ann", BOB: "Bob", CAL: "Cal"}
TODAY = date(2026, 11, 20)
CANARY = "CANARY-51c0"


def ts_of(d: date, hour: int = 12) -> int:
    return int(datetime(d.year, d.month, d.day, hour, tzinfo=UTC).timestamp())


def roster(notes: Any = "all") -> RoleHistory:
    return RoleHistory.of({LEE: "Lee"}, {ANN: "Ann", BOB: "Bob", CAL: "Cal"}, notes=notes)


class G:
    """A group's journal under test: post bodies as members, in arrival order."""

    def __init__(self, r: RoleHistory | None = None) -> None:
        self.view = JournalView(r or roster())
        self.n = 0
        self.clock = ts_of(date(2026, 11, 1))
        self.entries: list[tuple[EntryMeta, bytes]] = []

    def post(
        self, who: bytes, cls: Callable[..., Body], *, log_seq: int = 1, **fields: Any
    ) -> bytes:
        self.n += 1
        if "ts" not in fields:
            self.clock += 60
            fields["ts"] = self.clock
        eid = self.n.to_bytes(16, "big")
        meta = EntryMeta(eid, who, who[:1] * 32, self.n, log_seq)
        data = encode_body(cls(**fields))
        self.entries.append((meta, data))
        self.view.add(meta, data)
        return eid

    def codes(self, eid: bytes) -> list[str]:
        return [w.code for w in self.view.warnings if w.entry_id == eid]

    def issue(self, eid: bytes) -> IssueItem:
        it = self.view.show(eid)
        assert isinstance(it, IssueItem)
        return it

    def meeting(self, eid: bytes) -> MeetingItem:
        it = self.view.show(eid)
        assert isinstance(it, MeetingItem)
        return it

    def commitment(self, eid: bytes) -> CommitmentItem:
        it = self.view.show(eid)
        assert isinstance(it, CommitmentItem)
        return it


def snapshot(view: JournalView) -> str:
    """Everything a member can see, as one comparable string."""
    doc = export_json(view, now=0)
    doc["warnings"] = [[w.entry_id.hex(), w.author.hex(), w.code, w.message] for w in view.warnings]
    doc["parking_lot"] = [[r.issue.id.hex(), r.score] for r in view.parking_lot(TODAY)]
    for m in view.meetings():
        a = view.agenda(m.id, TODAY)
        doc[f"agenda {m.id.hex()}"] = [
            [i.id.hex() for i in a.issues],
            [c.id.hex() for c in a.commitments],
        ]
        doc[f"review {m.id.hex()}"] = [
            [r.member.hex(), [c.id.hex() for c in r.commitments]] for r in view.review(m.id)
        ]
    return json.dumps(doc, sort_keys=True)


# --- creating and showing -------------------------------------------------------------------------


def test_items_are_created_with_their_entry_id() -> None:
    g = G()
    m = g.post(LEE, Meeting, date=date(2026, 12, 3), title="December")
    i = g.post(ANN, Issue, title="Hire a COO", priority="A", what="I am the bottleneck")
    n = g.post(ANN, Note, body="# Notes\n\ntext", meeting=m)
    c = g.post(ANN, Commitment, owner=ANN, text="Call the lawyer")
    k = g.post(BOB, Comment, item=i, text="Been there")
    u = g.post(CAL, Update, highs="A deal", scores={"work": 8})
    v = g.view
    assert len(v) == 6
    assert g.issue(i).title == "Hire a COO"
    assert g.issue(i).status == "parked"
    assert g.meeting(m).status == "planned"
    assert v.show(n).title == "Notes"
    assert g.commitment(c).status == "open"
    assert [x.id for x in v.show(i).comments] == [k]
    assert v.show(u).kind == "update"
    assert [it.kind for it in v.list_items()] == [
        "meeting", "issue", "note", "commitment", "comment", "update",
    ]  # fmt: skip
    assert v.warnings == []
    assert v.show(i).short_id == i.hex()[:8]


def test_history_keeps_every_version() -> None:
    g = G()
    m = g.post(LEE, Meeting, date=date(2026, 12, 3), title="December")
    i = g.post(ANN, Issue, title="v1", what="first")
    g.post(ANN, Revision, item=i, changes=IssueEdit(title="v2"))
    g.post(ANN, Revision, item=i, changes=IssueEdit(what="second", priority="A"))
    g.post(LEE, IssueStatus, item=i, status="scheduled", meeting=m)
    g.post(LEE, IssueStatus, item=i, status="presented")
    g.post(ANN, IssueStatus, item=i, status="closed", outcome="resolved")
    it = g.issue(i)
    assert [e.action for e in it.history] == [
        "created", "edited", "edited", "scheduled", "presented", "closed",
    ]  # fmt: skip
    assert it.history[0].fields["title"] == "v1"
    assert it.history[0].fields["what"] == "first"
    assert it.history[1].fields == {"title": "v2"}
    assert it.history[2].fields == {"what": "second", "priority": "A"}
    assert it.history[3].fields == {"meeting": m}
    assert it.history[4].author == LEE
    assert (it.title, it.body.what, it.priority) == ("v2", "second", "A")
    assert (it.status, it.outcome, it.presented_at, it.meeting) == ("closed", "resolved", m, None)
    assert it.updated == it.history[-1].ts


def test_note_title_falls_back_to_first_line() -> None:
    g = G()
    n = g.post(ANN, Note, body="\n## Board notes\nmore")
    assert g.view.show(n).title == "Board notes"


# --- state machines -------------------------------------------------------------------------------

ISSUE_MOVES = {
    ("parked", "scheduled"): True,
    ("parked", "presented"): True,
    ("parked", "closed"): True,
    ("parked", "parked"): False,
    ("scheduled", "scheduled"): True,
    ("scheduled", "presented"): True,
    ("scheduled", "closed"): True,
    ("scheduled", "parked"): True,
    ("presented", "scheduled"): False,
    ("presented", "presented"): False,
    ("presented", "closed"): True,
    ("presented", "parked"): True,
    ("closed", "scheduled"): False,
    ("closed", "presented"): False,
    ("closed", "closed"): False,
    ("closed", "parked"): True,
}


def _status(status: str, meeting: bytes) -> dict[str, Any]:
    if status == "scheduled":
        return {"status": status, "meeting": meeting}
    if status == "presented":
        return {"status": status, "meeting": meeting}
    if status == "closed":
        return {"status": status, "outcome": "withdrawn"}
    return {"status": status}


@pytest.mark.parametrize(("src", "dst"), list(ISSUE_MOVES))
def test_issue_state_machine(src: str, dst: str) -> None:
    g = G()
    m = g.post(LEE, Meeting, date=date(2026, 12, 3), title="December")
    i = g.post(ANN, Issue, title="t")
    if src == "scheduled":
        g.post(ANN, IssueStatus, item=i, **_status("scheduled", m))
    elif src != "parked":
        g.post(ANN, IssueStatus, item=i, **_status(src, m))
    assert g.issue(i).status == src
    e = g.post(ANN, IssueStatus, item=i, **_status(dst, m))
    if ISSUE_MOVES[src, dst]:
        assert g.issue(i).status == dst
        assert g.codes(e) == []
    else:
        assert g.issue(i).status == src
        assert g.codes(e) == ["invalid_transition"]


def test_reopen_and_unschedule_clear_meeting_and_outcome() -> None:
    g = G()
    m = g.post(LEE, Meeting, date=date(2026, 12, 3), title="December")
    i = g.post(ANN, Issue, title="t")
    g.post(LEE, IssueStatus, item=i, status="scheduled", meeting=m)
    g.post(LEE, IssueStatus, item=i, status="parked")
    assert (g.issue(i).status, g.issue(i).meeting) == ("parked", None)
    assert g.issue(i).history[-1].action == "unscheduled"
    g.post(ANN, IssueStatus, item=i, status="closed", outcome="resolved")
    g.post(ANN, IssueStatus, item=i, status="parked")
    assert (g.issue(i).status, g.issue(i).outcome) == ("parked", None)
    assert g.issue(i).history[-1].action == "reopened"


def test_scheduling_needs_a_live_meeting() -> None:
    g = G()
    m = g.post(LEE, Meeting, date=date(2026, 12, 3), title="December")
    g.post(LEE, MeetingStatus, item=m, status="open")
    g.post(LEE, MeetingStatus, item=m, status="closed")
    i = g.post(ANN, Issue, title="t")
    e1 = g.post(ANN, IssueStatus, item=i, status="scheduled", meeting=m)
    e2 = g.post(ANN, IssueStatus, item=i, status="scheduled", meeting=b"\x77" * 16)
    e3 = g.post(ANN, IssueStatus, item=i, status="scheduled", meeting=i)  # not a meeting
    assert g.issue(i).status == "parked"
    assert g.codes(e1) == ["invalid_transition"]
    assert g.codes(e2) == ["unknown_item"]
    assert g.codes(e3) == ["unknown_item"]
    # Presenting at a meeting that has closed is fine (notes are often written after).
    g.post(ANN, IssueStatus, item=i, status="presented", meeting=m)
    assert g.issue(i).presented_at == m


@pytest.mark.parametrize(
    ("moves", "final", "invalid"),
    [
        (["open", "closed"], "closed", 0),
        (["closed"], "planned", 1),
        (["open", "open"], "open", 1),
        (["open", "closed", "open"], "closed", 1),
        (["open", "closed", "closed"], "closed", 1),
    ],
)
def test_meeting_state_machine(moves: list[str], final: str, invalid: int) -> None:
    g = G()
    m = g.post(LEE, Meeting, date=date(2026, 12, 3), title="December")
    for s in moves:
        g.post(LEE, MeetingStatus, item=m, status=s)
    assert g.meeting(m).status == final
    assert [w.code for w in g.view.warnings] == ["invalid_transition"] * invalid
    assert g.view.open_meeting() == (g.meeting(m) if final == "open" else None)


def test_commitment_state_machine() -> None:
    g = G()
    m = g.post(LEE, Meeting, date=date(2026, 12, 3), title="December")
    c = g.post(ANN, Commitment, owner=ANN, text="Call the lawyer")
    g.post(ANN, CommitmentStatus, item=c, status="done", report="Called")
    assert (g.commitment(c).status, g.commitment(c).report) == ("done", "Called")
    again = g.post(ANN, CommitmentStatus, item=c, status="done")
    assert g.codes(again) == ["invalid_transition"]
    g.post(ANN, CommitmentStatus, item=c, status="partial", report="Only half")  # a correction
    assert (g.commitment(c).status, g.commitment(c).report) == ("partial", "Only half")
    g.post(LEE, Review, item=c, meeting=m)
    assert g.commitment(c).reviewed_at == m
    late = g.post(ANN, CommitmentStatus, item=c, status="dropped")
    twice = g.post(LEE, Review, item=c, meeting=m)
    assert g.commitment(c).status == "partial"
    assert g.codes(late) == ["invalid_transition"]
    assert g.codes(twice) == ["invalid_transition"]
    assert [e.action for e in g.commitment(c).history] == ["created", "done", "partial", "reviewed"]


def test_wrong_kind_and_unknown_items_are_reported() -> None:
    g = G()
    m = g.post(LEE, Meeting, date=date(2026, 12, 3), title="December")
    i = g.post(ANN, Issue, title="t")
    bad = [
        g.post(ANN, Revision, item=i, changes=MeetingEdit(title="x")),
        g.post(LEE, IssueStatus, item=m, status="parked"),
        g.post(LEE, MeetingStatus, item=i, status="open"),
        g.post(ANN, CommitmentStatus, item=i, status="done"),
        g.post(LEE, Review, item=i, meeting=m),
    ]
    for e in bad:
        assert g.codes(e) == ["wrong_kind"]
    ghost = b"\x66" * 16
    unknown = [
        g.post(ANN, Revision, item=ghost, changes=IssueEdit(title="x")),
        g.post(LEE, AgendaPublication, meeting=ghost, issues=[i]),
        g.post(LEE, Review, item=g.post(ANN, Commitment, owner=ANN, text="c"), meeting=ghost),
    ]
    for e in unknown:
        assert g.codes(e) == ["unknown_item"]
    assert g.issue(i).title == "t"


# --- permissions: one table, every row allowed and refused ----------------------------------------


class World(G):
    """A group with one item of each kind: meeting by Lee, everything else by Ann."""

    def __init__(self, notes: Any = "all") -> None:
        r = roster()
        r.set_notes_policy(notes, seq=1)  # the items below predate the policy
        super().__init__(r)
        self.m = self.post(LEE, Meeting, date=date(2026, 12, 3), title="December", log_seq=0)
        self.i = self.post(ANN, Issue, title="Hire a COO", log_seq=0)
        self.c = self.post(ANN, Commitment, owner=ANN, text="Call the lawyer", log_seq=0)
        self.note = self.post(ANN, Note, body="notes", log_seq=0)
        self.k = self.post(ANN, Comment, item=self.i, text="me too", log_seq=0)
        self.u = self.post(ANN, Update, highs="good month", log_seq=0)


Scenario = Callable[[World, bytes], tuple[bytes, bool]]


def _created(w: World, eid: bytes) -> tuple[bytes, bool]:
    return eid, w.view.get(eid) is not None


SCENARIOS: dict[str, tuple[str, Scenario]] = {
    # action: (whose item it is: "ann" or "lee", what the member tries; returns (entry, applied))
    "issue.create": ("ann", lambda w, who: _created(w, w.post(who, Issue, title="new"))),
    "issue.edit": ("ann", lambda w, who: (
        w.post(who, Revision, item=w.i, changes=IssueEdit(title="edited")),
        w.issue(w.i).title == "edited")),
    "issue.schedule": ("ann", lambda w, who: (
        w.post(who, IssueStatus, item=w.i, status="scheduled", meeting=w.m),
        w.issue(w.i).status == "scheduled")),
    "issue.present": ("ann", lambda w, who: (
        w.post(who, IssueStatus, item=w.i, status="presented", meeting=w.m),
        w.issue(w.i).status == "presented")),
    "issue.close": ("ann", lambda w, who: (
        w.post(who, IssueStatus, item=w.i, status="closed", outcome="resolved"),
        w.issue(w.i).status == "closed")),
    "meeting.create": ("lee", lambda w, who: _created(
        w, w.post(who, Meeting, date=date(2027, 1, 7), title="January"))),
    "meeting.edit": ("lee", lambda w, who: (
        w.post(who, Revision, item=w.m, changes=MeetingEdit(title="Moved")),
        w.meeting(w.m).title == "Moved")),
    "meeting.status": ("lee", lambda w, who: (
        w.post(who, MeetingStatus, item=w.m, status="open"), w.meeting(w.m).status == "open")),
    "agenda.publish": ("lee", lambda w, who: (
        w.post(who, AgendaPublication, meeting=w.m, issues=[w.i]),
        w.meeting(w.m).agenda is not None)),
    "note.create": ("ann", lambda w, who: _created(w, w.post(who, Note, body="more notes"))),
    "note.edit": ("ann", lambda w, who: (
        w.post(who, Revision, item=w.note, changes=NoteEdit(body="edited")),
        w.view.show(w.note).texts()[1] == "edited")),
    "commitment.create": ("ann", lambda w, who: _created(
        w, w.post(who, Commitment, owner=ANN, text="for Ann"))),
    "commitment.edit": ("ann", lambda w, who: (
        w.post(who, Revision, item=w.c, changes=CommitmentEdit(due=date(2026, 12, 1))),
        w.commitment(w.c).due_date == date(2026, 12, 1))),
    "commitment.complete": ("ann", lambda w, who: (
        w.post(who, CommitmentStatus, item=w.c, status="done"),
        w.commitment(w.c).status == "done")),
    "commitment.review": ("ann", lambda w, who: (
        w.post(ANN, CommitmentStatus, item=w.c, status="done", log_seq=0),  # reviews need one
        w.post(who, Review, item=w.c, meeting=w.m),
        w.commitment(w.c).reviewed_at == w.m)[1:]),
    "comment.create": ("ann", lambda w, who: _created(
        w, w.post(who, Comment, item=w.i, text="same here"))),
    "comment.edit": ("ann", lambda w, who: (
        w.post(who, Revision, item=w.k, changes=CommentEdit(text="edited")),
        w.view.show(w.k).texts() == ["edited"])),
    "update.create": ("ann", lambda w, who: _created(w, w.post(who, Update, lows="flu"))),
    "update.edit": ("ann", lambda w, who: (
        w.post(who, Revision, item=w.u, changes=UpdateEdit(lows="edited")),
        w.view.show(w.u).texts()[1] == "edited")),
    "retract": ("ann", lambda w, who: (
        w.post(who, Retraction, item=w.i), w.view.get(w.i) is None)),
}  # fmt: skip


def test_every_permission_row_has_a_scenario() -> None:
    assert set(SCENARIOS) == {p.action for p in PERMISSIONS}


@pytest.mark.parametrize("notes", ["all", "leaders"])
@pytest.mark.parametrize("action", [p.action for p in PERMISSIONS])
def test_permission_table_is_what_the_view_enforces(action: str, notes: str) -> None:
    """For each row: the leader, the owner, another member and an outsider try it. The
    view must apply exactly what `allowed` (the table) says, and warn about the rest."""
    whose, scenario = SCENARIOS[action]
    owner = ANN if whose == "ann" else LEE
    outcomes = {}
    for who in (LEE, ANN, BOB, EVE):
        w = World(notes)
        role = w.view.roles.role_at(who, 1)
        expected = allowed(action, role=role, owner=who == owner, notes=notes)  # type: ignore[arg-type]
        eid, applied = scenario(w, who)
        assert applied == expected, (action, NAMES.get(who, "Eve"))
        if expected:
            assert w.codes(eid) == []
        else:
            assert w.codes(eid) == ["not_a_member" if who == EVE else "unauthorized"]
        outcomes[who] = applied
    # Every row is exercised both ways: someone may, and someone may not. (Under the
    # leaders-only policy nobody in this world may edit Ann's note: she is no leader.)
    assert any(outcomes.values()) or (action, notes) == ("note.edit", "leaders")
    assert not all(outcomes.values())


def test_permission_table_rows() -> None:
    """The table's content, spelled out (a change to who-may-what must change this test)."""
    who = {p.action: (sorted(p.who), p.notes_policy) for p in PERMISSIONS}
    assert who == {
        "issue.create": (["member"], False),
        "issue.edit": (["owner"], False),
        "issue.schedule": (["leader", "owner"], False),
        "issue.present": (["leader", "owner"], False),
        "issue.close": (["owner"], False),
        "meeting.create": (["leader"], False),
        "meeting.edit": (["leader"], False),
        "meeting.status": (["leader"], False),
        "agenda.publish": (["leader"], False),
        "note.create": (["member"], True),
        "note.edit": (["owner"], True),
        "commitment.create": (["leader", "owner"], False),
        "commitment.edit": (["owner"], False),
        "commitment.complete": (["owner"], False),
        "commitment.review": (["leader", "owner"], False),
        "comment.create": (["member"], False),
        "comment.edit": (["owner"], False),
        "update.create": (["member"], False),
        "update.edit": (["owner"], False),
        "retract": (["leader", "owner"], False),
    }


def test_allowed_function() -> None:
    assert allowed("agenda.publish", role="leader", owner=False)
    assert not allowed("agenda.publish", role="member", owner=True)
    assert not allowed("issue.create", role=None, owner=True)
    assert allowed("note.create", role="member", owner=False, notes="all")
    assert not allowed("note.create", role="member", owner=False, notes="leaders")
    assert allowed("note.create", role="leader", owner=False, notes="leaders")
    assert not allowed("note.edit", role="member", owner=True, notes="leaders")
    assert allowed("note.edit", role="leader", owner=True, notes="leaders")
    assert not allowed("note.edit", role="leader", owner=False, notes="leaders")
    with pytest.raises(KeyError):
        allowed("issue.delete", role="leader", owner=True)


def test_docs_render_the_same_permission_table() -> None:
    docs = Path(__file__).parents[2] / "docs" / "journal.md"
    assert permission_table() in docs.read_text(encoding="utf-8")


def test_roles_are_judged_at_the_log_head_the_entry_claims() -> None:
    r = RoleHistory(notes="all")
    r.join(LEE, name="Lee", role="leader", seq=0)
    r.join(ANN, name="Ann", seq=1)
    r.set_role(ANN, "leader", seq=5)
    r.set_role(LEE, "member", seq=7)
    r.set_notes_policy("leaders", seq=8)
    r.depart(ANN, seq=9)
    g = G(r)
    m = g.post(LEE, Meeting, date=date(2026, 12, 3), title="December", log_seq=1)
    i = g.post(ANN, Issue, title="t", log_seq=2)
    early = g.post(ANN, AgendaPublication, meeting=m, issues=[i], log_seq=4)
    assert g.codes(early) == ["unauthorized"]
    ok = g.post(ANN, AgendaPublication, meeting=m, issues=[i], log_seq=5)
    assert g.codes(ok) == []
    # Lee's action before the demotion stays valid after it; after it, it is refused.
    lee_before = g.post(LEE, MeetingStatus, item=m, status="open", log_seq=6)
    lee_after = g.post(LEE, MeetingStatus, item=m, status="closed", log_seq=7)
    assert g.codes(lee_before) == []
    assert g.codes(lee_after) == ["unauthorized"]
    assert g.meeting(m).status == "open"
    n1 = g.post(ANN, Note, body="by a leader under the new policy", log_seq=8)
    n2 = g.post(LEE, Note, body="by a member under the new policy", log_seq=8)
    assert g.codes(n1) == []
    assert g.codes(n2) == ["unauthorized"]
    gone = g.post(ANN, Comment, item=i, text="after leaving", log_seq=9)
    assert g.codes(gone) == ["not_a_member"]


def test_leaders_only_notes_policy_applies_to_edits_of_older_notes() -> None:
    r = RoleHistory(notes="all")
    r.join(LEE, name="Lee", role="leader", seq=0)
    r.join(ANN, name="Ann", seq=0)
    r.set_notes_policy("leaders", seq=3)
    g = G(r)
    n = g.post(ANN, Note, body="written while anyone could", log_seq=1)
    e1 = g.post(ANN, Revision, item=n, changes=NoteEdit(title="ok"), log_seq=2)
    e2 = g.post(ANN, Revision, item=n, changes=NoteEdit(title="too late"), log_seq=3)
    assert g.view.show(n).title == "ok"
    assert g.codes(e1) == []
    assert g.codes(e2) == ["unauthorized"]


def test_may_for_the_cli() -> None:
    w = World()
    assert w.view.may(ANN, "issue.edit", item=w.i, log_seq=1)
    assert not w.view.may(BOB, "issue.edit", item=w.i, log_seq=1)
    assert w.view.may(LEE, "agenda.publish", log_seq=1)
    assert not w.view.may(ANN, "agenda.publish", log_seq=1)
    assert not w.view.may(EVE, "issue.create", log_seq=1)


# --- roster ---------------------------------------------------------------------------------------


def test_roster_timeline() -> None:
    r = RoleHistory()
    r.join(LEE, name="Lee", role="leader", seq=0)
    r.join(ANN, seq=2)
    r.set_role(ANN, "leader", seq=4)
    r.depart(ANN, seq=6)
    r.rename(ANN, "Ann")
    assert [r.role_at(ANN, s) for s in range(8)] == [
        None, None, "member", "member", "leader", "leader", None, None,
    ]  # fmt: skip
    assert r.role_at(EVE, 5) is None
    assert r.members() == [LEE]
    assert r.name(ANN) == "Ann"
    assert r.name(EVE) is None
    r.set_notes_policy("leaders", seq=3)
    assert [r.notes_policy_at(s) for s in (0, 2, 3, 9)] == ["all", "all", "leaders", "leaders"]
    with pytest.raises(ValueError, match="log order"):
        r.set_role(ANN, "member", seq=5)
    with pytest.raises(ValueError, match="log order"):
        r.set_notes_policy("all", seq=2)


# --- merge rule -----------------------------------------------------------------------------------


def _title_after(entries: list[tuple[EntryMeta, bytes]]) -> str:
    v = JournalView(roster())
    v.extend(entries)
    it = v.show(b"\x01" * 16)
    assert isinstance(it, IssueItem)
    return it.title


def _rev(n: int, log_seq: int, ts: int, title: str) -> tuple[EntryMeta, bytes]:
    eid = bytes([n]) * 16
    body = encode_body(Revision(ts=ts, item=b"\x01" * 16, changes=IssueEdit(title=title)))
    return EntryMeta(eid, ANN, ANN, n, log_seq), body


CREATE = (EntryMeta(b"\x01" * 16, ANN, ANN, 1, 1), encode_body(Issue(ts=10, title="original")))


@pytest.mark.parametrize(
    ("a", "b", "winner"),
    [
        ((1, 20), (1, 30), "b"),  # same log head: the later timestamp wins
        ((2, 20), (1, 30), "a"),  # a newer log head wins over a later clock
        ((1, 30), (1, 30), "b"),  # full tie: the larger entry id wins
    ],
)
def test_last_writer_wins_by_log_seq_then_ts_then_entry_id(
    a: tuple[int, int], b: tuple[int, int], winner: str
) -> None:
    ra, rb = _rev(2, *a, "by a"), _rev(3, *b, "by b")
    assert _title_after([CREATE, ra, rb]) == f"by {winner}"
    assert _title_after([CREATE, rb, ra]) == f"by {winner}"
    assert _title_after([rb, ra, CREATE]) == f"by {winner}"


def test_concurrent_edits_of_different_fields_both_apply() -> None:
    g = G()
    i = g.post(ANN, Issue, title="t", what="w")
    g.post(ANN, Revision, item=i, changes=IssueEdit(title="new title"), ts=100_000)
    g.post(ANN, Revision, item=i, changes=IssueEdit(what="new what"), ts=100_000)
    assert (g.issue(i).title, g.issue(i).body.what) == ("new title", "new what")


def test_concurrent_status_changes_resolve_the_same_way_everywhere() -> None:
    g = G()
    m = g.post(LEE, Meeting, date=date(2026, 12, 3), title="December")
    i = g.post(ANN, Issue, title="t")
    close = g.post(ANN, IssueStatus, item=i, status="closed", outcome="withdrawn", ts=5_000_000)
    sched = g.post(LEE, IssueStatus, item=i, status="scheduled", meeting=m, ts=5_000_001)
    assert g.issue(i).status == "closed"
    assert g.codes(sched) == ["invalid_transition"]
    assert g.codes(close) == []
    v2 = JournalView(roster())
    v2.extend(reversed(g.entries))
    assert snapshot(v2) == snapshot(g.view)


def test_stamp_orders_a_new_write_after_everything_seen() -> None:
    g = G()
    now = ts_of(date(2026, 11, 20))
    assert g.view.stamp(now) == now
    g.post(ANN, Issue, title="t", ts=now + 100)  # a fast clock elsewhere
    assert g.view.stamp(now) == now + 101
    g.post(ANN, Issue, title="t", ts=now + 10 * 86400)  # a broken clock is not followed
    assert g.view.stamp(now) == now + 101
    assert g.view.stamp(now + 500) == now + 500


# The deterministic-merge property: a random mix of valid, invalid, unauthorized,
# concurrent and conflicting entries yields the same view in every arrival order.

M1, M2, I1, I2, I3, C1, C2, N1, K1, U1 = (bytes([0xF0 + n]) * 16 for n in range(10))
WORLD: list[tuple[bytes, bytes, int, Body]] = [
    (M1, LEE, 0, Meeting(ts=100, date=date(2026, 12, 3), title="December", minutes=60)),
    (M2, LEE, 0, Meeting(ts=100, date=date(2027, 1, 7), title="January")),
    (I1, ANN, 0, Issue(ts=101, title="Hire a COO", priority="A", minutes=30)),
    (I2, BOB, 1, Issue(ts=101, title="Sell", priority="B", minutes=20)),
    (I3, CAL, 1, Issue(ts=102, title="Succession", priority="C")),
    (C1, ANN, 1, Commitment(ts=103, owner=ANN, text="Call the lawyer")),
    (C2, BOB, 2, Commitment(ts=103, owner=BOB, text="Sleep", meeting=M1)),
    (N1, CAL, 1, Note(ts=104, body="notes", meeting=M1)),
    (K1, BOB, 1, Comment(ts=104, item=I1, text="been there")),
    (U1, CAL, 2, Update(ts=105, highs="ok", meeting=M1)),
]
ISSUES, MEETINGS, COMMITMENTS = [I1, I2, I3], [M1, M2], [C1, C2]
ALL_ITEMS = [M1, M2, I1, I2, I3, C1, C2, N1, K1, U1, b"\x00" * 16]
POOL = [
    bytes([0x10 + k]) * 16 for k in range(48)
]  # ids of generated entries, so retractions can name them


def property_roster() -> RoleHistory:
    r = RoleHistory(notes="all")
    r.join(LEE, name="Lee", role="leader", seq=0)
    for m, n in ((ANN, "Ann"), (BOB, "Bob"), (CAL, "Cal")):
        r.join(m, name=n, seq=0)
    r.set_role(CAL, "leader", seq=2)
    r.set_notes_policy("leaders", seq=3)
    r.depart(BOB, seq=3)
    return r


def _issue_status(item: bytes, status: str, meeting: bytes, outcome: str) -> dict[str, Any]:
    d: dict[str, Any] = {"item": item, "status": status}
    if status in ("scheduled", "presented"):
        d["meeting"] = meeting
    if status == "closed":
        d["outcome"] = outcome
    return d


bodies = st.one_of(
    st.builds(
        lambda item, title, pri, ts: Revision(
            ts=ts, item=item, changes=IssueEdit(title=title, priority=pri)
        ),
        st.sampled_from(ISSUES),
        st.sampled_from(["a", "b", "c"]),
        st.sampled_from(["A", "B", "C"]),
        st.integers(100, 103),
    ),
    st.builds(
        lambda item, d, ts: Revision(ts=ts, item=item, changes=MeetingEdit(date=d)),
        st.sampled_from(MEETINGS),
        st.sampled_from([date(2026, 12, 3), date(2026, 11, 1), date(2027, 2, 1)]),
        st.integers(100, 103),
    ),
    st.builds(
        lambda item, due, ts: Revision(ts=ts, item=item, changes=CommitmentEdit(due=due)),
        st.sampled_from(COMMITMENTS),
        st.sampled_from([None, date(2026, 11, 25), date(2027, 1, 1)]),
        st.integers(100, 103),
    ),
    st.builds(
        lambda a, ts: IssueStatus(ts=ts, **_issue_status(*a)),
        st.tuples(
            st.sampled_from([*ISSUES, M1]),
            st.sampled_from(["parked", "scheduled", "presented", "closed"]),
            st.sampled_from([*MEETINGS, I1]),
            st.sampled_from(["resolved", "withdrawn"]),
        ),
        st.integers(100, 103),
    ),
    st.builds(
        lambda item, s, ts: MeetingStatus(ts=ts, item=item, status=s),
        st.sampled_from(MEETINGS),
        st.sampled_from(["open", "closed"]),
        st.integers(100, 103),
    ),
    st.builds(
        lambda item, s, ts: CommitmentStatus(ts=ts, item=item, status=s, report=s),
        st.sampled_from(COMMITMENTS),
        st.sampled_from(["done", "partial", "dropped"]),
        st.integers(100, 103),
    ),
    st.builds(
        lambda item, m, ts: Review(ts=ts, item=item, meeting=m),
        st.sampled_from(COMMITMENTS),
        st.sampled_from(MEETINGS),
        st.integers(100, 103),
    ),
    st.builds(
        lambda m, issues, cs, ts: AgendaPublication(
            ts=ts, meeting=m, issues=issues, commitments=cs
        ),
        st.sampled_from(MEETINGS),
        st.lists(st.sampled_from(ISSUES), unique=True),
        st.lists(st.sampled_from(COMMITMENTS), unique=True),
        st.integers(100, 103),
    ),
    st.builds(
        lambda item, entries, ts: Retraction(ts=ts, item=item, entries=entries),
        st.sampled_from([*ALL_ITEMS, *POOL[:8]]),
        st.lists(st.sampled_from([*ALL_ITEMS, *POOL]), unique=True, max_size=3),
        st.integers(100, 103),
    ),
    st.builds(
        lambda item, ts: Comment(ts=ts, item=item, text="reply"),
        st.sampled_from(ALL_ITEMS),
        st.integers(100, 103),
    ),
    st.builds(
        lambda m, ts: Note(ts=ts, body="more", meeting=m),
        st.sampled_from([*MEETINGS, None]),
        st.integers(100, 103),
    ),
)
entries_strategy = st.lists(
    st.tuples(
        st.sampled_from(POOL),
        st.sampled_from([LEE, LEE, ANN, ANN, BOB, CAL, CAL, EVE]),
        st.integers(0, 4),
        bodies,
    ),
    max_size=40,
    unique_by=lambda e: e[0],
)


def _entries(ops: list[tuple[bytes, bytes, int, Body]]) -> list[tuple[EntryMeta, bytes]]:
    taken = {w[0] for w in WORLD}
    out = []
    for n, (eid, who, log_seq, body) in enumerate(WORLD + [o for o in ops if o[0] not in taken]):
        out.append((EntryMeta(eid, who, who, n, log_seq), encode_body(body)))
    return out


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(ops=entries_strategy, data=st.data())
def test_merge_is_deterministic_in_any_arrival_order(ops: Any, data: st.DataObject) -> None:
    entries = _entries(ops)
    shuffled = data.draw(st.permutations(entries))
    a = JournalView(property_roster())
    a.extend(entries)
    b = JournalView(property_roster())
    b.extend(shuffled)
    assert snapshot(a) == snapshot(b)
    # Querying part-way (as a syncing client does) changes nothing either.
    c = JournalView(property_roster())
    half = len(shuffled) // 2
    c.extend(shuffled[:half])
    snapshot(c)
    c.extend(shuffled[half:])
    c.extend(shuffled[:3])  # and redelivery is harmless
    assert snapshot(c) == snapshot(a)


# --- retraction -----------------------------------------------------------------------------------


def test_author_retracts_an_item() -> None:
    g = G()
    m = g.post(LEE, Meeting, date=date(2026, 12, 3), title="December")
    i = g.post(ANN, Issue, title=f"secret {CANARY}")
    r1 = g.post(ANN, Revision, item=i, changes=IssueEdit(what="more"))
    s1 = g.post(LEE, IssueStatus, item=i, status="scheduled", meeting=m)
    k = g.post(BOB, Comment, item=i, text="reply")
    kk = g.post(CAL, Comment, item=k, text="reply to the reply")
    assert g.view.retraction_entries(i, ANN, log_seq=1) == [i, r1]
    assert g.view.retraction_entries(i, LEE, log_seq=1) == [i, r1, s1]
    g.post(ANN, Retraction, item=i, entries=[i, r1])
    late = g.post(ANN, Revision, item=i, changes=IssueEdit(title="after"))
    late_k = g.post(BOB, Revision, item=k, changes=CommentEdit(text="after"))
    for gone in (i, k, kk):
        assert g.view.get(gone) is None
        with pytest.raises(UnknownItem):
            g.view.show(gone)
    assert g.view.search(CANARY) == []
    assert g.view.search("reply") == []
    assert g.codes(late) == []  # silently moot, not an error
    assert g.codes(late_k) == []
    assert g.view.warnings == []


def test_retracting_single_changes() -> None:
    g = G()
    m = g.post(LEE, Meeting, date=date(2026, 12, 3), title="December")
    i = g.post(ANN, Issue, title="t")
    edit = g.post(ANN, Revision, item=i, changes=IssueEdit(title="regretted"))
    sched = g.post(LEE, IssueStatus, item=i, status="scheduled", meeting=m)
    agenda = g.post(LEE, AgendaPublication, meeting=m, issues=[i])
    assert (g.issue(i).title, g.issue(i).status) == ("regretted", "scheduled")
    # Ann withdraws her edit (named as the item); Bob may not void Lee's scheduling.
    g.post(ANN, Retraction, item=edit, entries=[edit])
    bob = g.post(BOB, Retraction, item=i, entries=[sched])
    assert g.issue(i).title == "t"
    assert g.codes(bob) == ["unauthorized", "unauthorized"]
    assert g.issue(i).status == "scheduled"
    # A leader may void anyone's change; the agenda goes, and with it the scheduling.
    g.post(LEE, Retraction, item=agenda, entries=[agenda, sched])
    assert (g.issue(i).status, g.meeting(m).agenda) == ("parked", None)
    assert [e.action for e in g.issue(i).history] == ["created"]
    # A retraction cannot be withdrawn, and a refused create has nothing to hide.
    first = g.post(ANN, Retraction, item=edit)
    eve = g.post(EVE, Issue, title="refused")
    g.post(LEE, Retraction, item=first, entries=[first, eve])
    assert g.issue(i).title == "t"
    assert g.view.get(i) is not None


def test_item_retraction_voids_the_entries_it_lists() -> None:
    g = G()
    i = g.post(ANN, Issue, title="t")
    j = g.post(BOB, Issue, title="u")
    rj = g.post(BOB, Revision, item=j, changes=IssueEdit(title="u2"))
    mine = g.post(ANN, Revision, item=i, changes=IssueEdit(title="t2"))
    r = g.post(ANN, Retraction, item=i, entries=[i, mine, j, rj])
    assert g.view.get(i) is None
    assert g.issue(j).title == "u2"  # Ann may not delete Bob's entries
    assert g.codes(r) == ["unauthorized", "unauthorized"]


def test_reply_threads() -> None:
    g = G()
    i = g.post(ANN, Issue, title="t")
    a = g.post(BOB, Comment, item=i, text="a")
    a1 = g.post(CAL, Comment, item=a, text="a1")
    b = g.post(CAL, Comment, item=i, text="b")
    a2 = g.post(ANN, Comment, item=a, text="a2")
    a1x = g.post(LEE, Comment, item=a1, text="a1x")
    assert [(d, c.id) for d, c in thread(g.view.show(i))] == [
        (1, a), (2, a1), (3, a1x), (2, a2), (1, b),
    ]  # fmt: skip
    g.post(BOB, Retraction, item=a)
    assert [c.id for _, c in thread(g.view.show(i))] == [b]
    for gone in (a, a1, a2, a1x):
        assert g.view.get(gone) is None


def test_long_and_circular_reply_chains_do_not_crash() -> None:
    v = JournalView(roster())
    ids = [n.to_bytes(16, "big") for n in range(1, 5002)]
    v.add(EntryMeta(ids[0], ANN, ANN, 1, 1), Issue(ts=1, title="root"))
    for n in range(1, 5001):
        v.add(EntryMeta(ids[n], BOB, BOB, n + 1, 1), Comment(ts=1, item=ids[n - 1], text="re"))
    loop = b"\xee" * 16
    v.add(EntryMeta(loop, BOB, BOB, 9999, 1), Comment(ts=1, item=loop, text="me"))
    assert len(thread(v.show(ids[0]))) == 5000
    assert v.get(ids[-1]) is not None
    assert v.get(loop) is None
    v.add(EntryMeta(b"\xef" * 16, ANN, ANN, 1, 1), Retraction(ts=2, item=ids[0]))
    assert v.get(ids[-1]) is None


def test_who_may_retract() -> None:
    g = G()
    i = g.post(ANN, Issue, title="t")
    j = g.post(ANN, Issue, title="u")
    bob = g.post(BOB, Retraction, item=i)
    assert g.view.get(i) is not None
    assert g.codes(bob) == ["unauthorized"]
    g.post(LEE, Retraction, item=j)
    assert g.view.get(j) is None
    with pytest.raises(UnknownItem):
        g.view.retraction_entries(j, LEE, log_seq=1)


def test_retraction_before_its_item_arrives_and_of_unknown_ids() -> None:
    g = G()
    ghost = g.post(ANN, Retraction, item=b"\x42" * 16)
    assert g.codes(ghost) == []
    body = encode_body(Issue(ts=1, title="late"))
    g.view.add(EntryMeta(b"\x42" * 16, ANN, ANN, 9, 1), body)
    assert g.view.get(b"\x42" * 16) is None


def test_retracting_a_meeting_returns_its_issues_to_the_parking_lot() -> None:
    g = G()
    m = g.post(LEE, Meeting, date=date(2026, 12, 3), title="December")
    i = g.post(ANN, Issue, title="t")
    g.post(LEE, AgendaPublication, meeting=m, issues=[i])
    assert g.issue(i).status == "scheduled"
    g.post(LEE, Retraction, item=m)
    assert g.issue(i).status == "parked"
    assert [r.issue.id for r in g.view.parking_lot(TODAY)] == [i]
    assert g.view.meetings() == []


# --- robustness -----------------------------------------------------------------------------------


def test_bad_bodies_are_warnings_not_crashes() -> None:
    g = G()
    i = g.post(ANN, Issue, title="fine")
    g.view.add(EntryMeta(b"\x10" * 16, BOB, BOB, 1, 1), b"\x93garbage")
    newer = b"\x83\xa1t\xa5issue\xa1v\x02\xa2ts\x01"  # {"t": "issue", "v": 2, "ts": 1}
    g.view.add(EntryMeta(b"\x11" * 16, BOB, BOB, 2, 1), newer)
    codes = {w.entry_id: w.code for w in g.view.warnings}
    assert codes == {b"\x10" * 16: "undecodable", b"\x11" * 16: "unsupported_version"}
    assert "upgrade" in next(w.message for w in g.view.warnings if w.code != "undecodable")
    assert g.view.get(i) is not None
    # A body nested deeper than the decoder follows is one more warning, not a crash.
    deep = b"\x83\xa1t\xa4note\xa1v\x01\xa1x" + b"\x91" * 5_000 + b"\xc0"
    g.view.add(EntryMeta(b"\x12" * 16, BOB, BOB, 3, 1), deep)
    # So is a title that is not UTF-8.
    title = encode_body(Issue(ts=1, title="ABCDEF")).replace(b"ABCDEF", b"\xff" * 6)
    g.view.add(EntryMeta(b"\x13" * 16, BOB, BOB, 4, 1), title)
    codes = {w.entry_id: w.code for w in g.view.warnings}
    assert codes[b"\x12" * 16] == codes[b"\x13" * 16] == "undecodable"
    assert g.view.get(i) is not None


def test_duplicates_are_idempotent_and_conflicts_deterministic() -> None:
    meta = EntryMeta(b"\x20" * 16, ANN, ANN, 1, 1)
    one, two = encode_body(Issue(ts=1, title="one")), encode_body(Issue(ts=1, title="two"))
    v1 = JournalView(roster())
    v1.add(meta, one)
    v1.add(meta, one)
    assert len(v1) == 1
    assert v1.warnings == []
    v1.add(meta, two)
    v2 = JournalView(roster())
    v2.add(meta, two)
    v2.add(meta, one)
    assert snapshot(v1) == snapshot(v2)
    assert [w.code for w in v1.warnings] == ["duplicate_entry"]


def test_adding_decoded_bodies_and_hex_meta() -> None:
    v = JournalView(roster())
    meta = EntryMeta.from_hex("ab" * 16, ANN.hex(), ANN.hex(), 1, 1, 3)
    assert meta == EntryMeta(b"\xab" * 16, ANN, ANN, 1, 1, 3)
    v.add(meta, Issue(ts=1, title="as an object"))
    assert v.show(b"\xab" * 16).title == "as an object"


def test_warnings_never_contain_plaintext() -> None:
    g = G()
    m = g.post(LEE, Meeting, date=date(2026, 12, 3), title=CANARY)
    i = g.post(ANN, Issue, title=CANARY, what=CANARY)
    g.post(BOB, Revision, item=i, changes=IssueEdit(title=CANARY + "x"))
    g.post(ANN, IssueStatus, item=i, status="parked")
    g.post(ANN, Revision, item=m, changes=MeetingEdit(title=CANARY))
    g.post(ANN, Revision, item=b"\x99" * 16, changes=IssueEdit(title=CANARY))
    g.post(ANN, Revision, item=i, changes=NoteEdit(body=CANARY))
    g.post(BOB, Retraction, item=i)
    g.post(EVE, Issue, title=CANARY)
    assert len(g.view.warnings) == 7
    for w in g.view.warnings:
        assert CANARY not in w.message


def test_set_roles_refolds() -> None:
    g = G(RoleHistory.of({LEE: "Lee"}))
    i = g.post(ANN, Issue, title="t")
    assert g.view.get(i) is None
    g.view.set_roles(roster())
    assert g.view.get(i) is not None


# --- parking lot ----------------------------------------------------------------------------------


def held_meeting(g: G, d: date) -> bytes:
    m = g.post(LEE, Meeting, date=d, title=f"Forum {d}")
    g.post(LEE, MeetingStatus, item=m, status="open")
    g.post(LEE, MeetingStatus, item=m, status="closed")
    return m


def test_parking_lot_ranking_formula() -> None:
    g = G()
    held_meeting(g, date(2026, 9, 3))
    oct1 = held_meeting(g, date(2026, 10, 1))
    nov5 = held_meeting(g, date(2026, 11, 5))
    g.post(LEE, Meeting, date=date(2026, 12, 3), title="Next")  # not held: does not count
    p_ann = g.post(ANN, Issue, title="Ann's old one", ts=ts_of(date(2026, 9, 1)))
    g.post(ANN, IssueStatus, item=p_ann, status="presented", meeting=oct1)
    p_cal = g.post(CAL, Issue, title="Cal's old one", ts=ts_of(date(2026, 9, 1)))
    g.post(CAL, IssueStatus, item=p_cal, status="presented", meeting=nov5)
    g.post(CAL, IssueStatus, item=p_cal, status="closed", outcome="resolved")
    a1 = g.post(ANN, Issue, title="a1", priority="A", ts=ts_of(date(2026, 10, 30)))
    b1 = g.post(BOB, Issue, title="b1", priority="B", ts=ts_of(date(2026, 11, 13)))
    c1 = g.post(CAL, Issue, title="c1", priority="A", ts=ts_of(date(2026, 11, 20), 9))
    c2 = g.post(CAL, Issue, title="c2", priority="A", ts=ts_of(date(2026, 11, 20), 10))
    b2 = g.post(BOB, Issue, title="b2", priority="C", ts=ts_of(date(2026, 1, 1)))
    ranked = g.view.parking_lot(TODAY)
    got = [
        (r.issue.id, r.priority_points, r.waiting_points, r.turn_points, r.score,
         r.meetings_since_presented)
        for r in ranked
    ]  # fmt: skip
    assert got == [
        (a1, 60, 3, 10, 73, 1),  # A, 3 weeks, presented one held meeting ago
        (b1, 30, 1, 30, 61, None),  # B, 1 week, never presented
        (c1, 60, 0, 0, 60, 0),  # A, new, presented at the latest meeting
        (c2, 60, 0, 0, 60, 0),  # tie: the older issue first
        (b2, 0, 26, 30, 56, None),  # C, waiting capped at 26 weeks
    ]
    assert all(r.issue.status == "parked" for r in ranked)


def test_presentation_without_a_meeting_counts_by_its_date() -> None:
    g = G()
    held_meeting(g, date(2026, 10, 1))
    p = g.post(ANN, Issue, title="p")
    g.post(ANN, IssueStatus, item=p, status="presented", ts=ts_of(date(2026, 10, 15)))
    i = g.post(ANN, Issue, title="i", ts=ts_of(TODAY))
    assert g.issue(p).presented_at is None
    [r] = g.view.parking_lot(TODAY)
    assert (r.issue.id, r.meetings_since_presented, r.turn_points) == (i, 0, 0)


# --- meetings, agenda and review ------------------------------------------------------------------


def test_next_and_open_meeting() -> None:
    g = G()
    past = g.post(LEE, Meeting, date=date(2026, 11, 5), title="Past")
    m1 = g.post(LEE, Meeting, date=date(2026, 12, 3), title="December", start=time(18))
    m2 = g.post(LEE, Meeting, date=date(2027, 1, 7), title="January")
    early = g.post(LEE, Meeting, date=date(2026, 12, 3), title="Breakfast", start=time(8))
    assert [m.id for m in g.view.meetings()] == [past, early, m1, m2]
    assert g.view.next_meeting(TODAY) == g.meeting(early)
    assert g.view.next_meeting(date(2026, 12, 4)) == g.meeting(m2)
    assert g.view.next_meeting(date(2027, 2, 1)) is None
    g.post(LEE, MeetingStatus, item=early, status="open")
    assert g.view.open_meeting() == g.meeting(early)
    assert g.view.next_meeting(TODAY) == g.meeting(m1)
    assert [m.id for m in g.view.meetings("open")] == [early]


def test_draft_agenda_from_schedule_and_parking_lot() -> None:
    g = G()
    m = g.post(LEE, Meeting, date=date(2026, 12, 3), title="December", minutes=60)
    other = g.post(LEE, Meeting, date=date(2027, 1, 7), title="January")
    s_b = g.post(BOB, Issue, title="scheduled B", priority="B", minutes=20)
    s_a = g.post(CAL, Issue, title="scheduled A", priority="A", minutes=15)
    elsewhere = g.post(ANN, Issue, title="for January", priority="A", minutes=5)
    big = g.post(ANN, Issue, title="big A", priority="A", minutes=30)
    small = g.post(BOB, Issue, title="small C", priority="C", minutes=10)
    g.post(BOB, IssueStatus, item=s_b, status="scheduled", meeting=m)
    g.post(CAL, IssueStatus, item=s_a, status="scheduled", meeting=m)
    g.post(ANN, IssueStatus, item=elsewhere, status="scheduled", meeting=other)
    c = g.post(ANN, Commitment, owner=ANN, text="Call the lawyer")
    a = g.view.agenda(m, TODAY)
    assert not a.published
    assert a.published_by is None
    # Scheduled first (by priority), then the parking lot while it fits 60 minutes:
    # big A (30) does not fit after 35, small C (10) does.
    assert [i.id for i in a.issues] == [s_a, s_b, small]
    assert a.minutes == 45
    assert [x.id for x in a.commitments] == [c]
    unlimited = g.view.agenda(other, TODAY)
    assert [i.id for i in unlimited.issues] == [elsewhere, big, small]
    with pytest.raises(UnknownItem):
        g.view.agenda(c, TODAY)


def test_published_agenda_schedules_and_unschedules() -> None:
    g = G()
    m = g.post(LEE, Meeting, date=date(2026, 12, 3), title="December")
    i1 = g.post(ANN, Issue, title="one")
    i2 = g.post(BOB, Issue, title="two")
    i3 = g.post(CAL, Issue, title="three")
    done = g.post(CAL, Issue, title="done already")
    g.post(CAL, IssueStatus, item=done, status="presented")
    c = g.post(ANN, Commitment, owner=ANN, text="c")
    g.post(LEE, AgendaPublication, meeting=m, issues=[i2, i1, done], commitments=[c])
    a = g.view.agenda(m, TODAY)
    assert a.published
    assert a.published_by == LEE
    assert [i.id for i in a.issues] == [i2, i1, done]
    assert [x.id for x in a.commitments] == [c]
    assert (g.issue(i1).status, g.issue(i1).meeting) == ("scheduled", m)
    assert g.issue(done).status == "presented"
    g.post(LEE, AgendaPublication, meeting=m, issues=[i1])
    assert g.issue(i2).status == "parked"
    assert g.issue(i2).history[-1].action == "unscheduled"
    g.post(CAL, IssueStatus, item=i3, status="scheduled", meeting=m)
    assert [i.id for i in g.view.agenda(m, TODAY).issues] == [i1, i3]
    g.post(LEE, MeetingStatus, item=m, status="open")
    g.post(LEE, MeetingStatus, item=m, status="closed")
    late = g.post(LEE, AgendaPublication, meeting=m, issues=[i2])
    assert g.codes(late) == ["invalid_transition"]
    assert g.issue(i2).status == "parked"


def test_review_round_and_due_dates() -> None:
    g = G()
    m1 = g.post(LEE, Meeting, date=date(2026, 12, 3), title="December")
    m2 = g.post(LEE, Meeting, date=date(2027, 1, 7), title="January")
    floating = g.post(ANN, Commitment, owner=ANN, text="floating")
    anchored = g.post(BOB, Commitment, owner=BOB, text="made at M1", meeting=m1)
    explicit = g.post(CAL, Commitment, owner=CAL, text="explicit", due=date(2026, 11, 25))
    later = g.post(CAL, Commitment, owner=CAL, text="later", due=date(2027, 1, 1))
    reviewed = g.post(ANN, Commitment, owner=ANN, text="reviewed", due=date(2026, 11, 30))
    g.post(ANN, CommitmentStatus, item=reviewed, status="done", report="done")
    g.post(LEE, Review, item=reviewed, meeting=m1)
    beyond = g.post(ANN, Commitment, owner=ANN, text="beyond", ts=ts_of(date(2027, 2, 1)))
    assert g.commitment(floating).due_date == date(2026, 12, 3)
    assert g.commitment(anchored).due_date == date(2027, 1, 7)
    assert g.commitment(beyond).due_date is None
    assert [c.id for c in g.view.due(m1)] == [floating, explicit, reviewed]
    # explicit was not reviewed at M1, so it carries over to M2.
    assert [c.id for c in g.view.due(m2)] == [floating, anchored, explicit, later]
    rounds = g.view.review(m1)
    assert [(g.view.name(r.member), [c.id for c in r.commitments]) for r in rounds] == [
        ("Ann", [floating, reviewed]),
        ("Bob", []),
        ("Cal", [explicit]),
        ("Lee", []),
    ]
    # A floating due date follows the meetings: a new, earlier meeting pulls it in.
    g.post(LEE, Meeting, date=date(2026, 11, 26), title="Extra")
    assert g.commitment(floating).due_date == date(2026, 11, 26)
    g.post(ANN, Revision, item=floating, changes=CommitmentEdit(due=date(2027, 3, 1)))
    assert g.commitment(floating).due_date == date(2027, 3, 1)
    with pytest.raises(UnknownItem):
        g.view.review(floating)


def test_review_includes_departed_owners() -> None:
    r = roster()
    r.depart(BOB, seq=5)
    g = G(r)
    m = g.post(LEE, Meeting, date=date(2026, 12, 3), title="December")
    c = g.post(BOB, Commitment, owner=BOB, text="c", due=date(2026, 12, 1))
    assert [(x.member, [y.id for y in x.commitments]) for x in g.view.review(m)] == [
        (ANN, []), (BOB, [c]), (CAL, []), (LEE, []),
    ]  # fmt: skip


def test_timezone_decides_the_day_of_a_timestamp() -> None:
    from datetime import timedelta, timezone

    late_evening = ts_of(date(2026, 12, 2), 23)
    v_utc = JournalView(roster())
    v_east = JournalView(roster(), tz=timezone(timedelta(hours=3)))
    assert v_utc.day(late_evening) == date(2026, 12, 2)
    assert v_east.day(late_evening) == date(2026, 12, 3)


# --- listing and search ---------------------------------------------------------------------------


def ids(items: Any) -> list[bytes]:
    return [x.id for x in items]


def test_filters() -> None:
    g = G()
    m = g.post(LEE, Meeting, date=date(2026, 12, 3), title="December")
    i1 = g.post(ANN, Issue, title="one", ts=ts_of(date(2026, 11, 1)))
    i2 = g.post(BOB, Issue, title="two", ts=ts_of(date(2026, 11, 10)))
    g.post(BOB, IssueStatus, item=i2, status="scheduled", meeting=m, ts=ts_of(date(2026, 11, 15)))
    n1 = g.post(ANN, Note, body="n1", meeting=m, ts=ts_of(date(2026, 11, 2)))
    n2 = g.post(ANN, Note, body="n2", ts=ts_of(date(2026, 11, 3)))
    c1 = g.post(ANN, Commitment, owner=ANN, text="c1", meeting=m, ts=ts_of(date(2026, 11, 4)))
    c2 = g.post(BOB, Commitment, owner=BOB, text="c2", ts=ts_of(date(2026, 11, 5)))
    g.post(BOB, CommitmentStatus, item=c2, status="done", ts=ts_of(date(2026, 11, 6)))
    u1 = g.post(ANN, Update, highs="h", meeting=m, ts=ts_of(date(2026, 11, 7)))
    u2 = g.post(BOB, Update, lows="l", ts=ts_of(date(2026, 11, 8)))
    v = g.view
    assert ids(v.issues()) == [i1, i2]
    assert ids(v.issues("scheduled")) == [i2]
    assert ids(v.issues(["parked", "closed"])) == [i1]
    assert ids(v.issues(owner=ANN)) == [i1]
    assert ids(v.notes()) == [n1, n2]
    assert ids(v.notes(m)) == [n1]
    assert ids(v.commitments(ANN)) == [c1]
    assert ids(v.commitments(status="done")) == [c2]
    assert ids(v.commitments(status=["open", "done"])) == [c1, c2]
    assert ids(v.commitments(meeting=m)) == [c1]
    assert ids(v.updates()) == [u1, u2]
    assert ids(v.updates(BOB)) == [u2]
    assert ids(v.updates(meeting=m)) == [u1]
    assert ids(v.list_items("note")) == [n1, n2]
    # `since` is by last change: i2 changed on the 15th.
    assert ids(v.list_items("issue", since=date(2026, 11, 12))) == [i2]
    assert ids(v.list_items(since=date(2026, 11, 8))) == [u2, i2]
    assert {it.kind for it in v.list_items()} == set(KINDS) - {"comment"}


def test_search() -> None:
    g = G()
    i = g.post(ANN, Issue, title="Hire a COO", ask="Experience with Straße projects")
    g.post(BOB, Comment, item=i, text="We hired a COO from a competitor")
    n = g.post(CAL, Note, body="Nothing about hiring")
    u = g.post(CAL, Update, scores={"Wellbeing": 4})
    v = g.view
    assert [x.kind for x in v.search("coo")] == ["issue", "comment"]
    assert [x.kind for x in v.search("COO  competitor")] == ["comment"]
    assert [x.id for x in v.search("STRASSE")] == [i]
    assert [x.id for x in v.search("hiring")] == [n]
    assert [x.id for x in v.search("wellbeing")] == [u]
    assert v.search("   ") == []
    assert v.search("absent") == []


def test_resolve_ids() -> None:
    g = G()
    i = g.post(ANN, Issue, title="t")
    g.post(ANN, Issue, title="u")
    assert g.view.resolve(i.hex()) == i
    assert g.view.resolve(i.hex().upper()) == i
    with pytest.raises(AmbiguousItem):
        g.view.resolve("0000")
    for bad in ("ffff", "000", "xyz0", ""):
        with pytest.raises(UnknownItem):
            g.view.resolve(bad)
    assert UnknownItem().hint
    assert AmbiguousItem("x").hint


def test_ten_thousand_entries() -> None:
    """Correctness at the size the benchmark measures (timings are in the benchmark)."""
    v = JournalView(roster())
    people = [ANN, BOB, CAL, LEE]
    n = 0

    def add(who: bytes, body: Body) -> bytes:
        nonlocal n
        n += 1
        eid = n.to_bytes(16, "big")
        v.add(EntryMeta(eid, who, who, n, 1), encode_body(body))
        return eid

    meetings = [
        add(LEE, Meeting(ts=n, date=date(2026, 1 + k % 12, 1 + k // 12), title=f"M{k}"))
        for k in range(24)
    ]
    issues = [
        add(
            people[k % 3],
            Issue(
                ts=1000 + k,
                title=f"Issue {k}",
                what="word " * 40 + f"tag{k}",
                priority="ABC"[k % 3],
            ),
        )
        for k in range(4000)
    ]
    for k in range(3000):
        add(people[k % 3], Revision(ts=6000 + k, item=issues[k], changes=IssueEdit(minutes=5)))
    for k in range(2476):
        add(people[(k + 1) % 4], Comment(ts=10_000 + k, item=issues[k], text=f"reply {k}"))
    for k in range(500):
        add(people[k % 3], Commitment(ts=13_000 + k, owner=people[k % 3], text=f"do {k}"))
    assert len(v) == 10_000
    assert v.warnings == []
    assert len(v.parking_lot(TODAY)) == 4000
    assert len(v.list_items()) == 10_000 - 3000
    assert [x.id for x in v.search("TAG3999")] == [issues[3999]]
    assert len(v.search("reply")) == 2476
    assert len(v.agenda(meetings[0], TODAY).issues) == 4000


# --- dates ----------------------------------------------------------------------------------------


def test_parse_date() -> None:
    g = G()
    assert parse_date("2026-12-03", today=TODAY) == date(2026, 12, 3)
    assert parse_date(" Today ", today=TODAY) == TODAY
    assert parse_date("tomorrow", today=TODAY) == date(2026, 11, 21)
    with pytest.raises(InvalidDate, match="no meeting is planned") as exc:
        parse_date("next-meeting", today=TODAY, view=g.view)
    assert "meeting new" in exc.value.hint
    with pytest.raises(InvalidDate):
        parse_date("next-meeting", today=TODAY)
    g.post(LEE, Meeting, date=date(2026, 12, 3), title="December")
    assert parse_date("next-meeting", today=TODAY, view=g.view) == date(2026, 12, 3)
    for bad in ("2026-13-01", "2026-02-30", "12/03/2026", "20261203", "2026-1-3", "", "soon"):
        with pytest.raises(InvalidDate) as exc:
            parse_date(bad, today=TODAY)
        assert "YYYY-MM-DD" in exc.value.hint
