"""The entry write service: posting an entry, retracting one.

A post is checked (`entry_checks`) and stored with the posts waiting alongside it
(`entry_store`); its cursor is taken from the locked group row. Posting the very
same entry again returns its cursor (safe retries); anything else at a taken
(device, seq) or entry id is `duplicate_entry`.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from chatham.crypto import EntryError, EntryHeader, decode, verify_retraction
from sqlalchemy.exc import IntegrityError

from ..errors import ErrorCode, ServiceError, not_found
from ..runtime import Runtime
from ..storage import entries as store
from ..wire import EntryItem, EntryPosted, Retract
from . import entry_store
from .access import active_writer
from .entry_checks import invalid_entry, prepare
from .entry_pages import item
from .upkeep import schedule_scrub


async def post_entry(runtime: Runtime, gid: bytes, device: bytes, data: bytes) -> EntryPosted:
    """Check and store one encoded entry posted by `device`; its id and cursor."""
    post = prepare(runtime, gid, device, data)
    try:
        cursor = await runtime.db.together(
            entry_store.store_entries, runtime, post, savepoint=False
        )
    except (IntegrityError, entry_store.Taken):
        cursor = await _existing(runtime, gid, post.entry_id, device, post.seq, post.entry.sig)
    else:
        runtime.hub.notify(gid)
    return EntryPosted(post.entry_id, cursor)


async def _existing(
    runtime: Runtime, gid: bytes, entry_id: bytes, device: bytes, seq: int, sig: bytes
) -> int:
    """After a unique-constraint conflict: the same entry again gets its cursor, anything else
    is refused."""
    found = await runtime.db.read(lambda conn: store.entry_at(conn, gid, device, seq))
    if found is not None and found[0] == entry_id and found[2] == sig:
        return found[1]
    raise ServiceError(
        ErrorCode.DUPLICATE_ENTRY,
        "this device already posted a different entry with this sequence number (or this id)",
    )


async def retract_entry(
    runtime: Runtime, gid: bytes, eid: bytes, device: bytes, data: Retract
) -> EntryItem:
    """Delete the entry's ciphertext, keeping its stub and the signed retraction, under a new
    cursor; retracting again returns the same item."""

    def work(conn: sa.Connection) -> tuple[Any, bool]:
        _, state = active_writer(runtime, conn, gid, device)
        entry = store.entry_with_author(conn, gid, eid)
        if entry is None:
            raise not_found("entry")
        try:
            header = decode(entry.header, EntryHeader, max_size=1024)
            # at_head: the signer must be the author or a leader now, not only at the
            # (possibly backdated) log head the retraction claims.
            signed = verify_retraction(
                state,
                data.retraction,
                entry.device_id,
                entry_log_seq=header.log_seq,
                at_head=True,
            )
        except EntryError as e:
            if e.check == "role":
                raise ServiceError(ErrorCode.NOT_ALLOWED, str(e), check=e.check) from None
            raise invalid_entry(e) from None
        if signed.retraction.entry_id != eid:
            raise ServiceError(
                ErrorCode.INVALID_ENTRY, "the retraction names another entry", check="entry_id"
            )
        if entry.retraction is not None:
            return entry, False
        freed = len(entry.ciphertext or b"")
        return store.retract(conn, gid, eid, data.retraction, freed), True

    updated, changed = await runtime.db.write(work)
    if changed:
        runtime.hub.notify(gid)
        schedule_scrub(runtime)
    return item(updated)
