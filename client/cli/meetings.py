"""Meeting commands: plan, list, show, open (with the meeting code) and close meetings; agendas."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from .common import (
    JsonOpt,
    MeetingArg,
    announce,
    console,
    emit_json,
    journal,
    line_text,
    show_item,
    sub_app,
)

if TYPE_CHECKING:
    pass


meeting_app = sub_app("Meetings: plan, list, show, open (prints the meeting code), close.")


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

    gj = journal(write=True)
    fields: dict[str, Any] = {"date": gj.day(date_), "title": line_text(title) or ""}
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
        fields["place"] = line_text(place)
    announce(gj.new_meeting(**fields), "meeting", json)


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
            }
        )
        return
    out = console()
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

    gj = journal(write=publish)
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
    out = console()
    print_agenda(out, gj.view, a, gj.today())
    if notice:
        out.print(notice)


def register(app: typer.Typer) -> None:
    app.add_typer(meeting_app, name="meeting")
    app.command()(agenda)
