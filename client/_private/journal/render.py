"""Showing the journal: Rich output for the CLI, JSON shapes, and export writers.

Everything member-written is untrusted text from other people's machines. It
is always handed to Rich as `Text` (never as markup, so "[red]" stays
literal), markdown is rendered without hyperlinks (a link shows its address),
and the domain decoder has already refused control characters, so nothing a
member writes can drive the terminal.

Output contract: tables and rendered markdown on a terminal; on anything else
(a pipe, a file) plain lines with no colour, no box drawing and no wrapping,
one row per line, columns separated by two spaces. `--json` output comes from
the `*_json` functions, whose keys are a stable schema (docs/journal.md).

Exports (`write_export`) write plaintext to disk on purpose: that is the
member's readable copy. Files are created 0600 in a 0700 directory, and a
non-empty directory is refused unless `force=True`.
"""

from __future__ import annotations

import json
import os
import re
import unicodedata
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any, Final, Literal, TypeAlias

from rich.cells import cell_len
from rich.console import Console
from rich.table import Table
from rich.text import Text

from ... import errors as E
from .fold import (
    Agenda,
    CommentItem,
    CommitmentItem,
    Event,
    IssueItem,
    Item,
    JournalView,
    JournalWarning,
    MeetingItem,
    NoteItem,
    RankedIssue,
    ReviewRound,
    UpdateItem,
    short_id,
    thread,
)

__all__ = [
    "EXPORT_SCHEMA",
    "ExportFormat",
    "agenda_json",
    "export_json",
    "file_size",
    "ics_calendar",
    "ics_escape",
    "ics_fold",
    "item_json",
    "markdown_files",
    "print_agenda",
    "print_commitments",
    "print_issues",
    "print_item",
    "print_items",
    "print_markdown",
    "print_meetings",
    "print_notes",
    "print_parking_lot",
    "print_review",
    "print_table",
    "print_updates",
    "print_warnings",
    "ranked_json",
    "relative_date",
    "review_json",
    "write_export",
]

ExportFormat: TypeAlias = Literal["markdown", "json", "ics"]
EXPORT_SCHEMA: Final = "chatham-journal-export/1"


# --- dates ------------------------------------------------------------------------------------


def relative_date(d: date, today: date) -> str:
    """`today`, `tomorrow`, `in 3 days`, `2 weeks ago`, ...; ISO beyond two months."""
    n = (d - today).days
    if n == 0:
        return "today"
    if n == 1:
        return "tomorrow"
    if n == -1:
        return "yesterday"
    a = abs(n)
    if a < 14:
        span = f"{a} days"
    elif a < 60:
        span = f"{a // 7} weeks"
    else:
        return d.isoformat()
    return f"in {span}" if n > 0 else f"{span} ago"


def _dated(d: date | None, today: date) -> str:
    if d is None:
        return "—"
    rel = relative_date(d, today)
    return d.isoformat() if rel == d.isoformat() else f"{d.isoformat()} ({rel})"


