"""Uploads that stopped halfway (the server went away mid-file): remembered, sealed in the
local store, and deleted from the server at the next sync, so their chunks do not count
against the group's space.

Attachments are not queued like entries: the file may change or move before the server is
back. The part already sent is only ever cleaned up, never resumed, and the member is told
so (docs/client.md, "Attachments").
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from ... import errors as E

if TYPE_CHECKING:
    from .group import Group

SEAL_STOPPED: Final = b"stopped-uploads"
BLOB: Final = 16


def _key(group: Group) -> str:
    return f"uploads/stopped/{group.id}"


def stopped(group: Group) -> list[bytes]:
    """The attachment ids of this group's uploads that stopped halfway, oldest first."""
    store = group._store
    sealed = store.get_meta(_key(group))
    if sealed is None:
        return []
    raw = store.vault.open(SEAL_STOPPED, group.id_bytes, sealed)
    return [raw[i : i + BLOB] for i in range(0, len(raw), BLOB)]


def _save(group: Group, blobs: list[bytes]) -> None:
    store = group._store
    value = store.vault.seal(SEAL_STOPPED, group.id_bytes, b"".join(blobs)) if blobs else None
    store.set_meta(_key(group), value)


def remember(group: Group, blob: bytes) -> None:
    """Note an upload that stopped halfway, to delete its chunks at the next sync."""
    known = stopped(group)
    if blob not in known:
        _save(group, [*known, blob])


def clean_up(group: Group) -> int:
    """Delete the chunks of uploads that stopped halfway; how many were cleared. One the
    server no longer has counts as cleared; an unreachable server leaves the rest for later."""
    known = stopped(group)
    left = list(known)
    for blob in known:
        try:
            group._api().delete_attachment(group.id_bytes, blob)
        except E.ServerNotFound:
            pass  # gone already (or never stored): nothing left to free
        except E.Unreachable:
            break
        left.remove(blob)
    if left != known:
        _save(group, left)
    return len(known) - len(left)
