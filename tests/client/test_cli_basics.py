"""The basics a month of use asked for: --version, shell completion, search that folds accents
and case and shows the passage, `@-` for stdin, a clean line on Ctrl-C, and several tries
at the passphrase prompt."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from chatham.client import Account, Home
from chatham.client import errors as E
from chatham.client.cli import issues as cli_issues
from chatham.client.cli import main
from chatham.client.journal import EntryMeta, Issue, JournalView, Note, RoleHistory, encode_body
from chatham.server.testing import live_server

from tests.support.cli_member import UNLIMITED, CliMember, environment

CHATHAM = Path(sys.executable).with_name("chatham")


def test_version() -> None:
    r = subprocess.run([str(CHATHAM), "--version"], capture_output=True, text=True, check=False)
    assert r.returncode == 0
    assert r.stdout.startswith("chatham ")


def test_shell_completion_completes_commands() -> None:
    env = {**os.environ, "_CHATHAM_COMPLETE": "complete_bash", "COMP_CWORD": "2"}
    env["COMP_WORDS"] = "chatham issue sch"
    r = subprocess.run([str(CHATHAM)], capture_output=True, text=True, env=env, check=False)
    assert r.stdout.split() == ["schedule"]
    helped = subprocess.run([str(CHATHAM), "--help"], capture_output=True, text=True, check=False)
    assert "--install-completion" in helped.stdout


def test_search_folds_accents_and_case_and_shows_the_passage() -> None:
    lee, ann = b"L" * 32, b"A" * 32
    view = JournalView(RoleHistory.of({lee: "Lee"}, {ann: "Ann"}))
    long = "A long preamble about the quarter. " * 4 + "Then Jürgen Müller called about the loan."
    for n, body in enumerate(
        [Issue(ts=1, title="Partnership", what=long), Note(ts=2, body="STRASSE and Straße")], 1
    ):
        view.add(EntryMeta(n.to_bytes(16, "big"), ann, ann, n, 1), encode_body(body))
    [hit] = view.search_passages("muller LOAN")
    assert hit.passage.startswith("…")
    assert "Jürgen Müller called about the loan." in hit.passage
    assert len(hit.passage) <= 62
    assert [i.title for i in view.search("strasse")] == ["STRASSE and Straße"]
    assert [i.title for i in view.search("straße jurgen")] == []
    assert view.search("   ") == []


@pytest.fixture(scope="module")
def member(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CliMember]:
    root = tmp_path_factory.mktemp("basics")
    with environment(UNLIMITED), live_server(root / "server") as server:
        m = CliMember("Dana", root, "a passphrase for the basics", COLUMNS="200")
        m.ok("group", "create", "Basics", "--server", server.url)
        yield m


def test_at_dash_reads_stdin_and_search_shows_the_passage(member: CliMember) -> None:
    member.ok(
        "issue", "new", "--title", "Bank", "--what", "@-", stdin="Talk to Müller at the bank\n"
    )
    [issue] = member.json("issue", "list")
    assert issue["what"] == "Talk to Müller at the bank"
    [hit] = member.json("search", "muller")
    assert hit["passage"] == "Talk to Müller at the bank"
    out = member.ok("search", "MULLER")
    assert out.splitlines()[0].split() == ["id", "type", "title", "author", "changed", "passage"]
    assert "Talk to Müller at the bank" in out


def test_ctrl_c_ends_on_a_clean_line(
    member: CliMember, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    def interrupted(*_: object, **__: object) -> None:
        raise KeyboardInterrupt

    err = Terminal()
    monkeypatch.setattr(sys, "stderr", err)
    monkeypatch.setattr(cli_issues, "journal", interrupted)
    with environment(member.env):
        assert main(["issue", "list"]) == 130
    assert err.getvalue() == (
        "\nchatham: error: interrupted\n"
        "chatham: hint: nothing was left half done; run the command again\n"
    )


def test_the_passphrase_prompt_allows_a_few_tries(tmp_path: Path) -> None:
    home = Home(tmp_path / "home")
    Account.init(home, passphrase="the right passphrase").close()
    answers = iter(["wrong once", "wrong twice", "the right passphrase"])
    asked: list[str] = []

    def prompt() -> str:
        asked.append("?")
        return next(answers)

    with Account.open(home, prompt=prompt) as account:
        assert account.member_id
    assert len(asked) == 3
    answers = iter(["no", "still no", "nope", "the right passphrase"])
    with pytest.raises(E.WrongPassphrase):
        Account.open(home, prompt=prompt)
    with pytest.raises(E.WrongPassphrase):  # given outright, one try: scripts fail at once
        Account.open(home, passphrase="wrong")


def test_help_says_the_limits() -> None:
    r = subprocess.run(
        [str(CHATHAM), "issue", "new", "--help"], capture_output=True, text=True, check=False
    )
    assert "up to 200 characters" in r.stdout
    assert "Up to 20,000" in r.stdout


def test_the_invite_shows_as_a_qr_code_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    from chatham.client.cli import members

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    out = Terminal()
    monkeypatch.setattr(sys, "stdout", out)
    members._print_qr("https://chatham.example.org#7K2QD-M4X9P-3GHTW-RW1TK-3H8JX-KFE8J")
    rows = out.getvalue().splitlines()
    assert 15 <= len(rows) <= 40  # two rows of modules per line: a code a phone can scan
    assert any("█" in row or "▀" in row or "▄" in row for row in rows)
