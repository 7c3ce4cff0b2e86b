"""Commitment commands: make, list and report on commitments; the review round."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from . import common
from .common import (
    JsonOpt,
    MeetingArg,
    MeetingOpt,
    announce,
    console,
    draft_key,
    edit,
    emit_json,
    journal,
    long_text,
    sub_app,
    text,
)

if TYPE_CHECKING:
    from ..journal import Journal


commit_app = sub_app("Commitments: what members promise to do by the next meeting.")


def review(
    meeting: MeetingArg = None,
    mark: Annotated[
        list[str] | None,
        typer.Option("--mark", help="Mark this commitment reviewed at the meeting (repeatable)."),
    ] = None,
    mark_all: Annotated[
        bool,
        typer.Option(
            "--all",
            help="Mark every reported commitment due reviewed (leaders, or your own); "
            "those without a report carry over to the next meeting.",
        ),
    ] = False,
    json: JsonOpt = False,
) -> None:
    """The accountability round: each member's commitments due at the meeting."""
    from ..journal import CommitmentItem, item_json, review_json
    from .show import print_review

    gj = journal(write=bool(mark) or mark_all)
    m = gj.meeting(meeting)
    todo: list[CommitmentItem] = [gj.item(ref, CommitmentItem) for ref in mark or []]
    carried: list[CommitmentItem] = []
    if mark_all:
        for c in gj.view.due(m.id):
            if c.reviewed_at is not None or c in todo:
                continue
            if c.status == "open":
                carried.append(c)  # no report yet: it stays due, at the next meeting too
            elif gj.view.may(gj.me, "commitment.review", item=c.id, log_seq=gj.group.state.seq):
                todo.append(c)
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
                "carried_over": [c.id.hex() for c in carried],
            }
        )
        return
    out = console()
    print_review(out, gj.view, rounds, m, gj.today())
    if marked:
        out.print(f"marked {len(marked)} commitment{'s' if len(marked) != 1 else ''} reviewed")
    if carried:
        n = len(carried)
        out.print(
            f"{n} commitment{'s' if n != 1 else ''} without a report carr{'ies' if n == 1 else 'y'}"
            " over to the next meeting"
        )


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
    for_: Annotated[
        str | None,
        typer.Option(
            "--for", help="Leaders: record it for this member (name or id), e.g. at the meeting."
        ),
    ] = None,
    meeting: MeetingOpt = None,
    json: JsonOpt = False,
) -> None:
    """Make a commitment (up to 20,000 characters), due at the next meeting unless --due says
    otherwise."""
    from ..errors import UsageError
    from .editor import drafting

    body = long_text(text_)
    with drafting(draft_key("commit-new")) as draft:
        if body is None and common.interactive():
            body = edit(draft, "commitment")
        if body is None:
            raise UsageError(
                "a commitment needs its text", hint='pass it: chatham commit new "Call the bank"'
            )
        gj = journal(write=True)
        m = gj.meeting(meeting) if meeting else gj.view.open_meeting()
        posted = gj.new_commitment(body, due=_due(gj, due), meeting=m, owner=text(for_))
        announce(posted, "commitment", json)


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
    gj = journal()
    who = gj.me if mine else bytes.fromhex(gj.group.member(owner).id) if owner else None
    items = gj.view.commitments(who, status)
    if json:
        emit_json([item_json(gj.view, c) for c in items])
    elif not items:
        console().print('no commitments yet: `chatham commit new "..."`')
    else:
        print_commitments(console(), gj.view, items, gj.today())


def _complete(commitment: str, status: str, report: str | None, json: bool) -> None:
    from ..journal import CommitmentItem
    from .editor import drafting

    gj = journal(write=True)
    c = gj.item(commitment, CommitmentItem)
    got = long_text(report)
    with drafting(draft_key(f"report-{c.short_id}")) as draft:
        if got is None and common.interactive():
            got = edit(draft, "report")
        posted = gj.commitment_status(c, status, got or "")
        announce(posted, "report", json, f"commitment {c.short_id} is {status}")


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


def register(app: typer.Typer) -> None:
    app.add_typer(commit_app, name="commit")
    app.command()(review)
