"""Any item's page (an issue, a meeting with its agenda, a note, a commitment, an update), with
its comments, attachments and history; commenting, attaching and downloading files, and
withdrawing an item after a confirmation."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

from litestar import Request, Response, get, post
from litestar.background_tasks import BackgroundTask
from litestar.datastructures import UploadFile
from litestar.params import FromPath
from litestar.response import File

from ... import ChathamError, scratch_dir, wipe
from ...errors import UsageError
from ...journal import (
    MAX_ATTACHMENT,
    CommentItem,
    CommitmentItem,
    IssueItem,
    Item,
    MeetingItem,
    clean_text,
    issue_sections,
    saved_name,
    thread,
)
from .base import Ctx, field_text, for_the_form, form_of, run, sent_words
from .meetings import agenda_choices


def _shown_on(c: Ctx, it: Item) -> Item:
    """A comment shows on the item it answers (all the way up)."""
    while isinstance(it, CommentItem):
        parent = c.view.get(it.parent)
        if parent is None:
            break
        it = parent
    return it


def _may(c: Ctx, action: str, it: Item | None = None) -> bool:
    if c.group.status != "member":
        return False
    return c.view.may(c.me, action, item=None if it is None else it.id, log_seq=c.group.state.seq)


def item_page(c: Ctx, it: Item, *, error: Any = None, status: int = 200) -> Response[Any]:
    view, today = c.view, c.today
    extra: dict[str, Any] = {}
    if isinstance(it, IssueItem):
        extra["sections"] = [(label, text) for label, text in issue_sections(it) if text]
        extra["meeting"] = view.get(it.meeting) if it.meeting else None
        extra["open_meeting"] = view.open_meeting()
        extra["next_meeting"] = view.open_meeting() or view.next_meeting(today)
    elif isinstance(it, MeetingItem):
        extra["agenda"] = view.agenda(it.id, today)
        extra["notes"] = view.notes(it.id)
        extra["made"] = view.commitments(meeting=it.id)
        extra["rounds"] = view.review(it.id)
        extra["code"] = c.group.meeting_code() if it.status == "open" else None
        may_choose = it.status != "closed" and _may(c, "agenda.publish", it)
        extra["choices"] = agenda_choices(c, it) if may_choose else []
    elif isinstance(it, CommitmentItem):
        extra["made_at"] = view.get(it.body.meeting) if it.body.meeting else None
    section = {"issue": "issues", "meeting": "meetings", "note": "notes"}.get(
        it.kind, f"{it.kind}s"
    )
    return c.page(
        f"item_{it.kind}.html",
        title=it.title or it.kind.capitalize(),
        section=section,
        item=it,
        replies=thread(it),
        may={
            a: _may(c, a, it)
            for a in (
                "issue.edit",
                "issue.present",
                "issue.close",
                "issue.schedule",
                "meeting.status",
                "meeting.edit",
                "note.edit",
                "agenda.publish",
                "commitment.complete",
                "commitment.review",
                "retract",
            )
        }
        | {"comment": _may(c, "comment.create")},
        error=error,
        status=status,
        **extra,
    )


@get("/items/{ref:str}")
async def item(request: Request[Any, Any, Any], ref: FromPath[str]) -> Response[Any]:
    def page(c: Ctx) -> Response[Any]:
        it = c.journal.item(ref)
        shown = _shown_on(c, it)
        if shown is not it:
            return c.redirect(f"/items/{shown.id.hex()}#c-{it.id.hex()}")
        return item_page(c, it)

    return await run(request, page)


@post("/items/{ref:str}/comments")
async def comment(request: Request[Any, Any, Any], ref: FromPath[str]) -> Response[Any]:
    form = await form_of(request)
    text = field_text(form, "text")

    def act(c: Ctx) -> Response[Any]:
        it = c.journal.item(ref)
        try:
            body = clean_text(text)
            if not body.strip():
                raise UsageError("a comment needs some text", hint="write your reply first")
            c.catch_up()
            posted = c.journal.comment(it, body)
        except ChathamError as e:
            return item_page(c, _shown_on(c, it), error=for_the_form(e), status=400)
        top = _shown_on(c, it)
        to = f"/items/{top.id.hex()}#c-{posted.id}"
        return c.redirect(to, sent_words(posted, "Your comment"))

    return await run(request, act)


@get("/items/{ref:str}/retract")
async def retract_page(request: Request[Any, Any, Any], ref: FromPath[str]) -> Response[Any]:
    def page(c: Ctx) -> Response[Any]:
        it = c.journal.item(ref)
        c.journal.require("retract", it)
        return c.page("retract.html", title="Withdraw", item=it)

    return await run(request, page)


@post("/items/{ref:str}/retract")
async def retract(request: Request[Any, Any, Any], ref: FromPath[str]) -> Response[Any]:
    def act(c: Ctx) -> Response[Any]:
        c.catch_up()
        it = c.journal.item(ref)
        top = _shown_on(c, it)
        _, deleted = c.journal.retract(it)
        back = "/" if top is it else f"/items/{top.id.hex()}"
        return c.redirect(
            back,
            f"Withdrawn: the {it.kind} is gone from everyone's view and the server deleted "
            f"{deleted} {'entry' if deleted == 1 else 'entries'}. What members already read "
            "cannot be recalled.",
        )

    return await run(request, act)


def _upload_dir() -> Path:
    """A private (0700) directory for one upload or download, under the runtime directory,
    wiped after use; one a killed `chatham web` left is wiped by the next (`scratch_dir`)."""
    return scratch_dir("web", "file")


@post("/items/{ref:str}/attach", request_max_body_size=MAX_ATTACHMENT + (1 << 20))
async def attach(request: Request[Any, Any, Any], ref: FromPath[str]) -> Response[Any]:
    form = await form_of(request)
    upload = form.get("file")
    text = field_text(form, "text")
    scripted = "x-csrf-token" in request.headers
    where = _upload_dir()
    path: Path | None = None
    if isinstance(upload, UploadFile) and upload.filename:
        path = where / saved_name(upload.filename)
        with path.open("wb") as out:
            while chunk := await upload.read(1 << 20):
                out.write(chunk)
        await upload.close()

    def act(c: Ctx) -> Response[Any]:
        it = c.journal.item(ref)
        try:
            if path is None:
                raise UsageError("choose a file to attach", hint="pick one with the file button")
            c.catch_up()
            posted, ref_ = c.journal.attach(it, path, text=clean_text(text) or None)
        except ChathamError as e:
            return item_page(c, _shown_on(c, it), error=for_the_form(e), status=400)
        top = _shown_on(c, it)
        to = f"/items/{top.id.hex()}#c-{posted.id}"
        done = f"Attached {ref_.name}: sealed on this computer, then uploaded."
        if scripted:
            # The page's upload script follows this itself (an XHR would follow a redirect
            # and spend the notice on a page nobody sees).
            c.desk.notify(done)
            return Response({"go": to}, status_code=200, media_type="application/json")
        return c.redirect(to, done)

    try:
        return await run(request, act)
    finally:
        wipe(where)


@get("/files/{ref:str}")
async def download(request: Request[Any, Any, Any], ref: FromPath[str]) -> Response[Any]:
    where = _upload_dir()

    def act(c: Ctx) -> Response[Any]:
        c_ = c.journal.item(ref, CommentItem)
        if c_.body.file is None:
            raise UsageError("nothing is attached there")
        saved = c.journal.save_attachment(c_.id.hex(), where)
        name = saved.path.name
        return File(
            saved.path,
            filename=name,
            media_type="application/octet-stream",
            headers={"content-disposition": f"attachment; filename*=UTF-8''{quote(name)}"},
            background=BackgroundTask(wipe, where),
        )

    try:
        answer = await run(request, act)
    except BaseException:
        wipe(where)
        raise
    if not isinstance(answer, File):  # an error page: nothing to send, nothing to keep
        wipe(where)
    return answer


ROUTES = [item, comment, retract_page, retract, attach, download]
