"""Writing an export: the member's readable copy of the journal, plaintext on disk on purpose.

Files are created 0600 in a 0700 directory, and a non-empty directory is refused unless
`force=True`; a directory of another user (or a link to one) is refused always. Each file
is written under an exclusive temporary name and renamed into place; with `force=True`, a
name held by anything but a regular file of this user is refused.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from datetime import date
from pathlib import Path
from typing import Literal, TypeAlias

from ... import errors as E
from .files import not_ours, ours_to_replace
from .fold import JournalView
from .ics import ics_calendar
from .markdown import markdown_files
from .shapes import export_json

ExportFormat: TypeAlias = Literal["markdown", "json", "ics"]


def _refuse(path: Path) -> E.UsageError:
    return not_ours(
        path, "nothing was written; export into a new directory of your own", E.ExportError
    )


def _write(path: Path, text: str) -> None:
    """Write `text` to an exclusive 0600 temporary name beside `path`, then rename it into place.

    The temporary file is created with O_EXCL (mkstemp), so nothing planted can receive the
    text; the rename replaces a directory entry and never writes through what was there."""
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        if not ours_to_replace(path):  # planted while we wrote
            raise _refuse(path)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


def write_export(
    view: JournalView,
    directory: Path,
    fmt: ExportFormat,
    *,
    now: int,
    today: date,
    force: bool = False,
) -> list[Path]:
    """Write the journal into `directory` as markdown, json or ics; returns the files."""
    if fmt == "markdown":
        files = markdown_files(view, today=today)
    elif fmt == "json":
        doc = json.dumps(export_json(view, now=now), indent=2, ensure_ascii=False)
        files = {"journal.json": doc + "\n"}
    elif fmt == "ics":
        files = {"journal.ics": ics_calendar(view, now=now)}
    else:
        raise E.ExportError(f"unknown export format {fmt!r}", hint="use markdown, json or ics")
    if directory.exists() or directory.is_symlink():
        if not directory.is_dir():
            raise E.ExportError("the export path is not a directory", hint="choose a directory")
        if directory.stat().st_uid != os.getuid():
            # Its owner would list the names (meeting dates and titles) and could swap the
            # files later, whatever their mode; a link to such a directory counts as it.
            raise E.ExportError(
                f"{directory} belongs to another user",
                hint="nothing was written; export into a new directory of your own",
            )
        if any(directory.iterdir()) and not force:
            raise E.ExportError(
                "the export directory is not empty",
                hint="choose an empty or new directory, or pass --force to write into it",
            )
    else:
        directory.mkdir(mode=0o700, parents=True)
    for name in files:
        if not ours_to_replace(directory / name):
            raise _refuse(directory / name)  # before anything is written
    out = []
    for name, text in files.items():
        path = directory / name
        _write(path, text)
        out.append(path)
    return out
