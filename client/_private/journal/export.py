"""Writing an export: the member's readable copy of the journal, plaintext on disk on purpose.

Files are created 0600 in a 0700 directory, and a non-empty directory is refused unless
`force=True`; a directory of another user (or a link to one) is refused always. Each file
is written under an exclusive temporary name and renamed into place; with `force=True`, a
name held by anything but a regular file of this user is refused.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import BinaryIO, Literal, TypeAlias

from ... import errors as E
from .files import not_ours, open_directory, ours_to_replace, write_into
from .fold import JournalView
from .ics import ics_calendar
from .markdown import markdown_files
from .shapes import export_json

ExportFormat: TypeAlias = Literal["markdown", "json", "ics"]


def _refuse(path: Path) -> E.UsageError:
    return not_ours(
        path, "nothing was written; export into a new directory of your own", E.ExportError
    )


def _writer(text: str) -> Callable[[BinaryIO], None]:
    data = text.encode("utf-8")

    def write(f: BinaryIO) -> None:
        f.write(data)

    return write


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
    try:
        return _write_files(directory, _files(view, fmt, now=now, today=today), force=force)
    except OSError as e:  # the system said no (a file in the way, no permission, disk full)
        raise E.ExportError(
            f"cannot write into {directory} ({e.strerror})",
            hint="no partial file was left; choose a directory of your own with room to write",
        ) from None


def _files(view: JournalView, fmt: ExportFormat, *, now: int, today: date) -> dict[str, str]:
    """The export's files, name to text, in the format asked for."""
    if fmt == "markdown":
        files = markdown_files(view, today=today)
    elif fmt == "json":
        doc = json.dumps(export_json(view, now=now), indent=2, ensure_ascii=False)
        files = {"journal.json": doc + "\n"}
    elif fmt == "ics":
        files = {"journal.ics": ics_calendar(view, now=now)}
    else:
        raise E.ExportError(f"unknown export format {fmt!r}", hint="use markdown, json or ics")
    return files


def _write_files(directory: Path, files: dict[str, str], *, force: bool) -> list[Path]:
    if directory.exists() or directory.is_symlink():
        if not directory.is_dir():
            raise E.ExportError("the export path is not a directory", hint="choose a directory")
    else:
        directory.mkdir(mode=0o700, parents=True)
    out = []
    # Every check and every file from here on is relative to the directory opened once, so
    # a link retargeted or a parent renamed after the checks cannot move the files.
    with open_directory(directory) as dir_fd:
        if os.fstat(dir_fd).st_uid != os.getuid():
            # Its owner would list the names (meeting dates and titles) and could swap the
            # files later, whatever their mode; a link to such a directory counts as it.
            raise E.ExportError(
                f"{directory} belongs to another user",
                hint="nothing was written; export into a new directory of your own",
            )
        if os.listdir(dir_fd) and not force:
            raise E.ExportError(
                "the export directory is not empty",
                hint="choose an empty or new directory, or pass --force to write into it",
            )
        for name in files:
            if not ours_to_replace(name, dir_fd):
                raise _refuse(directory / name)  # before anything is written
        for name, text in files.items():
            path = directory / name
            write_into(dir_fd, name, _writer(text), functools.partial(_refuse, path))
            out.append(path)
    return out
