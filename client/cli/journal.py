"""Journal commands: issues, the parking lot, meetings and agendas, notes, commitments and the
review round, comments, updates, attachments, listing, search, export and watch.

Output contract, beyond the one in `chatham.client.cli`:

- Listings print a table on a terminal and plain two-space columns otherwise;
  with `--json` they print one JSON document whose item shapes are the
  journal's stable schema (docs/journal.md §11). `issue list` and
  `parking-lot` items have `id`, `title`, `priority`, `status` (parking-lot
  order is the ranking); `commit list` items have `id`, `text`, `status`,
  `due`; `agenda` has the ranked `issues` and the `commitments` due.
- Commands that write print one line naming the new entry's short id (and
  `--json` prints `{"id", "queued"}`); they never echo what was written.
- Item ids accept any unique prefix of 4 or more hex digits.
- Dates accept `2026-12-03`, `today`, `tomorrow` and `next-meeting`.
- Long text comes from an option, `-` (stdin), `@file`, or `$EDITOR` when
  the command runs on a terminal and the text was not given.
- A refusal by the permission table (docs/journal.md §4) is an error with a
  hint, checked before anything is posted, so it changes nothing.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from .common import console, emit_json, state, text

if TYPE_CHECKING:
    from rich.console import Console

    from ..journal import Journal, Posted

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")]
MeetingArg = Annotated[
    str | None,
    typer.Argument(
        help="Meeting id (prefix) or date; default: the open meeting, else the next planned one.",
        show_default=False,
    ),
]
MeetingOpt = Annotated[
    str | None,
    typer.Option(
        "--meeting",
        "-m",
        help="Meeting id (prefix) or date; default: the meeting in progress, if any.",
        show_default=False,
    ),
]


def _app(help_text: str) -> typer.Typer:
    return typer.Typer(help=help_text, no_args_is_help=True, rich_markup_mode=None)


issue_app = _app("Issues members bring to the group: post, list, show, edit, present, close.")
meeting_app = _app("Meetings: plan, list, show, open (prints the meeting code), close.")
note_app = _app("Meeting notes (markdown).")
commit_app = _app("Commitments: what members promise to do by the next meeting.")
update_app = _app("Monthly check-ins: highs, lows and scores.")
attachment_app = _app("Attached files.")


# --- helpers ------------------------------------------------------------------------------------


def _journal(*, write: bool = False) -> Journal:
    """The current group's journal; for a write, synced first so ids from others resolve."""
    from ..journal import Journal

    st = state()
    gj = Journal(st.group(), st.account().member_id)
    if write:
        gj.catch_up()
    return gj


def interactive() -> bool:
    """Whether $EDITOR may be opened (tests replace this)."""
    return sys.stdin.isatty() and sys.stdout.isatty()


def _long(value: str | None) -> str | None:
    from ..journal import clean_text

    got = text(value)
    return None if got is None else clean_text(got)


def _line_text(value: str | None) -> str | None:
    from ..journal import clean_line

    got = text(value)
    return None if got is None else clean_line(got)


def _edit(initial: str) -> str:
    from ..journal import clean_text
    from .editor import edit_text

    return clean_text(edit_text(initial))


SECTION_MARK = "## "


def edit_sections(heading: str, sections: list[tuple[str, str, str]]) -> dict[str, str]:
    """Open $EDITOR with one `## label` section per field; return field → text.

    Lines before the first section are instructions and are dropped; a section ends at
    the next line that is exactly another section's heading.
    """
    lines = [
        f"# {heading}",
        "# Write under each heading; leave a section empty to skip it.",
        "# These first lines are ignored; markdown is fine.",
        "",
    ]
    for _, label, initial in sections:
        lines += [f"{SECTION_MARK}{label}", "", *([initial, ""] if initial else [])]
    saved = _edit("\n".join(lines) + "\n")
    by_label = {f"{SECTION_MARK}{label}".lower(): key for key, label, _ in sections}
    found: dict[str, list[str]] = {key: [] for key, _, _ in sections}
    current: str | None = None
    for line in saved.split("\n"):
        key = by_label.get(line.strip().lower())
        if key is not None:
            current = key
        elif current is not None:
            found[current].append(line)
    from ..journal import clean_text

    return {key: clean_text("\n".join(body)) for key, body in found.items()}


def _announce(posted: Posted, what: str, json: bool, done: str | None = None) -> None:
    """One line about a write: `issue 3f9a0c12 posted`, or `done` for a change to an item."""
    if json:
        emit_json({"id": posted.id, "queued": posted.queued})
        return
    out = console()
    if done is None:
        done = f"{what} {posted.short} {'queued' if posted.queued else 'posted'}"
    elif posted.queued:
        done += " (queued)"
    if posted.queued:
        done += ": the server is out of reach; it goes out with the next `chatham sync`"
    out.print(done)


