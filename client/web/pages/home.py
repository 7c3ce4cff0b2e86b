"""The start page, search, the meeting code and checks, exports, notification settings, and the
live event stream the pages listen to."""

from __future__ import annotations

import asyncio
import io
import json
import zipfile
from collections.abc import AsyncIterator
from typing import Any

from litestar import Request, Response, get, post
from litestar.params import FromQuery
from litestar.response import ServerSentEvent, ServerSentEventMessage

from ... import ChathamError
from ...journal import (
    CommentItem,
    Item,
    export_json,
    ics_calendar,
    markdown_files,
)
from ..search import passage
from ..words import explain
from .base import Ctx, Web, field_text, first_rows, form_of, local_path, run

RECENT = 12


@get("/")
async def home(request: Request[Any, Any, Any]) -> Response[Any]:
    def page(c: Ctx) -> Response[Any]:
        view, today = c.view, c.today
        meeting = view.open_meeting() or view.next_meeting(today)
        agenda = view.agenda(meeting.id, today) if meeting is not None else None
        recent = sorted(view.list_items(), key=lambda it: it.updated, reverse=True)[:RECENT]
        mine = view.commitments(c.me, "open")
        return c.page(
            "home.html",
            title="Home",
            section="home",
            meeting=meeting,
            agenda=agenda,
            code=c.group.meeting_code()
            if meeting is not None and meeting.status == "open"
            else None,
            ranked=view.parking_lot(today)[:5],
            mine=mine,
            recent=recent,
        )

    return await run(request, page)


def _where(item: Item) -> str:
    """The page an item shows on (a comment shows on what it answers)."""
    return f"/items/{item.id.hex()}"


@get("/search")
async def search(
    request: Request[Any, Any, Any],
    q: FromQuery[str] = "",
    all: FromQuery[bool] = False,
) -> Response[Any]:
    def page(c: Ctx) -> Response[Any]:
        query = " ".join(q.split())[:200]
        found = c.view.search(query) if query else []
        results = []
        shown, _ = first_rows(found, all)
        for it in shown:
            target = it
            while isinstance(target, CommentItem):
                parent = c.view.get(target.parent)
                if parent is None:
                    break
                target = parent
            results.append(
                {"item": it, "url": _where(target), "passage": passage(it.texts(), query)}
            )
        return c.page(
            "search.html",
            title="Search",
            section="search",
            q=query,
            results=results,
            total=len(found),
        )

    return await run(request, page)


@get("/verify")
async def verify_page(request: Request[Any, Any, Any]) -> Response[Any]:
    def page(c: Ctx) -> Response[Any]:
        return c.page(
            "verify.html",
            title="Meeting code and checks",
            code=c.group.meeting_code(),
            report=None,
            problems=[],
        )

    return await run(request, page, needs="group")


@post("/verify")
async def verify(request: Request[Any, Any, Any]) -> Response[Any]:
    def act(c: Ctx) -> Response[Any]:
        problem = None
        try:
            c.desk.sync(c.group)
        except ChathamError as e:
            problem = explain(e)
        report = c.group.verify()
        return c.page(
            "verify.html",
            title="Meeting code and checks",
            code=report.meeting_code,
            report=report,
            problems=list(report.problems),
            sync_problem=problem,
        )

    return await run(request, act, needs="group")


@get("/settings")
async def settings(request: Request[Any, Any, Any]) -> Response[Any]:
    def page(c: Ctx) -> Response[Any]:
        return c.page("settings.html", title="Settings", error=None)

    return await run(request, page, needs="account")


@get("/export")
async def export_page(request: Request[Any, Any, Any]) -> Response[Any]:
    def page(c: Ctx) -> Response[Any]:
        return c.page("export.html", title="Export")

    return await run(request, page)


@post("/export")
async def export(request: Request[Any, Any, Any]) -> Response[Any]:
    form = await form_of(request)
    fmt = field_text(form, "format")

    def act(c: Ctx) -> Response[Any]:
        view, now = c.view, c.journal.now()
        if fmt == "json":
            files = {"journal.json": json.dumps(export_json(view, now=now), indent=2) + "\n"}
        elif fmt == "ics":
            files = {"journal.ics": ics_calendar(view, now=now)}
        else:
            files = markdown_files(view, today=c.today)
        # Built in memory and handed to the browser: no plaintext file is left by the app.
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
            for name, text in sorted(files.items()):
                z.writestr(f"chatham-export/{name}", text)
        name = f"chatham-{c.today.isoformat()}-{fmt if fmt in ('json', 'ics') else 'markdown'}.zip"
        return Response(
            buf.getvalue(),
            media_type="application/zip",
            headers={"content-disposition": f'attachment; filename="{name}"'},
        )

    return await run(request, act)


@get("/events")
async def events(request: Request[Any, Any, Any]) -> ServerSentEvent:
    """Server-sent events: what changed, for the page to refresh (never counts as activity)."""
    web: Web = request.app.state.web
    hub = web.live.hub
    queue = hub.subscribe()
    # Subscribed first, then looked: a lock either comes after (and is heard) or came before
    # (and the page, rendered before it, is told now rather than never).
    if web.desk.state != "open":
        hub.unsubscribe(queue)
        queue = asyncio.Queue()
        queue.put_nowait({"type": "locked"})

    async def stream() -> AsyncIterator[ServerSentEventMessage]:
        try:
            yield ServerSentEventMessage(comment="hello", retry=5000)
            while True:
                try:
                    event = await asyncio.wait_for(queue.get(), timeout=20)
                except TimeoutError:
                    yield ServerSentEventMessage(comment="keepalive")
                    continue
                yield ServerSentEventMessage(data=json.dumps(event), event=event["type"])
                if event["type"] == "locked":
                    return
        finally:
            hub.unsubscribe(queue)

    return ServerSentEvent(stream())


@post("/anyway")
async def anyway(request: Request[Any, Any, Any]) -> Response[Any]:
    """The member chooses to write although their copy of the group is too old to write
    safely (protocol §9.1), until the app locks."""
    back = local_path(field_text(await form_of(request), "back"))

    def act(c: Ctx) -> Response[Any]:
        c.desk.anyway.add(c.group.id)
        return c.redirect(back, "You can write again until you lock Chatham.")

    return await run(request, act)


ROUTES = [home, search, verify_page, verify, settings, export_page, export, events, anyway]
