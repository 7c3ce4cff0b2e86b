"""Writing: the outbox of queued entries, sealed under the newest epoch only at send time.

An entry waits in the store sealed under the store key until it is sent, so a write
made offline never uses a key that a departed member holds; a conflict (a new epoch, a
pending rotation, a chain that moved) syncs and reseals before retrying.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

import msgspec
from chatham import crypto

from ... import errors as E
from ..local.store import EntryRow
from ..local.vault import random_bytes
from .ops import rotate_if_pending
from .sync import check_public, sync_once, track

if TYPE_CHECKING:
    from .api import ServerApi
    from .group import Group

ZERO32 = bytes(32)


def flush(group: Group, api: ServerApi) -> list[str]:
    sent: list[str] = []
    for entry_id, body in group._store.outbox(group._gid):
        for attempt in range(4):
            if group._store.entry(group._gid, entry_id) is not None:
                # It reached the server before (e.g. the client died before unqueueing).
                with group._store.write() as db:
                    group._store.unqueue(db, entry_id)
                sent.append(entry_id.hex())
                break
            rotate_if_pending(group)
            sealed = seal(group, entry_id, body)
            try:
                posted = api.post_entry(group._gid, sealed.data)
            except E.Conflict as e:
                if attempt == 3 or e.code not in (
                    "stale_epoch",
                    "rotation_pending",
                    "chain_gap",
                    "duplicate_entry",
                ):
                    raise
                sync_once(group, None, send=False)  # the log or a chain moved: catch up, reseal
                continue
            store_own(group, sealed, posted.cursor, entry_id)
            sent.append(entry_id.hex())
            break
    return sent


def seal(group: Group, entry_id: bytes, body: bytes) -> crypto.SealedEntry:
    snap = group._load()
    state = snap.state
    if state.pending_rotation:
        raise E.RotationPending()
    if state.epoch not in snap.keyring.keys:
        raise E.CouldNotOpen(
            "this device does not have the group's current key yet", hint="run `chatham sync`"
        )
    device = group._device()
    head = snap.tracker.head(device.id)
    sealed = crypto.seal_entry(
        device=device,
        epoch_key=snap.keyring.keys[state.epoch],
        group=group._gid,
        epoch=state.epoch,
        seq=head.seq + 1 if head else 1,
        prev=head.link if head else ZERO32,
        log_seq=state.seq,
        log_head=state.head,
        body=body,
        entry_id=entry_id,
    )
    return sealed


def store_own(group: Group, sealed: crypto.SealedEntry, cursor: int, entry_id: bytes) -> None:
    snap = group._load()
    entry = sealed.entry
    link = check_public(snap.state, entry)
    header = entry.header
    track(snap.tracker, header, link)
    row = EntryRow(
        entry_id,
        cursor,
        header.device,
        header.seq,
        header.epoch,
        crypto.encode(header),
        entry.ct,
        crypto.ct_hash(entry.ct),
        entry.sig,
        link,
        None,
    )
    pinned = msgspec.structs.replace(
        snap.pinned,
        entries=snap.pinned.entries + 1,
        heads=[(h.device, h.seq, h.link) for h in snap.tracker.heads()],
    )
    store = group._store
    try:
        with store.write() as db:
            store.claim(db, group._gid, snap.version)
            store.add_entries(db, group._gid, [row])
            store.unqueue(db, entry_id)
            version = store.pin(db, group._gid, snap.version, pinned)
    except BaseException:
        group._snap = None
        raise
    snap.version, snap.pinned = version, pinned


MAX_ENTRY_BODY = 1 << 20
"""The protocol's cap on an entry body (docs/protocol.md §7.2)."""


def queue(group: Group, body: bytes) -> str:
    """Queue `body` as a new entry and send it now if the server is reachable; its id.

    The body is opaque here (the journal layer encodes it). It is kept sealed under the
    store key until it is sent, and sealed under the newest epoch only at send time, so
    a write made offline never uses a key that a departed member holds.
    """
    if not isinstance(body, bytes):
        raise TypeError("an entry body is bytes")
    if len(body) > MAX_ENTRY_BODY:
        raise E.UsageError(
            f"an entry is at most {MAX_ENTRY_BODY} bytes",
            hint="attach large content as a file instead",
        )
    snap = group._load()
    if snap.status != "member":
        raise E.NotAMember()
    entry_id = random_bytes(16)
    group._store.queue(group._gid, entry_id, body, group._account.now())
    with contextlib.suppress(E.Unreachable):  # queued; the next sync sends it
        group.sync()
    return entry_id.hex()


def retract(group: Group, entry_id: str) -> None:
    """Delete an entry's ciphertext on the server and here, with a signed retraction.

    The author or a leader may retract. It cannot recall what members already read.
    """
    row = group._find(entry_id)
    if row.retraction is not None:
        return
    group.sync(send=False)
    snap = group._load()
    me = group._device().id
    if row.device != me and not snap.state.is_leader_device(me):
        raise E.NotAllowed(
            "only the author or a leader may retract an entry",
            hint="ask the author or a leader",
        )
    signed = crypto.sign_retraction(
        group._device(), group._gid, row.entry_id, snap.state.seq, time=group._account.now()
    )
    group._api().retract(group._gid, row.entry_id, signed)
    group.sync(send=False)