def _progress(label: str, total: int) -> Any:
    """A byte progress bar on stderr when it is a terminal; None otherwise."""
    if not sys.stderr.isatty():
        return None
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TransferSpeedColumn,
    )

    return Progress(
        TextColumn(label),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        console=console(stderr=True),
        transient=True,
    )


def _run_with_progress(label: str, total: int, work: Any) -> Any:
    bar = _progress(label, total)
    if bar is None:
        return work(None)
    task = bar.add_task(label, total=total)
    with bar:
        return work(lambda done, all_: bar.update(task, completed=done, total=all_))


def _out() -> Console:
    return console()


# --- issues -------------------------------------------------------------------------------------

ISSUE_FIELDS = [
    ("what", "What is the issue?"),
    ("why", "Why does it matter?"),
    ("tried", "What have I tried?"),
    ("ask", "What do I want from the group?"),
    ("not_ask", "What do I not want?"),
]
LONG_FIELDS = [
    ("background", "Background (optional)"),
    ("options", "Options I see (optional)"),
    ("impact", "How it affects me (optional)"),
]


def _priority(value: str | None) -> str | None:
    from ..errors import UsageError

    if value is None:
        return None
    p = value.strip().upper()
    if p not in ("A", "B", "C"):
        raise UsageError(f"unknown priority {value!r}", hint="use --priority A, B or C")
    return p


def _minutes(value: int | None, what: str = "minutes") -> int | None:
    from ..errors import UsageError

    if value is not None and not 1 <= value <= 600:
        raise UsageError(f"{what} must be between 1 and 600", hint=f"for example --{what} 20")
    return value


@issue_app.command("new")
def issue_new(
    title: Annotated[str, typer.Option("--title", "-t", help="One line (`-`, `@file`).")],
    what: Annotated[str | None, typer.Option("--what", help="What is the issue?")] = None,
    why: Annotated[str | None, typer.Option("--why", help="Why does it matter?")] = None,
    tried: Annotated[str | None, typer.Option("--tried", help="What have you tried?")] = None,
    ask: Annotated[
        str | None, typer.Option("--ask", help="What do you want from the group?")
    ] = None,
    not_ask: Annotated[
        str | None, typer.Option("--not-ask", help="What do you not want from the group?")
    ] = None,
    priority: Annotated[str, typer.Option("--priority", "-p", help="A, B or C.")] = "B",
    minutes: Annotated[
        int, typer.Option("--minutes", help="Minutes you need at the meeting (1-600).")
    ] = 15,
    json: JsonOpt = False,
) -> None:
    """Post an issue for the parking lot. Fields not given come from $EDITOR on a terminal."""
    from ..errors import UsageError

    fields: dict[str, Any] = {
        "title": _line_text(title) or "",
        "priority": _priority(priority),
        "minutes": _minutes(minutes),
    }
    if not fields["title"]:
        raise UsageError("an issue needs a title", hint='pass --title "..."')
    given = {"what": what, "why": why, "tried": tried, "ask": ask, "not_ask": not_ask}
    for key, value in given.items():
        got = _long(value)
        if got is not None:
            fields[key] = got
    missing = [(k, label, "") for k, label in ISSUE_FIELDS if given[k] is None]
    if missing and interactive():
        edited = edit_sections(
            f"Issue: {fields['title']}", missing + [(k, lbl, "") for k, lbl in LONG_FIELDS]
        )
        fields |= {k: v for k, v in edited.items() if v}
    gj = _journal(write=True)
    _announce(gj.new_issue(**fields), "issue", json)


@issue_app.command("list")
def issue_list(
    status: Annotated[
        str | None,
        typer.Option("--status", help="Only parked, scheduled, presented or closed issues."),
    ] = None,
    mine: Annotated[bool, typer.Option("--mine", help="Only your issues.")] = False,
    json: JsonOpt = False,
) -> None:
    """List issues, oldest first."""
    from ..errors import UsageError
    from ..journal import item_json
    from .show import print_issues

    if status is not None and status not in ("parked", "scheduled", "presented", "closed"):
        raise UsageError(
            f"unknown status {status!r}", hint="use parked, scheduled, presented or closed"
        )
    gj = _journal()
    issues = gj.view.issues(status, owner=gj.me if mine else None)
    if json:
        emit_json([item_json(gj.view, i) for i in issues])
    elif not issues:
        _out().print("no issues yet: post one with `chatham issue new --title ...`")
    else:
        print_issues(_out(), gj.view, issues, gj.today())


