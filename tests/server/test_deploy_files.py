"""The deployment files docs/operations.md shows are the ones checked here: the systemd unit
passes `systemd-analyze verify` with no warning, and the Caddyfile passes `caddy validate`."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from chatham.server.testing import ensure_caddy

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "docs" / "examples" / "deploy"
OPERATIONS = (ROOT / "docs" / "operations.md").read_text()
INSTALLED_AT = "/opt/chatham/bin/chatham-server"


UNITS = ["chatham-server.service", "chatham-backup.service", "chatham-backup.timer"]


@pytest.mark.parametrize("name", [*UNITS, "Caddyfile", "nginx.conf"])
def test_operations_shows_each_deployment_file_as_it_is_checked(name: str) -> None:
    text = (DEPLOY / name).read_text()
    assert text in OPERATIONS, f"docs/operations.md does not show {name} as it is"


def test_the_systemd_units_verify_without_a_warning(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:  # docs/operations.md says so: checked where systemd is installed
        pytest.skip("systemd-analyze is not installed here (apt-get install systemd)")
    server = str(Path(sys.executable).with_name("chatham-server"))
    copies = []
    for name in UNITS:
        unit = (DEPLOY / name).read_text()
        copy = tmp_path / name
        copy.write_text(unit.replace(INSTALLED_AT, server))
        copies.append(str(copy))
    assert f"ExecStart={INSTALLED_AT} " in (DEPLOY / "chatham-server.service").read_text()
    done = subprocess.run(
        [analyze, "verify", *copies], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip() == "", done.stderr  # an unknown or misspelt key is only a warning


def test_a_misspelt_sandboxing_option_would_be_caught(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed here (apt-get install systemd)")
    server = str(Path(sys.executable).with_name("chatham-server"))
    unit = (DEPLOY / "chatham-server.service").read_text().replace(INSTALLED_AT, server)
    copy = tmp_path / "chatham-server.service"
    copy.write_text(unit.replace("ProtectHome=yes", "ProtectHomes=yes"))
    done = subprocess.run(
        [analyze, "verify", str(copy)], capture_output=True, text=True, timeout=60, check=False
    )
    assert "Unknown key 'ProtectHomes'" in done.stderr


def test_the_caddyfile_is_valid(tmp_path: Path) -> None:
    caddy = ensure_caddy()
    shutil.copy(DEPLOY / "Caddyfile", tmp_path / "Caddyfile")
    env = {**os.environ, "HOME": str(tmp_path), "XDG_DATA_HOME": str(tmp_path)}
    env["XDG_CONFIG_HOME"] = str(tmp_path)
    done = subprocess.run(
        [caddy, "validate", "--config", "Caddyfile", "--adapter", "caddyfile"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "Valid configuration" in done.stdout + done.stderr