def _iso_ts(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- JSON shapes (stable; docs/journal.md) ----------------------------------------------------


def _plain(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


def _hex(b: bytes | None) -> str | None:
    return None if b is None else b.hex()


def _event_json(view: JournalView, e: Event) -> dict[str, Any]:
    return {
        "entry": e.entry_id.hex(),
        "author": e.author.hex(),
        "author_name": view.roster.name(e.author),
        "at": _iso_ts(e.ts),
        "action": e.action,
        "fields": _plain(e.fields),
    }


def item_json(view: JournalView, item: Item, *, history: bool = False) -> dict[str, Any]:
    """One item as a JSON-ready dict; `id`, `type`, `title` and the kind's fields."""
    d: dict[str, Any] = {
        "id": item.id.hex(),
        "type": item.kind,
        "title": item.title,
        "author": item.author.hex(),
        "author_name": view.roster.name(item.author),
        "created": _iso_ts(item.created),
        "updated": _iso_ts(item.updated),
    }
    if isinstance(item, IssueItem):
        b = item.body
        d |= {
            "priority": b.priority,
            "minutes": b.minutes,
            "status": item.status,
            "meeting": _hex(item.meeting),
            "outcome": item.outcome,
            "presented_at": _hex(item.presented_at),
            "what": b.what,
            "why": b.why,
            "tried": b.tried,
            "ask": b.ask,
            "not_ask": b.not_ask,
            "background": b.background,
            "options": b.options,
            "impact": b.impact,
        }
    elif isinstance(item, MeetingItem):
        mb = item.body
        a = item.agenda
        d |= {
            "date": mb.date.isoformat(),
            "start": None if mb.start is None else mb.start.isoformat("minutes"),
            "minutes": mb.minutes,
            "place": mb.place,
            "status": item.status,
            "attendance": [m.hex() for m in mb.attendance],
            "agenda": None
            if a is None
            else {
                "published_by": _hex(item.agenda_by),
                "issues": [i.hex() for i in a.issues],
                "commitments": [c.hex() for c in a.commitments],
            },
        }
    elif isinstance(item, NoteItem):
        d |= {"meeting": _hex(item.meeting), "body": item.body.body}
    elif isinstance(item, CommitmentItem):
        d |= {
            "owner": item.owner.hex(),
            "owner_name": view.roster.name(item.owner),
            "text": item.text,
            "status": item.status,
            "due": None if item.due_date is None else item.due_date.isoformat(),
            "due_is_next_meeting": item.body.due is None,
            "report": item.report,
            "reviewed_at": _hex(item.reviewed_at),
            "meeting": _hex(item.body.meeting),
        }
    elif isinstance(item, CommentItem):
        f = item.body.file
        d |= {
            "item": item.parent.hex(),
            "text": item.body.text,
            "file": None
            if f is None
            else {"name": f.name, "size": f.size, "media_type": f.media_type},
        }
    elif isinstance(item, UpdateItem):
        d |= {
            "meeting": _hex(item.body.meeting),
            "highs": item.body.highs,
            "lows": item.body.lows,
            "scores": dict(item.body.scores),
        }
    d["comments"] = [c.id.hex() for c in item.comments]
    if history:
        d["history"] = [_event_json(view, e) for e in item.history]
    return d


def ranked_json(view: JournalView, ranked: Sequence[RankedIssue]) -> list[dict[str, Any]]:
    """Parking-lot items in rank order, each with its score and the score's parts."""
    return [
        item_json(view, r.issue)
        | {
            "rank": n,
            "score": r.score,
            "points": {
                "priority": r.priority_points,
                "waiting": r.waiting_points,
                "turn": r.turn_points,
            },
            "meetings_since_presented": r.meetings_since_presented,
        }
        for n, r in enumerate(ranked, 1)
    ]


def agenda_json(view: JournalView, agenda: Agenda) -> dict[str, Any]:
    return {
        "meeting": item_json(view, agenda.meeting),
        "published": agenda.published,
        "published_by": _hex(agenda.published_by),
        "minutes": agenda.minutes,
        "issues": [item_json(view, i) for i in agenda.issues],
        "commitments": [item_json(view, c) for c in agenda.commitments],
    }


def review_json(view: JournalView, rounds: Sequence[ReviewRound]) -> list[dict[str, Any]]:
    return [
        {
            "member": r.member.hex(),
            "name": view.roster.name(r.member),
            "commitments": [item_json(view, c) for c in r.commitments],
        }
        for r in rounds
    ]


def export_json(view: JournalView, *, now: int) -> dict[str, Any]:
    """The whole journal as one document (schema `chatham-journal-export/1`)."""
    members = sorted(
        {m for m in view.roster.members()}
        | {it.author for it in view.list_items()}
        | {c.owner for c in view.commitments()}
    )
    kinds = ("issue", "meeting", "note", "commitment", "comment", "update")
    return {
        "schema": EXPORT_SCHEMA,
        "exported_at": _iso_ts(now),
        "members": [{"id": m.hex(), "name": view.roster.name(m)} for m in members],
    } | {
        f"{k}s": [item_json(view, it, history=True) for it in view.list_items(k)]  # type: ignore[arg-type]
        for k in kinds
    }


# --- markdown export --------------------------------------------------------------------------


def _slug(title: str) -> str:
    ascii_ = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_.lower()).strip("-")[:40] or "meeting"


def _issue_sections(it: IssueItem) -> tuple[tuple[str, str], ...]:
    """An issue's free-text fields under the headings `show` and the export give them."""
    b = it.body
    return (
        ("What is the issue", b.what),
        ("Why it matters", b.why),
        ("What I have tried", b.tried),
        ("What I want from the group", b.ask),
        ("What I do not want", b.not_ask),
        ("Background", b.background),
        ("Options", b.options),
        ("How it affects me", b.impact),
    )


def _md_issue(view: JournalView, it: IssueItem, level: int = 2) -> list[str]:
    b = it.body
    h = "#" * level
    status = it.status + (f" ({it.outcome})" if it.outcome else "")
    out = [
        f"{h} {b.title}",
        "",
        f"- owner: {view.name(it.author)}",
        f"- priority: {b.priority}, {b.minutes} minutes",
        f"- status: {status}",
        f"- posted: {view.day(it.created).isoformat()}",
        f"- id: {it.id.hex()}",
        "",
    ]
    for label, text in _issue_sections(it):
        if text:
            out += [f"{h}# {label}", "", text, ""]
    out += _md_comments(view, it, h + "#")
    return out


def _md_comments(view: JournalView, it: Item, h: str) -> list[str]:
    if not it.comments:
        return []
    out = [f"{h} Comments", ""]
    for depth, c in thread(it):
        pad = "  " * (min(depth, 6) - 1)
        out += [f"{pad}- {view.name(c.author)}, {view.day(c.created).isoformat()}:", ""]
        out += [f"{pad}  {line}" if line else "" for line in c.body.text.split("\n")]
        if c.body.file is not None:
            out += ["", f"{pad}  (attached: {c.body.file.name}, {file_size(c.body.file.size)})"]
        out.append("")
    return out


def _md_commitment(view: JournalView, c: CommitmentItem) -> str:
    due = c.due_date.isoformat() if c.due_date else "next meeting"
    line = f"- [{'x' if c.status == 'done' else ' '}] {view.name(c.owner)}: {c.text}"
    line = line.replace("\n", " ")
    line += f" (due {due}, {c.status})"
    if c.report:
        line += f" — report: {c.report}".replace("\n", " ")
    return line


def markdown_files(view: JournalView, *, today: date) -> dict[str, str]:
    """File name → markdown: one file per meeting, issues.md, commitments.md, and
    notes.md / updates.md for notes and updates that belong to no meeting."""
    files: dict[str, str] = {}
    used: set[str] = set()
    for m in view.meetings():
        name = f"{m.date.isoformat()}-{_slug(m.title)}.md"
        if name in used:
            name = f"{m.date.isoformat()}-{_slug(m.title)}-{m.short_id}.md"
        used.add(name)
        files[name] = _md_meeting(view, m, today)
    lines = ["# Issues", ""]
    for it in view.issues():
        lines += _md_issue(view, it)
    files["issues.md"] = "\n".join(lines).rstrip() + "\n"
    lines = ["# Commitments", ""]
    lines += [_md_commitment(view, c) for c in view.commitments()]
    files["commitments.md"] = "\n".join(lines).rstrip() + "\n"
    loose = [n for n in view.notes() if view.get(n.meeting or b"") is None]
    if loose:
        lines = ["# Notes", ""]
        for n in loose:
            lines += _md_note(view, n, "##")
        files["notes.md"] = "\n".join(lines).rstrip() + "\n"
    loose_u = [u for u in view.updates() if view.get(u.body.meeting or b"") is None]
    if loose_u:
        lines = ["# Updates", ""]
        for u in loose_u:
            lines += _md_update(view, u, "##")
        files["updates.md"] = "\n".join(lines).rstrip() + "\n"
    return files


def _md_note(view: JournalView, n: NoteItem, h: str) -> list[str]:
    head = n.body.title or f"Note by {view.name(n.author)}"
    by = f"*{view.name(n.author)}, {view.day(n.created).isoformat()}*"
    return [f"{h} {head}", "", by, "", n.body.body, "", *_md_comments(view, n, h + "#")]


def _md_update(view: JournalView, u: UpdateItem, h: str) -> list[str]:
    out = [f"{h} {view.name(u.author)}, {view.day(u.created).isoformat()}", ""]
    if u.body.highs:
        out += ["**Highs**", "", u.body.highs, ""]
    if u.body.lows:
        out += ["**Lows**", "", u.body.lows, ""]
    if u.body.scores:
        out += [", ".join(f"{k}: {v}/10" for k, v in u.body.scores.items()), ""]
    return out


def _md_meeting(view: JournalView, m: MeetingItem, today: date) -> str:
    b = m.body
    when = b.date.isoformat() + (f" {b.start.isoformat('minutes')}" if b.start else "")
    out = [f"# {b.title}", "", f"- date: {when}", f"- status: {m.status}"]
    if b.place:
        out.append(f"- place: {b.place}")
    if b.attendance:
        out.append("- attendance: " + ", ".join(view.name(a) for a in b.attendance))
    out += [f"- id: {m.id.hex()}", ""]
    agenda = view.agenda(m.id, today)
    if agenda.published or m.status == "planned":
        out += [f"## Agenda{'' if agenda.published else ' (draft)'}", ""]
        out += [
            f"{n}. {i.title} ({view.name(i.author)}, {i.priority}, {i.minutes} min)"
            for n, i in enumerate(agenda.issues, 1)
        ] or ["No issues."]
    else:  # a draft from today's parking lot says nothing about a past meeting
        out += ["## Agenda", "", "No agenda was published."]
    out.append("")
    out += ["## Commitments due", ""]
    out += [_md_commitment(view, c) for c in agenda.commitments] or ["None."]
    out.append("")
    presented = [i for i in view.issues() if i.presented_at == m.id]
    if presented:
        out += ["## Issues presented", ""]
        for i in presented:
            out += _md_issue(view, i, 3)
    notes = view.notes(m.id)
    if notes:
        out += ["## Notes", ""]
        for n in notes:
            out += _md_note(view, n, "###")
    made = view.commitments(meeting=m.id)
    if made:
        out += ["## Commitments made", ""]
        out += [_md_commitment(view, c) for c in made]
        out.append("")
    ups = view.updates(meeting=m.id)
    if ups:
        out += ["## Updates", ""]
        for u in ups:
            out += _md_update(view, u, "###")
    return "\n".join(out).rstrip() + "\n"


# --- iCalendar export (RFC 5545) --------------------------------------------------------------


def ics_escape(text: str) -> str:
    """Escape a TEXT value (RFC 5545 §3.3.11)."""
    return (
        text.replace("\\", "\\\\")
        .replace(";", "\\;")
        .replace(",", "\\,")
        .replace("\r\n", "\n")
        .replace("\n", "\\n")
    )


def ics_fold(line: str) -> str:
    """Fold a content line into ≤75-octet lines joined by CRLF + space (RFC 5545 §3.1),
    never splitting a UTF-8 sequence."""
    out: list[str] = []
    cur, size, limit = "", 0, 75
    for ch in line:
        n = len(ch.encode())
        if size + n > limit:
            out.append(cur)
            cur, size, limit = "", 0, 74  # continuation lines start with one space
        cur += ch
        size += n
    out.append(cur)
    return "\r\n ".join(out) + "\r\n"


def _ics_date(d: date) -> str:
    return d.strftime("%Y%m%d")


def ics_calendar(view: JournalView, *, now: int) -> str:
    """A VCALENDAR: a VEVENT per meeting and a VTODO per commitment."""
    stamp = datetime.fromtimestamp(now, UTC).strftime("%Y%m%dT%H%M%SZ")
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//Chatham//Chatham journal export//EN",
        "CALSCALE:GREGORIAN",
    ]
    for m in view.meetings():
        b = m.body
        lines += ["BEGIN:VEVENT", f"UID:{m.id.hex()}@chatham", f"DTSTAMP:{stamp}"]
        if b.start is None:
            lines.append(f"DTSTART;VALUE=DATE:{_ics_date(b.date)}")
            lines.append(f"DTEND;VALUE=DATE:{_ics_date(b.date + timedelta(days=1))}")
        else:  # floating local time: the group's wall clock, wherever the reader is
            start = datetime.combine(b.date, b.start)
            lines.append(f"DTSTART:{start.strftime('%Y%m%dT%H%M%S')}")
            if b.minutes is not None:
                end = start + timedelta(minutes=b.minutes)
                lines.append(f"DTEND:{end.strftime('%Y%m%dT%H%M%S')}")
        lines.append(f"SUMMARY:{ics_escape(b.title)}")
        if b.place:
            lines.append(f"LOCATION:{ics_escape(b.place)}")
        lines.append(f"STATUS:{'CONFIRMED' if m.status != 'planned' else 'TENTATIVE'}")
        agenda = view.agenda(m.id, b.date)
        if agenda.published and agenda.issues:
            desc = "Agenda:\n" + "\n".join(
                f"{n}. {i.title}" for n, i in enumerate(agenda.issues, 1)
            )
            lines.append(f"DESCRIPTION:{ics_escape(desc)}")
        lines.append("END:VEVENT")
    status = {
        "open": "NEEDS-ACTION",
        "done": "COMPLETED",
        "partial": "IN-PROCESS",
        "dropped": "CANCELLED",
    }
    for c in view.commitments():
        lines += ["BEGIN:VTODO", f"UID:{c.id.hex()}@chatham", f"DTSTAMP:{stamp}"]
        lines.append(f"SUMMARY:{ics_escape(c.text.split(chr(10), 1)[0])}")
        desc = f"Owner: {view.name(c.owner)}\n\n{c.text}"
        if c.report:
            desc += f"\n\nReport: {c.report}"
        lines.append(f"DESCRIPTION:{ics_escape(desc)}")
        if c.due_date is not None:
            lines.append(f"DUE;VALUE=DATE:{_ics_date(c.due_date)}")
        lines.append(f"STATUS:{status[c.status]}")
        if c.status == "done":
            lines.append("PERCENT-COMPLETE:100")
        lines.append("END:VTODO")
    lines.append("END:VCALENDAR")
    return "".join(ics_fold(line) for line in lines)


