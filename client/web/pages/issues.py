"""Issues: the parking lot (ranked, with filters), posting with the real form (drafts kept
until posted), editing, and moving an issue along (present, close, reopen)."""

from __future__ import annotations

from typing import Any, Final

from litestar import Request, Response, get, post
from litestar.params import FromPath, FromQuery

from ... import ChathamError
from ...errors import UsageError
from ...journal import IssueItem, clean_line, clean_text
from .base import Ctx, field_text, first_rows, for_the_form, form_of, run, sent_words

SHORT_FORM: Final = (
    ("what", "What is the issue?", "In a few sentences: what is happening."),
    ("why", "Why does it matter?", "What is at stake for you."),
    ("tried", "What have you tried?", ""),
    ("ask", "What do you want from the group?", "Advice, experience, a push, a sounding board…"),
    ("not_ask", "What do you not want?", "For example: no solutions yet, just questions."),
)
LONG_FORM: Final = (
    ("background", "Background", ""),
    ("options", "Options you see", ""),
    ("impact", "How it affects you", ""),
)
TEXT_FIELDS: Final = tuple(k for k, _, _ in SHORT_FORM + LONG_FORM)
STATUSES: Final = ("parked", "scheduled", "presented", "closed")
DRAFT: Final = "issue-new"


def issue_fields(form: dict[str, str]) -> dict[str, Any]:
    """The form as `Journal.new_issue` fields, checked the way the CLI checks its options."""
    title = clean_line(form.get("title", ""))
    if not title:
        raise UsageError("an issue needs a title", hint="give it a short title")
    priority = form.get("priority", "B").strip().upper()
    if priority not in ("A", "B", "C"):
        raise UsageError("priority is A, B or C")
    try:
        minutes = int(form.get("minutes", "15") or "15")
    except ValueError:
        raise UsageError("minutes is a number from 1 to 600") from None
    if not 1 <= minutes <= 600:
        raise UsageError("minutes is a number from 1 to 600")
    fields: dict[str, Any] = {"title": title, "priority": priority, "minutes": minutes}
    for key in TEXT_FIELDS:
        fields[key] = clean_text(form.get(key, ""))
    return fields


def _form_dict(form: Any) -> dict[str, str]:
    keys = ("title", "priority", "minutes", *TEXT_FIELDS)
    return {k: field_text(form, k) for k in keys}


@get("/issues")
async def issues(
    request: Request[Any, Any, Any],
    status: FromQuery[str] = "parked",
    mine: FromQuery[bool] = False,
    priority: FromQuery[str] = "",
    all: FromQuery[bool] = False,
) -> Response[Any]:
    def page(c: Ctx) -> Response[Any]:
        view, today = c.view, c.today
        wanted = status if status in (*STATUSES, "all") else "parked"
        pri = priority.upper() if priority.upper() in ("A", "B", "C") else ""
        ranked = None
        listed: list[IssueItem] = []
        if wanted == "parked":
            ranked = [
                r
                for r in view.parking_lot(today)
                if (not mine or r.issue.author == c.me) and (not pri or r.issue.priority == pri)
            ]
        else:
            listed = [
                i
                for i in view.issues(
                    None if wanted == "all" else wanted, owner=c.me if mine else None
                )
                if not pri or i.priority == pri
            ]
        total = len(ranked if ranked is not None else listed)
        if ranked is not None:
            ranked, _ = first_rows(ranked, all)
        listed, _ = first_rows(listed, all)
        return c.page(
            "issues.html",
            title="Issues",
            section="issues",
            shown=wanted,
            mine=mine,
            priority=pri,
            ranked=ranked,
            listed=listed,
            total=total,
            statuses=STATUSES,
        )

    return await run(request, page)


@get("/issues/new")
async def issue_new(request: Request[Any, Any, Any]) -> Response[Any]:
    def page(c: Ctx) -> Response[Any]:
        values = c.group.draft(DRAFT) or {}
        return _form(c, values, None, kept=bool(values))

    return await run(request, page)


def _form(
    c: Ctx,
    values: dict[str, str],
    error: Any,
    *,
    issue: IssueItem | None = None,
    status: int = 200,
    kept: bool = False,
) -> Response[Any]:
    return c.page(
        "issue_form.html",
        title="Edit issue" if issue else "New issue",
        section="issues",
        values=values,
        error=error,
        issue=issue,
        short_form=SHORT_FORM,
        long_form=LONG_FORM,
        draft=DRAFT if issue is None else None,
        kept=kept,
        status=status,
    )


