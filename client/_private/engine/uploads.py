"""Uploads that stopped halfway (the server went away mid-file): remembered, sealed in the
local store, and deleted from the server at the next sync, so their chunks do not count
against the group's space. And uploads whose entry was queued, not sent: the server
deletes an upload no entry names within a day (docs/server-api.md), so the entry is
named to it at the sync that sends it (`name_sent`).

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


SEAL_UNNAMED: Final = b"unnamed-uploads"


def _unnamed_key(group: Group) -> str:
    return f"uploads/unnamed/{group.id}"


def unnamed(group: Group) -> list[tuple[bytes, bytes]]:
    """(attachment id, entry id) of finished uploads whose entry is still to be named."""
    sealed = group._store.get_meta(_unnamed_key(group))
    if sealed is None:
        return []
    raw = group._store.vault.open(SEAL_UNNAMED, group.id_bytes, sealed)
    pairs = [raw[i : i + 2 * BLOB] for i in range(0, len(raw), 2 * BLOB)]
    return [(p[:BLOB], p[BLOB:]) for p in pairs]


def _save_unnamed(group: Group, pairs: list[tuple[bytes, bytes]]) -> None:
    store = group._store
    raw = b"".join(a + e for a, e in pairs)
    value = store.vault.seal(SEAL_UNNAMED, group.id_bytes, raw) if pairs else None
    store.set_meta(_unnamed_key(group), value)


def name_entry(group: Group, blob: bytes, entry_id: bytes, *, sent: bool) -> None:
    """Finish an upload: tell the server which entry refers to it, now if the entry was sent
    (remembered if the server cannot be reached), else once a sync has sent it."""
    if sent:
        try:
            group._api().name_attachment_entry(group.id_bytes, blob, entry_id)
            return
        except E.Unreachable:
            pass
    pairs = unnamed(group)
    if (blob, entry_id) not in pairs:
        _save_unnamed(group, [*pairs, (blob, entry_id)])


def queued_ids(group: Group) -> set[bytes]:
    """The ids of the entries waiting in the group's outbox."""
    return {eid for eid, _, _ in group._store.outbox(group.id_bytes)}


def is_queued(group: Group, entry_id: bytes) -> bool:
    return entry_id in queued_ids(group)


def name_sent(group: Group, queued: set[bytes]) -> int:
    """Name the entries of remembered uploads that are no longer queued; how many were named.
    One the server refuses (the upload or the entry is gone) is dropped; an unreachable
    server leaves the rest for the next sync."""
    pairs = unnamed(group)
    left = list(pairs)
    for blob, entry_id in pairs:
        if entry_id in queued:
            continue
        try:
            group._api().name_attachment_entry(group.id_bytes, blob, entry_id)
        except E.Unreachable:
            break
        except E.ChathamError:
            pass  # the upload expired or the entry was withdrawn: nothing left to name
        left.remove((blob, entry_id))
    if left != pairs:
        _save_unnamed(group, left)
    return len(pairs) - len(left)
