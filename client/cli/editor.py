"""Long text from $EDITOR, without leaving plaintext or the passphrase behind.

The temporary file lives in a private 0700 directory under the runtime dir
(a tmpfs on most systems), is created 0600, and is overwritten and removed as
soon as the editor exits. The editor runs with the passphrase variables
stripped from its environment (`scrubbed_env`).
"""

from __future__ import annotations

import contextlib
import os
import shlex
import subprocess
import tempfile
from pathlib import Path

from .. import private_dir, runtime_dir, scrubbed_env
from ..errors import UsageError


def editor_command() -> list[str]:
    editor = os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi"
    return shlex.split(editor)


def edit_text(initial: str = "", *, suffix: str = ".md") -> str:
    """Open `initial` in the member's editor and return what they saved."""
    directory = private_dir(runtime_dir() / "edit")
    fd, name = tempfile.mkstemp(suffix=suffix, prefix="chatham-", dir=directory)
    path = Path(name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(initial)
        try:
            subprocess.run(  # noqa: S603 - the member's own editor, on a private file
                [*editor_command(), str(path)], env=scrubbed_env(), check=True
            )
        except (OSError, subprocess.CalledProcessError) as e:
            raise UsageError(
                f"the editor failed ({type(e).__name__})",
                hint="set $EDITOR, or pass the text with an option (`-` reads stdin)",
            ) from None
        return path.read_text(encoding="utf-8")
    finally:
        with contextlib.suppress(OSError):
            size = path.stat().st_size
            with path.open("r+b") as f:
                f.write(bytes(size))
                f.flush()
                os.fsync(f.fileno())
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
