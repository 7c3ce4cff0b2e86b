"""Identity commands: create your keys (init), show who you are, unlock and lock, and change
the passphrase."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from .common import JsonOpt, console, emit_json, state, text

if TYPE_CHECKING:
    pass


def init(
    name: Annotated[
        str | None,
        typer.Option("--name", help="Your name as the group should know you (`-`, `@file`)."),
    ] = None,
) -> None:
    """Create your identity (member and device keys) in CHATHAM_HOME."""
    from .. import Account, Home
    from ..errors import AlreadyInitialized

    home = Home.default()
    if home.exists():
        raise AlreadyInitialized(f"{home.path} already holds a Chatham identity")
    passphrase = state().new_passphrase()
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
    import time

    from .. import Home, parse_duration

    seconds = parse_duration(duration)
    home = Home.default()
    home.read_keystore()  # NotInitialized before asking for a passphrase
    _, key = home.unlock(passphrase=state().current_passphrase())
    expires = home.start_session(key, seconds)
    until = time.strftime("%H:%M", time.localtime(expires))
    console().print(f"unlocked until {until}; `chatham lock` locks again")


def passphrase(
    new: Annotated[
        str | None,
        typer.Option(
            "--new-passphrase",
            help="The new passphrase: `@FILE` reads it from a file, `-` from standard input "
            "(otherwise it is asked twice on the terminal).",
        ),
    ] = None,
) -> None:
    """Change the passphrase that protects your keys (they stay the same)."""
    from .. import Home
    from ..errors import Locked

    st = state()
    home = Home.default()
    home.read_keystore()  # NotInitialized before asking for anything
    old = st.current_passphrase()
    fresh = st.changed_passphrase(new)
    if not fresh:
        raise Locked(
            "no new passphrase given",
            hint="run on a terminal, or pass --new-passphrase @FILE (or - for standard input)",
        )
    home.change_passphrase(old, fresh)
    console().print("passphrase changed; the unlock session ended (`chatham unlock` starts one)")


def lock() -> None:
    """End the unlock session now."""
    from .. import Home

    ended = Home.default().end_session()
    console().print("locked" if ended else "already locked")


def register(app: typer.Typer) -> None:
    app.command()(init)
    app.command()(whoami)
    app.command()(unlock)
    app.command()(lock)
    app.command()(passphrase)
