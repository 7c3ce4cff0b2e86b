"""Comment commands: comment on any item, attach files, save attached files, list those the
server lost."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from . import common
from .common import (
    JsonOpt,
    announce,
    console,
    draft_key,
    edit,
    emit_json,
    journal,
    long_text,
    plural,
    sub_app,
    with_progress,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

    from ..journal import MissingFile


attachment_app = sub_app("Attached files.")


def comment(
    item: Annotated[str, typer.Argument(help="Any item's id (a unique prefix will do).")],
    text_: Annotated[
        str | None,
        typer.Argument(
            metavar="[TEXT]", help="Your reply (`-`, `@file`); else $EDITOR.", show_default=False
        ),
    ] = None,
    json: JsonOpt = False,
) -> None:
    """Reply on any item: share your experience."""
    from ..errors import UsageError
    from .editor import drafting

    gj = journal(write=True)
    it = gj.item(item)
    body = long_text(text_)
    with drafting(draft_key(f"comment-{it.short_id}")) as draft:
        if body is None and common.interactive():
            body = edit(draft, "comment")
        if not body:
            raise UsageError(
                "a comment needs text", hint='pass it: chatham comment ID "...", or `-` for stdin'
            )
        announce(gj.comment(it, body), "comment", json)


def attach(
    item: Annotated[str, typer.Argument(help="Any item's id (a unique prefix will do).")],
    file: Annotated[Path, typer.Argument(help="The file to attach (any size, up to 1 GiB).")],
    text_: Annotated[
        str | None, typer.Option("--text", help="A line to go with it (`-`, `@file`).")
    ] = None,
    json: JsonOpt = False,
) -> None:
    """Attach a file to an item: sealed in 64 KiB chunks, uploaded, then posted as a comment."""
    from ..journal import file_size

    gj = journal(write=True)
    it = gj.item(item)
    size = file.stat().st_size if file.is_file() else 0
    posted, ref = with_progress(
        "uploading", size, lambda p: gj.attach(it, file, text=long_text(text_), progress=p)
    )
    if json:
        emit_json({"id": posted.id, "queued": posted.queued, "name": ref.name, "size": ref.size})
        return
    console().print(
        f"attached {ref.name} ({file_size(ref.size)}) to {it.kind} {it.short_id} "
        f"as comment {posted.short}"
    )


@attachment_app.command("save")
def attachment_save(
    attachment: Annotated[str, typer.Argument(help="The comment id the file is attached to.")],
    path: Annotated[Path, typer.Argument(help="Where to save it (a directory keeps its name).")],
    force: Annotated[bool, typer.Option("--force", help="Replace an existing file.")] = False,
    json: JsonOpt = False,
) -> None:
    """Download, verify and save an attached file; it appears only once every chunk verifies."""
    from ..journal import CommentItem, file_size

    gj = journal()
    c = gj.item(attachment, CommentItem)
    size = c.body.file.size if c.body.file is not None else 0
    saved = with_progress(
        "downloading",
        size,
        lambda p: gj.save_attachment(attachment, path.expanduser(), force=force, progress=p),
    )
    if json:
        emit_json({"path": str(saved.path), "size": saved.size})
        return
    console().print(f"saved {saved.path} ({file_size(saved.size)}); every chunk verified")


@attachment_app.command("missing")
def attachment_missing(json: JsonOpt = False) -> None:
    """List the attached files you can read that the server no longer holds (lost with a
    server that was restored from an older backup, lost its data, or was left behind)."""
    missing = journal().missing_files()
    if json:
        emit_json(missing)
    elif missing:
        print_missing_files(missing)
    else:
        console().print("the server holds every attached file you can read")


def print_missing_files(missing: Sequence[MissingFile]) -> None:
    """Name the attached files the server does not hold: their comments verify, their
    contents are gone from the server (docs/operations.md says which can be lost)."""
    from ..journal import file_size

    if not missing:
        return
    out = console()
    n = len(missing)
    are = "is" if n == 1 else "are"
    out.print(f"{plural(n, 'attached file')} {are} not on the server any more:")
    for m in missing:
        out.print(f"  {m.name} ({file_size(m.size)}), on comment {m.comment}")
    out.print("whoever still has a file can attach it again")


@attachment_app.command("list")
def attachment_list(json: JsonOpt = False) -> None:
    """Every attached file the server holds for the group, with who uploaded it (leaders).

    Finds what fills the group's space: an upload nobody finished (no comment was posted
    with it) is deleted by the server a day after it began, and a removed member's at once.
    """
    from ..journal import file_size

    group = common.state().group()
    found = group.uploads()
    if json:
        emit_json(found)
        return
    if not found:
        console().print("no attached files on the server")
        return
    for u in found:
        status = "" if u.finished else "  (unfinished: deleted a day after it began)"
        console().print(f"{u.id}  {file_size(u.size):>9}  by {u.uploader}{status}")
    total = sum(u.size for u in found)
    console().print(f"{plural(len(found), 'attached file')}, {file_size(total)} in all")


@attachment_app.command("delete")
def attachment_delete(
    upload: Annotated[str, typer.Argument(help="The attachment id (`chatham attachment list`).")],
    json: JsonOpt = False,
) -> None:
    """Delete an attached file from the server (its uploader, or a leader); frees its space."""
    from ..journal import file_size

    freed = common.state().group().delete_upload(upload)
    if json:
        emit_json({"id": upload, "freed": freed})
        return
    console().print(f"deleted {upload} from the server; {file_size(freed)} freed")


def register(app: typer.Typer) -> None:
    app.command()(comment)
    app.command()(attach)
    app.add_typer(attachment_app, name="attachment")