# --- writing an export ------------------------------------------------------------------------


def _write(path: Path, text: str) -> None:
    # O_NOFOLLOW: with force=True, a planted symlink must not redirect plaintext elsewhere.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
        f.write(text)


def write_export(
    view: JournalView,
    directory: Path,
    fmt: ExportFormat,
    *,
    now: int,
    today: date,
    force: bool = False,
) -> list[Path]:
    """Write the journal into `directory` as markdown, json or ics; returns the files."""
    if fmt == "markdown":
        files = markdown_files(view, today=today)
    elif fmt == "json":
        doc = json.dumps(export_json(view, now=now), indent=2, ensure_ascii=False)
        files = {"journal.json": doc + "\n"}
    elif fmt == "ics":
        files = {"journal.ics": ics_calendar(view, now=now)}
    else:
        raise E.ExportError(f"unknown export format {fmt!r}", hint="use markdown, json or ics")
    if directory.exists() or directory.is_symlink():
        if not directory.is_dir():
            raise E.ExportError("the export path is not a directory", hint="choose a directory")
        if any(directory.iterdir()) and not force:
            raise E.ExportError(
                "the export directory is not empty",
                hint="choose an empty or new directory, or pass --force to write into it",
            )
    else:
        directory.mkdir(mode=0o700, parents=True)
    out = []
    for name, text in files.items():
        path = directory / name
        _write(path, text)
        out.append(path)
    return out


