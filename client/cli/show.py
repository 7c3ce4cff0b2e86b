"""Showing the journal on a terminal: tables, items, agendas and review rounds, with Rich.

Everything member-written is untrusted text from other people's machines. It
is always handed to Rich as `Text` (never as markup, so "[red]" stays
literal), markdown is rendered without hyperlinks (a link shows its address),
and the content decoder has already refused control characters, so nothing a
member writes can drive the terminal.

Output contract: tables and rendered markdown on a terminal; on anything else
(a pipe, a file) plain lines with no colour, no box drawing and no wrapping,
one row per line, columns separated by two spaces. `--json` output comes from
the library's JSON shapes (`chatham.client.journal`), whose keys are a stable
schema (docs/journal.md).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from typing import Final

from rich.cells import cell_len
from rich.console import Console
from rich.table import Table
from rich.text import Text

from .. import terminal_text
from ..journal import (
    Agenda,
    CommentItem,
    CommitmentItem,
    IssueItem,
    Item,
    JournalView,
    JournalWarning,
    MeetingItem,
    NoteItem,
    RankedIssue,
    ReviewRound,
    SearchHit,
    UpdateItem,
    dated,
    file_size,
    iso_ts,
    issue_sections,
    relative_date,
    short_id,
    thread,
)

TABLE_ROWS: Final = 200  # longer lists print plain columns: Rich tables are slow to lay out
# (figures in docs/performance.md, "Journal")


def print_table(
    console: Console,
    headers: Sequence[str],
    rows: Iterable[Sequence[str | Text]],
    *,
    title: str | None = None,
) -> None:
    """A Rich table on a terminal; aligned plain columns otherwise (and for long lists).

    Every cell is made safe for a terminal first (`_safe_cell`), so the plain path, which
    writes without Rich, holds no escape sequence either, and widths count what is shown."""
    cells = [[_safe_cell(c) for c in row] for row in rows]
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


def _safe_cell(cell: str | Text) -> str | Text:
    """One line of text with every control character and bidi override as U+FFFD (one
    character for one, so a Text's styles keep their places)."""
    if isinstance(cell, Text):
        clean = terminal_text(cell.plain, one_line=True)
        if clean != cell.plain:
            cell = cell.copy()
            cell.plain = clean
        return cell
    return terminal_text(cell, one_line=True)


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
            dated(m.date, today),
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
            dated(c.due_date, today) if c.due_date else "next meeting",
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


def print_search(
    console: Console, view: JournalView, hits: Sequence[SearchHit], today: date
) -> None:
    """`search`: one line per item, with the passage that matched."""
    rows = [
        [
            h.item.short_id,
            h.item.kind,
            h.item.title,
            view.name(h.item.author),
            relative_date(view.day(h.item.updated), today),
            h.passage,
        ]
        for h in hits
    ]
    print_table(console, ["id", "type", "title", "author", "changed", "passage"], rows)


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
        for label, text in issue_sections(item):
            _field(console, label, text)
    elif isinstance(item, MeetingItem):
        mb = item.body
        _line(console, f"{dated(mb.date, today)}, {item.status}")
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
        due = dated(item.due_date, today) if item.due_date else "next meeting"
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
            f"{iso_ts(e.ts)}  {view.name(e.author)}  {e.action}",
            f" ({changed})" if changed else "",
        )


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
    _line(console, (f"Agenda for {m.title}", "bold"), f", {dated(m.date, today)} ({state})")
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
            if c.reviewed_at == meeting.id:
                mark = "reviewed"
            elif c.status == "open":
                mark = "no report: carries over"
            else:
                mark = "to review"
            since = (
                f" (due {dated(c.due_date, today)})"
                if c.due_date and c.due_date < meeting.date
                else ""
            )
            _line(console, f"  {c.short_id}  {c.status:<8} {mark:<10} {c.title}{since}")
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
