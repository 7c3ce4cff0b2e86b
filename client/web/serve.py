"""Running the web app: bind a loopback address, print the sign-in address, open the browser,
serve until interrupted.

Output contract (`chatham web`; scripts depend on it): the **first line of standard output**
is the full address to open, with the one-time token in it; later lines are new addresses
asked for by pressing Enter on a terminal. Everything else goes to standard error. Any
`--host` that is not a loopback address is refused before anything listens.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import socket
import sys
import tempfile
import threading
import webbrowser
from pathlib import Path
from typing import TextIO

from .. import private_dir, runtime_dir
from ..errors import UsageError
from .app import create_app
from .desk import Desk
from .guard import Door

LOOPBACK = "127.0.0.1"
IDLE_CHECK = 5.0


class NotLoopback(UsageError):
    """The web app listens on this computer's loopback address only."""

    hint = "leave out --host, or pass --host 127.0.0.1 (or ::1)"


def loopback(host: str) -> str:
    """`host` as the loopback address to bind; NotLoopback for anything else."""
    text = host.strip().strip("[]")
    if text.lower() == "localhost":
        return LOOPBACK
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        raise NotLoopback(f"{host!r} is not a loopback address") from None
    if not ip.is_loopback:
        raise NotLoopback(
            f"{host} is not a loopback address: the web app would be reachable from other computers"
        )
    return str(ip)


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError as e:
        sock.close()
        raise UsageError(
            f"cannot listen on {host} port {port} ({e.strerror})",
            hint="choose another --port, or leave it out to pick a free one",
        ) from None
    sock.listen(64)
    sock.set_inheritable(True)
    return sock


def _open_browser(url: str, port: int) -> Path | None:
    """Open the browser through a private redirect file, so the token is not on the browser's
    command line for other users of this computer to read."""
    page = private_dir(runtime_dir() / "web") / f"open-{port}.html"
    fd = os.open(page, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(
            "<!doctype html><meta charset='utf-8'>"
            f"<meta http-equiv='refresh' content='0;url={url}'>"
            f"<p><a href='{url}'>Open Chatham</a></p>\n"
        )
    try:
        webbrowser.open(page.as_uri())
    except webbrowser.Error:
        return page
    return page


def serve(
    desk: Desk,
    *,
    host: str = LOOPBACK,
    port: int = 0,
    open_browser: bool = True,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> None:
    """Run the web app for `desk` in the foreground until interrupted (Ctrl-C)."""
    import uvicorn

    out = out if out is not None else sys.stdout
    err = err if err is not None else sys.stderr
    address = loopback(host)
    sock = bind(address, port)
    door = Door(port=sock.getsockname()[1], host=address)
    url = door.launch_url()
    out.write(url + "\n")
    out.flush()
    # Uploads are spooled to temporary files: keep them in a private directory.
    tempfile.tempdir = str(private_dir(runtime_dir() / "web-tmp"))
    desk.auto_unlock()
    app = create_app(desk, door)
    err.write(
        f"chatham web: serving {door.base_url} on this computer only; Ctrl-C stops it"
        + (" (Enter prints a new sign-in address)" if _interactive() else "")
        + "\n"
    )
    err.flush()
    stop = threading.Event()
    threading.Thread(target=_idle, args=(desk, stop), daemon=True, name="chatham-idle").start()
    if _interactive():
        threading.Thread(target=_new_links, args=(door, out), daemon=True).start()
    page = _open_browser(url, door.port) if open_browser else None
    config = uvicorn.Config(
        app,
        log_level="error",
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=2,
        server_header=False,
        date_header=False,
    )
    server = uvicorn.Server(config)
    try:
        server.run(sockets=[sock])
    finally:
        stop.set()
        desk.lock()
        sock.close()
        if page is not None:
            with contextlib.suppress(OSError):
                page.unlink()


def _interactive() -> bool:
    return sys.stdin is not None and sys.stdin.isatty()


def _idle(desk: Desk, stop: threading.Event) -> None:
    while not stop.wait(IDLE_CHECK):
        desk.idle()


def _new_links(door: Door, out: TextIO) -> None:
    for _ in sys.stdin:
        out.write(door.launch_url() + "\n")
        out.flush()