# --- terminal output --------------------------------------------------------------------------


TABLE_ROWS: Final = 200  # Rich lays out ~2,000 rows a second; longer lists get plain columns


def print_table(
    console: Console,
    headers: Sequence[str],
    rows: Iterable[Sequence[str | Text]],
    *,
    title: str | None = None,
) -> None:
    """A Rich table on a terminal; aligned plain columns otherwise (and for long lists)."""
    cells = [list(row) for row in rows]
    if console.is_terminal and len(cells) <= TABLE_ROWS:
        table = Table(title=title, title_justify="left", header_style="bold")
        for h in headers:
            table.add_column(h, overflow="fold")
        for row in cells:
            table.add_row(*(c if isinstance(c, Text) else Text(c) for c in row))
        console.print(table)
        return
    plain = [[c.plain if isinstance(c, Text) else c for c in row] for row in cells]
    # Each cell's width once (printable ASCII is one cell a character; cell_len the rest).
    sizes = [
        [len(v) if v.isascii() and v.isprintable() else cell_len(v) for v in row] for row in plain
    ]
    head = [cell_len(h) for h in headers]
    widths = [max([head[i]] + [r[i] for r in sizes]) for i in range(len(headers))]

    def line(values: Sequence[str], lengths: Sequence[int]) -> str:
        padded = (v + " " * (w - n) for v, n, w in zip(values, lengths, widths, strict=True))
        return "  ".join(padded).rstrip()

    lines = [line(r, n) for r, n in zip(plain, sizes, strict=True)]
    if not console.is_terminal:
        # Plain lines need none of Rich's layout; writing them directly keeps a
        # 10,000-row listing fast (docs/performance.md, "Journal").
        console.file.write("\n".join([line(headers, head), *lines]) + "\n")
        return
    out = Text()
    if title:
        out.append(title + "\n", style="bold")
    out.append(line(headers, head) + "\n", style="bold")
    out.append("\n".join(lines))
    console.print(out, soft_wrap=True, highlight=False)


