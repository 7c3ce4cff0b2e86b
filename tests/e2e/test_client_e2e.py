"""End to end over a real socket: two members in separate homes, the real `chatham` CLI and
library against a real `chatham-server`, ending with a scan of the server's database files
(and the members' own data directories) for the plaintext canary."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from chatham.client import Account
from chatham.server.testing import CHATHAM, LiveServer, live_server

from tests.support.cli_member import member_env

CANARY = "Considering selling the family business to my cousin"
PASSPHRASE = "end to end passphrase"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    with live_server(tmp_path / "server") as s:
        yield s


class Member:
    def __init__(self, name: str, root: Path) -> None:
        self.name = name
        self.home, env = member_env(root, name, PASSPHRASE)
        self.env = {**os.environ, **env}

    def run(self, *args: str) -> str:
        proc = subprocess.run(
            [CHATHAM, *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert proc.returncode == 0, proc.stderr
        assert CANARY not in proc.stderr
        return proc.stdout

    def json(self, *args: str) -> object:
        return json.loads(self.run(*args, "--json"))

    def journal(self) -> Account:
        return Account.open(self.home, passphrase=PASSPHRASE)


def scan(root: Path, needle: bytes) -> list[str]:
    return [
        str(p.relative_to(root))
        for p in root.rglob("*")
        if p.is_file() and needle in p.read_bytes()
    ]


@pytest.mark.slow
def test_two_members_over_a_real_socket(server: LiveServer, tmp_path: Path) -> None:
    dana, sam = Member("Dana", tmp_path), Member("Sam", tmp_path)
    dana.run("init", "--name", "Dana")
    sam.run("init", "--name", "Sam")
    dana.run("unlock", "--for", "10m")
    sam.run("unlock", "--for", "10m")
    dana.run("group", "create", "Thursday Forum", "--server", server.url)
    [group] = dana.json("group", "list")  # type: ignore[misc]
    assert group["name"] == "Thursday Forum"

    # Membership through the library (its CLI belongs to the membership commands); the
    # journals stay open beside the CLI processes, as a long-running app would.
    with dana.journal() as dj, sam.journal() as sj:
        code = dj.group().invite().link
        sj.join(code, name="Thursday Forum")
        [request] = dj.group().join_requests()
        spoken = sam.json("whoami")
        assert isinstance(spoken, dict)
        dj.group().approve(request, name="Sam", fingerprint=spoken["fingerprint"])

        assert "approved" in sam.run("sync")
        sj.group().post(CANARY.encode())
        assert "1 new entry" in dana.run("sync")
        [item] = list(dj.group().entries())
        assert item.body == CANARY.encode()
        assert item.author == spoken["id"]
        dj.group().checkpoint()
    sam.run("sync")
    codes = {m.name: m.json("verify") for m in (dana, sam)}
    assert all(v["ok"] for v in codes.values())  # type: ignore[index]
    assert codes["Dana"]["meeting_code"] == codes["Sam"]["meeting_code"]  # type: ignore[index]
    assert codes["Dana"]["meeting_code"]  # type: ignore[index]

    # The server holds no plaintext, and neither does either member's disk.
    server.proc.terminate()
    server.proc.wait(timeout=10)
    assert any(server.data_dir.rglob("*.sqlite3"))
    assert scan(server.data_dir, CANARY.encode()) == []
    assert scan(server.data_dir, b"Thursday Forum") == []
    assert scan(dana.home, CANARY.encode()) == []
    assert scan(sam.home, CANARY.encode()) == []
