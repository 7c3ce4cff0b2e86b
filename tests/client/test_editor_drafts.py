"""Text typed in the editor is never lost: the passphrase is asked for first, a draft is
kept until the post succeeds (and named when it is kept), problems are named section by
section, and closing the editor without saving, or saving nothing, posts nothing."""

from __future__ import annotations

import json
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
    wrong.chmod(0o600)
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


# --- what an editor leaves behind ------------------------------------------------------------

RESIDUE = r"""
import json, os, stat, sys
path = sys.argv[-1]
here = os.path.dirname(path)
name = os.path.basename(path)
text = open(path).read()
for junk in (f".{name}.swp", f"{name}~", f".{name}.un~", f"#{name}#", ".viminfo"):
    open(os.path.join(here, junk), "w").write(text)  # what vim, emacs and nano may leave
os.mkdir(os.path.join(here, "auto-save"))
open(os.path.join(here, "auto-save", name), "w").write(text)
os.mkfifo(os.path.join(here, "fifo"))
os.symlink("/etc/passwd", os.path.join(here, "link"))
with open(os.environ["TMPDIR"] + "/scratch", "w") as f:
    f.write(text)
open(path, "w").write(text + "written in the editor\n")
json.dump({"dir": here, "mode": stat.S_IMODE(os.stat(here).st_mode), "argv": sys.argv,
           "tmpdir": os.environ["TMPDIR"]}, open(sys.argv[1], "w"))
"""


@pytest.fixture
def drafts_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    run = tmp_path / "run"
    run.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(run))
    monkeypatch.delenv("VISUAL", raising=False)
    return run / "chatham"


def everything_under(path: Path) -> list[str]:
    return sorted(str(p.relative_to(path)) for p in path.rglob("*"))


def test_every_edit_has_a_private_directory_wiped_with_all_the_editor_left_there(
    drafts_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chatham.client.cli.editor import Draft

    script = tmp_path / "residue.py"
    script.write_text(RESIDUE)
    seen: list[dict[str, object]] = []
    for n in range(2):
        log = tmp_path / f"seen-{n}.json"
        monkeypatch.setenv("EDITOR", f"{sys.executable} {script} {log}")
        draft = Draft(f"group-note-{n}")
        saved = draft.edit("the plaintext\n")
        assert saved == "the plaintext\nwritten in the editor\n"
        seen.append(json.loads(log.read_text()))
        draft.remove()  # as when the post succeeds
    first, second = (Path(str(s["dir"])) for s in seen)
    assert first != second  # one directory per edit
    assert all(s["mode"] == 0o700 for s in seen)
    assert all(s["tmpdir"] == s["dir"] for s in seen)
    assert first.parent == drafts_env / "edits"
    assert not first.exists()
    assert not second.exists()
    assert everything_under(drafts_env) == ["drafts", "edits"]  # nothing left anywhere
    assert Path("/etc/passwd").stat().st_size > 0  # a planted link is removed, not followed


def test_the_directory_of_an_edit_that_was_killed_is_wiped_by_the_next_one(
    drafts_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import subprocess

    from chatham.client.cli.editor import Draft

    dead = subprocess.Popen(["true"])  # its process id then runs nothing
    dead.wait()
    edits = drafts_env / "edits"
    drafts_env.mkdir(mode=0o700)
    edits.mkdir(mode=0o700)
    left = edits / f"edit-{dead.pid}-abc123"
    left.mkdir(mode=0o700)
    (left / "group-issue-new.md").write_text("what a killed command left")
    (left / ".group-issue-new.md.swp").write_text("and its editor")
    running = edits / f"edit-{os.getpid()}-def456"  # an edit still open in this process
    running.mkdir(mode=0o700)
    script = tmp_path / "residue.py"
    script.write_text(RESIDUE)
    monkeypatch.setenv("EDITOR", f"{sys.executable} {script} {tmp_path / 'seen.json'}")
    Draft("group-note").edit("text\n")
    assert sorted(p.name for p in edits.iterdir()) == [running.name]


def test_a_kept_draft_holds_what_was_saved_and_nothing_the_editor_wrote_beside_it(
    drafts_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chatham.client.cli.editor import Draft

    script = tmp_path / "residue.py"
    script.write_text(RESIDUE)
    monkeypatch.setenv("EDITOR", f"{sys.executable} {script} {tmp_path / 'seen.json'}")
    draft = Draft("group-issue-new")
    draft.edit("kept\n")  # the post then fails: the draft stays for the next try
    assert everything_under(drafts_env) == ["drafts", "drafts/group-issue-new.md", "edits"]
    assert draft.read() == "kept\nwritten in the editor\n"
    assert oct(draft.path.stat().st_mode & 0o777) == oct(0o600)


@pytest.mark.skipif(not Path("/usr/bin/vim").exists(), reason="vim is not installed")
def test_vim_keeps_no_swap_backup_or_undo_file_even_when_its_vimrc_asks_for_them(
    drafts_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chatham.client.cli.editor import Draft, quiet_flags

    assert quiet_flags("vim")[:3] == ("-n", "-i", "NONE")
    vimrc = tmp_path / "vimrc"
    vimrc.write_text(
        "set nocompatible backup writebackup undofile swapfile\n"
        "set backupdir=. undodir=. directory=. viminfo='100,<500\n"
    )
    listing = tmp_path / "listing.txt"
    # Vim itself, run as an editor would be (ex mode, no terminal needed): it writes the
    # file, then records what is in the file's directory at that moment, then quits.
    monkeypatch.setenv(
        "EDITOR",
        f"/usr/bin/vim -E -s -u {vimrc} "
        "-c \"call setline(1, 'typed in vim')\" -c w "
        f"-c \"call writefile(readdir(expand('%:p:h')), '{listing}')\" -c q!",
    )
    monkeypatch.setenv("HOME", str(tmp_path))  # so a viminfo would land where we can see it
    draft = Draft("group-vim")
    assert draft.edit("template\n") == "typed in vim\n"
    assert listing.read_text().split() == ["group-vim.md"]  # no .swp, ~ or .un~ beside it
    draft.remove()
    assert everything_under(drafts_env) == ["drafts", "edits"]
    assert not (tmp_path / ".viminfo").exists()


@pytest.mark.parametrize(
    ("installed", "family"),
    [
        ("emacs-29.4", "emacs"),  # upstream `make install`, Fedora and Homebrew name it so
        ("emacs-pgtk", "emacs"),  # Debian's pure-GTK build
        ("Emacs", "emacs"),  # the macOS application's binary
        ("vim.basic", "vim"),
        ("rvim", "vim"),
        ("mvim", "vim"),
        ("nano-8.2", "nano"),
        ("busybox", None),
    ],
)
def test_a_known_editor_installed_under_a_versioned_or_variant_name_still_keeps_no_copies(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, installed: str, family: str | None
) -> None:
    """`emacs` is often a link to `emacs-29.4`: judged by the file it runs, it must still get
    emacs' flags, or a `backup-directory-alist` in the member's init file keeps a copy."""
    from chatham.client.cli.editor import QUIET_FLAGS, quiet_flags

    real = tmp_path / "bin" / installed
    real.parent.mkdir()
    real.write_text("#!/bin/sh\n")
    real.chmod(0o755)
    link = tmp_path / "bin" / "the-editor"
    link.symlink_to(real)
    monkeypatch.setenv("PATH", str(real.parent))
    assert quiet_flags("the-editor") == (QUIET_FLAGS[family] if family else ())
