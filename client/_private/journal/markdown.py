"""The journal as Markdown files: one per meeting, plus the parking lot and commitments.

Names, titles and other one-line fields are text: every character Markdown would read as
structure (emphasis, links, code, HTML, headings, lists) is escaped with `_inline`, so an
export shows what members wrote, never markup they slipped in. Free text that members
write as Markdown (issue sections, notes, comments, updates) keeps its Markdown, but raw
HTML in it is escaped with `_body`: a viewer that renders HTML shows it as text.
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

_INLINE = re.compile(r"([\\`*_{}\[\]<>#|~!])")
_LIST_START = re.compile(r"^(\s*)([-+]|\d+[.)])")


def _inline(text: str) -> str:
    """A one-line field as literal Markdown text (names, titles, places, commitments)."""
    text = _INLINE.sub(r"\\\1", text.replace("\n", " "))
    return _LIST_START.sub(lambda m: m.group(1) + "\\" + m.group(2), text)


def _body(text: str) -> str:
    """Member Markdown with raw HTML escaped (`<` starts every HTML tag and comment)."""
    return text.replace("<", "&lt;")


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
        f"{h} {_inline(b.title)}",
        "",
        f"- owner: {_inline(view.name(it.author))}",
        f"- priority: {b.priority}, {b.minutes} minutes",
        f"- status: {status}",
        f"- posted: {view.day(it.created).isoformat()}",
        f"- id: {it.id.hex()}",
        "",
    ]
    for label, text in issue_sections(it):
        if text:
            out += [f"{h}# {label}", "", _body(text), ""]
    out += _md_comments(view, it, h + "#")
    return out


def _md_comments(view: JournalView, it: Item, h: str) -> list[str]:
    if not it.comments:
        return []
    out = [f"{h} Comments", ""]
    for depth, c in thread(it):
        pad = "  " * (min(depth, 6) - 1)
        out += [f"{pad}- {_inline(view.name(c.author))}, {view.day(c.created).isoformat()}:", ""]
        out += [f"{pad}  {line}" if line else "" for line in _body(c.body.text).split("\n")]
        if c.body.file is not None:
            name, size = _inline(c.body.file.name), file_size(c.body.file.size)
            out += ["", f"{pad}  (attached: {name}, {size})"]
        out.append("")
    return out


def _md_commitment(view: JournalView, c: CommitmentItem) -> str:
    due = c.due_date.isoformat() if c.due_date else "next meeting"
    line = (
        f"- [{'x' if c.status == 'done' else ' '}] {_inline(view.name(c.owner))}: {_inline(c.text)}"
    )
    line += f" (due {due}, {c.status})"
    if c.report:
        line += f" — report: {_inline(c.report)}"
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
    head = _inline(n.body.title) or f"Note by {_inline(view.name(n.author))}"
    by = f"*{_inline(view.name(n.author))}, {view.day(n.created).isoformat()}*"
    body = _body(n.body.body)
    return [f"{h} {head}", "", by, "", body, "", *_md_comments(view, n, h + "#")]


def _md_update(view: JournalView, u: UpdateItem, h: str) -> list[str]:
    out = [f"{h} {_inline(view.name(u.author))}, {view.day(u.created).isoformat()}", ""]
    if u.body.highs:
        out += ["**Highs**", "", _body(u.body.highs), ""]
    if u.body.lows:
        out += ["**Lows**", "", _body(u.body.lows), ""]
    if u.body.scores:
        out += [", ".join(f"{_inline(k)}: {v}/10" for k, v in u.body.scores.items()), ""]
    return out


def _md_meeting(view: JournalView, m: MeetingItem, today: date) -> str:
    b = m.body
    when = b.date.isoformat() + (f" {b.start.isoformat('minutes')}" if b.start else "")
    out = [f"# {_inline(b.title)}", "", f"- date: {when}", f"- status: {m.status}"]
    if b.place:
        out.append(f"- place: {_inline(b.place)}")
    if b.attendance:
        out.append("- attendance: " + ", ".join(_inline(view.name(a)) for a in b.attendance))
    out += [f"- id: {m.id.hex()}", ""]
    agenda = view.agenda(m.id, today)
    if agenda.published or m.status == "planned":
        out += [f"## Agenda{'' if agenda.published else ' (draft)'}", ""]
        out += [
            f"{n}. {_inline(i.title)} ({_inline(view.name(i.author))}, "
            f"{i.priority}, {i.minutes} min)"
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
