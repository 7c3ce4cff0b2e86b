"""Meetings: the list and planning one (leaders), opening and closing with the meeting code,
publishing the agenda, and the review round."""

from __future__ import annotations

from datetime import time
from typing import Any

from litestar import Request, Response, get, post
from litestar.params import FromPath, FromQuery

from ... import ChathamError
from ...errors import UsageError
from ...journal import CommitmentItem, MeetingItem, clean_line
from ..words import explain
from .base import Ctx, field_text, first_rows, form_of, run


def meeting_fields(c: Ctx, values: dict[str, str]) -> dict[str, Any]:
    title = clean_line(values.get("title", ""))
    if not title:
        raise UsageError("a meeting needs a title", hint="for example: December forum")
    fields: dict[str, Any] = {"date": c.journal.day(values.get("date", "")), "title": title}
    if values.get("start"):
        try:
            fields["start"] = time.fromisoformat(values["start"])
        except ValueError:
            raise UsageError("the start time is not a time", hint="write it like 18:30") from None
    if values.get("minutes"):
        try:
            minutes = int(values["minutes"])
        except ValueError:
            raise UsageError("the length is a number of minutes") from None
        if not 1 <= minutes <= 24 * 60:
            raise UsageError("the length is between 1 and 1440 minutes")
        fields["minutes"] = minutes
    if values.get("place"):
        fields["place"] = clean_line(values["place"])
    return fields


def _meetings(
    c: Ctx, values: dict[str, str], error: Any, status: int = 200, everything: bool = False
) -> Response[Any]:
    meetings, total = first_rows(list(reversed(c.view.meetings())), everything)
    return c.page(
        "meetings.html",
        title="Meetings",
        section="meetings",
        meetings=meetings,
        total=total,
        values=values,
        error=error,
        may_plan=c.is_leader and c.group.status == "member",
        status=status,
    )


@get("/meetings")
async def meetings(request: Request[Any, Any, Any], all: FromQuery[bool] = False) -> Response[Any]:
    return await run(request, lambda c: _meetings(c, {}, None, everything=all))


@post("/meetings")
async def meeting_create(request: Request[Any, Any, Any]) -> Response[Any]:
    form = await form_of(request)
    values = {
        k: field_text(form, k).strip() for k in ("title", "date", "start", "minutes", "place")
    }

    def act(c: Ctx) -> Response[Any]:
        try:
            fields = meeting_fields(c, values)
            c.catch_up()
            posted = c.journal.new_meeting(**fields)
        except ChathamError as e:
            return _meetings(c, values, explain(e), status=400)
        return c.redirect(f"/items/{posted.id}", "The meeting is planned.")

    return await run(request, act)


@post("/meetings/{ref:str}/status")
async def meeting_status(request: Request[Any, Any, Any], ref: FromPath[str]) -> Response[Any]:
    form = await form_of(request)
    status = field_text(form, "status")

    def act(c: Ctx) -> Response[Any]:
        if status not in ("open", "closed"):
            raise UsageError("unknown meeting status")
        c.catch_up()
        m = c.journal.item(ref, MeetingItem)
        change = c.journal.meeting_status(m, status)
        words = "open: compare the meeting code aloud" if status == "open" else "closed"
        rotated = (
            " The group key was changed, as the group's policy asks." if change.rotated else ""
        )
        return c.redirect(f"/items/{m.id.hex()}", f"The meeting is {words}.{rotated}")

    return await run(request, act)


@post("/meetings/{ref:str}/agenda")
async def publish_agenda(request: Request[Any, Any, Any], ref: FromPath[str]) -> Response[Any]:
    def act(c: Ctx) -> Response[Any]:
        c.catch_up()
        m = c.journal.item(ref, MeetingItem)
        _, _, left_off = c.journal.publish_agenda(m)
        more = (
            f" {left_off} more issues did not fit (an agenda lists at most 100)."
            if left_off
            else ""
        )
        return c.redirect(f"/items/{m.id.hex()}", f"The agenda is published to the group.{more}")

    return await run(request, act)


@post("/meetings/{ref:str}/review")
async def review(request: Request[Any, Any, Any], ref: FromPath[str]) -> Response[Any]:
    form = await form_of(request)
    marks = [v for v in form.getall("commitment", []) if isinstance(v, str)]

    def act(c: Ctx) -> Response[Any]:
        c.catch_up()
        j = c.journal
        m = j.item(ref, MeetingItem)
        todo = [j.item(x, CommitmentItem) for x in marks]
        if not todo:
            raise UsageError("tick the commitments that were reviewed")
        done = 0
        for item in todo:
            j.mark_reviewed(item, m)
            done += 1
        return c.redirect(
            f"/items/{m.id.hex()}#review",
            f"Marked {done} commitment{'s' if done != 1 else ''} reviewed.",
        )

    return await run(request, act)


ROUTES = [meetings, meeting_create, meeting_status, publish_agenda, review]
