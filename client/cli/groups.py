"""Group commands: create a group, list your groups, choose the current one, rename it here,
and change or heal its server."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from .comments import print_missing_files
from .common import JsonOpt, console, emit_json, group_changes, plural, short, state, text, verbose

if TYPE_CHECKING:
    from .. import HealReport


group_app = typer.Typer(
    help="Create, list and choose groups.", no_args_is_help=True, rich_markup_mode=None
)


@group_app.command("create")
def group_create(
    name: Annotated[
        str,
        typer.Argument(help="The group's name (sealed: only members read it; 1-100 characters)."),
    ],
    server: Annotated[str, typer.Option("--server", help="The Chatham server's URL.")],
    history: Annotated[
        str,
        typer.Option(
            "--history",
            help="What new members can read: from-join (default) or full (everything before).",
        ),
    ] = "from-join",
    founder: Annotated[
        str | None,
        typer.Option("--name", help="Your name in this group (default: the name from init)."),
    ] = None,
    registration_token: Annotated[
        str | None,
        typer.Option(
            "--registration-token",
            help="The operator's token, when the server's registration is closed (`-`, `@file`).",
        ),
    ] = None,
) -> None:
    """Found a group on a server; you become its first leader."""
    from ..errors import UsageError

    if history not in ("from-join", "full"):
        raise UsageError(
            f"unknown history policy {history!r}", hint="use --history from-join or --history full"
        )
    j = state().account()
    g = j.create_group(
        text(name) or "",
        text(server) or "",
        history="full" if history == "full" else "from-join",
        founder_name=text(founder),
        registration_token=text(registration_token),
    )
    out = console()
    out.print(f"created group {g.name} ({short(g.id)}) on {g.server}; you lead it")
    out.print("it is your current group; invite members with `chatham invite --name NAME`")


@group_app.command("list")
def group_list(json: JsonOpt = False) -> None:
    """List the groups in this home."""
    groups = state().account().groups()
    if json:
        emit_json(groups)
        return
    from .show import print_table

    out = console()
    if not groups:
        out.print("no groups yet: `chatham group create NAME --server URL` or `chatham join`")
        return
    status = {"member": "member", "joining": "waiting for approval", "removed": "removed"}
    rows = []
    for g in groups:
        row = [
            ("* " if g.current else "  ") + g.name,
            short(g.id),
            g.server,
            status.get(g.status, g.status),
            str(g.entries),
        ]
        rows.append(row + ([str(g.epoch)] if verbose() else []))
    headers = ["group", "id", "server", "you are", "entries"]
    print_table(out, headers + (["epoch"] if verbose() else []), rows)


@group_app.command("rename")
def group_rename(
    name: Annotated[str, typer.Argument(help="What to call the group in this home.")],
) -> None:
    """Call the current group (or --group) something else, in this home only."""
    g = state().group()
    before = g.name
    g.rename(text(name) or "")
    attested = g.attested_name()
    out = console()
    out.print(f"{before} is now called {g.name} here")
    if attested is not None and attested != g.name:
        out.print(f"the group's own name stays {attested}; other members see that")


@group_app.command("use")
def group_use(group: Annotated[str, typer.Argument(help="Group id, id prefix or name.")]) -> None:
    """Make a group the current one."""
    g = state().account().use(text(group) or "")
    console().print(f"now using {g.name} ({short(g.id)})")


@group_app.command("heal")
def group_heal(
    registration_token: Annotated[
        str | None,
        typer.Option(
            "--registration-token",
            help="The operator's token, if the server lost the group and its registration is "
            "closed (`-`, `@file`).",
        ),
    ] = None,
    json: JsonOpt = False,
) -> None:
    """Give the server back what this device verified, after it went back to an older copy."""
    from .common import journal

    g = state().group()
    report = g.heal(registration_token=text(registration_token))
    if json:
        emit_json(report)
    else:
        _print_heal(g.name, report)
        print_missing_files(journal().missing_files())
    _fail_on_refused(report)


def _print_heal(name: str, report: HealReport) -> None:
    out = console()
    if not report.healed:
        out.print(f"{name}: the server already holds everything this device verified")
    else:
        made = "created the group on the server and " if report.created else ""
        given = [plural(report.entries, "entry", "entries"), group_changes(report.ops)]
        if report.lockboxes:
            given.append(
                plural(report.lockboxes, "lockbox", "lockboxes")
                if verbose()
                else plural(report.lockboxes, "copy", "copies") + " of the group key for members"
            )
        out.print(f"{name}: {made}gave the server back {', '.join(given)}")
    for line in report.refused:
        out.print(f"refused: {line}")


def _fail_on_refused(report: HealReport) -> None:
    from ..errors import ServerError
    from .sync import _fail_on_alarms

    if report.refused:
        raise ServerError(
            f"the server refused {plural(len(report.refused), 'entry', 'entries')}: "
            f"{report.refused[0]}",
            hint="the rest was given; compare `chatham verify` with another member",
        )
    _fail_on_alarms(report.alarms)


@group_app.command("move")
def group_move(
    server: Annotated[str, typer.Option("--server", help="The group's new server's URL.")],
    registration_token: Annotated[
        str | None,
        typer.Option(
            "--registration-token",
            help="The new server operator's token, if its registration is closed (`-`, `@file`).",
        ),
    ] = None,
    json: JsonOpt = False,
) -> None:
    """Move the group to another server (leaders): publish this device's verified copy there,
    and copy the attached files the old server still holds."""
    from ..journal import Journal

    # Not synced first through the old server (`journal()`): it may be gone; the move syncs
    # with it if it answers.
    g = state().group()
    j = Journal(g, state().account().member_id, insist=state().anyway)
    report, files = j.move(text(server) or "", registration_token=text(registration_token))
    if json:
        emit_json({"heal": report, "files": files})
    else:
        _print_heal(g.name, report)
        console().print(f"{plural(files.copied, 'attached file')} copied to the new server")
        print_missing_files(files.lost)
        console().print(
            f"{g.name} now uses {g.server}; members' devices follow on their next sync, and "
            f"members who cannot reach the old server run `chatham group server {g.server}`"
        )
    _fail_on_refused(report)


@group_app.command("server")
def group_server(
    server: Annotated[str, typer.Argument(help="The group's new server's URL.")],
    give_copy: Annotated[
        bool,
        typer.Option(
            "--give-copy",
            help="If that server holds nothing of the group, give it this device's copy.",
        ),
    ] = False,
    registration_token: Annotated[
        str | None,
        typer.Option(
            "--registration-token",
            help="With --give-copy: the operator's token, if registration is closed.",
        ),
    ] = None,
) -> None:
    """Point this copy of the group at its new server, once that server shows the group as
    this device verified it."""
    from .common import journal

    g = state().group()
    report = g.use_server(
        text(server) or "", give_copy=give_copy, registration_token=text(registration_token)
    )
    if report is not None:
        _print_heal(g.name, report)
    console().print(f"{g.name} now uses {g.server}: it holds the group as this device verified it")
    print_missing_files(journal().missing_files())
    if report is not None:
        _fail_on_refused(report)


def register(app: typer.Typer) -> None:
    app.add_typer(group_app, name="group")
