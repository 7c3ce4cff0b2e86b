"""A directory of another user (uid 65534, mode 0777), as someone who got to a shared path
first would leave it; making one needs root."""

from __future__ import annotations

import os
from pathlib import Path


def another_users_directory(root: Path, how: str, link_name: str) -> tuple[Path, Path]:
    """(their directory, the path a member is given): the directory itself for
    "their directory", or `root / link_name`, a link to it, for "a link to their directory"."""
    theirs = root / "theirs"
    theirs.mkdir()
    theirs.chmod(0o777)
    os.chown(theirs, 65534, 65534)
    target = theirs
    if how == "a link to their directory":
        target = root / link_name
        target.symlink_to(theirs)
    return theirs, target
