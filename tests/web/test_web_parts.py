"""The web app's parts without a browser: Markdown stays safe, search passages, errors in
plain words, the loopback rule of `chatham web`, and the library's activity feed."""

from __future__ import annotations

from pathlib import Path

import pytest
from chatham.client import Home, errors
from chatham.client.cli import main
from chatham.client.web import Desk
from chatham.client.web.markdown import render
from chatham.client.web.search import passage
from chatham.client.web.serve import NotLoopback, loopback
from chatham.client.web.words import explain


@pytest.mark.parametrize(
    ("source", "present", "absent"),
    [
        ("<script>alert(1)</script>", "&lt;script&gt;", "<script"),
        ("<img src=x onerror=alert(1)>", "&lt;img", "<img"),
        ("[x](javascript:alert(1))", "javascript:alert(1)", "<a "),
        ("[bank](https://bank.example/a)", "(https://bank.example/a)</span>", "javascript"),
        ("![chart](https://tracker.example/p.png)", "[image: chart]", "<img"),
        ('[q](https://x.example/"onmouseover="a)', "%22onmouseover=%22a", 'onmouseover="'),
        ("<iframe src=https://evil.example></iframe>", "&lt;iframe", "<iframe"),
    ],
)
def test_markdown_is_text_where_it_could_be_code(source: str, present: str, absent: str) -> None:
    html = str(render(source))
    assert present in html
    assert absent not in html


def test_a_link_shows_its_address_and_leaks_no_referrer() -> None:
    html = str(render("see [the plan](https://example.org/plan)"))
    assert 'href="https://example.org/plan"' in html
    assert 'rel="noopener noreferrer nofollow"' in html
    assert "(https://example.org/plan)" in html
    # An address shown as its own label is not repeated.
    assert str(render("<https://example.org>")).count("https://example.org") == 2


def test_a_passage_is_found_without_regard_to_case_or_accents() -> None:
    p = passage(["Title", "We spoke about my Résumé and\nthe  bank"], "RESUME")
    assert p is not None
    assert (p.before, p.match, p.after) == ("We spoke about my ", "Résumé", " and the bank")
    long = "word " * 100 + "needle" + " word" * 100
    cut = passage([long], "needle")
    assert cut is not None
    assert cut.before.startswith("…")
    assert cut.after.endswith("…")
    assert passage(["nothing here"], "absent") is None


def test_errors_in_plain_words_never_name_terminal_commands() -> None:
    said = explain(errors.ChainGapError(record="ab12"))
    assert said.alarm
    assert "missing" in said.title
    assert "chain" not in said.title
    assert "leader" in said.todo
    said = explain(errors.RollbackError())
    assert said.alarm
    assert "older copy" in said.title
    said = explain(errors.Unreachable())
    assert not said.alarm
    assert "can't be reached" in said.title
    said = explain(errors.NotFound("no issue 'abcd' in this group", hint="see `chatham list`"))
    assert "`" not in said.todo
    assert "chatham" not in said.todo
    mismatch = errors.UsageError(
        "the fingerprint does not match", hint="ask them to read `chatham whoami` aloud again"
    )
    assert "the fingerprint on their screen" in explain(mismatch).todo


def test_an_alarm_is_told_by_what_its_check_means() -> None:
    future = explain(errors.ForgedOpError("op is dated in the future", check="future"))
    assert future.alarm
    assert future.title == "A change to the group is dated in the future"
    forged = explain(errors.ForgedOpError("bad op signature", check="signature"))
    assert "signature" in forged.title
    assert "older point" in explain(errors.ChainGapError("back", check="clock")).title
    assert "missing" in explain(errors.ChainGapError("gap", check="gap")).title


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1", "[::1]", "127.0.0.2"])
def test_loopback_addresses_are_accepted(host: str) -> None:
    assert loopback(host) in ("127.0.0.1", "::1", "127.0.0.2")


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.10", "example.org", "10.0.0.1"])
def test_any_other_host_is_refused(host: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(NotLoopback):
        loopback(host)
    assert main(["web", "--host", host, "--no-browser"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert "not a loopback address" in err
    assert "chatham: hint:" in err


def test_the_desk_locks_after_idle_time_and_then_wants_the_passphrase(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = [1000.0]
    home = Home(tmp_path / "home")
    desk = Desk(home, lock_after=60, clock=lambda: now[0])
    assert desk.state == "new"
    desk.create_identity("a long enough passphrase", "Dana")
    assert desk.state == "open"
    now[0] += 59
    assert desk.idle() is False
    desk.touch()
    now[0] += 61
    assert desk.idle() is True
    assert desk.state == "locked"
    assert desk.account is None
    assert desk.watcher is None
    # After a lock, neither CHATHAM_PASSPHRASE nor a session opens it: only the page's form.
    monkeypatch.setenv("CHATHAM_PASSPHRASE", "a long enough passphrase")
    assert desk.auto_unlock() is False
    with pytest.raises(errors.WrongPassphrase):
        desk.unlock("not it")
    desk.unlock("a long enough passphrase")
    assert desk.state == "open"
    desk.close_accounts()


def test_a_lock_forgets_the_keys_even_when_telling_the_pages_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "run"))
    home = Home(tmp_path / "home")
    desk = Desk(home)
    desk.create_identity("a long enough passphrase", "Dana")
    _, key = home.unlock(passphrase="a long enough passphrase")
    home.start_session(key, 600)  # as `chatham unlock` leaves it

    def broken() -> None:
        raise RuntimeError("the pages could not be told")

    desk.on_lock.append(broken)
    with pytest.raises(RuntimeError):
        desk.lock(end_session=True)
    # The keys are gone, in this app and in the unlock session the member asked to end.
    assert desk.state == "locked"
    assert desk.account is None
    assert desk.watcher is None
    assert not home.session_path().exists()
    monkeypatch.delenv("CHATHAM_PASSPHRASE", raising=False)
    with pytest.raises(errors.Locked):
        home.unlock(env={})


def test_a_new_identity_needs_a_passphrase_of_eight_characters(tmp_path: Path) -> None:
    desk = Desk(Home(tmp_path / "home"))
    with pytest.raises(errors.UsageError, match="at least 8 characters"):
        desk.create_identity("short", "Dana")
    assert desk.state == "new"


def test_a_download_a_killed_chatham_web_left_on_disk_is_wiped_by_the_next_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A download is decrypted into a private directory and removed once sent; a `chatham web`
    stopped mid-download (Ctrl-C during a large file, a crash, a kill) cannot remove it, so the
    next upload or download wipes what a process that is gone left."""
    import os
    import subprocess
    import sys

    run = tmp_path / "run"
    run.mkdir(mode=0o700)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHATHAM_")}
    env["XDG_RUNTIME_DIR"] = str(run)
    subprocess.run(
        [
            sys.executable,
            "-c",
            "import os\n"
            "from chatham.client.web.pages.items import _upload_dir\n"
            "(_upload_dir() / 'offer.pdf').write_bytes(b'the decrypted offer')\n"
            "os._exit(0)  # killed: nothing runs after this\n",
        ],
        env=env,
        check=True,
        timeout=60,
    )
    web = run / "chatham" / "web"
    assert [p.read_bytes() for p in web.rglob("*") if p.is_file()] == [b"the decrypted offer"]
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(run))
    from chatham.client.web.pages.items import _upload_dir

    mine = _upload_dir()
    assert [p for p in web.rglob("*") if p.is_file()] == []
    assert [p for p in web.iterdir()] == [mine]  # this process's own is kept while in use
