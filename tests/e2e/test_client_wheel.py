"""The member's install: a clean virtual environment with only the client wheel (no server
stack) runs a member's month against a server started from the development environment.

`make test` builds the wheel into dist/ (CHATHAM_WHEELS=dist); run alone, this test builds
one itself. Installing the wheel fetches its dependencies from the package index."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import pytest
from chatham.server.testing import live_server

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
SERVER_ONLY = {"sqlalchemy", "asyncpg", "alembic", "uvloop", "httptools"}


def _wheel(tmp_path: Path) -> Path:
    where = os.environ.get("CHATHAM_WHEELS")
    if where:
        found = sorted((ROOT / where).glob("chatham-*.whl"))
        if found:
            return found[-1]
    out = tmp_path / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(out), str(ROOT)],
        check=True,
        timeout=600,
    )
    [wheel] = out.glob("chatham-*.whl")
    return wheel


def test_a_clean_venv_with_only_the_client_wheel_runs_a_members_month(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    py = venv / "bin" / "python"
    subprocess.run(
        [str(py), "-m", "pip", "install", "--quiet", str(_wheel(tmp_path))],
        check=True,
        timeout=900,
        cwd=tmp_path,
    )
    listed = subprocess.run(
        [str(py), "-m", "pip", "list", "--format", "json"],
        check=True,
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    installed = {p["name"].lower() for p in json.loads(listed.stdout)}
    assert "chatham" in installed
    assert not installed & SERVER_ONLY, installed & SERVER_ONLY
    chatham = str(venv / "bin" / "chatham")

    def env_of(name: str) -> dict[str, str]:
        run = tmp_path / f"run-{name}"
        run.mkdir(mode=0o700, exist_ok=True)
        keep = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "HOME")}
        return keep | {
            "CHATHAM_HOME": str(tmp_path / f"home-{name}"),
            "CHATHAM_PASSPHRASE": f"the passphrase of {name}",
            "XDG_RUNTIME_DIR": str(run),
            "NO_COLOR": "1",
            "COLUMNS": "200",
        }

    def run(name: str, *args: str, stdin: str = "") -> str:
        r = subprocess.run(
            [chatham, *args],
            input=stdin,
            capture_output=True,
            text=True,
            env=env_of(name),
            cwd=tmp_path,
            timeout=120,
            check=False,
        )
        assert r.returncode == 0, (args, r.stderr)
        return r.stdout

    server_cmd = subprocess.run(
        [str(venv / "bin" / "chatham-server")],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
        check=False,
    )
    assert server_cmd.returncode == 1
    assert "chatham[server]" in server_cmd.stderr

    soon = (date.today() + timedelta(days=7)).isoformat()
    with live_server(tmp_path / "server") as server:
        assert run("dana", "--version").startswith("chatham ")
        run("dana", "init", "--name", "Dana")
        run("sam", "init", "--name", "Sam")
        run("dana", "group", "create", "Thursday Forum", "--server", server.url)
        invite = run("dana", "invite", "--name", "Sam").splitlines()[-1]
        run("sam", "join", stdin=invite + "\n")
        [req] = json.loads(run("dana", "requests", "--json"))
        sam_words = json.loads(run("sam", "whoami", "--json"))["fingerprint"]
        run("dana", "approve", req["id"], "--fingerprint", sam_words)
        assert "Thursday Forum" in run("sam", "sync")
        run("sam", "issue", "new", "--title", "Selling the company?", "--what", "An offer")
        meeting = json.loads(
            run("dana", "meeting", "new", "--date", soon, "--title", "December", "--json")
        )["id"]
        run("dana", "agenda", "--publish")
        run("dana", "meeting", "open", meeting[:8])
        run("dana", "note", "new", "--body", "-", stdin="# Notes\n\nSam presented.\n")
        made = json.loads(run("sam", "commit", "new", "Call the bank", "--json"))["id"]
        run("dana", "meeting", "close")
        run("sam", "commit", "done", made[:8], "--report", "The bank agreed")
        later = (date.today() + timedelta(days=35)).isoformat()
        run("dana", "meeting", "new", "--date", later, "--title", "January")
        assert "The bank agreed" in run("dana", "review", "--all")
        [hit] = json.loads(run("dana", "search", "offer", "--json"))
        assert hit["passage"] == "An offer"
        out = tmp_path / "export"
        run("sam", "export", "--format", "markdown", str(out))
        assert (out / "issues.md").read_text().startswith("# Issues")
        assert "Dana" in run("sam", "members")


def test_the_wheel_builds_without_a_warning(tmp_path: Path) -> None:
    """Deprecated settings (the licence as a table, say) warn at build time; none may."""
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-v", "--no-deps", "-w", str(tmp_path), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    log = built.stdout + built.stderr
    assert "Warning:" not in log
    assert "deprecated" not in log