@issue_app.command("show")
def issue_show(
    issue: Annotated[str, typer.Argument(help="Issue id (a unique prefix will do).")],
    json: JsonOpt = False,
) -> None:
    """Show an issue with its comments and history."""
    from ..journal import IssueItem

    gj = _journal()
    _show(gj, gj.item(issue, IssueItem), json)


@issue_app.command("edit")
def issue_edit(
    issue: Annotated[str, typer.Argument(help="Issue id (a unique prefix will do).")],
    title: Annotated[str | None, typer.Option("--title", "-t")] = None,
    what: Annotated[str | None, typer.Option("--what")] = None,
    why: Annotated[str | None, typer.Option("--why")] = None,
    tried: Annotated[str | None, typer.Option("--tried")] = None,
    ask: Annotated[str | None, typer.Option("--ask")] = None,
    not_ask: Annotated[str | None, typer.Option("--not-ask")] = None,
    background: Annotated[str | None, typer.Option("--background")] = None,
    options: Annotated[str | None, typer.Option("--options")] = None,
    impact: Annotated[str | None, typer.Option("--impact")] = None,
    priority: Annotated[str | None, typer.Option("--priority", "-p")] = None,
    minutes: Annotated[int | None, typer.Option("--minutes")] = None,
    json: JsonOpt = False,
) -> None:
    """Revise your issue (history keeps every version). No options: edit it in $EDITOR."""
    from ..errors import UsageError
    from ..journal import IssueItem

    gj = _journal(write=True)
    it = gj.item(issue, IssueItem)
    changes: dict[str, Any] = {}
    if title is not None:
        changes["title"] = _line_text(title)
    for key, value in (
        ("what", what),
        ("why", why),
        ("tried", tried),
        ("ask", ask),
        ("not_ask", not_ask),
        ("background", background),
        ("options", options),
        ("impact", impact),
    ):
        if value is not None:
            changes[key] = _long(value)
    if priority is not None:
        changes["priority"] = _priority(priority)
    if minutes is not None:
        changes["minutes"] = _minutes(minutes)
    if not changes and interactive():
        gj.require("issue.edit", it)
        b = it.body
        edited = edit_sections(
            f"Issue: {b.title}",
            [(k, label, getattr(b, k)) for k, label in ISSUE_FIELDS + LONG_FIELDS],
        )
        changes = {k: v for k, v in edited.items() if v != getattr(b, k)}
        if not changes:
            console().print("nothing changed")
            return
    if not changes:
        raise UsageError(
            "nothing to change", hint="pass the fields to change, e.g. --priority A or --why TEXT"
        )
    if "title" in changes and not changes["title"]:
        raise UsageError("an issue needs a title", hint='pass --title "..."')
    _announce(gj.edit_issue(it, **changes), "revision", json, f"issue {it.short_id} revised")


@issue_app.command("present")
def issue_present(
    issue: Annotated[str, typer.Argument(help="Issue id (a unique prefix will do).")],
    meeting: MeetingOpt = None,
    json: JsonOpt = False,
) -> None:
    """Mark an issue presented (the owner or a leader), at the meeting in progress by default."""
    from ..journal import IssueItem

    gj = _journal(write=True)
    it = gj.item(issue, IssueItem)
    m = gj.meeting(meeting) if meeting is not None else gj.view.open_meeting()
    posted = gj.issue_status(it, "presented", meeting=m)
    _announce(posted, "status", json, f"issue {it.short_id} is presented")


@issue_app.command("close")
def issue_close(
    issue: Annotated[str, typer.Argument(help="Issue id (a unique prefix will do).")],
    withdrawn: Annotated[
        bool, typer.Option("--withdrawn", help="Withdrawn rather than resolved.")
    ] = False,
    json: JsonOpt = False,
) -> None:
    """Close your issue: resolved (default) or --withdrawn."""
    from ..journal import IssueItem

    gj = _journal(write=True)
    it = gj.item(issue, IssueItem)
    outcome = "withdrawn" if withdrawn else "resolved"
    posted = gj.issue_status(it, "closed", outcome=outcome)
    _announce(posted, "status", json, f"issue {it.short_id} is closed ({outcome})")


@issue_app.command("reopen")
def issue_reopen(
    issue: Annotated[str, typer.Argument(help="Issue id (a unique prefix will do).")],
    json: JsonOpt = False,
) -> None:
    """Put a presented or closed issue of yours back in the parking lot."""
    from ..journal import IssueItem

    gj = _journal(write=True)
    it = gj.item(issue, IssueItem)
    posted = gj.issue_status(it, "parked")
    _announce(posted, "status", json, f"issue {it.short_id} is back in the parking lot")


