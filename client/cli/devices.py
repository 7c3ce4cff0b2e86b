"""Device commands: link a new device of yours, list, rename and remove your devices.

chatham device link                 (an existing device) prints the link code, last line
chatham device add [CODE]           (a new home) prints the comparison words, last line
chatham device confirm WORDS        (the existing device) completes the link
chatham device list [--json]        [{"id", "name", "current", "added"}]
chatham device rename ID NAME
chatham device remove ID [--yes]
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from . import members
from .common import JsonOpt, clock, console, emit_json, safe, short, state, sub_app, text

device_app = sub_app("Your devices: link a new one, list, rename and remove them.")


@device_app.command("link")
def link(
    server: Annotated[
        str | None,
        typer.Option("--server", help="The server to link through (default: the current group's)."),
    ] = None,
) -> None:
    """Start linking a new device of yours: prints a one-time code (ten minutes)."""
    opened = state().account().link_device(server)
    out = console()
    out.print(f"link open until {clock(opened.expires)} (ten minutes); it works once")
    if sys.stdout.isatty():
        members._print_qr(opened.line)
    out.print("on the new device run `chatham device add` with the line below, then")
    out.print("`chatham device confirm WORDS` here with the words it shows:")
    sys.stdout.write(safe(opened.line) + "\n")


@device_app.command("add")
def add(
    code: Annotated[
        str | None,
        typer.Argument(help="The last line of `chatham device link` (`-` or none: stdin)."),
    ] = None,
) -> None:
    """On a new device: answer a link code; prints the words to compare (last line)."""
    from .. import Account, Home
    from ..errors import UsageError

    line = text(code) if code not in (None, "-") else sys.stdin.readline()
    if not line or not line.strip():
        raise UsageError(
            "no link code given",
            hint="paste the last line of `chatham device link` from your other device",
        )
    passphrase = state().new_passphrase()
    home = Home.default()
    words = Account.add_device(line.strip(), home, passphrase=passphrase)
    out = console()
    out.print(f"created this device's keys in {home.path}")
    out.print("on your other device run `chatham device confirm` with these words; then")
    out.print("`chatham sync` here brings every group:")
    sys.stdout.write(words + "\n")


@device_app.command("confirm")
def confirm(
    words: Annotated[
        list[str] | None,
        typer.Argument(help="The six words the new device shows (asked on a terminal)."),
    ] = None,
    name: Annotated[
        str | None, typer.Option("--name", help="What to call the new device here.")
    ] = None,
) -> None:
    """Complete the link once the new device's words match (nothing is handed over else)."""
    typed = " ".join(words) if words else _ask("the six words the new device shows: ")
    done = state().account().confirm_device(typed, name=text(name))
    out = console()
    where = ", ".join(done.groups) if done.groups else "no group yet"
    out.print(f"added device {short(done.id)} to {where}")
    out.print("it gets everything at its next `chatham sync`")


@device_app.command("list")
def list_(json: JsonOpt = False) -> None:
    """Your devices, as your groups record them."""
    import datetime as dt

    from .show import print_table

    found = state().account().devices()

    def iso(ts: int | None) -> str | None:
        if ts is None:
            return None
        return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    if json:
        emit_json(
            [
                {"id": d.id, "name": d.name, "current": d.current, "added": iso(d.added)}
                for d in found
            ]
        )
        return
    rows = [
        [
            short(d.id),
            d.name or "",
            "this device" if d.current else "",
            clock(d.added) if d.added else "",
        ]
        for d in found
    ]
    print_table(console(), ["id", "name", "", "added"], rows)


@device_app.command("rename")
def rename(
    device: Annotated[str, typer.Argument(help="A device id (or a unique prefix) or name.")],
    name: Annotated[str, typer.Argument(help="The new name (kept on this device only).")],
) -> None:
    """Name one of your devices (the name stays on this device)."""
    d = state().account().rename_device(device, text(name) or "")
    console().print(f"device {short(d.id)} is now called {d.name}")


