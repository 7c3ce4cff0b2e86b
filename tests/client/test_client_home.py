"""The member home: keystore, passphrase sources, unlock sessions, the editor's private files."""

from __future__ import annotations

import os
import shutil
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from chatham.client import Account, Home, errors, parse_duration, runtime_dir, scrubbed_env
from chatham.client.cli.editor import drafting

PASSPHRASE = "correct horse battery staple"


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One real keystore (Argon2id MODERATE is slow on purpose), copied for each test."""
    path = tmp_path_factory.mktemp("template") / "home"
    Account.init(path, passphrase=PASSPHRASE, name="Dana").close()
    return path


@pytest.fixture
def home(template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Home]:
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "run"))
    (tmp_path / "run").mkdir(mode=0o700)
    monkeypatch.delenv("CHATHAM_PASSPHRASE", raising=False)
    path = tmp_path / "home"
    shutil.copytree(template, path)
    return Home(path)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_init_makes_private_files(home: Home) -> None:
    assert mode(home.path) == 0o700
    assert mode(home.keystore_path) == 0o600
    assert mode(home.store_path) == 0o600
    with pytest.raises(errors.AlreadyInitialized):
        Account.init(home.path, passphrase="another one entirely")


def test_wrong_passphrase_changes_nothing(home: Home) -> None:
    before = {p.name: p.read_bytes() for p in home.path.iterdir()}
    with pytest.raises(errors.WrongPassphrase) as info:
        Account.open(home, passphrase="not it")
    assert info.value.hint
    assert {p.name: p.read_bytes() for p in home.path.iterdir()} == before
    with Account.open(home, passphrase=PASSPHRASE) as j:
        assert j.name == "Dana"


def test_passphrase_sources(home: Home, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(errors.Locked):
        Account.open(home)
    monkeypatch.setenv("CHATHAM_PASSPHRASE", PASSPHRASE)
    with Account.open(home) as j:
        member = j.member_id
    monkeypatch.delenv("CHATHAM_PASSPHRASE")
    with Account.open(home, prompt=lambda: PASSPHRASE) as j:
        assert j.member_id == member


def test_unlock_session(home: Home) -> None:
    secrets, key = home.unlock(passphrase=PASSPHRASE)
    expires = home.start_session(key, 60)
    path = home.session_path()
    assert mode(path) == 0o600
    assert mode(path.parent) == 0o700
    blob = path.read_bytes()
    assert PASSPHRASE.encode() not in blob
    t0 = time.perf_counter()
    with Account.open(home) as j:  # no passphrase anywhere: the session opens it
        assert j.member_id == secrets.member.id.hex()
    assert time.perf_counter() - t0 < 0.2  # no Argon2id
    assert home.session_expires() == pytest.approx(expires)
    # Expired: ignored and removed.
    with pytest.raises(errors.Locked):
        Account.open(home, clock=lambda: expires + 1)
    assert not path.exists()
    # Locked again on request.
    home.start_session(key, 60)
    assert home.end_session()
    assert not path.exists()
    with pytest.raises(errors.Locked):
        Account.open(home)


def test_session_is_bound_to_its_keystore(home: Home, tmp_path: Path) -> None:
    _, key = home.unlock(passphrase=PASSPHRASE)
    home.start_session(key, 60)
    other = Home(tmp_path / "other")
    Account.init(other.path, passphrase="a different passphrase").close()
    home.keystore_path.write_bytes(other.keystore_path.read_bytes())
    with pytest.raises(errors.Locked):
        Account.open(home)  # the session's key is for the old keystore: not used


def test_session_refuses_unsafe_runtime_dir(home: Home, tmp_path: Path) -> None:
    run = tmp_path / "run" / "chatham"
    run.mkdir(mode=0o700, exist_ok=True)
    run.chmod(0o755)
    with pytest.raises(errors.UnsafePermissions):
        runtime_dir()
    run.chmod(0o700)
    _, key = home.unlock(passphrase=PASSPHRASE)
    home.start_session(key, 60)
    home.session_path().chmod(0o644)
    with pytest.raises(errors.UnsafePermissions):
        Account.open(home)


def _a_session_opens_from_a_private_directory(
    home: Home, run: Path, shared: Path, planted: Path
) -> None:
    """`run` is the member's own (0700, outside `shared`), and an unlock session started
    there opens the account without a passphrase, writing nothing into `planted`."""
    assert shared not in run.parents
    st = run.lstat()
    assert st.st_uid == os.getuid()
    assert stat.S_IMODE(st.st_mode) == 0o700
    _, key = home.unlock(passphrase=PASSPHRASE)
    home.start_session(key, 60)
    assert Account.open(home).member_id  # the session opens it, no passphrase needed
    assert list(planted.iterdir()) == []  # nothing was written where another user can read


def test_another_user_cannot_lock_a_member_out_of_unlock_sessions(
    home: Home, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without XDG_RUNTIME_DIR, a directory someone else made first in the shared temp dir
    (`/tmp/chatham-UID`) is never used: sessions go to a directory the member owns."""
    import tempfile

    shared = tmp_path / "tmp"
    shared.mkdir(mode=0o1777)
    planted = shared / f"chatham-{os.getuid()}"
    planted.mkdir(mode=0o777)
    if os.getuid() == 0:
        os.chown(planted, 65534, 65534)  # another local user's, as they would have made it
    monkeypatch.setattr(tempfile, "tempdir", str(shared))
    monkeypatch.setenv("TMPDIR", str(shared))
    monkeypatch.delenv("XDG_RUNTIME_DIR")
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("HOME", str(tmp_path / "member"))

    run = runtime_dir()
    if not Path(f"/run/user/{os.getuid()}").is_dir():
        assert run == tmp_path / "state" / "chatham" / "run"
    _a_session_opens_from_a_private_directory(home, run, shared, planted)
    assert home.session_path().parent == run


