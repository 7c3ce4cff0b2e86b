"""Exports (markdown, json, ics) and terminal output."""

from __future__ import annotations

import io
import json
import os
import re
import stat
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

import pytest
from chatham.client.cli.show import (
    print_agenda,
    print_commitments,
    print_issues,
    print_item,
    print_items,
    print_markdown,
    print_meetings,
    print_notes,
    print_parking_lot,
    print_review,
    print_updates,
    print_warnings,
)
from chatham.client.errors import ExportError
from chatham.client.journal import (
    EXPORT_SCHEMA,
    AgendaPublication,
    Body,
    Comment,
    Commitment,
    CommitmentStatus,
    EntryMeta,
    Issue,
    IssueStatus,
    JournalView,
    Meeting,
    MeetingItem,
    MeetingStatus,
    Note,
    Review,
    RoleHistory,
    Update,
    agenda_json,
    encode_body,
    export_json,
    ics_calendar,
    ics_escape,
    ics_fold,
    item_json,
    markdown_files,
    ranked_json,
    relative_date,
    review_json,
    write_export,
)
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console

from tests.support.other_owner import another_users_directory

LEE, ANN, BOB = (bytes([c]) * 32 for c in b"LAB")
TODAY = date(2026, 11, 20)
NOW = int(datetime(2026, 11, 20, 9, tzinfo=UTC).timestamp())
NASTY = 'Comma, semi; back\\slash "quote" [red]markup[/red] and a long tail ' + "é€😀" * 20


class FakeJournal:
    def __init__(self) -> None:
        self.view = JournalView(RoleHistory.of({LEE: "Lee"}, {ANN: "Ann", BOB: "Bob"}))
        self.n = 0

    def post(self, who: bytes, cls: Any, **fields: Any) -> bytes:
        self.n += 1
        fields.setdefault("ts", NOW - 86400 * 30 + self.n * 60)
        body: Body = cls(**fields)
        eid = self.n.to_bytes(16, "big")
        self.view.add(EntryMeta(eid, who, who, self.n, 1), encode_body(body))
        return eid


class Sample(FakeJournal):
    """Two meetings (November held, December planned), issues, commitments, notes, updates."""

    def __init__(self) -> None:
        super().__init__()
        p = self.post
        self.nov = p(LEE, Meeting, date=date(2026, 11, 5), title="November forum", place="Room 4")
        self.dec = p(
            LEE, Meeting, date=date(2026, 12, 3), title="December forum", start=time(18, 30),
            minutes=180,
        )  # fmt: skip
        self.i1 = p(ANN, Issue, title="Hire a COO", what="I am the bottleneck", priority="A")
        self.i2 = p(BOB, Issue, title=NASTY, why="It matters", priority="C", minutes=20)
        p(LEE, MeetingStatus, item=self.nov, status="open")
        p(ANN, IssueStatus, item=self.i1, status="presented", meeting=self.nov)
        self.c1 = p(ANN, Commitment, owner=ANN, text="Call the lawyer", meeting=self.nov)
        self.c2 = p(BOB, Commitment, owner=BOB, text=NASTY, due=date(2026, 11, 30))
        p(ANN, Note, body="## Minutes\n\n- Ann presented", title="Minutes", meeting=self.nov)
        p(ANN, Note, body="A loose note")
        p(LEE, MeetingStatus, item=self.nov, status="closed")
        p(ANN, CommitmentStatus, item=self.c1, status="done", report="Called, all fine")
        p(
            LEE,
            AgendaPublication,
            meeting=self.dec,
            issues=[self.i2],
            commitments=[self.c1, self.c2],
        )
        p(LEE, Review, item=self.c1, meeting=self.dec)
        k = p(BOB, Comment, item=self.i1, text="Been there\nTwice")
        p(ANN, Comment, item=k, text="Thanks")
        p(BOB, Update, highs="Sold a unit", lows="Flu", scores={"work": 7}, meeting=self.dec)
        p(ANN, Update, highs="Quiet month")
        assert self.view.warnings == []

    def december(self) -> MeetingItem:
        m = self.view.show(self.dec)
        assert isinstance(m, MeetingItem)
        return m


@pytest.fixture
def journal() -> Sample:
    return Sample()


# --- JSON ---------------------------------------------------------------------------------------