@post("/issues")
async def issue_create(request: Request[Any, Any, Any]) -> Response[Any]:
    values = _form_dict(await form_of(request))

    def act(c: Ctx) -> Response[Any]:
        # Kept first (sealed, in the store): whatever happens next, what was typed survives
        # until the post succeeds.
        c.group.keep_draft(DRAFT, values)
        try:
            fields = issue_fields(values)
            c.catch_up()
            posted = c.journal.new_issue(**fields)
        except ChathamError as e:
            return _form(c, values, for_the_form(e), status=400, kept=True)
        c.group.drop_draft(DRAFT)
        return c.redirect(f"/items/{posted.id}", sent_words(posted, "Your issue"))

    return await run(request, act)


@post("/drafts/{key:str}")
async def save_draft(request: Request[Any, Any, Any], key: FromPath[str]) -> Response[Any]:
    form = await form_of(request)
    values = _form_dict(form)
    discard = bool(field_text(form, "discard"))

    def act(c: Ctx) -> Response[Any]:
        if key != DRAFT:
            raise UsageError("no such draft")
        if discard:
            c.group.drop_draft(key)
            return c.redirect("/issues/new", "The draft was thrown away.")
        # Sealed in the member's local store (like everything else there): it survives a
        # reload, a lock and a restart, and is never in the browser's storage.
        c.group.keep_draft(key, values)
        if request.headers.get("x-csrf-token"):
            return Response("", status_code=204)
        return c.redirect("/issues/new", "Draft kept on this computer (sealed) until you post it.")

    return await run(request, act)


@get("/issues/{ref:str}/edit")
async def issue_edit_page(request: Request[Any, Any, Any], ref: FromPath[str]) -> Response[Any]:
    def page(c: Ctx) -> Response[Any]:
        it = c.allowed("issue.edit", ref, IssueItem)
        b = it.body
        values = {"title": b.title, "priority": b.priority, "minutes": str(b.minutes)}
        values |= {k: getattr(b, k) for k in TEXT_FIELDS}
        return _form(c, values, None, issue=it)

    return await run(request, page)


@post("/issues/{ref:str}/edit")
async def issue_edit(request: Request[Any, Any, Any], ref: FromPath[str]) -> Response[Any]:
    values = _form_dict(await form_of(request))

    def act(c: Ctx) -> Response[Any]:
        it = c.allowed("issue.edit", ref, IssueItem)  # another's issue: refused, not a form to fix
        try:
            fields = issue_fields(values)
            changes = c.edit(it, fields, c.journal.edit_issue)
        except ChathamError as e:
            return _form(c, values, for_the_form(e), issue=it, status=400)
        said = "Your issue was revised." if changes else "Nothing changed."
        return c.redirect(f"/items/{it.id.hex()}", said)

    return await run(request, act)


@post("/issues/{ref:str}/status")
async def issue_status(request: Request[Any, Any, Any], ref: FromPath[str]) -> Response[Any]:
    form = await form_of(request)
    action = field_text(form, "action")
    meeting_ref = field_text(form, "meeting")

    def act(c: Ctx) -> Response[Any]:
        c.catch_up()
        j = c.journal
        it = j.item(ref, IssueItem)
        meeting = j.meeting(meeting_ref) if meeting_ref else None
        if action == "present":
            j.issue_status(it, "presented", meeting=meeting or c.view.open_meeting())
            done = "marked presented"
        elif action == "schedule":
            j.issue_status(it, "scheduled", meeting=meeting or j.meeting(default="to-open"))
            done = "scheduled"
        elif action in ("resolved", "withdrawn"):
            j.issue_status(it, "closed", outcome=action)
            done = f"closed ({action})"
        elif action == "unschedule":
            j.schedule(it, None)
            done = "off the agenda, back in the parking lot"
        elif action == "reopen":
            j.issue_status(it, "parked")
            done = "back in the parking lot"
        else:
            raise UsageError("unknown action")
        return c.redirect(f"/items/{it.id.hex()}", f"The issue is {done}.")

    return await run(request, act)


ROUTES = [issues, issue_new, issue_create, save_draft, issue_edit_page, issue_edit, issue_status]
