"""Members running `chatham` in-process, each in a home of their own: shared by the CLI tests
here and the end-to-end tests (tests/e2e puts this folder on `sys.path`)."""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from chatham.client.cli import main

UNLIMITED = {"CHATHAM_SERVER_RATE_AUTH": "0", "CHATHAM_SERVER_RATE_JOIN": "0"}
"""For a server started in this environment: every in-process command logs in anew, as a
separate `chatham` process would, far more often than the per-address limits allow."""


@contextlib.contextmanager
def environment(values: dict[str, str]) -> Iterator[None]:
    """`os.environ` with `values` set, as it was again afterwards."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def member_env(root: Path, name: str, passphrase: str) -> tuple[Path, dict[str, str]]:
    """A member's home under `root`, and what `chatham` needs to run as them: that home, the
    passphrase, a private runtime directory (for the unlock session) and no colour."""
    home = root / f"home-{name.lower()}"
    run = root / f"run-{name.lower()}"
    run.mkdir(mode=0o700)
    env = {
        "CHATHAM_HOME": str(home),
        "CHATHAM_PASSPHRASE": passphrase,
        "XDG_RUNTIME_DIR": str(run),
        "NO_COLOR": "1",
    }
    return home, env


class CliMember:
    """`chatham` in-process as one member: `init` and an hour's unlock session when made;
    calling it runs one command and gives (exit code, stdout, stderr)."""

    def __init__(self, name: str, root: Path, passphrase: str, **env: str) -> None:
        self.name = name
        self.home, self.env = member_env(root, name, passphrase)
        self.env.update(env)
        self.ok("init", "--name", name)
        self.ok("unlock", "--for", "1h")
        me = self.json("whoami")
        self.id: str = me["id"]
        self.fingerprint: str = me["fingerprint"]

    def __call__(self, *args: str, stdin: str = "") -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        saved = sys.stdin
        sys.stdin = io.StringIO(stdin)
        try:
            with (
                environment(self.env),
                contextlib.redirect_stdout(out),
                contextlib.redirect_stderr(err),
            ):
                code = main(list(args))
        finally:
            sys.stdin = saved
        return code, out.getvalue(), err.getvalue()

    def ok(self, *args: str, stdin: str = "") -> str:
        """The output of a command that must succeed and print nothing on stderr."""
        code, out, err = self(*args, stdin=stdin)
        assert code == 0, err
        assert err == "", err
        return out

    def json(self, *args: str) -> Any:
        return json.loads(self.ok(*args, "--json"))

    def fails(self, *args: str, stdin: str = "", code: int = 2) -> list[str]:
        """The error lines of a command that must fail and print nothing on stdout."""
        got, out, err = self(*args, stdin=stdin)
        assert got == code, (got, err)
        assert out == ""
        return err.rstrip("\n").splitlines()


def admit(leader: CliMember, newcomer: CliMember, group: str) -> None:
    """invite → join (code on stdin) → the leader approves with the newcomer's fingerprint
    → the newcomer syncs; every command must succeed."""
    code = leader.ok("invite", "--name", newcomer.name, "-g", group).splitlines()[-1]
    newcomer.ok("join", "--group-name", group, stdin=code + "\n")
    [req] = [r for r in leader.json("requests", "-g", group) if r["member"] == newcomer.id]
    leader.ok("approve", req["id"][:12], "--fingerprint", newcomer.fingerprint, "-g", group)
    newcomer.ok("sync", "-g", group)