COMMON = ["id", "type", "title", "author", "author_name", "created", "updated"]
KEYS = {
    "issue": [*COMMON, "priority", "minutes", "status", "meeting", "outcome", "presented_at",
              "what", "why", "tried", "ask", "not_ask", "background", "options", "impact"],
    "meeting": [*COMMON, "date", "start", "minutes", "place", "status", "attendance", "agenda"],
    "note": [*COMMON, "meeting", "body"],
    "commitment": [*COMMON, "owner", "owner_name", "text", "status", "due",
                   "due_is_next_meeting", "report", "reviewed_at", "meeting"],
    "comment": [*COMMON, "item", "text", "file"],
    "update": [*COMMON, "meeting", "highs", "lows", "scores"],
}  # fmt: skip


def test_item_json_schema_is_stable(journal: Sample) -> None:
    v = journal.view
    seen = set()
    for it in v.list_items():
        d = item_json(v, it)
        assert list(d) == [*KEYS[it.kind], "comments"]
        assert list(item_json(v, it, history=True)) == [*KEYS[it.kind], "comments", "history"]
        json.dumps(d)
        seen.add(it.kind)
    assert seen == set(KEYS)


def test_cli_contract_fields(journal: Sample) -> None:
    v = journal.view
    issue = item_json(v, v.show(journal.i2))
    assert {k: issue[k] for k in ("id", "title", "priority", "status")} == {
        "id": journal.i2.hex(),
        "title": NASTY,
        "priority": "C",
        "status": "scheduled",
    }
    c = item_json(v, v.show(journal.c2))
    assert {k: c[k] for k in ("id", "text", "status", "due")} == {
        "id": journal.c2.hex(),
        "text": NASTY,
        "status": "open",
        "due": "2026-11-30",
    }
    c1 = item_json(v, v.show(journal.c1))
    assert (c1["due"], c1["due_is_next_meeting"]) == ("2026-12-03", True)
    assert c1["reviewed_at"] == journal.dec.hex()
    a = agenda_json(v, v.agenda(journal.dec, TODAY))
    assert list(a) == ["meeting", "published", "published_by", "minutes", "issues", "commitments"]
    assert [i["id"] for i in a["issues"]] == [journal.i2.hex()]
    assert [x["id"] for x in a["commitments"]] == [journal.c1.hex(), journal.c2.hex()]
    assert a["published"] is True
    assert a["minutes"] == 20
    r = review_json(v, v.review(journal.dec))
    assert [(x["name"], len(x["commitments"])) for x in r] == [("Ann", 1), ("Bob", 1), ("Lee", 0)]


def test_parking_lot_json_order_is_the_ranking() -> None:
    j = FakeJournal()
    low = j.post(ANN, Issue, title="low", priority="C")
    high = j.post(BOB, Issue, title="high", priority="A")
    ranked = ranked_json(j.view, j.view.parking_lot(TODAY))
    assert [(r["id"], r["rank"]) for r in ranked] == [(high.hex(), 1), (low.hex(), 2)]
    assert ranked[0]["points"] == {"priority": 60, "waiting": 4, "turn": 30}
    assert ranked[0]["score"] == 94
    assert ranked[0]["meetings_since_presented"] is None
    assert {"id", "title", "priority", "status"} <= set(ranked[0])


def test_export_json_document(journal: Sample) -> None:
    doc = export_json(journal.view, now=NOW)
    assert list(doc) == [
        "schema", "exported_at", "members", "issues", "meetings", "notes", "commitments",
        "comments", "updates",
    ]  # fmt: skip
    assert doc["schema"] == EXPORT_SCHEMA
    assert doc["exported_at"] == "2026-11-20T09:00:00Z"
    assert [m["name"] for m in doc["members"]] == ["Ann", "Bob", "Lee"]
    assert [len(doc[k]) for k in ("issues", "meetings", "notes", "commitments")] == [2, 2, 2, 2]
    hist = doc["issues"][0]["history"]
    assert [h["action"] for h in hist] == ["created", "presented"]
    assert hist[0]["fields"]["title"] == "Hire a COO"
    assert hist[1]["fields"] == {"meeting": journal.nov.hex()}
    assert json.loads(json.dumps(doc)) == doc
    assert export_json(journal.view, now=NOW) == doc


