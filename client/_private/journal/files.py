"""Attached files: sealed with the protocol's STREAM one 64 KiB chunk at a time, so any size
runs in constant memory.

The chunks go to the server first and only then is the comment that carries the key
posted; then the upload is finished by naming the comment to the server (an upload no
entry names is deleted after a day). A download is written to a private temporary file
beside the target and renamed into place only after the last chunk verifies.
"""

from __future__ import annotations

import contextlib
import mimetypes
import os
import secrets
import stat
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Final

from chatham import crypto

from ... import errors as E
from ..engine import uploads
from .content import FileRef, clean_line
from .items import CommentItem, Item

if TYPE_CHECKING:
    from ..engine.api import ServerApi
    from ..engine.group import Group
    from .service import Journal, Posted

Progress = Callable[[int, int], None]
"""progress(bytes done, bytes total)."""


def attach(
    journal: Journal,
    item: Item,
    path: Path,
    *,
    text: str | None = None,
    progress: Progress | None = None,
) -> tuple[Posted, FileRef]:
    """Seal `path` chunk by chunk, upload it, then post a comment on `item` carrying it."""
    journal.catch_up()
    journal.require("comment.create")
    try:
        f = path.open("rb")
    except OSError as e:
        raise E.UsageError(
            f"cannot read {path} ({e.strerror})", hint="give the path of a readable file"
        ) from None
    with f:
        size = os.fstat(f.fileno()).st_size
        if not path.is_file():
            raise E.UsageError(f"{path} is not a regular file", hint="attach one file")
        if size > MAX_ATTACHMENT:
            raise E.UsageError(
                f"{path.name} is larger than {MAX_ATTACHMENT >> 30} GiB",
                hint="split it, or share it another way",
            )
        blob, key = secrets.token_bytes(16), secrets.token_bytes(32)
        sealer = crypto.AttachmentSealer(key, blob)
        index = done = 0
        try:
            while piece := f.read(crypto.CHUNK_SIZE):
                done += len(piece)
                if done > MAX_ATTACHMENT:
                    raise E.UsageError(f"{path.name} grew past the size limit while reading")
                for sealed in sealer.update(piece):
                    put_chunk(journal.group, blob, index, sealed)
                    index += 1
                    if progress is not None:
                        progress(min(index * crypto.CHUNK_SIZE, done), max(size, done))
            put_chunk(journal.group, blob, index, sealer.finish())
            if progress is not None:
                progress(done, done)
        except E.Unreachable as e:
            sent = min(index * crypto.CHUNK_SIZE, size)
            raise _stopped(journal.group, blob, path.name, sent, size, e) from None
        except BaseException:
            # Nothing refers to the chunks yet; do not leave them on the server.
            with contextlib.suppress(E.ChathamError):
                if index:
                    delete_attachment(journal.group, blob)
            raise
    name = file_name(path.name)
    media = mimetypes.guess_type(name)[0] or ""
    ref = FileRef(
        blob=blob, key=key, digest=sealer.digest, name=name, size=done, media_type=media[:200]
    )
    try:
        posted = journal.comment(item, text or name, file=ref)
    except BaseException:
        with contextlib.suppress(E.ChathamError):
            delete_attachment(journal.group, blob)
        raise
    # The server deletes an upload no entry names within a day: name the comment.
    entry_id = bytes.fromhex(posted.id)
    uploads.name_entry(
        journal.group, blob, entry_id, sent=not uploads.is_queued(journal.group, entry_id)
    )
    return posted, ref


def _stopped(
    group: Group, blob: bytes, name: str, sent: int, size: int, cause: E.Unreachable
) -> E.Unreachable:
    """The server went away mid-upload: clean up what was sent, or remember to, and say so."""
    try:
        delete_attachment(group, blob)
        cleaned = "the part already sent was deleted from the server"
    except E.ServerNotFound:
        cleaned = "nothing of it stayed on the server"
    except E.ChathamError:
        uploads.remember(group, blob)
        cleaned = "the part already sent is deleted from the server at your next sync"
    share = f"{round(100 * sent / size)}%" if size else "the start"
    return E.Unreachable(
        f"the upload of {name} stopped at {share}: {cause.message}",
        hint=f"attachments are not queued: run `chatham attach` again once the server is "
        f"back; {cleaned}",
    )