def print_markdown(console: Console, text: str) -> None:
    """Rendered markdown on a terminal, the source text otherwise."""
    if console.is_terminal:
        from rich.markdown import Markdown  # markdown-it loads only when there is some to show

        console.print(Markdown(text, hyperlinks=False))
    else:
        console.print(Text(text), soft_wrap=True, highlight=False)


def _line(console: Console, *parts: str | tuple[str, str]) -> None:
    """Print one line from plain strings and (text, style) pairs, never as markup."""
    console.print(Text.assemble(*parts), soft_wrap=True, highlight=False)


def print_issues(
    console: Console, view: JournalView, issues: Sequence[IssueItem], today: date
) -> None:
    rows = [
        [
            i.short_id,
            i.title,
            i.priority,
            str(i.minutes),
            i.status + (f" ({i.outcome})" if i.outcome else ""),
            view.name(i.author),
            relative_date(view.day(i.created), today),
        ]
        for i in issues
    ]
    print_table(console, ["id", "title", "pri", "min", "status", "owner", "posted"], rows)


def print_parking_lot(
    console: Console, view: JournalView, ranked: Sequence[RankedIssue], today: date
) -> None:
    rows = []
    for n, r in enumerate(ranked, 1):
        i = r.issue
        last = "never" if r.meetings_since_presented is None else str(r.meetings_since_presented)
        rows.append(
            [
                str(n),
                i.short_id,
                i.title,
                i.priority,
                str(i.minutes),
                view.name(i.author),
                relative_date(view.day(i.created), today),
                last,
                str(r.score),
            ]
        )
    headers = ["#", "id", "title", "pri", "min", "owner", "posted", "presented", "score"]
    print_table(console, headers, rows, title="Parking lot")