def parking_lot(json: JsonOpt = False) -> None:
    """Parked issues, ranked by priority, waiting time, and who has not presented lately."""
    from ..journal import ranked_json
    from .show import print_parking_lot

    gj = _journal()
    ranked = gj.view.parking_lot(gj.today())
    if json:
        emit_json(ranked_json(gj.view, ranked))
    elif not ranked:
        _out().print("the parking lot is empty")
    else:
        print_parking_lot(_out(), gj.view, ranked, gj.today())


# --- meetings and the agenda --------------------------------------------------------------------


@meeting_app.command("new")
def meeting_new(
    date_: Annotated[
        str, typer.Option("--date", "-d", help="2026-12-03, today, tomorrow.", show_default=False)
    ],
    title: Annotated[str, typer.Option("--title", "-t", help="e.g. December forum.")],
    start: Annotated[str | None, typer.Option("--time", help="Local start time, HH:MM.")] = None,
    minutes: Annotated[
        int | None, typer.Option("--minutes", help="How long it runs (fits the agenda to it).")
    ] = None,
    place: Annotated[str | None, typer.Option("--place", help="Where it is held.")] = None,
    json: JsonOpt = False,
) -> None:
    """Plan a meeting (leaders)."""
    from datetime import time

    from ..errors import UsageError

    gj = _journal(write=True)
    fields: dict[str, Any] = {"date": gj.day(date_), "title": _line_text(title) or ""}
    if not fields["title"]:
        raise UsageError("a meeting needs a title", hint='pass --title "..."')
    if start is not None:
        try:
            fields["start"] = time.fromisoformat(start.strip())
        except ValueError:
            raise UsageError(
                f"not a time: {start!r}", hint="use HH:MM, e.g. --time 18:30"
            ) from None
    if minutes is not None:
        if not 1 <= minutes <= 24 * 60:
            raise UsageError(
                "--minutes must be between 1 and 1440", hint="for example --minutes 240"
            )
        fields["minutes"] = minutes
    if place is not None:
        fields["place"] = _line_text(place)
    _announce(gj.new_meeting(**fields), "meeting", json)


@meeting_app.command("list")
def meeting_list(json: JsonOpt = False) -> None:
    """List meetings by date."""
    from ..journal import item_json
    from .show import print_meetings

    gj = _journal()
    meetings = gj.view.meetings()
    if json:
        emit_json([item_json(gj.view, m) for m in meetings])
    elif not meetings:
        _out().print("no meetings yet: a leader plans one with `chatham meeting new`")
    else:
        print_meetings(_out(), gj.view, meetings, gj.today())


@meeting_app.command("show")
def meeting_show(meeting: MeetingArg = None, json: JsonOpt = False) -> None:
    """Show a meeting with its agenda."""
    gj = _journal()
    _show(gj, gj.meeting(meeting), json)


def _meeting_change(meeting: str | None, status: str, json: bool) -> None:
    gj = _journal(write=True)
    m = gj.meeting(meeting, default="to-open" if status == "open" else "open")
    change = gj.meeting_status(m, status)
    if json:
        emit_json(
            {
                "id": change.posted.id,
                "queued": change.posted.queued,
                "meeting": m.id.hex(),
                "status": status,
                "checkpoint_seq": change.checkpoint_seq,
                "meeting_code": change.meeting_code,
                "rotated": change.rotated,
            }
        )
        return
    out = _out()
    word = "open" if status == "open" else "closed"
    if change.rotated:
        out.print("rotated the group key, as the group's policy asks at every meeting")
    out.print(
        f"meeting {m.short_id} is {word}; signed a checkpoint (log op {change.checkpoint_seq})"
    )
    out.print(f"meeting code: {change.meeting_code}")
    if status == "open":
        out.print(
            "everyone compares the code aloud: the same words mean everyone holds the same journal"
        )


@meeting_app.command("open")
def meeting_open(meeting: MeetingArg = None, json: JsonOpt = False) -> None:
    """Open a meeting (leaders): signs a checkpoint and prints the meeting code."""
    _meeting_change(meeting, "open", json)


@meeting_app.command("close")
def meeting_close(meeting: MeetingArg = None, json: JsonOpt = False) -> None:
    """Close the meeting in progress (leaders): signs a checkpoint."""
    _meeting_change(meeting, "closed", json)


