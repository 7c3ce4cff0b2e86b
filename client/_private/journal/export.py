"""Writing an export: the member's readable copy of the journal, plaintext on disk on purpose.

Files are created 0600 in a 0700 directory, and a non-empty directory is refused unless
`force=True`.
"""

from __future__ import annotations

import json
import os
from datetime import date
from pathlib import Path
from typing import Literal, TypeAlias

from ... import errors as E
from .fold import JournalView
from .ics import ics_calendar
from .markdown import markdown_files
from .shapes import export_json

ExportFormat: TypeAlias = Literal["markdown", "json", "ics"]


def _write(path: Path, text: str) -> None:
    # O_NOFOLLOW: with force=True, a planted symlink must not redirect plaintext elsewhere.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
        f.write(text)


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
        if any(directory.iterdir()) and not force:
            raise E.ExportError(
                "the export directory is not empty",
                hint="choose an empty or new directory, or pass --force to write into it",
            )
    else:
        directory.mkdir(mode=0o700, parents=True)
    out = []
    for name, text in files.items():
        path = directory / name
        _write(path, text)
        out.append(path)
    return out
