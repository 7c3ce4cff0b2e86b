"""`chatham web`: the member's own client as a web app on this computer (chatham.client.web).

Output contract: the first line of stdout is the full address to open, with its one-time
token; it runs in the foreground until interrupted (Ctrl-C, exit status 130 as for every
command). A `--host` that is not a loopback address is refused.
"""

from __future__ import annotations

from typing import Annotated

import typer


def web(
    host: Annotated[
        str, typer.Option("--host", help="A loopback address to listen on (nothing else).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="The port; 0 picks a free one.")] = 0,
    no_browser: Annotated[
        bool, typer.Option("--no-browser", help="Print the address; do not open a browser.")
    ] = False,
    lock_after: Annotated[
        str, typer.Option("--lock-after", help="Lock after this long without use: 15m, 1h.")
    ] = "15m",
) -> None:
    """Open Chatham in your browser: a web app served by your own client, on this computer."""
    from .. import Home, parse_duration
    from ..errors import UsageError
    from ..web import Desk, serve
    from ..web.serve import loopback
    from .common import state

    if not 0 <= port <= 65535:
        raise UsageError("a port is a number from 0 to 65535", hint="or leave --port out")
    loopback(host)  # refused before anything else happens
    if state().passphrase_file is not None:
        raise UsageError(
            "chatham web asks for the passphrase in the page",
            hint="leave out --passphrase-file; CHATHAM_PASSPHRASE or `chatham unlock` also work",
        )
    desk = Desk(Home.default(), lock_after=parse_duration(lock_after))
    serve(desk, host=host, port=port, open_browser=not no_browser)


def register(app: typer.Typer) -> None:
    app.command()(web)