def agenda(
    meeting: MeetingArg = None,
    publish: Annotated[
        bool,
        typer.Option("--publish", help="Publish it to the group and sign a checkpoint (leaders)."),
    ] = False,
    json: JsonOpt = False,
) -> None:
    """A meeting's agenda: the published one, or a draft from the parking lot and the
    commitments due."""
    from ..journal import agenda_json
    from .show import print_agenda

    gj = _journal(write=publish)
    m = gj.meeting(meeting)
    notice = None
    if publish:
        posted, seq, left_off = gj.publish_agenda(m)
        m = gj.item(m.id.hex(), type(m))
        notice = f"published the agenda ({posted.short}); signed a checkpoint (log op {seq})"
        if left_off:
            notice += f"; {left_off} more issues did not fit (an agenda lists at most 100)"
    a = gj.view.agenda(m.id, gj.today())
    if json:
        emit_json(agenda_json(gj.view, a))
        return
    out = _out()
    print_agenda(out, gj.view, a, gj.today())
    if notice:
        out.print(notice)


def review(
    meeting: MeetingArg = None,
    mark: Annotated[
        list[str] | None,
        typer.Option("--mark", help="Mark this commitment reviewed at the meeting (repeatable)."),
    ] = None,
    mark_all: Annotated[
        bool,
        typer.Option("--all", help="Mark every commitment due reviewed (leaders, or your own)."),
    ] = False,
    json: JsonOpt = False,
) -> None:
    """The accountability round: each member's commitments due at the meeting."""
    from ..journal import CommitmentItem, item_json, review_json
    from .show import print_review

    gj = _journal(write=bool(mark) or mark_all)
    m = gj.meeting(meeting)
    todo: list[CommitmentItem] = [gj.item(ref, CommitmentItem) for ref in mark or []]
    if mark_all:
        todo += [c for c in gj.view.due(m.id) if c.reviewed_at is None and c not in todo]
    marked = [gj.mark_reviewed(c, m) for c in todo]
    if marked:
        m = gj.item(m.id.hex(), type(m))
    rounds = gj.view.review(m.id)
    if json:
        emit_json(
            {
                "meeting": item_json(gj.view, m),
                "rounds": review_json(gj.view, rounds),
                "marked": [p.id for p in marked],
            }
        )
        return
    out = _out()
    print_review(out, gj.view, rounds, m, gj.today())
    if marked:
        out.print(f"marked {len(marked)} commitment{'s' if len(marked) != 1 else ''} reviewed")


# --- notes --------------------------------------------------------------------------------------


@note_app.command("new")
def note_new(
    body: Annotated[
        str | None,
        typer.Option("--body", "-b", help="Markdown (`-` for stdin, `@file`); else $EDITOR."),
    ] = None,
    title: Annotated[str | None, typer.Option("--title", "-t", help="Optional title.")] = None,
    meeting: MeetingOpt = None,
    no_meeting: Annotated[
        bool, typer.Option("--no-meeting", help="A note that belongs to no meeting.")
    ] = False,
    json: JsonOpt = False,
) -> None:
    """Write a note, for the meeting in progress unless told otherwise."""
    from ..errors import UsageError

    gj = _journal(write=True)
    m = None if no_meeting else gj.meeting(meeting) if meeting else gj.view.open_meeting()
    text_ = _long(body)
    if text_ is None and interactive():
        text_ = _edit("")
    if not text_:
        raise UsageError(
            "a note needs a body",
            hint="pass --body TEXT, --body - to read stdin, or --body @file",
        )
    _announce(gj.new_note(text_, title=_line_text(title) or "", meeting=m), "note", json)


@note_app.command("list")
def note_list(meeting: MeetingOpt = None, json: JsonOpt = False) -> None:
    """List notes, oldest first (of one meeting with --meeting)."""
    from ..journal import item_json
    from .show import print_notes

    gj = _journal()
    notes = gj.view.notes(gj.meeting(meeting).id if meeting else None)
    if json:
        emit_json([item_json(gj.view, n) for n in notes])
    elif not notes:
        _out().print("no notes yet")
    else:
        print_notes(_out(), gj.view, notes, gj.today())


@note_app.command("show")
def note_show(
    note: Annotated[str, typer.Argument(help="Note id (a unique prefix will do).")],
    json: JsonOpt = False,
) -> None:
    """Show a note, markdown rendered."""
    from ..journal import NoteItem

    gj = _journal()
    _show(gj, gj.item(note, NoteItem), json)


# --- commitments --------------------------------------------------------------------------------


def _due(gj: Journal, value: str | None) -> Any:
    """None for `next-meeting` (the date follows the calendar), else a date."""
    if value is None or value.strip().lower() == "next-meeting":
        return None
    return gj.day(value)