@device_app.command("remove")
def remove(
    device: Annotated[str, typer.Argument(help="A device id (or a unique prefix) or name.")],
    yes: members.YesOpt = False,
) -> None:
    """Remove another of your devices from every group (each gets a fresh key)."""
    from .. import ChathamError
    from ..errors import UsageError

    account = state().account()
    target = account.find_device(device)
    if not yes:
        if not members._interactive():
            raise UsageError(
                "removing a device needs confirmation", hint="pass --yes (or run on a terminal)"
            )
        label = target.name or short(target.id)
        if not members._confirm(f"remove device {label} from every group?"):
            raise ChathamError("not removed", hint="nothing was changed")
    done = account.remove_device(target.id)
    where = ", ".join(done) if done else "no group"
    console().print(
        f"removed device {short(target.id)} from {where}; nothing written from now on reaches it"
    )


def _ask(question: str, *, hidden: bool = False) -> str:
    """A line typed on the terminal (not shown as it is typed when `hidden`); without a
    terminal, a usage error saying what is missing."""
    from ..errors import UsageError

    if not members._interactive():
        raise UsageError(f"missing: {question.rstrip(': ')}", hint="pass them on the command line")
    if hidden:
        import getpass

        return getpass.getpass(question)
    return members._ask(question) or ""


def recovery_kit() -> None:
    """Make a recovery kit: fifteen words to write down (last line); revokes your last kit."""
    kit = state().account().recovery_kit()
    out = console()
    out.print("write these words on paper, with the server, and keep them offline:")
    out.print("whoever holds them can act as you until you make a new kit")
    if kit.revoked:
        out.print(f"your previous kit ({short(kit.revoked)}) no longer works")
    out.print(f"covers: {', '.join(kit.groups)}")
    for server in kit.servers:
        sys.stdout.write(f"server: {safe(server)}\n")
    sys.stdout.write(kit.words + "\n")


def _kit_text(raw: str) -> tuple[str, str | None]:
    """The fifteen words and the server from what the member typed or kept (the kit's own
    output works: its `server:` line and its last line)."""
    server = None
    words = ""
    for line in raw.splitlines():
        line = line.strip()
        if line.lower().startswith("server:"):
            server = server or line.split(":", 1)[1].strip()
        elif line:
            words = line
    return words, server


def recover(
    words: Annotated[
        str | None,
        typer.Option(
            "--words",
            help="The kit: `@file` or `-` (stdin); its words, in order (asked on a terminal).",
        ),
    ] = None,
    server: Annotated[
        str | None,
        typer.Option("--server", help="The server on the kit (when the words come without it)."),
    ] = None,
) -> None:
    """Every device lost: restore yourself on this new home from your recovery kit."""
    from .. import Account, Home
    from ..errors import UsageError

    raw = text(words) if words is not None else _ask("your kit's fifteen words: ", hidden=True)
    typed, kit_server = _kit_text(raw or "")
    where = server or kit_server
    if not where and sys.stdin.isatty():
        where = _ask("the server written on your kit: ")
    if not where:
        raise UsageError(
            "the kit's server is missing",
            hint="pass --server with the address written on your kit",
        )
    passphrase = state().new_passphrase()
    home = Home.default()
    with Account.recover(typed, home, server=where, passphrase=passphrase) as back:
        out = console()
        out.print(f"restored in {home.path}")
        out.print(f"member id:   {back.member_id}")
        out.print(f"fingerprint: {back.fingerprint}")
        names = [g.name for g in back.groups()]
        out.print(f"groups: {', '.join(names)}")
        out.print("make a new kit now (`chatham recovery-kit`): this one was typed in")


def register(app: typer.Typer) -> None:
    app.add_typer(device_app, name="device")
    app.command("recovery-kit")(recovery_kit)
    app.command()(recover)
