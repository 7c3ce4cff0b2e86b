"""Text typed in the editor is never lost: the passphrase is asked for first, a draft is
kept until the post succeeds (and named when it is kept), problems are named section by
section, and closing the editor without saving, or saving nothing, posts nothing."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from chatham.client.cli import common as cli_common
from chatham.client.cli.editor import editor_command
from chatham.server.testing import live_server

from tests.support.cli_member import UNLIMITED, CliMember, environment

PASSPHRASE = "a passphrase for the editor tests"


class Member(CliMember):
    def __init__(self, name: str, root: Path, editor: Path) -> None:
        super().__init__(name, root, PASSPHRASE, COLUMNS="200", EDITOR=f"{sys.executable} {editor}")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    root = tmp_path_factory.mktemp("editor")
    with environment(UNLIMITED), live_server(root / "server") as server:
        yield root, server.url


@pytest.fixture
def terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli_common, "interactive", lambda: True)


class Editor:
    """A scripted editor: each run records what it was shown, then does what it is told."""

    def __init__(self, root: Path) -> None:
        self.script = root / "editor.py"
        self.shown = root / "shown.txt"
        self.runs = 0

    def will(self, body: str) -> None:
        """`body` is Python run with `path` (the file) and `text` (what it holds)."""
        self.shown.unlink(missing_ok=True)
        self.script.write_text(
            "import sys\n"
            "path = sys.argv[1]\n"
            "text = open(path).read()\n"
            f"open({str(self.shown)!r}, 'w').write(text)\n" + body + "\n"
        )

    def fill(self, **sections: str) -> None:
        lines = []
        for heading, body in sections.items():
            at = f"## {heading}\n"
            lines.append(f"text = text.replace({at!r}, {at + body + chr(10)!r})")
        self.will("\n".join([*lines, "open(path, 'w').write(text)"]))


@pytest.fixture
def group(world: tuple[Path, str], tmp_path: Path) -> tuple[Member, Editor]:
    root, url = world
    editor = Editor(tmp_path)
    editor.will("pass")
    member = Member(f"Dana{len(list(root.glob('home-*')))}", root, editor.script)
    member.ok("group", "create", "Editors", "--server", url)
    return member, editor


def test_a_wrong_passphrase_is_refused_before_the_editor_opens(
    group: tuple[Member, Editor], terminal: None, tmp_path: Path
) -> None:
    dana, editor = group
    editor.fill(**{"What is the issue?": "Important text"})
    dana.ok("lock")
    wrong = tmp_path / "wrong"
    wrong.write_text("not the passphrase\n")
    dana.env.pop("CHATHAM_PASSPHRASE")
    lines = dana.fails("--passphrase-file", str(wrong), "issue", "new", "-t", "Hiring", code=1)
    assert lines[0] == "chatham: error: wrong passphrase: the keystore did not open"
    assert not editor.shown.exists()


def test_a_draft_survives_a_section_that_is_too_long(
    group: tuple[Member, Editor], terminal: None
) -> None:
    dana, editor = group
    editor.fill(**{"What is the issue?": "Keep me", "Why does it matter?": "w" * 20_012})
    code, out, err = dana("issue", "new", "--title", "Hiring a COO")
    assert (code, out) == (2, "")
    lines = err.splitlines()
    assert lines[0].startswith("chatham: opening in python")
    note = lines[1]
    assert note.startswith("chatham: note: what you wrote is kept in ")
    assert note.endswith("; run the same command again to continue from it")
    assert lines[2:] == [
        "chatham: error: “Why does it matter?” is too long: 20,012 characters, at most 20,000 "
        "(12 too many)",
        "chatham: hint: shorten it, or attach a file (`chatham attach ID FILE`)",
    ]
    draft = Path(note.removeprefix("chatham: note: what you wrote is kept in ").split(";")[0])
    assert "Keep me" in draft.read_text()
    assert oct(draft.stat().st_mode & 0o777) == oct(0o600)
    assert dana.json("issue", "list") == []

    # The same command continues from the draft; once posted, the draft is gone.
    editor.will("open(path, 'w').write(text.replace('w' * 20_012, 'It matters'))")
    code, out, err = dana("issue", "new", "--title", "Hiring a COO")
    assert code == 0, err
    assert err.startswith("chatham: continuing your draft in python")
    assert "Keep me" in editor.shown.read_text()
    [issue] = dana.json("issue", "list")
    assert (issue["what"], issue["why"]) == ("Keep me", "It matters")
    assert not draft.exists()


def test_text_outside_the_headings_or_an_edited_heading_is_never_dropped(
    group: tuple[Member, Editor], terminal: None
) -> None:
    dana, editor = group
    editor.will("open(path, 'w').write('My whole issue, typed at the top\\n' + text)")
    assert dana.fails("issue", "new", "--title", "One")[-2:] == [
        "chatham: error: there is text above the first heading, where it would be lost",
        "chatham: hint: move it under one of the `## ` headings",
    ]
    editor.will(
        "text = text.replace('My whole issue, typed at the top\\n', '')\n"
        "open(path, 'w').write(text.replace('## What have I tried?', '## Tried so far') + 'x')"
    )
    lines = dana.fails("issue", "new", "--title", "One")
    assert "continuing your draft" in lines[0]  # the first attempt's text is still there
    assert "My whole issue, typed at the top" in editor.shown.read_text()
    assert lines[-2:] == [
        "chatham: error: the heading “## What have I tried?” is missing or was changed",
        "chatham: hint: keep each `## ` heading line as it was, and write under it",
    ]
    assert dana.json("issue", "list") == []


def test_closing_without_saving_or_saving_nothing_posts_nothing(
    group: tuple[Member, Editor], terminal: None
) -> None:
    dana, editor = group
    editor.will("pass")  # quits without writing
    assert dana.fails("issue", "new", "--title", "Unsaved")[-2:] == [
        "chatham: error: nothing was posted: the editor was closed without saving",
        "chatham: hint: nothing was kept",
    ]
    editor.will("open(path, 'w').write(text)")  # saves the template as it was
    assert dana.fails("issue", "new", "--title", "Empty")[-2:] == [
        "chatham: error: nothing was posted: every section is empty",
        "chatham: hint: nothing was kept",
    ]
    editor.will("open(path, 'w').write('   \\n')")
    assert dana.fails("commit", "new")[-2:] == [
        "chatham: error: nothing was posted: the commitment is empty",
        "chatham: hint: nothing was kept",
    ]
    assert dana.json("issue", "list") == []
    assert dana.json("commit", "list") == []
    drafts = Path(dana.env["XDG_RUNTIME_DIR"]) / "chatham" / "drafts"
    assert list(drafts.iterdir()) == []


def test_the_editor_is_visual_then_editor_then_a_friendly_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bin_ = tmp_path / "bin"
    bin_.mkdir()
    for name in ("vi", "nano"):
        (bin_ / name).write_text("#!/bin/sh\n")
        (bin_ / name).chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_))
    monkeypatch.delenv("VISUAL", raising=False)
    monkeypatch.delenv("EDITOR", raising=False)
    assert editor_command() == ["nano"]
    monkeypatch.setenv("EDITOR", "emacs -nw")
    assert editor_command() == ["emacs", "-nw"]
    monkeypatch.setenv("VISUAL", "code --wait")
    assert editor_command() == ["code", "--wait"]
    os.remove(bin_ / "nano")
    monkeypatch.delenv("VISUAL")
    monkeypatch.delenv("EDITOR")
    assert editor_command() == ["vi"]
