"""A real `chatham-server` process on 127.0.0.1: a free port, the caller's data directory,
ready once `/health` answers. `make demo`, the benchmarks and the tests start theirs here.

    with live_server(tmp / "server", "--rate-auth", "0") as server:
        ...  # server.url, server.data_dir, server.proc

It ships with the server so that every script and test can import it as
`chatham.server.testing`; it is not part of the server the CLI runs.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import httpx

BIN = Path(sys.executable).parent
SERVER = str(BIN / "chatham-server")
CHATHAM = str(BIN / "chatham")


class ServerDidNotStart(RuntimeError):
    """The server exited, or did not answer `/health` in time; the message ends with its stderr."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass(frozen=True)
class LiveServer:
    url: str
    data_dir: Path
    proc: subprocess.Popen[bytes]


@contextlib.contextmanager
def live_server(
    data_dir: Path, *extra: str, timeout: float = 30, port: int | None = None
) -> Iterator[LiveServer]:
    """`chatham-server --open-registration` and the `extra` options, stopped on exit.

    `port` (default: a free one) lets a test start a server again at the same address, as
    an operator restarts one after restoring its database.

    The server inherits the environment (so `CHATHAM_SERVER_*` variables apply). Its stderr
    goes to a temporary file, not a pipe, so a chatty server never blocks on a full pipe.
    """
    port = free_port() if port is None else port
    url = f"http://127.0.0.1:{port}"
    args = ["--data-dir", str(data_dir), "--host", "127.0.0.1", "--port", str(port)]
    with tempfile.TemporaryFile() as stderr:
        proc = subprocess.Popen(  # noqa: S603 - our own installed server, fixed arguments
            [SERVER, *args, "--open-registration", *extra],
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
        try:
            _wait_healthy(url, proc, stderr, timeout)
            yield LiveServer(url, data_dir, proc)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _wait_healthy(
    url: str, proc: subprocess.Popen[bytes], stderr: IO[bytes], timeout: float
) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            stderr.seek(0)
            err = stderr.read().decode(errors="replace")
            raise ServerDidNotStart(f"chatham-server did not start: {err}")
        time.sleep(0.05)