# --- markdown -------------------------------------------------------------------------------------


def test_markdown_files(journal: Sample) -> None:
    files = markdown_files(journal.view, today=TODAY)
    assert sorted(files) == [
        "2026-11-05-november-forum.md",
        "2026-12-03-december-forum.md",
        "commitments.md",
        "issues.md",
        "notes.md",
        "updates.md",
    ]
    nov = files["2026-11-05-november-forum.md"]
    assert nov.startswith("# November forum\n")
    assert "- place: Room 4" in nov
    assert "## Agenda\n\nNo agenda was published.\n" in nov
    assert "## Issues presented" in nov
    assert "### Hire a COO" in nov
    assert "## Notes" in nov
    assert "- Ann presented" in nov
    assert "## Commitments made" in nov
    assert "- [x] Ann: Call the lawyer (due 2026-12-03, done) — report: Called, all fine" in nov
    dec = files["2026-12-03-december-forum.md"]
    assert "- date: 2026-12-03 18:30" in dec
    assert "## Agenda\n\n1. Comma, semi;" in dec
    assert "## Commitments due" in dec
    assert "**Highs**\n\nSold a unit" in dec
    assert "work: 7/10" in dec
    issues = files["issues.md"]
    assert "## Hire a COO" in issues
    assert "### What is the issue\n\nI am the bottleneck" in issues
    assert "- Bob, " in issues
    assert "  Twice" in issues
    assert "  - Ann, 2026-10-21:\n\n    Thanks" in issues
    assert "A loose note" in files["notes.md"]
    assert "Quiet month" in files["updates.md"]
    assert all(text.endswith("\n") and not text.endswith("\n\n") for text in files.values())


def test_markdown_names_are_unique_and_safe() -> None:
    j = FakeJournal()
    a = j.post(LEE, Meeting, date=date(2026, 12, 3), title="../../etc/passwd")
    b = j.post(LEE, Meeting, date=date(2026, 12, 3), title="Etc passwd")
    j.post(LEE, Meeting, date=date(2027, 1, 7), title="Ünïcödé ✓")
    names = set(markdown_files(j.view, today=TODAY))
    assert {
        "2026-12-03-etc-passwd.md",
        f"2026-12-03-etc-passwd-{b.hex()[:8]}.md",
        "2027-01-07-unicode.md",
    } <= names
    assert a != b
    assert all("/" not in n for n in names)


# --- iCalendar ------------------------------------------------------------------------------------


def unfold(text: str) -> list[str]:
    """RFC 5545 §3.1: CRLF followed by one space or tab continues the line."""
    assert text.endswith("\r\n")
    physical = text.split("\r\n")[:-1]
    for line in physical:
        assert len(line.encode()) <= 75, line
        assert "\n" not in line
        assert "\r" not in line
    out: list[str] = []
    for line in physical:
        if line[:1] in (" ", "\t"):
            out[-1] += line[1:]
        else:
            out.append(line)
    return out


def unescape(value: str) -> str:
    return re.sub(r"\\([\\;,nN])", lambda m: "\n" if m.group(1) in "nN" else m.group(1), value)


CONTENT_LINE = re.compile(r"^([A-Z][A-Z0-9-]*)((?:;[A-Z-]+=[^;:,\"]+)*):(.*)$")


def parse_ics(text: str) -> list[dict[str, Any]]:
    """A strict little reader: content lines, balanced components, required properties."""
    stack: list[dict[str, Any]] = []
    done: list[dict[str, Any]] = []
    for line in unfold(text):
        m = CONTENT_LINE.match(line)
        assert m, line
        name, params, value = m.groups()
        if name == "BEGIN":
            stack.append({"_type": value, "_props": {}})
        elif name == "END":
            comp = stack.pop()
            assert comp["_type"] == value
            done.append(comp)
        else:
            assert stack, line
            props = stack[-1]["_props"]
            assert name not in props, f"duplicate {name}"
            props[name] = (params, value)
            # TEXT values: every ; , \\ and newline is escaped.
            if name in ("SUMMARY", "DESCRIPTION", "LOCATION"):
                assert not re.search(r"(?<!\\)[;,]", value.replace("\\\\", "")), value
    assert stack == []
    return done


