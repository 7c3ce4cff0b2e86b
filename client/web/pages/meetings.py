"""Meetings: the list and planning one (leaders), changing one (date, time, length, place,
title: rescheduling), cancelling a planned one after a confirmation, recording attendance,
opening and closing with the meeting code, publishing the agenda, and the review round."""

from __future__ import annotations

from datetime import time
from typing import Any

from litestar import Request, Response, get, post
from litestar.params import FromPath, FromQuery

from ... import ChathamError
from ...errors import UsageError
from ...journal import CommitmentItem, IssueItem, MeetingItem, clean_line
from ..render import when
from .base import (
    Ctx,
    field_text,
    field_texts,
    first_rows,
    for_the_form,
    form_of,
    run,
    sent_words,
)


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


def _past(c: Ctx, fields: dict[str, Any]) -> str:
    """A note for a date in the past (allowed, to record a meeting held without Chatham)."""
    day = fields.get("date")
    if day is None or day >= c.today:
        return ""
    return f" It is dated {day.isoformat()}, in the past; change it if that is a mistake."


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
            return _meetings(c, values, for_the_form(e), status=400)
        planned = sent_words(posted, "The meeting", "is planned")
        return c.redirect(f"/items/{posted.id}", planned + _past(c, fields))

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


CHOICES_SHOWN = 60
"""The agenda form lists the issues on the agenda, then the parking lot by rank, up to this."""


def agenda_choices(c: Ctx, m: MeetingItem) -> list[tuple[IssueItem, int | None]]:
    """Issues a leader may put on the agenda, each with its place on it now (or None)."""
    on = [i for i in c.view.agenda(m.id, c.today).issues if i.status in ("parked", "scheduled")]
    ids = {i.id for i in on}
    rest = [r.issue for r in c.view.parking_lot(c.today) if r.issue.id not in ids]
    shown: list[tuple[IssueItem, int | None]] = [(i, n) for n, i in enumerate(on, 1)]
    return shown + [(i, None) for i in rest[: max(0, CHOICES_SHOWN - len(shown))]]


def _chosen(form: Any) -> list[str] | None:
    """The issues ticked, in the order their numbers say (ties: as listed); None when the
    form is the plain "publish this agenda" button."""
    if not field_text(form, "choose"):
        return None
    ticked = field_texts(form, "issue")

    def place(pair: tuple[int, str]) -> tuple[int, int]:
        n, ref = pair
        try:
            wanted = int(field_text(form, f"order-{ref}") or "0")
        except ValueError:
            wanted = 0
        return (wanted if wanted > 0 else 10_000 + n, n)

    return [ref for _, ref in sorted(enumerate(ticked), key=place)]


@post("/meetings/{ref:str}/agenda")
async def publish_agenda(request: Request[Any, Any, Any], ref: FromPath[str]) -> Response[Any]:
    chosen = _chosen(await form_of(request))

    def act(c: Ctx) -> Response[Any]:
        c.catch_up()
        m = c.journal.item(ref, MeetingItem)
        issues = None if chosen is None else [c.journal.item(i, IssueItem) for i in chosen]
        _, _, left_off = c.journal.publish_agenda(m, issues)
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
    marks = field_texts(form, "commitment")

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


def _edit_page(
    c: Ctx, m: MeetingItem, values: dict[str, str], error: Any = None, status: int = 200
) -> Response[Any]:
    active = [r for r in c.group.roster() if r.status == "active"]
    return c.page(
        "meeting_edit.html",
        title=f"Change {m.title}",
        section="meetings",
        item=m,
        values=values,
        error=error,
        people=active,
        attended={a.hex() for a in m.body.attendance},
        status=status,
    )


def _values(m: MeetingItem) -> dict[str, str]:
    b = m.body
    return {
        "title": b.title,
        "date": b.date.isoformat(),
        "start": b.start.isoformat("minutes") if b.start else "",
        "minutes": str(b.minutes) if b.minutes else "",
        "place": b.place,
    }


@get("/meetings/{ref:str}/edit")
async def meeting_edit_page(request: Request[Any, Any, Any], ref: FromPath[str]) -> Response[Any]:
    def page(c: Ctx) -> Response[Any]:
        m = c.allowed("meeting.edit", ref, MeetingItem)
        return _edit_page(c, m, _values(m))

    return await run(request, page)


@post("/meetings/{ref:str}/edit")
async def meeting_edit(request: Request[Any, Any, Any], ref: FromPath[str]) -> Response[Any]:
    form = await form_of(request)
    values = {
        k: field_text(form, k).strip() for k in ("title", "date", "start", "minutes", "place")
    }

    def act(c: Ctx) -> Response[Any]:
        m = c.allowed("meeting.edit", ref, MeetingItem)
        try:
            given = meeting_fields(c, values)
            wanted = {"start": None, "minutes": None, "place": ""} | given
            changes = c.edit(m, wanted, c.journal.edit_meeting)
        except ChathamError as e:
            return _edit_page(c, m, values, for_the_form(e), 400)
        if not changes:
            return c.redirect(f"/items/{m.id.hex()}", "Nothing changed.")
        moved = "date" in changes or "start" in changes
        done = (
            f"The meeting is moved to {when(given['date'], c.today)}."
            if moved
            else ("The meeting is changed.")
        )
        return c.redirect(f"/items/{m.id.hex()}", done + _past(c, changes))

    return await run(request, act)


@post("/meetings/{ref:str}/attendance")
async def attendance(request: Request[Any, Any, Any], ref: FromPath[str]) -> Response[Any]:
    form = await form_of(request)
    present = field_texts(form, "member")

    def act(c: Ctx) -> Response[Any]:
        m = c.allowed("meeting.edit", ref, MeetingItem)
        try:
            c.catch_up()
            c.journal.set_attendance(m, present)
        except ChathamError as e:
            return _edit_page(c, m, _values(m), for_the_form(e), 400)
        who = len(set(present))
        return c.redirect(
            f"/items/{m.id.hex()}",
            f"Attendance recorded: {who} member{'s' if who != 1 else ''}.",
        )

    return await run(request, act)


@get("/meetings/{ref:str}/cancel")
async def cancel_page(request: Request[Any, Any, Any], ref: FromPath[str]) -> Response[Any]:
    def page(c: Ctx) -> Response[Any]:
        m = c.allowed("meeting.edit", ref, MeetingItem)
        scheduled = [i for i in c.view.issues("scheduled") if i.meeting == m.id]
        return c.page(
            "meeting_cancel.html",
            title=f"Cancel {m.title}?",
            section="meetings",
            item=m,
            scheduled=scheduled,
        )

    return await run(request, page)


@post("/meetings/{ref:str}/cancel")
async def cancel(request: Request[Any, Any, Any], ref: FromPath[str]) -> Response[Any]:
    def act(c: Ctx) -> Response[Any]:
        m = c.journal.item(ref, MeetingItem)
        _, back = c.journal.cancel_meeting(m)
        more = (
            f" {len(back)} issue{'s' if len(back) != 1 else ''} scheduled for it "
            f"{'are' if len(back) != 1 else 'is'} back in the parking lot."
            if back
            else ""
        )
        return c.redirect("/meetings", f"{m.title} is cancelled.{more}")

    return await run(request, act)


ROUTES = [
    meetings,
    meeting_create,
    meeting_status,
    publish_agenda,
    review,
    meeting_edit_page,
    meeting_edit,
    attendance,
    cancel_page,
    cancel,
]