def save_attachment(
    journal: Journal,
    ref: str,
    dest: Path,
    *,
    force: bool = False,
    progress: Progress | None = None,
) -> SavedFile:
    """Download, verify and save an attached file; it appears only once all of it verifies."""
    c = journal.item(ref, CommentItem)
    f = c.body.file
    if f is None:
        raise E.UsageError(
            f"comment {c.short_id} has no file attached",
            hint="`chatham show ID` of the item lists its attachments",
        )
    if dest.is_dir():
        dest = dest / saved_name(f.name)
    if (dest.exists() or dest.is_symlink()) and not force:
        raise E.UsageError(
            f"{dest} exists already", hint="choose another path, or pass --force to replace it"
        )
    parent = dest.parent if str(dest.parent) else Path(".")
    if not parent.is_dir():
        raise E.UsageError(f"no directory {parent}", hint="create it first")

    def refuse() -> E.UsageError:
        return not_ours(dest, "nothing was saved; choose a path of your own")

    chunks = chunk_count(f.size)
    opener = crypto.AttachmentOpener(f.key, f.blob, f.digest)
    written = 0

    def download(out: BinaryIO) -> None:
        nonlocal written
        for index in range(chunks):
            try:
                sealed = get_chunk(journal.group, f.blob, index)
            except E.ServerNotFound:
                raise E.CouldNotOpen(
                    "the server does not have the whole file (truncated or deleted)",
                    hint="nothing was saved; ask the member who attached it to attach it again",
                ) from None
            try:
                plain = opener.open_chunk(sealed)
            except crypto.CouldNotOpen:
                raise E.CouldNotOpen(hint="nothing was saved") from None
            written += len(plain)
            if written > f.size:
                raise E.CouldNotOpen(hint="nothing was saved")
            out.write(plain)
            if progress is not None:
                progress(written, f.size)
        try:
            opener.finish()
        except crypto.CouldNotOpen:
            raise E.CouldNotOpen(hint="nothing was saved") from None
        if written != f.size:
            raise E.CouldNotOpen(hint="nothing was saved")

    with open_directory(parent) as dir_fd:
        if os.fstat(dir_fd).st_uid not in (os.getuid(), 0):
            # Its owner would list the file's name and could swap the file later. (A
            # directory of root's, such as /tmp, is the system's: root reads all anyway.)
            raise E.UsageError(
                f"{parent} belongs to another user",
                hint="nothing was saved; save into a directory of your own",
            )
        if not ours_to_replace(dest.name, dir_fd):
            raise refuse()
        # The file appears only once every chunk verified and the size is as signed.
        try:
            write_into(dir_fd, dest.name, download, refuse)
        except OSError as e:  # the system said no (a full disk, a quota)
            raise E.UsageError(
                f"cannot save to {dest} ({e.strerror})",
                hint="nothing was saved; free some space or choose another place",
            ) from None
    return SavedFile(dest, written)


