"""Notes (Markdown; their authors revise them), commitments (mine and everyone's, with their
report-back; leaders may record one for a member) and monthly updates: the lists and the
forms."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, post
from litestar.params import FromPath, FromQuery

from ... import ChathamError
from ...errors import UsageError
from ...journal import CommitmentItem, NoteItem, clean_line, clean_text
from .base import Ctx, field_text, first_rows, for_the_form, form_of, run, sent_words


def _meeting_choices(c: Ctx) -> list[tuple[str, str]]:
    """Meetings to attach something to: none, or any not yet closed (newest first)."""
    out = [("", "No meeting")]
    for m in reversed(c.view.meetings()):
        if m.status != "closed":
            out.append((m.id.hex(), f"{m.date.isoformat()} {m.title}"))
    return out


def _default_meeting(c: Ctx) -> str:
    m = c.view.open_meeting()
    return m.id.hex() if m is not None else ""


# --- notes -------------------------------------------------------------------------------


def _notes(
    c: Ctx, values: dict[str, str], error: Any, status: int = 200, everything: bool = False
) -> Response[Any]:
    notes, total = first_rows(list(reversed(c.view.notes())), everything)
    return c.page(
        "notes.html",
        title="Notes",
        section="notes",
        notes=notes,
        total=total,
        values=values or {"meeting": _default_meeting(c)},
        choices=_meeting_choices(c),
        may_write=c.group.status == "member"
        and c.view.may(c.me, "note.create", log_seq=c.group.state.seq),
        error=error,
        status=status,
    )


@get("/notes")
async def notes(request: Request[Any, Any, Any], all: FromQuery[bool] = False) -> Response[Any]:
    return await run(request, lambda c: _notes(c, {}, None, everything=all))


@post("/notes")
async def note_create(request: Request[Any, Any, Any]) -> Response[Any]:
    form = await form_of(request)
    values = {k: field_text(form, k) for k in ("title", "body", "meeting")}

    def act(c: Ctx) -> Response[Any]:
        try:
            body = clean_text(values["body"])
            meeting = c.journal.meeting(values["meeting"]) if values["meeting"] else None
            c.catch_up()
            posted = c.journal.new_note(body, title=clean_line(values["title"]), meeting=meeting)
        except ChathamError as e:
            return _notes(c, values, for_the_form(e), status=400)
        return c.redirect(f"/items/{posted.id}", sent_words(posted, "Your note"))

    return await run(request, act)


def _note_form(
    c: Ctx, note: NoteItem, values: dict[str, str], error: Any = None, status: int = 200
) -> Response[Any]:
    return c.page(
        "note_edit.html",
        title="Edit the note",
        section="notes",
        item=note,
        values=values,
        error=error,
        status=status,
    )


@get("/notes/{ref:str}/edit")
async def note_edit_page(request: Request[Any, Any, Any], ref: FromPath[str]) -> Response[Any]:
    def page(c: Ctx) -> Response[Any]:
        n = c.allowed("note.edit", ref, NoteItem)
        return _note_form(c, n, {"title": n.body.title, "body": n.body.body})

    return await run(request, page)


@post("/notes/{ref:str}/edit")
async def note_edit(request: Request[Any, Any, Any], ref: FromPath[str]) -> Response[Any]:
    form = await form_of(request)
    values = {k: field_text(form, k) for k in ("title", "body")}

    def act(c: Ctx) -> Response[Any]:
        n = c.allowed("note.edit", ref, NoteItem)
        try:
            fields = {"title": clean_line(values["title"]), "body": clean_text(values["body"])}
            changes = c.edit(n, fields, c.journal.edit_note)
        except ChathamError as e:
            return _note_form(c, n, values, for_the_form(e), 400)
        said = "Your note was revised (its history keeps every version)."
        return c.redirect(f"/items/{n.id.hex()}", said if changes else "Nothing changed.")

    return await run(request, act)


# --- commitments -------------------------------------------------------------------------


def _owners(c: Ctx) -> list[tuple[str, str]]:
    """Whom a leader may record a commitment for: themselves first, then active members."""
    me = c.account.member_id
    others = [
        (r.id, r.name or f"member {r.id[:8]}")
        for r in c.group.roster()
        if r.status == "active" and r.id != me
    ]
    return [(me, "You"), *others]


def _commitments(
    c: Ctx,
    who: str,
    status: str,
    values: dict[str, str],
    error: Any,
    code: int = 200,
    everything: bool = False,
) -> Response[Any]:
    wanted = status if status in ("open", "done", "partial", "dropped") else None
    items = c.view.commitments(c.me if who != "all" else None, wanted)
    # Open ones first, then the most recently due.
    items.sort(key=lambda x: (x.status != "open", -(x.due_date or c.today).toordinal()))
    shown, total = first_rows(items, everything)
    return c.page(
        "commitments.html",
        title="Commitments",
        section="commitments",
        commitments=shown,
        total=total,
        who="all" if who == "all" else "mine",
        shown=wanted or "",
        values=values or {"meeting": _default_meeting(c)},
        choices=_meeting_choices(c),
        owners=_owners(c) if c.is_leader else [],
        member=c.group.status == "member",
        error=error,
        status=code,
    )


@get("/commitments")
async def commitments(
    request: Request[Any, Any, Any],
    who: FromQuery[str] = "mine",
    status: FromQuery[str] = "",
    all: FromQuery[bool] = False,
) -> Response[Any]:
    return await run(request, lambda c: _commitments(c, who, status, {}, None, everything=all))


@post("/commitments")
async def commitment_create(request: Request[Any, Any, Any]) -> Response[Any]:
    form = await form_of(request)
    values = {k: field_text(form, k) for k in ("text", "due", "meeting", "owner")}

    def act(c: Ctx) -> Response[Any]:
        owner = values["owner"] if values["owner"] not in ("", c.account.member_id) else None
        try:
            text = clean_text(values["text"])
            due = c.journal.day(values["due"]) if values["due"].strip() else None
            meeting = c.journal.meeting(values["meeting"]) if values["meeting"] else None
            c.catch_up()
            posted = c.journal.new_commitment(text, due=due, meeting=meeting, owner=owner)
        except ChathamError as e:
            return _commitments(c, "mine", "", values, for_the_form(e), 400)
        whose = "Your commitment" if owner is None else f"{c.name(owner)}'s commitment"
        return c.redirect(f"/items/{posted.id}", sent_words(posted, whose, "is recorded"))

    return await run(request, act)


@post("/commitments/{ref:str}/status")
async def commitment_status(request: Request[Any, Any, Any], ref: FromPath[str]) -> Response[Any]:
    form = await form_of(request)
    status = field_text(form, "status")
    report = field_text(form, "report")

    def act(c: Ctx) -> Response[Any]:
        if status not in ("done", "partial", "dropped"):
            raise UsageError("choose done, partly done or dropped")
        c.catch_up()
        item = c.journal.item(ref, CommitmentItem)
        c.journal.commitment_status(item, status, clean_text(report))
        words = {"done": "done", "partial": "partly done", "dropped": "dropped"}[status]
        return c.redirect(f"/items/{item.id.hex()}", f"Reported {words}.")

    return await run(request, act)


# --- updates -----------------------------------------------------------------------------


def _updates(
    c: Ctx, values: dict[str, str], error: Any, status: int = 200, everything: bool = False
) -> Response[Any]:
    updates, total = first_rows(list(reversed(c.view.updates())), everything)
    return c.page(
        "updates.html",
        title="Monthly updates",
        section="updates",
        updates=updates,
        total=total,
        values=values,
        member=c.group.status == "member",
        error=error,
        status=status,
    )


@get("/updates")
async def updates(request: Request[Any, Any, Any], all: FromQuery[bool] = False) -> Response[Any]:
    return await run(request, lambda c: _updates(c, {}, None, everything=all))


@post("/updates")
async def update_create(request: Request[Any, Any, Any]) -> Response[Any]:
    form = await form_of(request)
    values = {k: field_text(form, k) for k in ("highs", "lows", "score_name", "score")}

    def act(c: Ctx) -> Response[Any]:
        try:
            fields: dict[str, Any] = {
                "highs": clean_text(values["highs"]),
                "lows": clean_text(values["lows"]),
            }
            name = " ".join(values["score_name"].split())
            if name or values["score"].strip():
                score = values["score"].strip()
                if not name or not score.isdigit() or not 1 <= int(score) <= 10:
                    raise UsageError("a score needs a name and a number from 1 to 10")
                fields["scores"] = {name: int(score)}
            if not any(fields.values()):
                raise UsageError("an update needs highs, lows or a score")
            m = c.view.open_meeting() or c.view.next_meeting(c.today)
            if m is not None:
                fields["meeting"] = m.id
            c.catch_up()
            posted = c.journal.new_update(**fields)
        except ChathamError as e:
            return _updates(c, values, for_the_form(e), status=400)
        return c.redirect(f"/items/{posted.id}", sent_words(posted, "Your update"))

    return await run(request, act)


ROUTES = [
    notes,
    note_create,
    note_edit_page,
    note_edit,
    commitments,
    commitment_create,
    commitment_status,
    updates,
    update_create,
]
