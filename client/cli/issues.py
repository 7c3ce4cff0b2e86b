"""Issue commands: post, list, show, edit, present, close and reopen issues; the parking lot."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from . import common
from .common import (
    JsonOpt,
    MeetingOpt,
    announce,
    console,
    draft_key,
    edit_sections,
    emit_json,
    journal,
    line_text,
    long_text,
    show_item,
    sub_app,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from ..journal import IssueItem, Journal, Posted

SHORT_FORM = ("what", "why", "tried", "ask", "not_ask")
LONG_FORM = ("background", "options", "impact")


def _sections(initial: Any = None) -> list[tuple[str, str, str]]:
    """The editor's sections for an issue: the library's labels, with the current text."""
    from ..journal import FIELD_LABELS

    labels = FIELD_LABELS["issue"]
    return [
        (k, labels[k], "" if initial is None else getattr(initial, k))
        for k in SHORT_FORM + LONG_FORM
    ]


IssueArg = Annotated[str, typer.Argument(help="Issue id (a unique prefix will do).")]


issue_app = sub_app(
    "Issues members bring to the group: post, list, show, edit, schedule, present, close."
)


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
    title: Annotated[
        str, typer.Option("--title", "-t", help="One line, up to 200 characters (`-`, `@file`).")
    ],
    what: Annotated[
        str | None, typer.Option("--what", help="What is the issue? Up to 20,000 characters.")
    ] = None,
    why: Annotated[
        str | None, typer.Option("--why", help="Why does it matter? Up to 20,000 characters.")
    ] = None,
    tried: Annotated[
        str | None, typer.Option("--tried", help="What have you tried? Up to 20,000 characters.")
    ] = None,
    ask: Annotated[
        str | None,
        typer.Option("--ask", help="What do you want from the group? Up to 20,000 characters."),
    ] = None,
    not_ask: Annotated[
        str | None,
        typer.Option("--not-ask", help="What do you not want from the group? Up to 20,000."),
    ] = None,
    priority: Annotated[str, typer.Option("--priority", "-p", help="A, B or C.")] = "B",
    minutes: Annotated[
        int, typer.Option("--minutes", help="Minutes you need at the meeting (1-600).")
    ] = 15,
    json: JsonOpt = False,
) -> None:
    """Post an issue for the parking lot. With only a title, on a terminal, your editor opens
    for the short and long form; what you write there is kept until the issue is posted."""
    from ..errors import UsageError
    from .editor import drafting

    fields: dict[str, Any] = {
        "title": line_text(title) or "",
        "priority": _priority(priority),
        "minutes": _minutes(minutes),
    }
    if not fields["title"]:
        raise UsageError("an issue needs a title", hint='pass --title "..."')
    given = {"what": what, "why": why, "tried": tried, "ask": ask, "not_ask": not_ask}
    texts = {k: got for k, v in given.items() if (got := long_text(v)) is not None}
    with drafting(draft_key("issue-new")) as draft:
        if not texts and common.interactive():
            edited = edit_sections(draft, f"Issue: {fields['title']}", _sections())
            texts = {k: v for k, v in edited.items() if v}
        gj = journal(write=True)
        announce(gj.new_issue(**fields, **texts), "issue", json)


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
    gj = journal()
    issues = gj.view.issues(status, owner=gj.me if mine else None)
    if json:
        emit_json([item_json(gj.view, i) for i in issues])
    elif not issues:
        console().print("no issues yet: post one with `chatham issue new --title ...`")
    else:
        print_issues(console(), gj.view, issues, gj.today())


@issue_app.command("show")
def issue_show(
    issue: IssueArg,
    json: JsonOpt = False,
) -> None:
    """Show an issue with its comments and history."""
    from ..journal import IssueItem

    gj = journal()
    show_item(gj, gj.item(issue, IssueItem), json)


@issue_app.command("edit")
def issue_edit(
    issue: IssueArg,
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
    from .editor import drafting

    gj = journal(write=True)
    it = gj.item(issue, IssueItem)
    changes: dict[str, Any] = {}
    draft = drafting(draft_key(f"issue-edit-{it.short_id}"))
    if title is not None:
        changes["title"] = line_text(title)
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
            changes[key] = long_text(value)
    if priority is not None:
        changes["priority"] = _priority(priority)
    if minutes is not None:
        changes["minutes"] = _minutes(minutes)
    if "title" in changes and not changes["title"]:
        raise UsageError("an issue needs a title", hint='pass --title "..."')
    with draft as d:
        if not changes and common.interactive():
            gj.require("issue.edit", it)
            b = it.body
            edited = edit_sections(d, f"Issue: {b.title}", _sections(b))
            changes = {k: v for k, v in edited.items() if v != getattr(b, k)}
            if not changes:
                console().print("nothing changed")
                return
        if not changes:
            raise UsageError(
                "nothing to change",
                hint="pass the fields to change, e.g. --priority A or --why TEXT",
            )
        announce(gj.edit_issue(it, **changes), "revision", json, f"issue {it.short_id} revised")


@issue_app.command("present")
def issue_present(
    issue: IssueArg,
    meeting: MeetingOpt = None,
    json: JsonOpt = False,
) -> None:
    """Mark an issue presented (the owner or a leader), at the meeting in progress by default."""
    gj = journal(write=True)
    m = gj.meeting(meeting) if meeting is not None else gj.view.open_meeting()
    _move(gj, issue, lambda it: gj.issue_status(it, "presented", meeting=m), "is presented", json)


@issue_app.command("schedule")
def issue_schedule(
    issue: IssueArg,
    meeting: MeetingOpt = None,
    json: JsonOpt = False,
) -> None:
    """Put an issue on a meeting's agenda (the owner or a leader): the next meeting by default."""
    gj = journal(write=True)
    m = gj.meeting(meeting, default="to-open")
    _move(gj, issue, lambda it: gj.schedule(it, m), f"is on the agenda of {m.title}", json)