@commit_app.command("new")
def commit_new(
    text_: Annotated[
        str | None,
        typer.Argument(
            metavar="TEXT",
            help="What you commit to (`-`, `@file`); else $EDITOR.",
            show_default=False,
        ),
    ] = None,
    due: Annotated[
        str | None,
        typer.Option("--due", help="2026-12-03, today, tomorrow or next-meeting (the default)."),
    ] = None,
    meeting: MeetingOpt = None,
    json: JsonOpt = False,
) -> None:
    """Make a commitment, due at the next meeting unless --due says otherwise."""
    from ..errors import UsageError

    gj = _journal(write=True)
    body = _long(text_)
    if body is None and interactive():
        body = _edit("")
    if not body:
        raise UsageError(
            "a commitment needs its text", hint='pass it: chatham commit new "Call the bank"'
        )
    m = gj.meeting(meeting) if meeting else gj.view.open_meeting()
    _announce(gj.new_commitment(body, due=_due(gj, due), meeting=m), "commitment", json)


@commit_app.command("list")
def commit_list(
    mine: Annotated[bool, typer.Option("--mine", help="Only your commitments.")] = False,
    owner: Annotated[
        str | None, typer.Option("--owner", help="Only this member's (name or id).")
    ] = None,
    status: Annotated[
        str | None, typer.Option("--status", help="open, done, partial or dropped.")
    ] = None,
    json: JsonOpt = False,
) -> None:
    """List commitments, oldest first."""
    from ..errors import UsageError
    from ..journal import item_json
    from .show import print_commitments

    if status is not None and status not in ("open", "done", "partial", "dropped"):
        raise UsageError(f"unknown status {status!r}", hint="use open, done, partial or dropped")
    gj = _journal()
    who = gj.me if mine else bytes.fromhex(gj.group.member(owner).id) if owner else None
    items = gj.view.commitments(who, status)
    if json:
        emit_json([item_json(gj.view, c) for c in items])
    elif not items:
        _out().print('no commitments yet: `chatham commit new "..."`')
    else:
        print_commitments(_out(), gj.view, items, gj.today())


def _complete(commitment: str, status: str, report: str | None, json: bool) -> None:
    from ..journal import CommitmentItem

    gj = _journal(write=True)
    c = gj.item(commitment, CommitmentItem)
    got = _long(report)
    if got is None and interactive():
        got = _edit("")
    posted = gj.commitment_status(c, status, got or "")
    _announce(posted, "report", json, f"commitment {c.short_id} is {status}")


ReportOpt = Annotated[
    str | None,
    typer.Option("--report", "-r", help="Your report-back (`-`, `@file`); else $EDITOR."),
]
CommitArg = Annotated[str, typer.Argument(help="Commitment id (a unique prefix will do).")]


@commit_app.command("done")
def commit_done(commitment: CommitArg, report: ReportOpt = None, json: JsonOpt = False) -> None:
    """Report a commitment of yours done."""
    _complete(commitment, "done", report, json)


@commit_app.command("partial")
def commit_partial(commitment: CommitArg, report: ReportOpt = None, json: JsonOpt = False) -> None:
    """Report a commitment of yours partly done."""
    _complete(commitment, "partial", report, json)


@commit_app.command("drop")
def commit_drop(commitment: CommitArg, report: ReportOpt = None, json: JsonOpt = False) -> None:
    """Drop a commitment of yours (say why in the report)."""
    _complete(commitment, "dropped", report, json)


# --- comments, updates, attachments -------------------------------------------------------------


def comment(
    item: Annotated[str, typer.Argument(help="Any item's id (a unique prefix will do).")],
    text_: Annotated[
        str | None,
        typer.Argument(
            metavar="[TEXT]", help="Your reply (`-`, `@file`); else $EDITOR.", show_default=False
        ),
    ] = None,
    json: JsonOpt = False,
) -> None:
    """Reply on any item: share your experience."""
    from ..errors import UsageError

    gj = _journal(write=True)
    it = gj.item(item)
    body = _long(text_)
    if body is None and interactive():
        body = _edit("")
    if not body:
        raise UsageError(
            "a comment needs text", hint='pass it: chatham comment ID "...", or `-` for stdin'
        )
    _announce(gj.comment(it, body), "comment", json)


