"""The CLI foundation against a real server: output contract, errors, JSON, text inputs."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from chatham.client.cli import hoist_global_options, main
from chatham.server.testing import CHATHAM, LiveServer

PASSPHRASE = "a passphrase for the cli tests"


class Cli:
    """Runs `chatham` in-process as one member (their own CHATHAM_HOME)."""

    def __init__(
        self, home: Path, capsys: pytest.CaptureFixture[str], mp: pytest.MonkeyPatch
    ) -> None:
        self.home, self.capsys, self.mp = home, capsys, mp

    def __call__(
        self, *args: str, stdin: str = "", passphrase: str | None = PASSPHRASE
    ) -> tuple[int, str, str]:
        self.mp.setenv("CHATHAM_HOME", str(self.home))
        if passphrase is None:
            self.mp.delenv("CHATHAM_PASSPHRASE", raising=False)
        else:
            self.mp.setenv("CHATHAM_PASSPHRASE", passphrase)
        self.mp.setattr(sys, "stdin", io.StringIO(stdin))
        code = main(list(args))
        out, err = self.capsys.readouterr()
        return code, out, err

    def ok(self, *args: str, **kw: Any) -> str:
        code, out, err = self(*args, **kw)
        assert code == 0, err
        return out

    def json(self, *args: str) -> Any:
        return json.loads(self.ok(*args, "--json"))


@pytest.fixture
def cli(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Cli:
    run = tmp_path / "run"
    run.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(run))
    monkeypatch.setenv("NO_COLOR", "1")
    return Cli(tmp_path / "home", capsys, monkeypatch)


def errors_of(err: str) -> list[str]:
    return err.rstrip("\n").splitlines()


def test_help_is_fast_because_it_imports_little() -> None:
    probe = (
        "import sys, chatham.client.cli\n"
        "print(sorted(m for m in ('httpx', 'sqlite3', 'chatham.crypto', 'nacl', 'rich.console')"
        " if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"
    help_text = subprocess.run(
        [CHATHAM, "--help"], capture_output=True, text=True, check=True
    ).stdout
    for command in ("init", "whoami", "sync", "verify", "unlock", "lock", "group"):
        assert command in help_text


def test_init_never_prompts_with_the_environment_passphrase(cli: Cli) -> None:
    out = cli.ok("init", "--name", "Dana")
    assert "fingerprint:" in out
    me = cli.json("whoami")
    assert set(me) >= {"id", "fingerprint"}
    assert len(me["id"]) == 64
    assert len(me["fingerprint"].split()) == 8
    code, _, err = cli("init", "--name", "Dana")
    assert code == 1
    assert errors_of(err)[0].startswith("chatham: error: ")
    assert "already holds a Chatham identity" in err


def test_init_without_any_passphrase_source_refuses(cli: Cli) -> None:
    code, out, err = cli("init", "--name", "Dana", passphrase=None)
    assert code == 1
    assert out == ""
    assert errors_of(err) == [
        "chatham: error: no passphrase to protect the new keystore",
        "chatham: hint: run on a terminal, or set CHATHAM_PASSPHRASE or --passphrase-file",
    ]
    assert not (cli.home / "keystore").exists()


def test_wrong_passphrase(cli: Cli, tmp_path: Path) -> None:
    cli.ok("init")
    wrong = tmp_path / "wrong"
    wrong.write_text("not the passphrase\n")
    wrong.chmod(0o600)
    code, _, err = cli("--passphrase-file", str(wrong), "whoami")
    assert code == 1
    assert errors_of(err) == [
        "chatham: error: wrong passphrase: the keystore did not open",
        "chatham: hint: nothing was changed; try again (case matters)",
    ]


def test_a_passphrase_file_other_users_can_read_is_refused_and_unlocks_nothing(
    cli: Cli, tmp_path: Path
) -> None:
    """As ssh does with a private key: a passphrase in a file others can read is no longer
    the member's alone; chatham says so rather than use it. A pipe (`<(pass show x)`) or
    stdin is fine."""
    cli.ok("init")
    shared = tmp_path / "passphrase.txt"
    shared.write_text(f"{PASSPHRASE}\n")
    shared.chmod(0o644)
    code, out, err = cli("--passphrase-file", str(shared), "whoami", passphrase=None)
    assert (code, out) == (2, "")
    assert errors_of(err) == [
        f"chatham: error: {shared} can be read by other users of this computer, "
        "so the passphrase in it is not yours alone",
        f"chatham: hint: nothing was unlocked; run `chmod 600 {shared}`, and change the "
        "passphrase if others may have read it",
    ]
    shared.chmod(0o600)
    code, *_ = cli("--passphrase-file", str(shared), "whoami", passphrase=None)
    assert code == 0
    code, *_ = cli("--passphrase-file", "-", "whoami", passphrase=None, stdin=PASSPHRASE)
    assert code == 0


def test_unlock_session_and_lock(cli: Cli) -> None:
    cli.ok("init", "--name", "Dana")
    assert "unlocked until" in cli.ok("unlock", "--for", "5m")
    assert len(cli.json("whoami")["id"]) == 64  # works with no passphrase anywhere
    code, *_ = cli("whoami", passphrase=None)
    assert code == 0
    assert cli.ok("lock", passphrase=None).strip() == "locked"
    code, _, err = cli("whoami", passphrase=None)
    assert code == 1
    assert errors_of(err)[0] == "chatham: error: the keystore is locked and no passphrase was given"


def test_groups_sync_and_verify(cli: Cli, real_server: LiveServer, tmp_path: Path) -> None:
    cli.ok("init", "--name", "Dana")
    cli.ok("unlock")
    name_file = tmp_path / "name.txt"
    name_file.write_text("Thursday Forum\n")
    out = cli.ok("group", "create", f"@{name_file}", "--server", real_server.url)
    assert "created group Thursday Forum" in out
    cli.ok("group", "create", "-", "--server", real_server.url, stdin="Second Circle\n")
    groups = cli.json("group", "list")
    assert [g["name"] for g in groups] == ["Thursday Forum", "Second Circle"]
    assert {"id", "name"} <= set(groups[0])
    assert groups[1]["current"]  # the group just created: the next steps act on it
    assert "now using Thursday Forum" in cli.ok("group", "use", "thursday forum")
    assert cli.json("group", "list")[0]["current"]
    assert "now using Second Circle" in cli.ok("group", "use", "second circle")
    assert cli.json("group", "list")[1]["current"]
    assert "up to date" in cli.ok("sync")
    report = cli.json("sync", "--group", groups[0]["id"][:8])  # a global option, anywhere
    assert report["status"] == "member"
    v = cli.json("verify")
    assert v["ok"] is True
    assert v["meeting_code"] is None
    assert v["log_ops"] == 2
    assert "everything verifies" in cli.ok("verify", "--offline")


def test_errors_come_from_one_dispatcher(cli: Cli, real_server: LiveServer) -> None:
    cli.ok("init", "--name", "Dana")
    code, out, err = cli("--group", "nope", "sync")
    assert (code, out) == (2, "")
    assert errors_of(err) == [
        "chatham: error: this home is in no group yet",
        "chatham: hint: create one with `chatham group create NAME --server URL`, "
        "or join with `chatham join`",
    ]
    cli.ok("group", "create", "Forum", "--server", real_server.url)
    code, _, err = cli("sync", "-g", "nope")
    assert code == 2
    assert errors_of(err) == [
        "chatham: error: no group matches 'nope'",
        "chatham: hint: see `chatham group list`",
    ]
    code, _, err = cli("group", "create")
    assert code == 2
    assert errors_of(err) == [
        "chatham: error: missing argument 'name'",
        "chatham: hint: see `chatham group create --help`",
    ]
    code, _, err = cli("group", "create", "X", "--server", "ftp://example.org")
    assert code == 2
    assert errors_of(err)[0] == "chatham: error: not a server address: 'ftp://example.org'"
    code, _, err = cli("group", "create", "X", "--server", "http://127.0.0.1:9")
    assert code == 1
    assert errors_of(err)[0] == "chatham: error: could not reach http://127.0.0.1:9 (ConnectError)"


def test_global_options_are_hoisted() -> None:
    assert hoist_global_options(["sync", "--group", "x", "--json"]) == [
        "--group",
        "x",
        "sync",
        "--json",
    ]
    assert hoist_global_options(["verify", "-g=x"]) == ["-g=x", "verify"]
    assert hoist_global_options(["group", "create", "--", "--group"]) == [
        "group",
        "create",
        "--",
        "--group",
    ]
