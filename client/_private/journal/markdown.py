"""The journal as Markdown files: one per meeting, plus the parking lot and commitments.

Member-written text is escaped where Markdown would read it as structure (headings,
links, HTML), so an export shows what members wrote, never markup they slipped in.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date

from .files import file_size
from .fold import JournalView
from .items import (
    CommitmentItem,
    IssueItem,
    Item,
    MeetingItem,
    NoteItem,
    UpdateItem,
    thread,
)


def _slug(title: str) -> str:
    ascii_ = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_.lower()).strip("-")[:40] or "meeting"


def issue_sections(it: IssueItem) -> tuple[tuple[str, str], ...]:
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
    for label, text in issue_sections(it):
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