@update_app.command("new")
def update_new(
    highs: Annotated[str | None, typer.Option("--highs", help="What went well.")] = None,
    lows: Annotated[str | None, typer.Option("--lows", help="What did not.")] = None,
    score: Annotated[
        list[str] | None,
        typer.Option("--score", help="NAME=1..10, e.g. --score work=7 (repeatable, up to 10)."),
    ] = None,
    meeting: MeetingOpt = None,
    json: JsonOpt = False,
) -> None:
    """Post your monthly check-in. Highs and lows not given come from $EDITOR on a terminal."""
    from ..errors import UsageError

    gj = _journal(write=True)
    fields: dict[str, Any] = {}
    for key, value in (("highs", highs), ("lows", lows)):
        got = _long(value)
        if got is not None:
            fields[key] = got
    missing = [
        (k, label, "") for k, label in (("highs", "Highs"), ("lows", "Lows")) if k not in fields
    ]
    if missing and interactive():
        fields |= {k: v for k, v in edit_sections("Monthly update", missing).items() if v}
    scores: dict[str, int] = {}
    for s in score or []:
        name, eq, value = s.partition("=")
        name = " ".join(name.split())
        if not eq or not name or not value.strip().isdigit() or not 1 <= int(value) <= 10:
            raise UsageError(f"not a score: {s!r}", hint="write NAME=N with N from 1 to 10")
        scores[name] = int(value)
    if scores:
        fields["scores"] = scores
    if not fields:
        raise UsageError("an update needs highs, lows or scores", hint="pass --highs TEXT")
    m = (
        gj.meeting(meeting)
        if meeting
        else gj.view.open_meeting() or gj.view.next_meeting(gj.today())
    )
    if m is not None:
        fields["meeting"] = m.id
    _announce(gj.new_update(**fields), "update", json)


@update_app.command("list")
def update_list(
    member: Annotated[
        str | None, typer.Option("--member", help="Only this member's (name or id).")
    ] = None,
    json: JsonOpt = False,
) -> None:
    """List monthly updates, oldest first."""
    from ..journal import item_json
    from .show import print_updates

    gj = _journal()
    who = bytes.fromhex(gj.group.member(member).id) if member else None
    items = gj.view.updates(who)
    if json:
        emit_json([item_json(gj.view, u) for u in items])
    elif not items:
        _out().print("no updates yet: `chatham update new --highs ... --lows ...`")
    else:
        print_updates(_out(), gj.view, items, gj.today())


def attach(
    item: Annotated[str, typer.Argument(help="Any item's id (a unique prefix will do).")],
    file: Annotated[Path, typer.Argument(help="The file to attach (any size, up to 1 GiB).")],
    text_: Annotated[
        str | None, typer.Option("--text", help="A line to go with it (`-`, `@file`).")
    ] = None,
    json: JsonOpt = False,
) -> None:
    """Attach a file to an item: sealed in 64 KiB chunks, uploaded, then posted as a comment."""
    from ..journal import file_size

    gj = _journal(write=True)
    it = gj.item(item)
    size = file.stat().st_size if file.is_file() else 0
    posted, ref = _run_with_progress(
        "uploading", size, lambda p: gj.attach(it, file, text=_long(text_), progress=p)
    )
    if json:
        emit_json({"id": posted.id, "queued": posted.queued, "name": ref.name, "size": ref.size})
        return
    _out().print(
        f"attached {ref.name} ({file_size(ref.size)}) to {it.kind} {it.short_id} "
        f"as comment {posted.short}"
    )


@attachment_app.command("save")
def attachment_save(
    attachment: Annotated[str, typer.Argument(help="The comment id the file is attached to.")],
    path: Annotated[Path, typer.Argument(help="Where to save it (a directory keeps its name).")],
    force: Annotated[bool, typer.Option("--force", help="Replace an existing file.")] = False,
    json: JsonOpt = False,
) -> None:
    """Download, verify and save an attached file; it appears only once every chunk verifies."""
    from ..journal import CommentItem, file_size

    gj = _journal()
    c = gj.item(attachment, CommentItem)
    size = c.body.file.size if c.body.file is not None else 0
    saved = _run_with_progress(
        "downloading",
        size,
        lambda p: gj.save_attachment(attachment, path.expanduser(), force=force, progress=p),
    )
    if json:
        emit_json({"path": str(saved.path), "size": saved.size})
        return
    _out().print(f"saved {saved.path} ({file_size(saved.size)}); every chunk verified")


# --- reading across kinds -----------------------------------------------------------------------


def _show(gj: Journal, item: Any, json: bool) -> None:
    from ..journal import item_json
    from .show import print_item

    if json:
        emit_json(item_json(gj.view, item, history=True))
    else:
        print_item(_out(), gj.view, item, gj.today())


def show(
    item: Annotated[str, typer.Argument(help="Any item's id (a unique prefix will do).")],
    json: JsonOpt = False,
) -> None:
    """Show any item: its fields, comments, attachments and history."""
    gj = _journal()
    _show(gj, gj.item(item), json)


KINDS_HELP = "issue, meeting, note, commitment, comment or update."