def print_meetings(
    console: Console, view: JournalView, meetings: Sequence[MeetingItem], today: date
) -> None:
    rows = [
        [
            m.short_id,
            _dated(m.date, today),
            m.body.start.isoformat("minutes") if m.body.start else "",
            m.title,
            m.status,
            "published" if m.agenda else "",
        ]
        for m in meetings
    ]
    print_table(console, ["id", "date", "time", "title", "status", "agenda"], rows)


def print_commitments(
    console: Console, view: JournalView, commitments: Sequence[CommitmentItem], today: date
) -> None:
    rows = [
        [
            c.short_id,
            view.name(c.owner),
            c.title,
            _dated(c.due_date, today) if c.due_date else "next meeting",
            c.status,
            "yes" if c.reviewed_at else "",
        ]
        for c in commitments
    ]
    print_table(console, ["id", "owner", "commitment", "due", "status", "reviewed"], rows)


def print_notes(
    console: Console, view: JournalView, notes: Sequence[NoteItem], today: date
) -> None:
    rows = []
    for n in notes:
        m = view.get(n.meeting) if n.meeting else None
        rows.append(
            [
                n.short_id,
                n.title,
                m.title if isinstance(m, MeetingItem) else "",
                view.name(n.author),
                relative_date(view.day(n.created), today),
            ]
        )
    print_table(console, ["id", "title", "meeting", "author", "written"], rows)