def test_a_runtime_dir_of_another_user_is_refused_with_a_way_out(
    home: Home, tmp_path: Path
) -> None:
    if os.getuid() != 0:
        pytest.skip("making a directory of another user needs root")
    run = tmp_path / "run" / "chatham"
    run.mkdir(mode=0o700)
    os.chown(run, 65534, 65534)
    with pytest.raises(errors.UnsafePermissions) as e:
        runtime_dir()
    assert "belongs to another user" in e.value.message
    assert "chmod" not in e.value.hint  # chmod cannot help with a directory you do not own
    assert "XDG_RUNTIME_DIR" in e.value.hint


def test_durations() -> None:
    assert parse_duration("90s") == 90
    assert parse_duration("15m") == 900
    assert parse_duration("2h") == 7200
    assert parse_duration("1d") == 86400
    assert parse_duration("45") == 45
    for bad in ("", "m", "-5m", "0", "soon"):
        with pytest.raises(errors.UsageError):
            parse_duration(bad)


def test_children_never_see_the_passphrase(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHATHAM_PASSPHRASE", PASSPHRASE)
    assert "CHATHAM_PASSPHRASE" not in scrubbed_env()
    assert "PATH" in scrubbed_env()


def test_editor_runs_privately(home: Home, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHATHAM_PASSPHRASE", PASSPHRASE)
    report = tmp_path / "report"
    editor = tmp_path / "editor.py"
    editor.write_text(
        "import os, stat, sys\n"
        "p = sys.argv[1]\n"
        "st = os.stat(p); d = os.stat(os.path.dirname(p))\n"
        f"open({str(report)!r}, 'w').write("
        'f"{oct(stat.S_IMODE(st.st_mode))} {oct(stat.S_IMODE(d.st_mode))} '
        "{'CHATHAM_PASSPHRASE' in os.environ} {p}\")\n"
        "text = open(p).read()\n"
        "open(p, 'w').write(text + 'typed in the editor')\n"
    )
    monkeypatch.setenv("EDITOR", f"{sys.executable} {editor}")
    monkeypatch.delenv("VISUAL", raising=False)
    with drafting("test-draft") as draft:
        assert draft.edit("draft: ") == "draft: typed in the editor"
    file_mode, dir_mode, leaked, path = report.read_text().split(" ", 3)
    assert (file_mode, dir_mode, leaked) == ("0o600", "0o700", "False")
    assert path.startswith(str(tmp_path / "run"))
    assert not os.path.exists(path)


def test_a_shared_xdg_runtime_dir_cannot_be_used_to_lock_a_member_out(
    home: Home, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """XDG_RUNTIME_DIR set to a shared directory (`/tmp` in some containers, or another
    user's after `su`): a `chatham` someone else made there first is never used, and the
    member still gets a private directory of their own."""
    shared = tmp_path / "tmp"
    shared.mkdir()
    shared.chmod(0o1777)
    planted = shared / "chatham"
    planted.mkdir()
    planted.chmod(0o777)
    if os.getuid() == 0:
        os.chown(planted, 65534, 65534)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(shared))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("HOME", str(tmp_path / "member"))

    _a_session_opens_from_a_private_directory(home, runtime_dir(), shared, planted)


def test_a_runtime_dir_base_of_another_user_is_passed_over(
    home: Home, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After `su`, XDG_RUNTIME_DIR still names the first user's directory."""
    if os.getuid() != 0:
        pytest.skip("making a directory of another user needs root")
    theirs = tmp_path / "theirs"
    theirs.mkdir(mode=0o700)
    os.chown(theirs, 65534, 65534)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(theirs))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    run = runtime_dir()
    assert theirs not in run.parents
    assert run.lstat().st_uid == os.getuid()
    assert list(theirs.iterdir()) == []


def test_wiping_overwrites_every_byte_of_a_large_file_before_removing_it(tmp_path: Path) -> None:
    import os

    from chatham.client import shred

    big = tmp_path / "download.bin"
    big.write_bytes(b"\xff" * (3 * (1 << 20) + 17))
    keep = os.open(big, os.O_RDONLY)  # the inode stays readable after the unlink
    try:
        shred(big)
        assert not big.exists()
        left = os.read(keep, 4 * (1 << 20))
    finally:
        os.close(keep)
    assert len(left) == 3 * (1 << 20) + 17
    assert left == bytes(len(left))


# --- changing the passphrase ----------------------------------------------------------------

NEW_PASSPHRASE = "a different horse entirely"
CHATHAM = Path(sys.executable).with_name("chatham")


def opens_with(home: Home) -> list[str]:
    """Which of the two passphrases open the keystore (the session is not used)."""
    works = []
    for p in (PASSPHRASE, NEW_PASSPHRASE):
        try:
            home.unlock(passphrase=p)
        except errors.WrongPassphrase:
            continue
        works.append(p)
    return works


def files(home: Home) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in home.path.iterdir()}


def test_changing_the_passphrase_keeps_the_keys_and_ends_the_session(home: Home) -> None:
    with Account.open(home, passphrase=PASSPHRASE) as j:
        member, device = j.member_id, j.device_id
    _, key = home.unlock(passphrase=PASSPHRASE)
    home.start_session(key, 600)
    home.change_passphrase(PASSPHRASE, NEW_PASSPHRASE)
    assert opens_with(home) == [NEW_PASSPHRASE]
    assert home.session_expires() is None  # its key opened only the old file
    with pytest.raises(errors.WrongPassphrase):
        Account.open(home, passphrase=PASSPHRASE)
    with Account.open(home, passphrase=NEW_PASSPHRASE) as j:
        assert (j.member_id, j.device_id, j.name) == (member, device, "Dana")  # the store opens
    assert mode(home.keystore_path) == 0o600
    assert sorted(p.name for p in home.path.iterdir()) == ["keystore", "store.sqlite3"]


@pytest.mark.parametrize(
    ("old", "new", "error"),
    [
        ("not it", NEW_PASSPHRASE, errors.WrongPassphrase),
        (PASSPHRASE, "short", errors.UsageError),
        (PASSPHRASE, PASSPHRASE, errors.UsageError),
    ],
    ids=["wrong-old", "weak-new", "same"],
)
def test_a_refused_passphrase_change_changes_nothing(
    home: Home, old: str, new: str, error: type[errors.ChathamError]
) -> None:
    _, key = home.unlock(passphrase=PASSPHRASE)
    home.start_session(key, 600)
    before = files(home)
    with pytest.raises(error) as info:
        home.change_passphrase(old, new)
    assert "nothing was changed" in (info.value.hint or "")
    assert files(home) == before
    assert home.session_expires() is not None
    assert opens_with(home) == [PASSPHRASE]


# Each point kills the changing process with SIGKILL: before anything is written, with the new
# file half written, written but not synced, synced but not renamed, renamed but the directory
# not synced, and after everything but ending the session.
CRASH_SCRIPT = """
import os, signal, sys
from pathlib import Path
from chatham import crypto
from chatham.client import Home
from chatham.client._private.local import home as home_module  # its os, as it calls it

point = sys.argv[2]
die = lambda: os.kill(os.getpid(), signal.SIGKILL)
real = {"write": os.write, "replace": os.replace}
if point == "seal":
    crypto.seal_keystore = lambda *a, **k: die()
elif point == "half-written":
    home_module.os.write = lambda fd, data: (real["write"](fd, data[: len(data) // 2]), die())
elif point == "before-fsync":
    home_module.os.fsync = lambda fd: die()
elif point == "before-rename":
    home_module.os.replace = lambda a, b: die()
elif point == "after-rename":
    home_module.os.replace = lambda a, b: (real["replace"](a, b), die())
elif point == "before-session-ends":
    Home.end_session = lambda self: die()
Home(Path(sys.argv[1])).change_passphrase(sys.argv[3], sys.argv[4])
print("finished")
"""

CRASH_POINTS = [
    ("seal", PASSPHRASE),
    ("half-written", PASSPHRASE),
    ("before-fsync", PASSPHRASE),
    ("before-rename", PASSPHRASE),
    ("after-rename", NEW_PASSPHRASE),
    ("before-session-ends", NEW_PASSPHRASE),
]


@pytest.mark.slow
@pytest.mark.parametrize(("point", "survives"), CRASH_POINTS, ids=[p for p, _ in CRASH_POINTS])
def test_a_passphrase_change_killed_midway_leaves_a_keystore_that_opens(
    home: Home, point: str, survives: str
) -> None:
    with Account.open(home, passphrase=PASSPHRASE) as j:
        member = j.member_id
    before = files(home)
    r = subprocess.run(
        [sys.executable, "-c", CRASH_SCRIPT, str(home.path), point, PASSPHRASE, NEW_PASSPHRASE],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert r.returncode == -signal.SIGKILL, (r.returncode, r.stderr)
    assert opens_with(home) == [survives]  # exactly one of the two, and the expected one
    assert files(home)["store.sqlite3"] == before["store.sqlite3"]
    with Account.open(home, passphrase=survives) as j:
        assert (j.member_id, j.name) == (member, "Dana")
    # A change that died leaves at most a stray temporary file, which the next change clears.
    home.change_passphrase(survives, "and a third one, finally")
    assert sorted(p.name for p in home.path.iterdir()) == ["keystore", "store.sqlite3"]


@pytest.mark.slow
def test_chatham_passphrase_killed_at_random_moments_loses_nothing(
    home: Home, tmp_path: Path
) -> None:
    """The real command, killed with SIGKILL after a few different delays."""
    with Account.open(home, passphrase=PASSPHRASE) as j:
        member = j.member_id
    new = tmp_path / "new"
    new.write_text(NEW_PASSPHRASE + "\n")
    env = {**os.environ, "CHATHAM_HOME": str(home.path), "NO_COLOR": "1"}
    current = PASSPHRASE
    for delay in (0.3, 0.8, 1.3, 30.0):
        target = tmp_path / f"target-{delay}"
        nxt = NEW_PASSPHRASE if current == PASSPHRASE else PASSPHRASE
        target.write_text(nxt)
        target.chmod(0o600)
        proc = subprocess.Popen(
            [str(CHATHAM), "passphrase", "--new-passphrase", f"@{target}"],
            env={**env, "CHATHAM_PASSPHRASE": current},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            proc.wait(timeout=delay)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
        works = opens_with(home)
        assert len(works) == 1, (delay, works)
        if proc.returncode == 0:
            assert works == [nxt]
        current = works[0]
        with Account.open(home, passphrase=current) as j:
            assert (j.member_id, j.name) == (member, "Dana")
    assert proc.returncode == 0  # the last one, given its time, finished


@pytest.mark.slow
def test_chatham_passphrase_reads_secrets_only_from_safe_places(home: Home, tmp_path: Path) -> None:
    env = {**os.environ, "CHATHAM_HOME": str(home.path), "NO_COLOR": "1"}

    def run(
        *args: str, old: str | None = PASSPHRASE, first: tuple[str, ...] = ()
    ) -> subprocess.CompletedProcess[str]:
        e = {**env, "CHATHAM_PASSPHRASE": old} if old else env
        return subprocess.run(
            [str(CHATHAM), *first, "passphrase", *args],
            env=e,
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            timeout=120,
            check=False,
        )

    before = files(home)
    refused = [
        run("--new-passphrase", NEW_PASSPHRASE),  # a literal on the command line
        run("--new-passphrase", "@" + str(tmp_path / "missing")),
        run(),  # no terminal to ask on
        run("--new-passphrase", "-", first=("--passphrase-file", "-")),
    ]
    short = tmp_path / "short"
    short.write_text("short\n")
    short.chmod(0o600)
    refused.append(run("--new-passphrase", f"@{short}"))
    good = tmp_path / "good"
    good.write_text(NEW_PASSPHRASE + "\n")
    refused.append(run("--new-passphrase", f"@{good}"))  # others can read it (0644)
    assert "can be read by other users" in refused[-1].stderr
    good.chmod(0o600)
    refused.append(run("--new-passphrase", f"@{good}", old="not the passphrase"))
    for r in refused:
        assert r.returncode != 0
        assert r.stderr.startswith("chatham: error: "), r.stderr
        assert "chatham: hint: " in r.stderr
        assert NEW_PASSPHRASE not in r.stderr + r.stdout
    assert files(home) == before
    r = run("--new-passphrase", f"@{good}")
    assert r.returncode == 0, r.stderr
    assert "passphrase changed" in r.stdout
    assert opens_with(home) == [NEW_PASSPHRASE]
    # From standard input, and back again.
    r = subprocess.run(
        [str(CHATHAM), "passphrase", "--new-passphrase", "-"],
        env={**env, "CHATHAM_PASSPHRASE": NEW_PASSPHRASE},
        input=PASSPHRASE + "\n",
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert r.returncode == 0, r.stderr
    assert opens_with(home) == [PASSPHRASE]


def test_a_short_passphrase_is_refused_however_it_is_given(tmp_path: Path) -> None:
    """The floor holds in the library: `chatham init` with CHATHAM_PASSPHRASE (which never
    prompts) refuses it as the terminal prompt and the web app do, and creates nothing."""
    from tests.support.cli_member import member_env

    path, env = member_env(tmp_path, "Dana", "short")
    with pytest.raises(errors.UsageError, match="at least 8 characters"):
        Account.init(path, passphrase="short")
    assert not Home(path).exists()
    err = subprocess.run(
        [str(Path(sys.executable).with_name("chatham")), "init", "--name", "Dana"],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        check=False,
    ).stderr
    assert err.splitlines() == [
        "chatham: error: a passphrase needs at least 8 characters",
        "chatham: hint: nothing was changed; a few unrelated words make a good passphrase",
    ]
    assert not Home(path).exists()
