"""A real `chatham-server` process on 127.0.0.1: a free port, the caller's data directory,
ready once `/health` answers. `make demo`, the benchmarks and the tests start theirs here.

    with live_server(tmp / "server", "--rate-auth", "0") as server:
        ...  # server.url, server.data_dir, server.proc

It ships with the server so that every script and test can import it as
`chatham.server.testing`; it is not part of the server the CLI runs.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import ssl
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
            _stop(proc)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """Terminate `proc` and wait for it; kill it if it has not exited within ten seconds."""
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


# --- a TLS front: Caddy with its internal CA ---------------------------------------------------

CADDY = "/usr/bin/caddy"


class CaddyMissing(RuntimeError):
    """Caddy is not installed and could not be installed (the TLS tests fail, never skip)."""


def ensure_caddy() -> str:
    """The path of Debian's `caddy`, installed with apt-get where missing (as root)."""
    found = shutil.which("caddy") or (CADDY if Path(CADDY).exists() else None)
    if found:
        return found
    if shutil.which("apt-get") is None or os.geteuid() != 0:
        raise CaddyMissing("caddy is not installed: run `apt-get install caddy` as root")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (
        ["apt-get", "update"],
        ["apt-get", "install", "-y", "--no-install-recommends", "caddy"],
    ):
        subprocess.run(cmd, env=env, check=True, capture_output=True, timeout=600)  # noqa: S603
    found = shutil.which("caddy")
    if found is None:
        raise CaddyMissing("apt-get installed caddy, but it is not on PATH")
    return found


def caddyfile(port: int, backends: list[str], storage: Path) -> str:
    """Caddy terminating TLS on 127.0.0.1:`port` with its internal CA, in front of `backends`
    (host:port), as docs/operations.md shows it, plus what a test needs: no admin API, no
    port 80, and no change to the system's trust store."""
    return f"""{{
	admin off
	auto_https disable_redirects
	skip_install_trust
	local_certs
	default_sni 127.0.0.1
	storage file_system {storage}
}}

https://127.0.0.1:{port} {{
	tls internal
	reverse_proxy {" ".join(backends)} {{
		lb_policy round_robin
		flush_interval -1
	}}
}}
"""


@dataclass(frozen=True)
class TlsFront:
    url: str
    """https://127.0.0.1:PORT"""
    ca_file: Path
    """The internal CA's root certificate (PEM): what CHATHAM_CA_FILE names."""
    proc: subprocess.Popen[bytes]


@contextlib.contextmanager
def caddy_front(root: Path, backends: list[str], *, timeout: float = 30) -> Iterator[TlsFront]:
    """Caddy on 127.0.0.1 terminating TLS for the `backends`, stopped on exit."""
    caddy = ensure_caddy()
    root.mkdir(parents=True, exist_ok=True)
    port = free_port()
    config = root / "Caddyfile"
    config.write_text(caddyfile(port, backends, root / "data"))
    env = {**os.environ, "HOME": str(root), "XDG_DATA_HOME": str(root)}
    env["XDG_CONFIG_HOME"] = str(root)
    url = f"https://127.0.0.1:{port}"
    ca_file = root / "data" / "pki" / "authorities" / "local" / "root.crt"
    with (root / "caddy.log").open("wb") as log:
        proc = subprocess.Popen(  # noqa: S603 - Debian's caddy, a config we wrote
            [caddy, "run", "--config", str(config), "--adapter", "caddyfile"],
            stdout=log,
            stderr=log,
            env=env,
        )
    try:
        deadline = time.monotonic() + timeout
        while True:
            if ca_file.exists():
                context = ssl.create_default_context(cafile=str(ca_file))
                try:
                    if httpx.get(f"{url}/health", verify=context, timeout=2).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
            if proc.poll() is not None or time.monotonic() > deadline:
                log_text = (root / "caddy.log").read_text(errors="replace")[-3000:]
                raise ServerDidNotStart(f"caddy did not start: {log_text}")
            time.sleep(0.1)
        yield TlsFront(url, ca_file, proc)
    finally:
        _stop(proc)
