"""The `chatham-server` command line: help, migrate, issue-token, errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from chatham.server._private.storage.migrate import head_revision
from chatham.server.cli import app
from typer.testing import CliRunner

runner = CliRunner()


def test_help_names_options_and_env_vars() -> None:
    r = runner.invoke(app, ["--help"], prog_name="chatham-server")
    assert r.exit_code == 0
    for text in (
        "--data-dir",
        "--host",
        "--port",
        "--database",
        "--open-registration",
        "CHATHAM_SERVER_DATA_DIR",
        "CHATHAM_SERVER_DATABASE_URL",
        "CHATHAM_SERVER_OPEN_REGISTRATION",
        "migrate",
        "issue-token",
    ):
        assert text in r.output, text


def test_console_script_help() -> None:
    exe = Path(sys.executable).with_name("chatham-server")
    r = subprocess.run(
        [str(exe), "--help"], capture_output=True, text=True, timeout=60, check=False
    )
    assert r.returncode == 0
    assert "chatham-server" in r.stdout


def test_migrate_and_issue_token(tmp_path: Path, server_database: Any) -> None:
    args = ["--data-dir", str(tmp_path / "data")]
    if server_database.url:
        args += ["--database", server_database.url]
    r = runner.invoke(app, [*args, "migrate"])
    assert r.exit_code == 0, r.output
    assert f"revision {head_revision()}" in r.output
    r = runner.invoke(app, [*args, "issue-token", "--uses", "3"])
    assert r.exit_code == 0, r.output
    token = r.stdout.strip().splitlines()[0]
    assert len(token) == 43


def test_bad_database_url_is_a_clear_error(tmp_path: Path) -> None:
    r = runner.invoke(app, ["--database", "mysql://x", "migrate"])
    assert r.exit_code == 1
    assert "chatham-server: error:" in r.output
    assert "chatham-server: hint:" in r.output


def test_env_vars_configure_the_server(tmp_path: Path) -> None:
    data = tmp_path / "from-env"
    r = runner.invoke(app, ["migrate"], env={"CHATHAM_SERVER_DATA_DIR": str(data)})
    assert r.exit_code == 0, r.output
    assert (data / "chatham.sqlite3").exists()
    assert (data.stat().st_mode & 0o777) == 0o700
    assert ((data / "chatham.sqlite3").stat().st_mode & 0o777) == 0o600


def _server(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).with_name("chatham-server")
    return subprocess.run(
        [str(exe), *args], capture_output=True, text=True, timeout=120, check=False, env=env
    )


def test_version() -> None:
    r = _server("--version")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("chatham-server ")


def test_options_after_the_command_apply_and_the_token_says_where_it_went(
    tmp_path: Path,
) -> None:
    """`issue-token --data-dir X` writes into X (not the default directory), and says so."""
    import os

    data = tmp_path / "srv"
    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path / "xdg")}
    r = _server("issue-token", "--data-dir", str(data), env=env)
    assert r.returncode == 0, r.stderr
    assert len(r.stdout.strip()) == 43
    assert list(data.glob("*.sqlite3"))
    assert not (tmp_path / "xdg").exists()
    assert f"stored in {data}" in r.stderr
    assert "start the server with the same --data-dir or --database" in r.stderr


def test_a_failed_command_prints_the_cause_but_not_the_statement_or_its_values(
    tmp_path: Path, capsys: Any, monkeypatch: Any
) -> None:
    # A database error's message goes on with the SQL and the row values it carried (for a
    # restore, the backup's rows): the hint keeps its first line only.
    import sqlalchemy.exc
    from chatham.server._private.services import backup as backup_service
    from chatham.server.cli import main

    def failing(settings: Any, source: Path) -> None:
        raise sqlalchemy.exc.OperationalError(
            "INSERT INTO entries VALUES (?)", (b"the-rows-of-the-backup",), Exception("disk full")
        )

    monkeypatch.setattr(backup_service, "restore", failing)
    source = tmp_path / "b.sqlite3"
    source.write_bytes(b"")
    with pytest.raises(SystemExit) as done:
        main(["restore", str(source), "--data-dir", str(tmp_path / "new")])
    assert done.value.code == 1
    err = capsys.readouterr().err
    assert "chatham-server: error: restore failed: OperationalError" in err
    assert "chatham-server: hint: (builtins.Exception) disk full" in err
    assert "the-rows-of-the-backup" not in err
    assert "INSERT" not in err


@pytest.mark.parametrize(
    "name",
    [
        "send_timeout",
        "upload_ttl",
        "events_per_device",
        "events_max_streams",
        "events_poll",
        "events_keepalive",
    ],
)
def test_a_limit_of_zero_is_refused_with_a_hint(
    name: str, tmp_path: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Zero would close every connection that waits to write, delete uploads at once, refuse
    # every event stream, or poll (or send keepalives) without pause: never what an operator
    # means.
    from chatham.server.cli import main

    monkeypatch.setenv(f"CHATHAM_SERVER_{name.upper()}", "0")
    with pytest.raises(SystemExit) as done:
        main(["migrate", "--data-dir", str(tmp_path)])
    assert done.value.code == 1
    error, hint = capsys.readouterr().err.splitlines()[-2:]
    assert error == f"chatham-server: error: {name} must be positive"
    assert hint.startswith("chatham-server: hint: ")
    assert not (tmp_path / "chatham.sqlite3").exists()