def list_(
    type_: Annotated[str | None, typer.Option("--type", help=KINDS_HELP)] = None,
    since: Annotated[
        str | None, typer.Option("--since", help="Changed on or after: 2026-12-03, today, ...")
    ] = None,
    json: JsonOpt = False,
) -> None:
    """List items of every kind (or one), oldest first; offline."""
    from ..errors import UsageError
    from ..journal import KINDS, item_json
    from .show import print_items

    if type_ is not None and type_ not in KINDS:
        raise UsageError(f"unknown type {type_!r}", hint=f"use {KINDS_HELP}")
    gj = _journal()
    items = gj.view.list_items(type_, gj.day(since) if since else None)
    if json:
        emit_json([item_json(gj.view, it) for it in items])
    elif not items:
        _out().print("nothing yet" if not type_ and not since else "nothing matches")
    else:
        print_items(_out(), gj.view, items, gj.today())


def search(
    words: Annotated[str, typer.Argument(metavar="TEXT", help="Words that must all appear.")],
    json: JsonOpt = False,
) -> None:
    """Find items containing every word (any case); offline, over your decrypted copy."""
    from ..errors import UsageError
    from ..journal import item_json
    from .show import print_items

    query = text(words) or ""
    if not query.split():
        raise UsageError("nothing to search for", hint='give some words: chatham search "bank"')
    gj = _journal()
    found = gj.view.search(query)
    if json:
        emit_json([item_json(gj.view, it) for it in found])
    elif not found:
        _out().print("no matches")
    else:
        print_items(_out(), gj.view, found, gj.today())


def export(
    directory: Annotated[
        Path, typer.Argument(metavar="DIR", help="Where to write (new or empty).")
    ],
    format_: Annotated[
        str, typer.Option("--format", "-f", help="markdown, json or ics.")
    ] = "markdown",
    force: Annotated[
        bool, typer.Option("--force", help="Write into a non-empty directory.")
    ] = False,
) -> None:
    """Write your readable copy of the journal: plaintext on disk, on purpose."""
    from ..errors import UsageError
    from ..journal import write_export

    if format_ not in ("markdown", "json", "ics"):
        raise UsageError(f"unknown export format {format_!r}", hint="use markdown, json or ics")
    gj = _journal()
    files = write_export(
        gj.view,
        directory.expanduser(),
        format_,  # type: ignore[arg-type]
        now=gj.now(),
        today=gj.today(),
        force=force,
    )
    out = _out()
    out.print(f"wrote {len(files)} file{'s' if len(files) != 1 else ''} to {directory}")
    out.print("this is plaintext: keep it as safe as the conversations it holds")


def retract(
    item: Annotated[str, typer.Argument(help="The item's id (a unique prefix will do).")],
    json: JsonOpt = False,
) -> None:
    """Withdraw an item (its author or a leader): hidden everywhere, ciphertext deleted.

    It cannot recall what members already read."""
    gj = _journal(write=True)
    it = gj.item(item)
    posted, deleted = gj.retract(it)
    if json:
        emit_json({"id": posted.id, "queued": posted.queued, "deleted": deleted})
        return
    _out().print(
        f"retracted {it.kind} {it.short_id}; the server deleted {deleted} "
        f"entr{'y' if deleted == 1 else 'ies'}"
    )


def watch(
    count: Annotated[
        int | None, typer.Option("--count", help="Stop after this many changes.")
    ] = None,
    timeout: Annotated[
        float | None, typer.Option("--timeout", help="Stop after about this many seconds.")
    ] = None,
) -> None:
    """Follow the group: sync and print one line (never content) whenever something arrives."""
    import time

    from .common import changed_words

    gj = _journal()
    out = _out()
    err = console(stderr=True)
    name = gj.group.name

    def changed(report: Any) -> None:
        stamp = time.strftime("%H:%M:%S")
        out.print(f"{stamp}  {name}: {changed_words(report)}")
        sys.stdout.flush()

    def retry(e: Any) -> None:
        err.print(f"chatham: {e.message}; reconnecting")

    if sys.stderr.isatty():
        err.print(f"watching {name}; Ctrl-C stops")
    gj.watch(changed, count=count, timeout=timeout, on_retry=retry)


def register(app: typer.Typer) -> None:
    app.add_typer(issue_app, name="issue")
    app.command("parking-lot")(parking_lot)
    app.add_typer(meeting_app, name="meeting")
    app.command()(agenda)
    app.add_typer(note_app, name="note")
    app.add_typer(commit_app, name="commit")
    app.command()(review)
    app.command()(comment)
    app.add_typer(update_app, name="update")
    app.command()(attach)
    app.add_typer(attachment_app, name="attachment")
    app.command()(show)
    app.command("list")(list_)
    app.command()(search)
    app.command()(export)
    app.command()(retract)
    app.command()(watch)