def test_ics_calendar(journal: Sample) -> None:
    text = ics_calendar(journal.view, now=NOW)
    comps = parse_ics(text)
    cal = comps[-1]
    assert cal["_type"] == "VCALENDAR"
    assert cal["_props"]["VERSION"] == ("", "2.0")
    assert "PRODID" in cal["_props"]
    events = [c for c in comps if c["_type"] == "VEVENT"]
    todos = [c for c in comps if c["_type"] == "VTODO"]
    assert len(events) == 2
    assert len(todos) == 2
    for c in events + todos:
        assert c["_props"]["DTSTAMP"] == ("", "20261120T090000Z")
        assert c["_props"]["UID"][1].endswith("@chatham")
    nov, dec = events
    assert nov["_props"]["DTSTART"] == (";VALUE=DATE", "20261105")
    assert nov["_props"]["DTEND"] == (";VALUE=DATE", "20261106")
    assert nov["_props"]["LOCATION"] == ("", "Room 4")
    assert nov["_props"]["STATUS"] == ("", "CONFIRMED")
    assert dec["_props"]["DTSTART"] == ("", "20261203T183000")
    assert dec["_props"]["DTEND"] == ("", "20261203T213000")
    assert dec["_props"]["STATUS"] == ("", "TENTATIVE")
    assert unescape(dec["_props"]["DESCRIPTION"][1]) == f"Agenda:\n1. {NASTY}"
    done, open_ = todos
    assert done["_props"]["STATUS"] == ("", "COMPLETED")
    assert done["_props"]["PERCENT-COMPLETE"] == ("", "100")
    assert done["_props"]["DUE"] == (";VALUE=DATE", "20261203")
    assert unescape(done["_props"]["DESCRIPTION"][1]).endswith("Report: Called, all fine")
    assert open_["_props"]["STATUS"] == ("", "NEEDS-ACTION")
    assert unescape(open_["_props"]["SUMMARY"][1]) == NASTY
    assert open_["_props"]["DUE"] == (";VALUE=DATE", "20261130")


def test_ics_status_mapping_and_missing_due() -> None:
    j = FakeJournal()
    p = j.post(ANN, Commitment, owner=ANN, text="partial")
    d = j.post(ANN, Commitment, owner=ANN, text="dropped")
    j.post(ANN, CommitmentStatus, item=p, status="partial")
    j.post(ANN, CommitmentStatus, item=d, status="dropped")
    todos = [c for c in parse_ics(ics_calendar(j.view, now=NOW)) if c["_type"] == "VTODO"]
    assert [t["_props"]["STATUS"][1] for t in todos] == ["IN-PROCESS", "CANCELLED"]
    assert all("DUE" not in t["_props"] for t in todos)  # no meeting planned yet


@settings(max_examples=300, deadline=None)
@given(st.text(min_size=0, max_size=400))
def test_ics_fold_and_escape_round_trip(value: str) -> None:
    value = value.replace("\r", "")
    line = "SUMMARY:" + ics_escape(value)
    folded = ics_fold(line)
    [back] = unfold(folded)
    assert back == line
    assert unescape(back.removeprefix("SUMMARY:")) == value


def test_ics_fold_never_splits_a_character() -> None:
    line = "DESCRIPTION:" + "😀" * 100
    folded = ics_fold(line)
    for physical in folded.split("\r\n")[:-1]:
        physical.encode()  # each piece is whole UTF-8
        assert len(physical.encode()) <= 75
    assert ics_fold("SHORT:x") == "SHORT:x\r\n"
    assert ics_escape("a\\b;c,d\ne\r\nf") == "a\\\\b\\;c\\,d\\ne\\nf"


# --- writing into a directory -----------------------------------------------------------------


@pytest.mark.parametrize(("fmt", "names"), [
    ("markdown", {"issues.md", "commitments.md", "notes.md", "updates.md",
                  "2026-11-05-november-forum.md", "2026-12-03-december-forum.md"}),
    ("json", {"journal.json"}),
    ("ics", {"journal.ics"}),
])  # fmt: skip
def test_write_export(journal: Sample, tmp_path: Path, fmt: Any, names: set[str]) -> None:
    target = tmp_path / "new" / "export"
    paths = write_export(journal.view, target, fmt, now=NOW, today=TODAY)
    assert {p.name for p in paths} == names
    assert {p.name for p in target.iterdir()} == names
    assert stat.S_IMODE(target.stat().st_mode) == 0o700
    for p in paths:
        assert stat.S_IMODE(p.stat().st_mode) == 0o600
    if fmt == "json":
        doc = json.loads((target / "journal.json").read_text(encoding="utf-8"))
        assert doc == export_json(journal.view, now=NOW)
    if fmt == "ics":
        assert (target / "journal.ics").read_bytes().count(b"\r\n") > 10
        parse_ics((target / "journal.ics").read_bytes().decode())


