"""A server lost and rebuilt from a backup, seen by its members: a real server process,
`chatham-server backup` while it serves, the disk lost, `chatham-server restore` into a new
data directory, the server started again at the same address. Members see exactly what the
backup held; a member who read what came later keeps it."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from chatham.client import Account
from chatham.server.testing import SERVER

from tests.support.client_fixtures import admit
from tests.support.server_process import ServerProcess

pytestmark = pytest.mark.slow

PASSPHRASE = "backup passphrase"
OPEN = ["--rate-auth", "0", "--rate-join", "0"]


def _server_command(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([SERVER, *args], capture_output=True, text=True, timeout=120, check=False)


def test_members_see_exactly_the_backup_after_a_restore(tmp_path: Path) -> None:
    (tmp_path / "disk-1").mkdir()
    (tmp_path / "disk-2").mkdir()
    first = ServerProcess(tmp_path / "disk-1" / "data", args=OPEN).start()
    names = ("Dana", "Sam", "Ana")
    accounts = [Account.init(tmp_path / n, passphrase=PASSPHRASE, name=n) for n in names]
    try:
        dana = accounts[0].create_group("Forum", first.url)
        groups = [dana, *admit(dana, *accounts[1:])]
        _, sam, ana = groups
        sam.post(b"kept: before the backup")
        dana.post(b"kept: also before")
        for g in groups:
            g.sync()

        backup = tmp_path / "nightly.backup"
        done = _server_command("backup", str(backup), "--data-dir", str(first.data_dir))
        assert done.returncode == 0, done.stderr
        assert done.stdout == ""

        lost = sam.post(b"lost: written after the backup")
        dana.sync()  # Dana read it; Ana did not
        first.stop()

        # The disk is gone. A new data directory, the backup restored, the same address.
        second = ServerProcess(tmp_path / "disk-2" / "data", args=OPEN)
        done = _server_command("restore", str(backup), "--data-dir", str(second.data_dir))
        assert done.returncode == 0, done.stderr
        assert "members' clients will report anything written after the backup" in done.stderr
        second.port = first.port
        second.start()
        try:
            # Ana never saw the lost entry: she sees exactly what the backup held.
            report = ana.sync()
            assert report.alarms == ()
            assert sorted(e.body for e in ana.entries()) == [
                b"kept: also before",
                b"kept: before the backup",
            ]
            assert ana.verify().ok

            # Dana read the lost entry before the disk died: her device keeps its verified
            # copy, her sync says the server went back to an older copy, and her heal gives
            # the entry back (docs/operations.md, *What a restore does*; protocol §14).
            report = dana.sync()
            assert [a.kind for a in report.alarms] == ["RollbackError"]
            assert lost in [e.id for e in dana.entries()]
            assert not dana.verify().ok
            assert dana.heal().healed
            assert dana.sync().alarms == ()
            assert dana.verify().ok
            ana.sync()
            assert lost in [e.id for e in ana.entries()]

            # The restored server is the one the members know (same identity: no
            # ServerChanged), and the group goes on: Ana's next entry reaches Dana.
            ana.post(b"after the restore")
            dana.sync()
            assert b"after the restore" in [e.body for e in dana.entries()]
        finally:
            second.stop()
    finally:
        for a in accounts:
            a.close()
