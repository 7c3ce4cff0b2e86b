"""Meeting commands: plan, list, show, open (with the meeting code) and close meetings; agendas."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from .common import (
    JsonOpt,
    MeetingArg,
    MeetingOpt,
    announce,
    console,
    emit_json,
    journal,
    line_text,
    show_item,
    sub_app,
    text,
    verbose,
)

if TYPE_CHECKING:
    from ..journal import Journal


meeting_app = sub_app(
    "Meetings: plan, edit, reschedule, cancel, open (prints the meeting code), close; attendance."
)


@meeting_app.command("new")
def meeting_new(
    date_: Annotated[
        str, typer.Option("--date", "-d", help="2026-12-03, today, tomorrow.", show_default=False)
    ],
    title: Annotated[
        str, typer.Option("--title", "-t", help="e.g. December forum; up to 200 characters.")
    ],
    start: Annotated[str | None, typer.Option("--time", help="Local start time, HH:MM.")] = None,
    minutes: Annotated[
        int | None, typer.Option("--minutes", help="How long it runs (fits the agenda to it).")
    ] = None,
    place: Annotated[str | None, typer.Option("--place", help="Where it is held.")] = None,
    json: JsonOpt = False,
) -> None:
    """Plan a meeting (leaders). A date in the past is allowed (to record a meeting held
    without Chatham), with a warning."""
    from ..errors import UsageError

    gj = journal(write=True)
    fields = _meeting_fields(gj, date_, title, start, minutes, place)
    if not fields.get("title"):
        raise UsageError("a meeting needs a title", hint='pass --title "..."')
    posted = gj.new_meeting(**fields)
    _warn_if_past(gj, fields["date"])
    announce(posted, "meeting", json)


def _meeting_fields(
    gj: Journal,
    date_: str | None,
    title: str | None,
    start: str | None,
    minutes: int | None,
    place: str | None,
) -> dict[str, Any]:
    """The fields given on the command line, checked, as the library takes them."""
    from datetime import time

    from ..errors import UsageError

    fields: dict[str, Any] = {}
    if date_ is not None:
        fields["date"] = gj.day(date_)
    if title is not None:
        fields["title"] = line_text(title) or ""
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
        fields["place"] = line_text(place)
    return fields


def _warn_if_past(gj: Journal, day: Any) -> None:
    if day < gj.today():
        console(stderr=True).print(
            f"chatham: note: the meeting is dated {day.isoformat()}, in the past; "
            "`chatham meeting reschedule` moves it"
        )


TitleOpt = Annotated[
    str | None, typer.Option("--title", "-t", help="Up to 200 characters.", show_default=False)
]
TimeOpt = Annotated[str | None, typer.Option("--time", help="Local start time, HH:MM.")]
MinutesOpt = Annotated[
    int | None, typer.Option("--minutes", help="How long it runs (fits the agenda to it).")
]
PlaceOpt = Annotated[str | None, typer.Option("--place", help="Where it is held.")]


@meeting_app.command("edit")
def meeting_edit(
    meeting: MeetingArg = None,
    date_: Annotated[
        str | None, typer.Option("--date", "-d", help="A new date (reschedules it).")
    ] = None,
    title: TitleOpt = None,
    start: TimeOpt = None,
    minutes: MinutesOpt = None,
    place: PlaceOpt = None,
    json: JsonOpt = False,
) -> None:
    """Change a meeting's date, title, time, length or place (leaders)."""
    _edit_meeting(meeting, date_, title, start, minutes, place, json)


def _edit_meeting(
    meeting: str | None,
    date_: str | None,
    title: str | None,
    start: str | None,
    minutes: int | None,
    place: str | None,
    json: bool,
) -> None:
    from ..errors import UsageError

    gj = journal(write=True)
    m = gj.meeting(meeting)
    fields = _meeting_fields(gj, date_, title, start, minutes, place)
    if not fields:
        raise UsageError(
            "nothing to change", hint="pass what changes, e.g. --date 2026-12-10 or --place ..."
        )
    if "title" in fields and not fields["title"]:
        raise UsageError("a meeting needs a title", hint='pass --title "..."')
    posted = gj.edit_meeting(m, **fields)
    if "date" in fields:
        _warn_if_past(gj, fields["date"])
    done = f"meeting {m.short_id} " + (
        f"moved to {fields['date']}" if set(fields) <= {"date", "start"} else "changed"
    )
    announce(posted, "revision", json, done)


@meeting_app.command("reschedule")
def meeting_reschedule(
    meeting: Annotated[str, typer.Argument(help="Meeting id (prefix) or its current date.")],
    date_: Annotated[str, typer.Argument(metavar="DATE", help="The new date: 2026-12-10.")],
    start: TimeOpt = None,
    json: JsonOpt = False,
) -> None:
    """Move a meeting to another day (leaders); commitments due at it follow."""
    _edit_meeting(meeting, date_, None, start, None, None, json)


