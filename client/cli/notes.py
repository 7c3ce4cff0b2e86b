"""Note commands: write, list and show meeting notes (Markdown)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from . import common
from .common import (
    JsonOpt,
    MeetingOpt,
    announce,
    console,
    draft_key,
    edit,
    emit_json,
    journal,
    line_text,
    long_text,
    show_item,
    sub_app,
)

if TYPE_CHECKING:
    pass


note_app = sub_app("Meeting notes (markdown): write, edit, list, show.")


@note_app.command("new")
def note_new(
    body: Annotated[
        str | None,
        typer.Option("--body", "-b", help="Markdown (`-` for stdin, `@file`); else $EDITOR."),
    ] = None,
    title: Annotated[str | None, typer.Option("--title", "-t", help="Optional title.")] = None,
    meeting: MeetingOpt = None,
    no_meeting: Annotated[
        bool, typer.Option("--no-meeting", help="A note that belongs to no meeting.")
    ] = False,
    json: JsonOpt = False,
) -> None:
    """Write a note, for the meeting in progress unless told otherwise."""
    from ..errors import UsageError
    from .editor import drafting

    text_ = long_text(body)
    with drafting(draft_key("note-new")) as draft:
        if text_ is None and common.interactive():
            text_ = edit(draft, "note")
        if text_ is None:
            raise UsageError(
                "a note needs a body",
                hint="pass --body TEXT, --body - to read stdin, or --body @file",
            )
        gj = journal(write=True)
        m = None if no_meeting else gj.meeting(meeting) if meeting else gj.view.open_meeting()
        announce(gj.new_note(text_, title=line_text(title) or "", meeting=m), "note", json)


@note_app.command("edit")
def note_edit(
    note: Annotated[str, typer.Argument(help="Note id (a unique prefix will do).")],
    body: Annotated[
        str | None,
        typer.Option("--body", "-b", help="The new text (`-` for stdin, `@file`); else $EDITOR."),
    ] = None,
    title: Annotated[str | None, typer.Option("--title", "-t", help="A new title.")] = None,
    json: JsonOpt = False,
) -> None:
    """Revise a note of yours (history keeps every version); without options, in $EDITOR."""
    from ..errors import UsageError
    from ..journal import NoteItem
    from .editor import drafting

    gj = journal(write=True)
    n = gj.item(note, NoteItem)
    changes: dict[str, str] = {}
    if title is not None:
        changes["title"] = line_text(title) or ""
    new_body = long_text(body)
    with drafting(draft_key(f"note-edit-{n.short_id}")) as draft:
        if new_body is None and not changes and common.interactive():
            gj.require("note.edit", n)
            new_body = edit(draft, "note", n.body.body)
        if new_body is not None and new_body != n.body.body:
            changes["body"] = new_body
        if not changes:
            raise UsageError("nothing to change", hint="pass --body TEXT or --title TEXT")
        announce(gj.edit_note(n, **changes), "revision", json, f"note {n.short_id} revised")


@note_app.command("list")
def note_list(meeting: MeetingOpt = None, json: JsonOpt = False) -> None:
    """List notes, oldest first (of one meeting with --meeting)."""
    from ..journal import item_json
    from .show import print_notes

    gj = journal()
    notes = gj.view.notes(gj.meeting(meeting).id if meeting else None)
    if json:
        emit_json([item_json(gj.view, n) for n in notes])
    elif not notes:
        console().print("no notes yet")
    else:
        print_notes(console(), gj.view, notes, gj.today())


@note_app.command("show")
def note_show(
    note: Annotated[str, typer.Argument(help="Note id (a unique prefix will do).")],
    json: JsonOpt = False,
) -> None:
    """Show a note, markdown rendered."""
    from ..journal import NoteItem

    gj = journal()
    show_item(gj, gj.item(note, NoteItem), json)


def register(app: typer.Typer) -> None:
    app.add_typer(note_app, name="note")
