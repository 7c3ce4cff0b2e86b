"""Unsent commands: read back, and discard, writes their author lost the right to send."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated, Any

import typer

from .common import JsonOpt, clock, console, emit_json, short, state

if TYPE_CHECKING:
    from .. import Unsent

unsent_app = typer.Typer(
    help="Writes that were not sent (you lost the right to post them before they went out): "
    "read them back, then discard them once copied.",
    invoke_without_command=True,
    rich_markup_mode=None,
)


def _json(u: Unsent) -> dict[str, Any]:
    return {
        "id": u.id,
        "kind": u.kind,
        "fields": [{"label": label, "text": value} for label, value in u.fields],
        "reason": u.reason,
        "written_at": u.written_at,
        "refused_at": u.refused_at,
    }


@unsent_app.callback()
def unsent(ctx: typer.Context, json: JsonOpt = False) -> None:
    """List the writes the server refused for good, with their full text."""
    if ctx.invoked_subcommand is not None:
        return
    from rich.text import Text

    kept = state().group().unsent()
    if json:
        emit_json([_json(u) for u in kept])
        return
    out = console()
    if not kept:
        out.print("no unsent writes: everything you wrote was sent or still waits to go out")
        return
    for u in kept:
        out.print(
            Text(f"{u.kind} {short(u.id, 8)}, written {clock(u.written_at)}, not sent: {u.reason}")
        )
        for label, value in u.fields:
            lines = value.split("\n")
            out.print(Text(f"  {label}: {lines[0]}"))
            for line in lines[1:]:
                out.print(Text(f"    {line}"))
        out.print("")
    out.print("copy what you want to keep (e.g. into a new post), then `chatham unsent discard ID`")


@unsent_app.command("discard")
def discard(
    entry: Annotated[str, typer.Argument(help="The unsent write's id (or a unique prefix).")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Forget an unsent write for good (copy its text first: it cannot be brought back)."""
    from ..errors import UsageError

    g = state().group()
    u = g.find_unsent(entry)
    if not yes:
        if not (sys.stdin.isatty() and sys.stderr.isatty()):
            raise UsageError(
                f"discarding {u.kind} {short(u.id, 8)} cannot be undone",
                hint="run it again with --yes to discard it",
            )
        sys.stderr.write(f"discard {u.kind} {short(u.id, 8)}? its text is gone for good [y/N] ")
        sys.stderr.flush()
        answer = sys.stdin.readline().strip().lower()
        if answer not in ("y", "yes"):
            console().print("kept; nothing was discarded")
            return
    g.discard_unsent(u.id)
    console().print(f"{u.kind} {short(u.id, 8)} discarded")


def register(app: typer.Typer) -> None:
    app.add_typer(unsent_app, name="unsent")