def test_export_refuses_a_non_empty_directory(journal: Sample, tmp_path: Path) -> None:
    (tmp_path / "mine.txt").write_text("keep me")
    with pytest.raises(ExportError, match="not empty") as exc:
        write_export(journal.view, tmp_path, "json", now=NOW, today=TODAY)
    assert "--force" in exc.value.hint
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine.txt"]
    write_export(journal.view, tmp_path, "json", now=NOW, today=TODAY, force=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["journal.json", "mine.txt"]
    assert (tmp_path / "mine.txt").read_text() == "keep me"
    # An existing empty directory is fine without force; overwriting needs force.
    empty = tmp_path / "empty"
    empty.mkdir()
    write_export(journal.view, empty, "ics", now=NOW, today=TODAY)
    with pytest.raises(ExportError):
        write_export(journal.view, empty, "ics", now=NOW, today=TODAY)
    write_export(journal.view, empty, "ics", now=NOW, today=TODAY, force=True)


def test_export_refuses_files_unknown_formats_and_symlinks(journal: Sample, tmp_path: Path) -> None:
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(ExportError, match="not a directory"):
        write_export(journal.view, f, "json", now=NOW, today=TODAY, force=True)
    with pytest.raises(ExportError, match="unknown export format"):
        write_export(journal.view, tmp_path / "d", "pdf", now=NOW, today=TODAY)  # type: ignore[arg-type]
    victim = tmp_path / "victim"
    victim.write_text("untouched")
    out = tmp_path / "out"
    out.mkdir()
    os.symlink(victim, out / "journal.json")
    with pytest.raises(ExportError, match="not a file of yours"):
        write_export(journal.view, out, "json", now=NOW, today=TODAY, force=True)
    assert victim.read_text() == "untouched"
    assert (out / "journal.json").is_symlink()
    assert sorted(p.name for p in out.iterdir()) == ["journal.json"]  # no temporary left


def test_a_planted_pipe_in_a_shared_directory_receives_nothing(
    journal: Sample, tmp_path: Path
) -> None:
    """Someone who can write to the directory makes a FIFO where `issues.md` will go and
    reads from it; `export --force` must neither block on it nor write through it."""
    import threading
    import time as clock

    shared = tmp_path / "shared"
    shared.mkdir(mode=0o1777)
    (shared / "notes-of-someone.txt").write_text("theirs")
    os.mkfifo(shared / "issues.md", 0o666)
    got: list[bytes] = []

    def listen() -> None:  # the planter, reading whatever arrives
        fd = os.open(shared / "issues.md", os.O_RDONLY | os.O_NONBLOCK)
        try:
            deadline = clock.monotonic() + 3
            while clock.monotonic() < deadline:
                try:
                    chunk = os.read(fd, 65536)
                except BlockingIOError:
                    chunk = b""
                got.append(chunk)
                clock.sleep(0.05)
        finally:
            os.close(fd)

    reader = threading.Thread(target=listen)
    reader.start()
    try:
        with pytest.raises(ExportError, match="not a file of yours") as e:
            write_export(journal.view, shared, "markdown", now=NOW, today=TODAY, force=True)
        assert "nothing was written" in e.value.hint
    finally:
        reader.join()
    assert b"".join(got) == b""
    assert stat.S_ISFIFO((shared / "issues.md").lstat().st_mode)
    assert sorted(p.name for p in shared.iterdir()) == ["issues.md", "notes-of-someone.txt"]


@pytest.mark.skipif(os.getuid() != 0, reason="a file of another user needs root to make")
def test_another_users_world_writable_file_is_not_written_through(
    journal: Sample, tmp_path: Path
) -> None:
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o1777)
    theirs = shared / "journal.json"
    theirs.write_text("{}")
    theirs.chmod(0o666)
    os.chown(theirs, 65534, 65534)  # they keep it, and read it after our export
    with pytest.raises(ExportError, match="not a file of yours"):
        write_export(journal.view, shared, "json", now=NOW, today=TODAY, force=True)
    assert theirs.read_text() == "{}"
    assert theirs.stat().st_uid == 65534