@meeting_app.command("cancel")
def meeting_cancel(
    meeting: Annotated[str, typer.Argument(help="Meeting id (prefix) or date.")],
    json: JsonOpt = False,
) -> None:
    """Call off a planned meeting (leaders); its scheduled issues go back to the parking lot."""
    gj = journal(write=True)
    m = gj.meeting(meeting)
    posted, back = gj.cancel_meeting(m)
    if json:
        emit_json(
            {"id": posted.id, "queued": posted.queued, "returned": [i.id.hex() for i in back]}
        )
        return
    out = console()
    out.print(f"meeting {m.short_id} ({m.title}) is cancelled")
    for i in back:
        out.print(f"back in the parking lot: {i.short_id}  {i.title}")


@meeting_app.command("attendance")
def meeting_attendance(
    members: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="[MEMBER]...", help="Who attended (names or ids).", show_default=False
        ),
    ] = None,
    meeting: MeetingOpt = None,
    json: JsonOpt = False,
) -> None:
    """Record who attended a meeting (leaders), or show it: the meeting in progress by default."""
    gj = journal(write=bool(members))
    m = gj.meeting(meeting)
    if members:
        posted = gj.set_attendance(m, [text(x) or "" for x in members])
        m = gj.item(m.id.hex(), type(m))
        if json:
            emit_json({"id": posted.id, "queued": posted.queued})
            return
    names = [gj.view.name(a) for a in m.body.attendance]
    if json:
        emit_json({"meeting": m.id.hex(), "attendance": [a.hex() for a in m.body.attendance]})
        return
    who = ", ".join(names) if names else "nobody recorded yet"
    console().print(f"attendance at {m.title} ({m.date.isoformat()}): {who}")


@meeting_app.command("list")
def meeting_list(json: JsonOpt = False) -> None:
    """List meetings by date."""
    from ..journal import item_json
    from .show import print_meetings

    gj = journal()
    meetings = gj.view.meetings()
    if json:
        emit_json([item_json(gj.view, m) for m in meetings])
    elif not meetings:
        console().print("no meetings yet: a leader plans one with `chatham meeting new`")
    else:
        print_meetings(console(), gj.view, meetings, gj.today())


@meeting_app.command("show")
def meeting_show(meeting: MeetingArg = None, json: JsonOpt = False) -> None:
    """Show a meeting with its agenda."""
    gj = journal()
    show_item(gj, gj.meeting(meeting), json)


def _meeting_change(meeting: str | None, status: str, json: bool) -> None:
    gj = journal(write=True)
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
                "presented": [i.id.hex() for i in change.presented],
                "returned": [i.id.hex() for i in change.returned],
            }
        )
        return
    out = console()
    word = "open" if status == "open" else "closed"
    if change.rotated:
        out.print("the group has a fresh key, as its policy asks at every meeting")
    detail = f" (checkpoint at log op {change.checkpoint_seq})" if verbose() else ""
    out.print(f"meeting {m.short_id} is {word}{detail}")
    for i in change.presented:
        out.print(f"presented: {i.short_id}  {i.title}")
    for i in change.returned:
        out.print(f"not reached, back in the parking lot: {i.short_id}  {i.title}")
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
    issue: Annotated[
        list[str] | None,
        typer.Option(
            "--issue",
            "-i",
            help="With --publish: put exactly these issues on it, in this order (repeatable).",
        ),
    ] = None,
    json: JsonOpt = False,
) -> None:
    """A meeting's agenda: the published one, or a draft from the parking lot and the
    commitments due. Leaders publish the draft, or choose and order the issues with --issue."""
    from ..errors import UsageError
    from ..journal import IssueItem, agenda_json
    from .show import print_agenda

    if issue and not publish:
        raise UsageError("--issue chooses what to publish", hint="add --publish")
    gj = journal(write=publish)
    m = gj.meeting(meeting)
    notice = None
    if publish:
        chosen = [gj.item(ref, IssueItem) for ref in issue] if issue else None
        posted, seq, left_off = gj.publish_agenda(m, chosen)
        m = gj.item(m.id.hex(), type(m))
        detail = f" (checkpoint at log op {seq})" if verbose() else ""
        notice = f"published the agenda ({posted.short}){detail}"
        if left_off:
            notice += f"; {left_off} more issues did not fit (an agenda lists at most 100)"
    a = gj.view.agenda(m.id, gj.today())
    if json:
        emit_json(agenda_json(gj.view, a))
        return
    out = console()
    print_agenda(out, gj.view, a, gj.today())
    if notice:
        out.print(notice)


def register(app: typer.Typer) -> None:
    app.add_typer(meeting_app, name="meeting")
    app.command()(agenda)
