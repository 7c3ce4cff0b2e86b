"""Update commands: post and list monthly check-ins (highs, lows and scores)."""

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
    long_text,
    sub_app,
)

if TYPE_CHECKING:
    from .editor import Draft


update_app = sub_app("Monthly check-ins: highs, lows and scores.")


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
    """Post your monthly check-in. With no highs, lows or scores given, on a terminal, your
    editor opens for them."""
    from .editor import drafting

    fields: dict[str, Any] = {}
    for key, value in (("highs", highs), ("lows", lows)):
        got = long_text(value)
        if got is not None:
            fields[key] = got
    draft = drafting(draft_key("update-new"))
    with draft as d:
        _update(d, fields, score, meeting, json)


def _update(
    draft: Draft, fields: dict[str, Any], score: list[str] | None, meeting: str | None, json: bool
) -> None:
    from ..errors import UsageError

    if not fields and not score and common.interactive():
        sections = [("highs", "Highs", ""), ("lows", "Lows", "")]
        fields |= {k: v for k, v in edit_sections(draft, "Monthly update", sections).items() if v}
    gj = journal(write=True)
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
    announce(gj.new_update(**fields), "update", json)


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

    gj = journal()
    who = bytes.fromhex(gj.group.member(member).id) if member else None
    items = gj.view.updates(who)
    if json:
        emit_json([item_json(gj.view, u) for u in items])
    elif not items:
        console().print("no updates yet: `chatham update new --highs ... --lows ...`")
    else:
        print_updates(console(), gj.view, items, gj.today())


def register(app: typer.Typer) -> None:
    app.add_typer(update_app, name="update")