@pytest.mark.skipif(os.getuid() != 0, reason="a directory of another user needs root to make")
@pytest.mark.parametrize("how", ["their directory", "a link to their directory"])
def test_an_export_never_goes_into_another_users_directory(
    journal: Sample, tmp_path: Path, how: str
) -> None:
    """Someone makes `/tmp/export` first (empty, or a link to a directory of theirs): the
    files would be 0600, but their owner lists the names (meeting dates and titles) and can
    swap the files for others later. Refused, and nothing is written there."""
    theirs, target = another_users_directory(tmp_path, how, "export")
    for force in (False, True):
        with pytest.raises(ExportError, match="belongs to another user") as e:
            write_export(journal.view, target, "markdown", now=NOW, today=TODAY, force=force)
        assert "nothing was written" in e.value.hint
    assert list(theirs.iterdir()) == []


def test_a_link_retargeted_after_the_checks_cannot_move_the_export(
    journal: Sample, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A race: the export path is a link to the member's own directory while it is checked,
    and to another user's once the writing starts. The files go into the directory that was
    checked (held open from the check on), never through the retargeted link."""
    from chatham.client._private.journal import export

    mine = tmp_path / "mine"
    mine.mkdir(mode=0o700)
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    theirs.chmod(0o777)
    if os.getuid() == 0:
        os.chown(theirs, 65534, 65534)
    link = tmp_path / "export"
    link.symlink_to(mine)
    real = export.ours_to_replace

    def racing(*args: Any, **kwargs: Any) -> bool:
        if link.resolve() == mine:  # once, right after the directory passed its checks
            link.unlink()
            link.symlink_to(theirs)
        return real(*args, **kwargs)

    monkeypatch.setattr(export, "ours_to_replace", racing)
    write_export(journal.view, link, "markdown", now=NOW, today=TODAY)
    assert link.resolve() == theirs  # the race did happen
    assert list(theirs.iterdir()) == []
    assert {p.name for p in mine.iterdir()} == set(markdown_files(journal.view, today=TODAY))


def test_an_export_path_the_system_refuses_is_a_plain_error(
    journal: Sample, tmp_path: Path
) -> None:
    """Under a file, or anywhere the system says no: an error naming the path and why, never
    an internal error, and nothing written."""
    f = tmp_path / "a-file"
    f.write_text("x")
    with pytest.raises(ExportError) as e:
        write_export(journal.view, f / "export", "json", now=NOW, today=TODAY)
    assert e.value.message == f"cannot write into {f / 'export'} (Not a directory)"
    assert "no partial file" in e.value.hint
    assert f.read_text() == "x"


def test_force_replaces_a_file_of_ones_own_with_a_private_one(
    journal: Sample, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    mine = out / "journal.json"
    mine.write_text("old")
    mine.chmod(0o666)
    write_export(journal.view, out, "json", now=NOW, today=TODAY, force=True)
    assert json.loads(mine.read_text()) == export_json(journal.view, now=NOW)
    assert stat.S_IMODE(mine.stat().st_mode) == 0o600
    assert sorted(p.name for p in out.iterdir()) == ["journal.json"]


# --- terminal output ---------------------------------------------------------------------------


def plain_console() -> tuple[Console, io.StringIO]:
    buf = io.StringIO()
    return Console(file=buf, force_terminal=False, width=60), buf


def tty_console() -> tuple[Console, io.StringIO]:
    buf = io.StringIO()
    return Console(file=buf, force_terminal=True, width=120, color_system="truecolor"), buf


def render_everything(console: Console, j: Sample) -> None:
    v = j.view
    print_issues(console, v, v.issues(), TODAY)
    print_parking_lot(console, v, v.parking_lot(TODAY), TODAY)
    print_meetings(console, v, v.meetings(), TODAY)
    print_commitments(console, v, v.commitments(), TODAY)
    print_notes(console, v, v.notes(), TODAY)
    print_updates(console, v, v.updates(), TODAY)
    print_items(console, v, v.search("a"), TODAY)
    for it in v.list_items():
        print_item(console, v, it, TODAY)
    print_agenda(console, v, v.agenda(j.dec, TODAY), TODAY)
    print_review(console, v, v.review(j.dec), j.december(), TODAY)


def test_plain_output_off_a_terminal(journal: Sample) -> None:
    console, buf = plain_console()
    render_everything(console, journal)
    out = buf.getvalue()
    assert "\x1b" not in out
    assert not set("┏━┃│└─") & set(out)
    assert NASTY in out  # not wrapped at 60 columns, not interpreted as markup
    lines = out.splitlines()
    assert any(line.startswith("id        title") for line in lines)
    assert "## Minutes" in out  # markdown source, not rendered


def test_rich_output_on_a_terminal(journal: Sample) -> None:
    console, buf = tty_console()
    render_everything(console, journal)
    out = buf.getvalue()
    assert "\x1b[" in out
    assert "[red]markup[/red]" in out  # member text is never markup
    assert "Accountability round for December forum" in out


def test_markdown_links_show_their_address() -> None:
    console, buf = tty_console()
    print_markdown(console, "[click here](https://evil.example/x)")
    out = buf.getvalue()
    assert "\x1b]8;" not in out  # no hidden OSC 8 hyperlink
    assert "evil.example" in out


def test_print_warnings_names_entries_not_content() -> None:
    j = FakeJournal()
    i = j.post(ANN, Issue, title="secret title")
    j.post(BOB, IssueStatus, item=i, status="closed", outcome="resolved")
    console, buf = plain_console()
    print_warnings(console, j.view, j.view.warnings)
    out = buf.getvalue()
    assert out.startswith("warning: entry 00000000 by Bob: status of issue 00000000: not allowed")
    assert "secret" not in out


@pytest.mark.parametrize(("days", "text"), [
    (0, "today"), (1, "tomorrow"), (-1, "yesterday"), (3, "in 3 days"), (-13, "13 days ago"),
    (14, "in 2 weeks"), (-59, "8 weeks ago"), (60, "2027-01-19"), (-400, "2025-10-16"),
])  # fmt: skip
def test_relative_date(days: int, text: str) -> None:
    from datetime import timedelta

    assert relative_date(TODAY + timedelta(days=days), TODAY) == text


def test_long_lists_use_plain_columns_even_on_a_terminal() -> None:
    j = FakeJournal()
    for k in range(250):
        j.post(ANN, Issue, title=f"issue {k}")
    console, buf = tty_console()
    print_parking_lot(console, j.view, j.view.parking_lot(TODAY), TODAY)
    out = buf.getvalue()
    assert not set("┏━┃│└─") & set(out)
    assert "Parking lot" in out
    assert out.count("\n") == 252  # title, header, one line per issue


def test_the_furthest_dates_a_member_may_write_break_no_view() -> None:
    # A member chooses ts and dates; at the limits every view and export must still work
    # for everyone (beyond them the body is refused as undecodable).
    from chatham.client.journal import FIRST_DAY, LAST_DAY, MAX_TS

    j = FakeJournal()
    j.post(ANN, Issue, title="late", ts=MAX_TS)
    j.post(ANN, Issue, title="early", ts=0)
    j.post(ANN, Commitment, owner=ANN, text="never", ts=MAX_TS, due=LAST_DAY)
    j.post(ANN, Commitment, owner=ANN, text="long ago", due=FIRST_DAY)
    m = j.post(LEE, Meeting, date=LAST_DAY, title="End", start=time(23, 30), minutes=24 * 60)
    j.post(LEE, Meeting, date=FIRST_DAY, title="Start", start=time(0, 0), minutes=60)
    j.post(LEE, Note, body="minutes", meeting=m, ts=MAX_TS)
    assert not j.view.warnings
    for today in (FIRST_DAY, date(2026, 11, 20), LAST_DAY):
        j.view.parking_lot(today)
    j.view.commitments()
    j.view.meetings()
    for now in (0, NOW, MAX_TS):
        export_json(j.view, now=now)
        parse_ics(ics_calendar(j.view, now=now))
    for it in j.view.issues():
        item_json(j.view, it, history=True)
