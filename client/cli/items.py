"""Commands on any item: show, list, search, retract, export, and watch the group for changes."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from .common import (
    JsonOpt,
    console,
    emit_json,
    journal,
    show_item,
    text,
)

if TYPE_CHECKING:
    pass

KINDS_HELP = "issue, meeting, note, commitment, comment or update."


def show(
    item: Annotated[str, typer.Argument(help="Any item's id (a unique prefix will do).")],
    json: JsonOpt = False,
) -> None:
    """Show any item: its fields, comments, attachments and history."""
    gj = journal()
    show_item(gj, gj.item(item), json)


def list_(
    type_: Annotated[str | None, typer.Option("--type", help=KINDS_HELP)] = None,
    since: Annotated[
        str | None, typer.Option("--since", help="Changed on or after: 2026-12-03, today, ...")
    ] = None,
    json: JsonOpt = False,
) -> None:
    """List items of every kind (or one), oldest first; offline."""
    from ..errors import UsageError
    from ..journal import KINDS, item_json
    from .show import print_items

    if type_ is not None and type_ not in KINDS:
        raise UsageError(f"unknown type {type_!r}", hint=f"use {KINDS_HELP}")
    gj = journal()
    items = gj.view.list_items(type_, gj.day(since) if since else None)
    if json:
        emit_json([item_json(gj.view, it) for it in items])
    elif not items:
        console().print("nothing yet" if not type_ and not since else "nothing matches")
    else:
        print_items(console(), gj.view, items, gj.today())


def search(
    words: Annotated[str, typer.Argument(metavar="TEXT", help="Words that must all appear.")],
    json: JsonOpt = False,
) -> None:
    """Find items containing every word (any case or accent), with the passage that matched;
    over your decrypted copy."""
    from ..errors import UsageError
    from ..journal import item_json
    from .show import print_search

    query = text(words) or ""
    if not query.split():
        raise UsageError("nothing to search for", hint='give some words: chatham search "bank"')
    gj = journal()
    found = gj.view.search_passages(query)
    if json:
        emit_json([item_json(gj.view, h.item) | {"passage": h.passage} for h in found])
    elif not found:
        console().print("no matches")
    else:
        print_search(console(), gj.view, found, gj.today())


def export(
    directory: Annotated[
        Path, typer.Argument(metavar="DIR", help="Where to write (new or empty).")
    ],
    format_: Annotated[
        str, typer.Option("--format", "-f", help="markdown, json or ics.")
    ] = "markdown",
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Write into a non-empty directory (replacing only files of your own).",
        ),
    ] = False,
) -> None:
    """Write your readable copy of the journal: plaintext on disk, on purpose."""
    from ..errors import UsageError
    from ..journal import write_export

    if format_ not in ("markdown", "json", "ics"):
        raise UsageError(f"unknown export format {format_!r}", hint="use markdown, json or ics")
    gj = journal()
    files = write_export(
        gj.view,
        directory.expanduser(),
        format_,  # type: ignore[arg-type]
        now=gj.now(),
        today=gj.today(),
        force=force,
    )
    out = console()
    out.print(f"wrote {len(files)} file{'s' if len(files) != 1 else ''} to {directory}")
    out.print("this is plaintext: keep it as safe as the conversations it holds")


def retract(
    item: Annotated[str, typer.Argument(help="The item's id (a unique prefix will do).")],
    json: JsonOpt = False,
) -> None:
    """Withdraw an item (its author or a leader): hidden everywhere, ciphertext deleted.

    It cannot recall what members already read."""
    gj = journal(write=True)
    it = gj.item(item)
    posted, deleted = gj.retract(it)
    if json:
        emit_json({"id": posted.id, "queued": posted.queued, "deleted": deleted})
        return
    console().print(
        f"retracted {it.kind} {it.short_id}; the server deleted {deleted} "
        f"entr{'y' if deleted == 1 else 'ies'}"
    )


def watch(
    count: Annotated[
        int | None, typer.Option("--count", help="Stop after this many changes.")
    ] = None,
    timeout: Annotated[
        float | None, typer.Option("--timeout", help="Stop after about this many seconds.")
    ] = None,
) -> None:
    """Follow the group: sync and print one line (never content) whenever something arrives."""
    import time

    from .common import changed_words

    gj = journal()
    out = console()
    err = console(stderr=True)
    name = gj.group.name

    def changed(report: Any) -> None:
        stamp = time.strftime("%H:%M:%S")
        out.print(f"{stamp}  {name}: {changed_words(report)}")
        sys.stdout.flush()

    def retry(e: Any) -> None:
        err.print(f"chatham: {e.message}; reconnecting")

    if sys.stderr.isatty():
        err.print(f"watching {name}; Ctrl-C stops")
    gj.watch(changed, count=count, timeout=timeout, on_retry=retry)


def register(app: typer.Typer) -> None:
    app.command()(show)
    app.command("list")(list_)
    app.command()(search)
    app.command()(export)
    app.command()(retract)
    app.command()(watch)