def _move(
    gj: Journal, issue: str, how: Callable[[IssueItem], Posted], done: str, json: bool
) -> None:
    """One status change of an issue, announced as `issue 3f9a0c12 <done>`."""
    from ..journal import IssueItem

    it = gj.item(issue, IssueItem)
    announce(how(it), "status", json, f"issue {it.short_id} {done}")


@issue_app.command("unschedule")
def issue_unschedule(
    issue: IssueArg,
    json: JsonOpt = False,
) -> None:
    """Take an issue off a meeting's agenda, back to the parking lot (the owner or a leader)."""
    gj = journal(write=True)
    _move(gj, issue, lambda it: gj.schedule(it, None), "is back in the parking lot", json)


@issue_app.command("close")
def issue_close(
    issue: IssueArg,
    withdrawn: Annotated[
        bool, typer.Option("--withdrawn", help="Withdrawn rather than resolved.")
    ] = False,
    json: JsonOpt = False,
) -> None:
    """Close your issue: resolved (default) or --withdrawn."""
    gj = journal(write=True)
    outcome = "withdrawn" if withdrawn else "resolved"

    def close(it: IssueItem) -> Posted:
        return gj.issue_status(it, "closed", outcome=outcome)

    _move(gj, issue, close, f"is closed ({outcome})", json)


@issue_app.command("reopen")
def issue_reopen(
    issue: IssueArg,
    json: JsonOpt = False,
) -> None:
    """Put a presented or closed issue of yours back in the parking lot."""
    gj = journal(write=True)
    _move(gj, issue, lambda it: gj.issue_status(it, "parked"), "is back in the parking lot", json)


def parking_lot(json: JsonOpt = False) -> None:
    """Parked issues, ranked by priority, waiting time, and who has not presented lately."""
    from ..journal import ranked_json
    from .show import print_parking_lot

    gj = journal()
    ranked = gj.view.parking_lot(gj.today())
    if json:
        emit_json(ranked_json(gj.view, ranked))
    elif not ranked:
        console().print("the parking lot is empty")
    else:
        print_parking_lot(console(), gj.view, ranked, gj.today())


def register(app: typer.Typer) -> None:
    app.add_typer(issue_app, name="issue")
    app.command("parking-lot")(parking_lot)
