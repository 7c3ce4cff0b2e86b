"""A member's client process can neither dump core nor hand the passphrase on: a crash report
or a program the client starts (the editor, a browser) would otherwise receive the keys and
the passphrase. Each check runs in a process of its own, as `chatham` and `chatham web` do."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import httpx
import pytest
from chatham.client import Account

from tests.support.web_member import start_web

SECRET = "a passphrase nobody else may read"

REPORT = r"""
import ctypes, json, os, resource, subprocess, sys
from chatham.client import cli, env_passphrase

def report(argv=None):
    child = subprocess.run(
        ["sh", "-c", "echo ${CHATHAM_PASSPHRASE-unset}; ulimit -c"],
        capture_output=True, text=True, check=True,
    ).stdout.split()
    print(json.dumps({
        "core": list(resource.getrlimit(resource.RLIMIT_CORE)),
        "dumpable": ctypes.CDLL(None).prctl(3, 0, 0, 0, 0),  # PR_GET_DUMPABLE
        "in_environ": "CHATHAM_PASSPHRASE" in os.environ,
        "proc_environ": SECRET.encode() in open("/proc/self/environ", "rb").read(),
        "still_usable": env_passphrase() == SECRET,
        "child_env": child[0],
        "child_core": child[1],
    }))
    return 0

cli.main = report
cli.run()
"""


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CHATHAM_", "XDG_RUNTIME"))}
    return {**env, **extra}


def test_the_chatham_program_starts_through_the_hardening_entry_point() -> None:
    (script,) = entry_points(group="console_scripts", name="chatham")
    assert script.value == "chatham.client.cli:run"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc and prctl")
def test_a_client_process_cannot_dump_core_and_hands_no_child_the_passphrase() -> None:
    got = subprocess.run(
        [sys.executable, "-c", f"SECRET = {SECRET!r}\n" + REPORT],
        env=clean_env(CHATHAM_PASSPHRASE=SECRET),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    seen = json.loads(got.stdout)
    assert seen["core"] == [0, 0]  # no core file, and no child may raise the limit again
    assert seen["dumpable"] == 0  # no crash handler, debugger or /proc/PID/mem reader
    assert seen["in_environ"] is False
    assert seen["proc_environ"] is False  # the kernel's copy of the environment is wiped
    assert seen["still_usable"] is True  # the passphrase still unlocks, from memory
    assert seen["child_env"] == "unset"
    assert seen["child_core"] == "0"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_chatham_web_unlocks_from_the_variable_then_keeps_it_nowhere_visible(
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    run = tmp_path / "run"
    run.mkdir(mode=0o700)
    Account.init(home, passphrase=SECRET, name="Dana").close()
    env = clean_env(CHATHAM_HOME=str(home), XDG_RUNTIME_DIR=str(run), CHATHAM_PASSPHRASE=SECRET)
    proc, url = start_web(env)
    try:
        assert url.startswith("http://127.0.0.1:")
        limits = Path(f"/proc/{proc.pid}/limits").read_text()
        (core,) = [line for line in limits.splitlines() if line.startswith("Max core file size")]
        assert core.split()[4:6] == ["0", "0"]
        assert SECRET.encode() not in Path(f"/proc/{proc.pid}/environ").read_bytes()
        with httpx.Client(follow_redirects=True, timeout=30) as http:
            page = http.get(url)
        assert page.status_code == 200
        assert not page.url.path.startswith("/unlock")  # it did unlock from the variable
    finally:
        proc.terminate()
        proc.wait(timeout=15)
        if proc.stdout is not None:
            proc.stdout.close()