def print_updates(
    console: Console, view: JournalView, updates: Sequence[UpdateItem], today: date
) -> None:
    rows = [
        [
            u.short_id,
            view.name(u.author),
            relative_date(view.day(u.created), today),
            u.title,
            ", ".join(f"{k} {v}" for k, v in u.body.scores.items()),
        ]
        for u in updates
    ]
    print_table(console, ["id", "member", "posted", "highlights", "scores"], rows)


def print_items(console: Console, view: JournalView, items: Sequence[Item], today: date) -> None:
    """Mixed items (`list`, `search`): one line each."""
    rows = [
        [
            it.short_id,
            it.kind,
            it.title,
            view.name(it.author),
            relative_date(view.day(it.updated), today),
        ]
        for it in items
    ]
    print_table(console, ["id", "type", "title", "author", "changed"], rows)


def _field(console: Console, label: str, text: str) -> None:
    if text:
        _line(console, (label, "bold"))
        print_markdown(console, text)


def print_item(console: Console, view: JournalView, item: Item, today: date) -> None:
    """`chatham show`: the item's fields, markdown rendered, then comments and history."""
    _line(console, (item.title, "bold"), "  ", (f"{item.kind} {item.id.hex()}", "dim"))
    _line(
        console,
        f"by {view.name(item.author)}, {relative_date(view.day(item.created), today)}",
    )
    if isinstance(item, IssueItem):
        b = item.body
        where = ""
        if item.meeting is not None:
            m = view.get(item.meeting)
            where = f" for {m.title}" if isinstance(m, MeetingItem) else ""
        _line(
            console,
            f"priority {b.priority}, {b.minutes} minutes, ",
            (item.status + (f" ({item.outcome})" if item.outcome else "") + where, "bold"),
        )
        for label, text in _issue_sections(item):
            _field(console, label, text)
    elif isinstance(item, MeetingItem):
        mb = item.body
        _line(console, f"{_dated(mb.date, today)}, {item.status}")
        if mb.start:
            length = f" for {mb.minutes} minutes" if mb.minutes else ""
            _line(console, f"at {mb.start.isoformat('minutes')}{length}")
        if mb.place:
            _line(console, f"place: {mb.place}")
        if mb.attendance:
            _line(console, "attendance: " + ", ".join(view.name(a) for a in mb.attendance))
        print_agenda(console, view, view.agenda(item.id, today), today)
    elif isinstance(item, NoteItem):
        print_markdown(console, item.body.body)
    elif isinstance(item, CommitmentItem):
        due = _dated(item.due_date, today) if item.due_date else "next meeting"
        _line(console, f"owner {view.name(item.owner)}, due {due}, ", (item.status, "bold"))
        print_markdown(console, item.text)
        _field(console, "Report", item.report)
    elif isinstance(item, CommentItem):
        parent = view.get(item.parent)
        if parent is not None:
            _line(console, f"on {parent.kind} {parent.short_id}: {parent.title}")
        print_markdown(console, item.body.text)
        _file_line(console, item, "")
    elif isinstance(item, UpdateItem):
        _field(console, "Highs", item.body.highs)
        _field(console, "Lows", item.body.lows)
        if item.body.scores:
            _line(console, ", ".join(f"{k}: {v}/10" for k, v in item.body.scores.items()))
    if item.comments:
        _line(console, ("Comments", "bold"))
        for depth, c in thread(item):
            when = relative_date(view.day(c.created), today)
            pad = "  " * (min(depth, 6) - 1)
            by = (f"{pad}{view.name(c.author)}, {when}", "italic")
            _line(console, by, f"  {c.short_id}")
            print_markdown(console, c.body.text)
            _file_line(console, c, pad)
    _line(console, ("History", "bold"))
    for e in item.history:
        changed = ", ".join(e.fields) if e.action == "edited" else ""
        _line(
            console,
            f"{_iso_ts(e.ts)}  {view.name(e.author)}  {e.action}",
            f" ({changed})" if changed else "",
        )


