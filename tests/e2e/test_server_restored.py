"""A real `chatham-server` restored from an older backup of its database, as an operator
restores one: members' `chatham sync` names the rollback and exits non-zero."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from chatham.server.testing import free_port, live_server

from tests.support.cli_member import UNLIMITED, CliMember, admit, environment

PASSPHRASE = "server restored passphrase"
GROUP = "Thursday Forum"


def backup(db: Path, dest: Path) -> None:
    src = sqlite3.connect(db)
    out = sqlite3.connect(dest)
    with out:
        src.backup(out)
    out.close()
    src.close()


def restore(db: Path, copy: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    db.write_bytes(copy.read_bytes())


@pytest.fixture
def unlimited() -> Iterator[None]:
    with environment(UNLIMITED):
        yield


def test_sync_against_a_server_restored_from_an_older_backup_fails_naming_the_rollback(
    tmp_path: Path, unlimited: None
) -> None:
    data, port = tmp_path / "server", free_port()
    dana = CliMember("Dana", tmp_path, PASSPHRASE)
    sam = CliMember("Sam", tmp_path, PASSPHRASE)
    with live_server(data, port=port) as s:
        dana.ok("group", "create", GROUP, "--server", s.url)
        admit(dana, sam, GROUP)
        dana.ok("issue", "new", "--title", "kept", "-g", GROUP)
        sam.ok("sync", "-g", GROUP)
    copy = tmp_path / "backup.sqlite3"
    db = data / "chatham.sqlite3"
    backup(db, copy)
    with live_server(data, port=port):
        dana.ok("issue", "new", "--title", "lost in the restore", "-g", GROUP)
        sam.ok("sync", "-g", GROUP)
    restore(db, copy)
    with live_server(data, port=port):
        code, _, err = sam("sync", "-g", GROUP)
        assert code == 1, err
        lines = err.splitlines()
        assert lines[0].startswith("chatham: error: ")
        assert "older copy of the group" in lines[0]
        assert "Dana" in lines[0]
        assert lines[1].startswith("chatham: hint: ")
        assert "backup" in lines[1]
        # What Sam holds stays readable: the lost issue is still here.
        assert "lost in the restore" in sam.ok("issue", "list", "-g", GROUP, "--offline")
        # Sam gives the server back what it lost; Dana's next write works where it failed.
        out = sam.ok("group", "heal", "-g", GROUP)
        assert "gave the server back 1 entry" in out
        assert "log op" not in out  # the protocol's words only with --verbose
        dana.ok("sync", "-g", GROUP)
        dana.ok("issue", "new", "--title", "after the heal", "-g", GROUP)
        listed = sam.ok("issue", "list", "-g", GROUP)
        assert "lost in the restore" in listed
        assert "after the heal" in listed
        assert sam.json("verify", "-g", GROUP)["ok"] is True