def chunk_count(size: int) -> int:
    """How many sealed chunks a file of `size` bytes is sent as (an empty file is one)."""
    return max(1, -(-size // crypto.CHUNK_SIZE))


MAX_ATTACHMENT: Final = 16 * 1024 * crypto.CHUNK_SIZE
"""The server's default cap (16,384 chunks of 64 KiB): 1 GiB."""


@dataclass(frozen=True)
class SavedFile:
    path: Path
    size: int


@dataclass(frozen=True)
class MissingFile:
    """An attached file whose sealed chunks the group's server does not hold (lost with a
    server, or never fully uploaded): the comment that carries it still verifies."""

    comment: str
    """The short id of the comment it is attached to."""
    name: str
    size: int


@dataclass(frozen=True)
class FileCopies:
    """What a move did with attached files: copied from the old server, or lost."""

    copied: int
    lost: tuple[MissingFile, ...]


def _attached(journal: Journal) -> list[tuple[CommentItem, FileRef]]:
    out = []
    for c in journal.view.list_items("comment"):
        assert isinstance(c, CommentItem)
        if c.body.file is not None:
            out.append((c, c.body.file))
    return out


def _held(api: ServerApi, group: bytes, blob: bytes) -> int | None:
    """How many chunks the server holds of an attachment, or None if none."""
    try:
        return api.attachment_info(group, blob).chunks
    except E.ServerNotFound:
        return None


def missing_files(journal: Journal) -> list[MissingFile]:
    """Every attached file readable here whose chunks the server does not hold whole (none
    for a member no longer in the group: the server shows them nothing)."""
    g = journal.group
    if g.status != "member":
        return []
    api = g._api()
    return [
        MissingFile(c.short_id, f.name, f.size)
        for c, f in _attached(journal)
        if (_held(api, g.id_bytes, f.blob) or 0) < chunk_count(f.size)
    ]


def copy_files(journal: Journal, old: ServerApi) -> FileCopies:
    """After a move: give the group's new server every attached file it lacks that the old
    server (`old`) still holds, chunk by chunk as sealed (nothing is opened)."""
    g = journal.group
    new = g._api()
    copied = 0
    lost: list[MissingFile] = []
    for c, f in _attached(journal):
        want = chunk_count(f.size)
        if (_held(new, g.id_bytes, f.blob) or 0) >= want:
            continue
        try:
            if (_held(old, g.id_bytes, f.blob) or 0) < want:
                raise E.ServerNotFound()
            for index in range(want):
                new.put_chunk(g.id_bytes, f.blob, index, old.get_chunk(g.id_bytes, f.blob, index))
        except E.ServerError:
            lost.append(MissingFile(c.short_id, f.name, f.size))
            continue
        copied += 1
    return FileCopies(copied, tuple(lost))


def ours_to_replace(path: Path | str, dir_fd: int | None = None) -> bool:
    """Whether a file the member asked for (a save with --force, an export) may replace what
    is at `path` (relative to `dir_fd` when given): nothing, or a regular file this user owns.

    The directory may be shared (a `/tmp` subdirectory, a synced folder): anything else
    there (a planted FIFO, a symlink, another user's world-writable file) may be someone
    waiting for the plaintext, so it is refused rather than replaced. The file itself is
    always written under an exclusive temporary name and renamed into place
    (`write_into`), so nothing planted after this check receives a byte either."""
    try:
        st = os.stat(path, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return True
    return stat.S_ISREG(st.st_mode) and st.st_uid == os.getuid()


@contextlib.contextmanager
def open_directory(path: Path) -> Iterator[int]:
    """`path` opened once as a directory: every later step works relative to this descriptor,
    so a link or a parent renamed after the checks cannot send the files elsewhere."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        yield fd
    finally:
        os.close(fd)


def write_into(
    dir_fd: int, name: str, write: Callable[[BinaryIO], None], refuse: Callable[[], Exception]
) -> None:
    """Write a file `name` in the directory `dir_fd`: `write` fills an exclusive 0600
    temporary file (O_EXCL, O_NOFOLLOW: nothing planted can receive a byte), which is
    fsynced and renamed into place only if `name` is still ours to replace (else `refuse()`
    is raised); on any failure the temporary file is removed."""
    while True:
        tmp = f".{name[:100]}.{secrets.token_hex(6)}.part"
        try:
            fd = os.open(
                tmp,
                os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                0o600,
                dir_fd=dir_fd,
            )
            break
        except FileExistsError:  # pragma: no cover - 48 random bits
            continue
    try:
        with os.fdopen(fd, "wb") as out:
            write(out)
            out.flush()
            os.fsync(out.fileno())
        if not ours_to_replace(name, dir_fd):  # planted while we wrote
            raise refuse()
        os.replace(tmp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp, dir_fd=dir_fd)
        raise


def not_ours(path: Path, hint: str, error: type[E.UsageError] = E.UsageError) -> E.UsageError:
    return error(
        f"{path} is not a file of yours (a link, a pipe, or another user's file)", hint=hint
    )


def saved_name(name: str) -> str:
    """The name a download takes in a directory: `file_name`, with no leading dot (no hidden
    file), and never empty (`...` would name the directory itself)."""
    return file_name(name).lstrip(".") or "file"


def file_name(name: str) -> str:
    """A file name fit for a title: printable, one line, at most 200 characters."""
    name = unicodedata.normalize("NFC", name)
    name = "".join(c if c.isprintable() and c not in "/\\" else "_" for c in name)
    name = clean_line(name)[:200].strip()
    return name or "file"


def file_size(n: int) -> str:
    """1 B, 12.5 KiB, 3.2 MiB, ..."""
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{n} B" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")  # pragma: no cover


# --- sealed chunks on the server -------------------------------------------------------------


def put_chunk(group: Group, attachment_id: bytes, index: int, sealed: bytes) -> None:
    """Upload one sealed chunk (write-once; the first chunk claims the id for this device)."""
    if group._load().status != "member":
        raise E.NotAMember()
    group._api().put_chunk(group._gid, attachment_id, index, sealed)


def get_chunk(group: Group, attachment_id: bytes, index: int) -> bytes:
    """Download one sealed chunk as the server holds it (open it with AttachmentOpener)."""
    return group._api().get_chunk(group._gid, attachment_id, index)


def delete_attachment(group: Group, attachment_id: bytes) -> None:
    """Delete an attachment's chunks on the server (its uploader or a leader)."""
    group._api().delete_attachment(group._gid, attachment_id)