def file_size(n: int) -> str:
    """1 B, 12.5 KiB, 3.2 MiB, ..."""
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{n} B" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")  # pragma: no cover


def _file_line(console: Console, c: CommentItem, pad: str) -> None:
    f = c.body.file
    if f is not None:
        _line(
            console,
            f"{pad}attached: ",
            (f.name, "bold"),
            f" ({file_size(f.size)}); `chatham attachment save {c.short_id} PATH`",
        )


def print_agenda(console: Console, view: JournalView, agenda: Agenda, today: date) -> None:
    m = agenda.meeting
    state = "published" if agenda.published else "draft"
    _line(console, (f"Agenda for {m.title}", "bold"), f", {_dated(m.date, today)} ({state})")
    rows = [
        [str(n), i.short_id, i.title, view.name(i.author), i.priority, str(i.minutes)]
        for n, i in enumerate(agenda.issues, 1)
    ]
    print_table(console, ["#", "id", "issue", "owner", "pri", "min"], rows)
    _line(console, f"{agenda.minutes} minutes of issues")
    if agenda.commitments:
        _line(console, ("Commitments due", "bold"))
        print_commitments(console, view, agenda.commitments, today)


def print_review(
    console: Console,
    view: JournalView,
    rounds: Sequence[ReviewRound],
    meeting: MeetingItem,
    today: date,
) -> None:
    _line(console, (f"Accountability round for {meeting.title}", "bold"))
    for r in rounds:
        _line(console, (view.name(r.member), "bold"))
        if not r.commitments:
            _line(console, "  nothing due")
        for c in r.commitments:
            mark = "reviewed" if c.reviewed_at == meeting.id else "to review"
            _line(console, f"  {c.short_id}  {c.status:<8} {mark:<10} {c.title}")
            if c.report:
                _line(console, ("    report: ", "dim"), c.report.replace("\n", " "))


def print_warnings(console: Console, view: JournalView, warnings: Sequence[JournalWarning]) -> None:
    """Skipped entries, without their content."""
    for w in warnings:
        _line(
            console,
            ("warning: ", "yellow"),
            f"entry {short_id(w.entry_id)} by {view.name(w.author)}: {w.message}",
        )
