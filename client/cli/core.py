"""Core commands: init, whoami, unlock, lock, group create|list|use, sync, verify."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from .common import console, emit_json, short, state, text

if TYPE_CHECKING:
    from .. import SyncReport, VerifyReport

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")]

group_app = typer.Typer(
    help="Create, list and choose groups.", no_args_is_help=True, rich_markup_mode=None
)


def init(
    name: Annotated[
        str | None,
        typer.Option("--name", help="Your name as the group should know you (`-`, `@file`)."),
    ] = None,
) -> None:
    """Create your identity (member and device keys) in CHATHAM_HOME."""
    import os

    from .. import ENV_PASSPHRASE, Account, Home
    from ..errors import AlreadyInitialized, Locked

    st = state()
    home = Home.default()
    if home.exists():
        raise AlreadyInitialized(f"{home.path} already holds a Chatham identity")
    passphrase: str | None
    if st.passphrase_file is not None:
        passphrase = st.passphrase_from_file()
    else:
        passphrase = os.environ.get(ENV_PASSPHRASE) or st.prompt(confirm=True)
    if not passphrase:
        raise Locked(
            "no passphrase to protect the new keystore",
            hint="run on a terminal, or set CHATHAM_PASSPHRASE or --passphrase-file",
        )
    with Account.init(home, passphrase=passphrase, name=text(name)) as j:
        out = console()
        out.print(f"created a Chatham identity in {home.path}")
        out.print(f"member id:   {j.member_id}")
        out.print(f"fingerprint: {j.fingerprint}")
        out.print("read the fingerprint aloud when you join a group; `chatham unlock` saves typing")


def whoami(json: JsonOpt = False) -> None:
    """Show your member id and fingerprint (the words you read aloud)."""
    j = state().account()
    info = {
        "id": j.member_id,
        "fingerprint": j.fingerprint,
        "device": j.device_id,
        "name": j.name,
    }
    if json:
        emit_json(info)
        return
    out = console()
    if j.name:
        out.print(f"name:        {j.name}")
    out.print(f"member id:   {j.member_id}")
    out.print(f"fingerprint: {j.fingerprint}")


def unlock(
    duration: Annotated[
        str, typer.Option("--for", help="How long the session lasts: 90s, 15m, 2h, 1d.")
    ] = "15m",
) -> None:
    """Unlock for a while, so commands do not ask for (or spend time on) the passphrase."""
    import os
    import time

    from .. import ENV_PASSPHRASE, Home, parse_duration
    from ..errors import Locked

    seconds = parse_duration(duration)
    st = state()
    home = Home.default()
    home.read_keystore()  # NotInitialized before asking for a passphrase
    if st.passphrase_file is not None:
        passphrase = st.passphrase_from_file()
    else:
        passphrase = os.environ.get(ENV_PASSPHRASE) or st.prompt()
    if not passphrase:
        raise Locked("no passphrase given", hint="run on a terminal, or pass --passphrase-file")
    _, key = home.unlock(passphrase=passphrase)
    expires = home.start_session(key, seconds)
    until = time.strftime("%H:%M", time.localtime(expires))
    console().print(f"unlocked until {until}; `chatham lock` locks again")


def lock() -> None:
    """End the unlock session now."""
    from .. import Home

    ended = Home.default().end_session()
    console().print("locked" if ended else "already locked")


@group_app.command("create")
def group_create(
    name: Annotated[str, typer.Argument(help="The group's name (kept only by members).")],
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
    out.print("invite members with `chatham invite`")


@group_app.command("list")
def group_list(json: JsonOpt = False) -> None:
    """List the groups in this home."""
    groups = state().account().groups()
    if json:
        emit_json(groups)
        return
    out = console()
    if not groups:
        out.print("no groups yet: `chatham group create NAME --server URL` or `chatham join`")
        return
    for g in groups:
        mark = "*" if g.current else " "
        extra = "" if g.status == "member" else f" [{g.status}]"
        out.print(
            f"{mark} {g.name}  {short(g.id)}  {g.server}  epoch {g.epoch}  "
            f"{g.entries} entries{extra}"
        )


@group_app.command("use")
def group_use(group: Annotated[str, typer.Argument(help="Group id, id prefix or name.")]) -> None:
    """Make a group the current one."""
    g = state().account().use(text(group) or "")
    console().print(f"now using {g.name} ({short(g.id)})")


def sync(json: JsonOpt = False) -> None:
    """Fetch, verify and store what is new; send queued writes; announce leader actions."""
    import sys

    g = state().group()
    if json or not sys.stderr.isatty():
        report = g.sync()
    else:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        bar = Progress(
            TextColumn("syncing"),
            BarColumn(),
            MofNCompleteColumn(),
            console=console(stderr=True),
            transient=True,
        )
        task = bar.add_task("sync", total=None)

        def progress(done: int, total: int | None) -> None:
            # Only long syncs get a bar; a quick one stays silent.
            if total is not None and total >= 200 and not bar.live.is_started:
                bar.start()
            bar.update(task, completed=done, total=total)

        try:
            report = g.sync(progress=progress)
        finally:
            if bar.live.is_started:
                bar.stop()
    if json:
        emit_json(report)
        return
    _print_sync(g.name, report)


def _print_sync(name: str, report: SyncReport) -> None:
    out = console()
    for a in report.announcements:
        out.print(f"• {a.text}")
    if report.status == "joining":
        out.print(f"{name}: waiting for a leader to approve your join request")
        return
    parts = []
    if report.new_entries:
        parts.append(
            f"{report.new_entries} new {'entry' if report.new_entries == 1 else 'entries'}"
        )
    if report.retracted:
        parts.append(f"{report.retracted} retracted")
    if report.new_ops:
        parts.append(f"{report.new_ops} log {'op' if report.new_ops == 1 else 'ops'}")
    if report.sent:
        parts.append(f"{len(report.sent)} sent")
    summary = ", ".join(parts) if parts else "up to date"
    out.print(f"{name}: {summary}")
    if report.queued:
        out.print(f"{report.queued} writes still queued; they go out on the next sync")


def verify(
    json: JsonOpt = False,
    offline: Annotated[
        bool, typer.Option("--offline", help="Verify what is stored, without syncing first.")
    ] = False,
) -> None:
    """Replay the whole log and every author chain, and print the meeting code."""
    from ..errors import VerificationError

    g = state().group()
    if not offline:
        g.sync(send=False)
    report = g.verify()
    if json:
        emit_json(report)
    else:
        _print_verify(g.name, report)
    if not report.ok:
        raise VerificationError(
            f"{len(report.problems)} problem(s) found: {report.problems[0]}",
            check="checkpoint",
        )


def _print_verify(name: str, r: VerifyReport) -> None:
    out = console()
    out.print(f"group {name} ({short(r.group)})")
    out.print(f"log: {r.log_ops} ops verified, head {short(r.log_head)}, epoch {r.epoch}")
    out.print(f"members: {r.members} active")
    out.print(
        f"entries: {r.entries} verified in {len(r.chains)} author chains "
        f"({r.retracted} retracted, {r.unreadable} unreadable)"
    )
    if r.checkpoint_seq is not None:
        out.print(f"checkpoint: log op {r.checkpoint_seq}")
    if r.meeting_code:
        out.print(f"meeting code: {r.meeting_code}")
    else:
        out.print("meeting code: none yet (a leader signs a checkpoint with `chatham checkpoint`)")
    for p in r.problems:
        out.print(f"problem: {p}")
    if r.ok:
        out.print("everything verifies")


def register(app: typer.Typer) -> None:
    app.command()(init)
    app.command()(whoami)
    app.command()(unlock)
    app.command()(lock)
    app.add_typer(group_app, name="group")
    app.command()(sync)
    app.command()(verify)
