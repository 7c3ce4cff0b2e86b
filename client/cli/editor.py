"""Long text from the member's editor, kept as a draft until the write it is for succeeds.

Output contract for every command that opens an editor:

- It opens only on a terminal, after the passphrase was asked for (a wrong passphrase
  never costs what was written), and says which editor it opens.
- The editor is `$VISUAL`, else `$EDITOR`, else the first of `FALLBACK_EDITORS` found on
  PATH (nano before vi: most members are not vi users).
- Closing the editor without saving, or saving nothing, cancels: nothing is posted
  (as `git commit` does), and the command says so.
- What the member wrote stays in a draft file until the post succeeds. If anything fails
  after the editor closed (a section too long, a heading edited, the server refusing),
  the command names the draft on stderr (`chatham: note: …`) and the same command opens
  it again next time, so nothing typed is lost.

Drafts live in a private 0700 directory under the runtime dir (a tmpfs on most systems),
0600, one per group and command, written by chatham only. The editor never sees that
directory: each edit gets a fresh private 0700 directory of its own (`runtime/edits/…`,
also its TMPDIR) holding a copy of the draft, and the whole directory, with whatever the
editor left there (swap, backup and undo files, autosaves), is overwritten and removed
when it closes. Editors known to keep such files are told not to (`QUIET_FLAGS`: vim and
neovim get no swap, backup, undo or viminfo/shada file; emacs no backup, autosave or lock
file; nano ignores nanorc files, which could turn backups on). The editor runs with the
passphrase variables stripped from its environment (`scrubbed_env`). A draft is
overwritten and removed once posted.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Final

from .. import private_dir, runtime_dir, scratch_dir, scrubbed_env, shred, wipe
from ..errors import UsageError

FALLBACK_EDITORS: Final = ("nano", "pico", "micro", "vi")

QUIET_FLAGS: Final[dict[str, tuple[str, ...]]] = {
    # After the vimrc (-c), so a vimrc that turns backups or undo files on is overruled.
    "vim": ("-n", "-i", "NONE", "-c", "set nobackup nowritebackup noundofile noswapfile"),
    "emacs": (
        "--eval",
        "(setq make-backup-files nil auto-save-default nil create-lockfiles nil)",
    ),
    "nano": ("--ignorercfiles",),
}
"""Flags that stop a known editor from writing copies of the text (swap, backup, undo,
history, autosave and lock files), by the program's family."""

_FAMILIES: Final = {
    "vi": "vim",
    "vim": "vim",
    "nvim": "vim",
    "gvim": "vim",
    "vimx": "vim",
    "view": "vim",
    "rvim": "vim",
    "rview": "vim",
    "mvim": "vim",
    "emacs": "emacs",
    "emacs-nox": "emacs",
    "emacs-gtk": "emacs",
    "emacs-pgtk": "emacs",
    "emacs-lucid": "emacs",
    "nano": "nano",
}


def quiet_flags(program: str) -> tuple[str, ...]:
    """QUIET_FLAGS for `program`, judged by the file it runs (`vi` may be vim, nvi or
    busybox: only the real vim gets vim's flags). Builds and versions count as the editor:
    `vim.basic`, `emacs-29.4` (upstream, Fedora and Homebrew install emacs so), `Emacs`."""
    found = shutil.which(program) or program
    real = Path(os.path.realpath(found)).name.lower().split(".")[0]
    family = _FAMILIES.get(real) or _FAMILIES.get(re.sub(r"-\d+$", "", real))
    return QUIET_FLAGS[family] if family else ()


@contextlib.contextmanager
def editing_directory() -> Iterator[Path]:
    """A fresh private 0700 directory for one edit (`runtime/edits/edit-PID-…`), wiped
    entirely afterwards; one a killed command left is wiped by the next edit."""
    where = scratch_dir("edits", "edit")
    try:
        yield where
    finally:
        wipe(where)


def editor_command() -> list[str]:
    """The member's editor: $VISUAL, $EDITOR, else a friendly one found on PATH."""
    chosen = os.environ.get("VISUAL") or os.environ.get("EDITOR")
    if chosen and chosen.strip():
        return shlex.split(chosen)
    for name in FALLBACK_EDITORS:
        if shutil.which(name):
            return [name]
    raise UsageError(
        "no text editor found",
        hint="set $EDITOR (e.g. EDITOR=nano), or pass the text with an option (`-` reads stdin)",
    )


class Cancelled(UsageError):
    """Nothing was posted."""

    def __init__(self, message: str, *, hint: str, draft: Draft | None = None) -> None:
        if draft is not None:
            draft.remove()  # nothing worth keeping in it
        super().__init__(message, hint=hint)


class Draft:
    """One draft file: what a member writes for one command in one group."""

    def __init__(self, key: str) -> None:
        directory = private_dir(runtime_dir() / "drafts")
        safe = "".join(c if c.isalnum() or c in "-_" else "-" for c in key)
        self.path = directory / f"{safe}.md"
        self.used = False
        """Whether the editor was opened on it in this command."""

    def exists(self) -> bool:
        return self.path.exists()

    def read(self) -> str:
        return self.path.read_text(encoding="utf-8")

    def write(self, text: str) -> None:
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)

    def remove(self) -> None:
        """Overwrite the draft with zeros, then remove it (it holds plaintext)."""
        shred(self.path)

    def edit(self, template: str) -> str:
        """Open the draft (or `template` when there is none) in the editor; what was saved.

        The editor works on a copy in a directory of its own, wiped when it closes; what it
        saved becomes the draft. Raises `Cancelled` when the editor closed without saving
        (an older draft is kept as it was).
        """
        self.used = True
        resumed = self.exists()
        command = editor_command()
        note = "continuing your draft" if resumed else "opening"
        sys.stderr.write(
            f"chatham: {note} in {Path(command[0]).name}; save and close it to post, "
            "or close it without saving to cancel\n"
        )
        sys.stderr.flush()
        with editing_directory() as where:
            copy = where / self.path.name
            fd = os.open(copy, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(self.read() if resumed else template)
            before = copy.stat().st_mtime_ns
            env = scrubbed_env() | {"TMPDIR": str(where)}
            try:
                subprocess.run(  # noqa: S603 - the member's own editor, on a private file
                    [command[0], *quiet_flags(command[0]), *command[1:], str(copy)],
                    env=env,
                    check=True,
                )
            except (OSError, subprocess.CalledProcessError) as e:
                raise UsageError(
                    f"the editor failed ({type(e).__name__})",
                    hint="set $EDITOR, or pass the text with an option (`-` reads stdin)",
                ) from None
            if not copy.exists() or copy.stat().st_mtime_ns == before:
                raise Cancelled(
                    "nothing was posted: the editor was closed without saving",
                    hint=f"your draft is still in {self.path}" if resumed else "nothing was kept",
                )
            saved = copy.read_text(encoding="utf-8")
        self.write(saved)
        return saved


@contextlib.contextmanager
def drafting(key: str) -> Iterator[Draft]:
    """A draft for the write done inside the block: removed when the block succeeds, kept
    (and named on stderr) when it fails, so the same command continues from it."""
    draft = Draft(key)
    try:
        yield draft
    except Cancelled:
        raise
    except BaseException:
        if draft.used and draft.exists():
            sys.stderr.write(
                f"chatham: note: what you wrote is kept in {draft.path}; run the same command "
                "again to continue from it\n"
            )
        raise
    if draft.used:
        draft.remove()
