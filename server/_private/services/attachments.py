"""The attachment service: opaque, capped, write-once chunks that only members read or write.

The first chunk claims the attachment id for the uploading device: only that
device adds chunks, and only it or a leader deletes the attachment. Chunks are
write-once (the same bytes again are accepted, different bytes are 409) so a
retry never corrupts a stream.

An upload finishes when its uploader names the entry that refers to it (an entry
the same device posted in the group). An upload nothing named is deleted
`upload_ttl` seconds after it began (`expire_uploads`), and at once when its device
leaves the roster (`drop_departed_uploads`), so chunks nothing refers to cannot fill
a group's quota for good. Leaders list a group's attachments with their uploaders
(`list_attachments`) and may delete any.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from ..errors import ErrorCode, ServiceError, not_found
from ..rosters import current_state
from ..runtime import Runtime
from ..storage import attachments as store
from ..storage.entries import entry_device
from ..wire import AttachmentInfo, AttachmentItem, AttachmentList, ChunkStored
from .access import active_member, active_writer, require_leader, warm
from .upkeep import schedule_scrub


async def put_chunk(
    runtime: Runtime, gid: bytes, aid: bytes, index: int, device: bytes, data: bytes
) -> ChunkStored:
    """Store one chunk, counted against the group's quota; the same bytes again are fine."""
    settings = runtime.settings
    await warm(runtime, gid)

    def work(conn: sa.Connection) -> None:
        active_writer(runtime, conn, gid, device)
        owner = store.claim(conn, gid, aid, device, settings.blurred_now())
        if owner is None:
            raise ServiceError(
                ErrorCode.ATTACHMENT_DELETED,
                "an attachment with this id was deleted; an id is never used again",
            )
        if owner != device:
            raise ServiceError(ErrorCode.NOT_UPLOADER, "another device owns this attachment id")
        if not store.grow_stored_bytes(conn, gid, len(data), settings.group_quota):
            raise ServiceError(ErrorCode.QUOTA_EXCEEDED, "the group's storage quota is full")
        store.insert_chunk(conn, gid, aid, index, data)

    try:
        await runtime.db.batch(work)
    except IntegrityError:
        existing = await runtime.db.read(lambda conn: store.chunk(conn, gid, aid, index))
        if existing != data:
            raise ServiceError(
                ErrorCode.CHUNK_EXISTS, "this chunk was already uploaded with other bytes"
            ) from None
    return ChunkStored(aid, index, len(data))


async def get_chunk(runtime: Runtime, gid: bytes, aid: bytes, index: int, device: bytes) -> bytes:
    """One chunk's bytes, or 404."""

    def work(conn: sa.Connection) -> bytes | None:
        active_member(runtime, conn, gid, device)
        return store.chunk(conn, gid, aid, index)

    data = await runtime.db.read(work)
    if data is None:
        raise not_found("chunk")
    return data


def _info(conn: sa.Connection, gid: bytes, aid: bytes) -> AttachmentInfo | None:
    found = store.chunk_count_and_size(conn, gid, aid)
    return None if found is None else AttachmentInfo(aid, *found)


async def attachment_info(
    runtime: Runtime, gid: bytes, aid: bytes, device: bytes
) -> AttachmentInfo:
    """How many chunks are stored and their total size, or 404."""

    def work(conn: sa.Connection) -> AttachmentInfo | None:
        active_member(runtime, conn, gid, device)
        return _info(conn, gid, aid)

    info = await runtime.db.read(work)
    if info is None:
        raise not_found("attachment")
    return info


async def delete_attachment(
    runtime: Runtime, gid: bytes, aid: bytes, device: bytes
) -> AttachmentInfo:
    """Delete an attachment (its uploader or a leader); the info of what was deleted."""
    await warm(runtime, gid)

    def work(conn: sa.Connection) -> AttachmentInfo:
        _, state = active_writer(runtime, conn, gid, device)
        owner = store.uploader(conn, gid, aid)
        if owner is None:
            raise not_found("attachment")
        if owner != device and not state.is_leader_device(device):
            raise ServiceError(
                ErrorCode.NOT_ALLOWED, "only the uploader or a leader deletes an attachment"
            )
        info = _info(conn, gid, aid)
        assert info is not None
        store.delete_attachment(conn, gid, aid, info.size, runtime.settings.blurred_now())
        return info

    info = await runtime.db.write(work)
    schedule_scrub(runtime)
    return info


async def name_entry(
    runtime: Runtime, gid: bytes, aid: bytes, device: bytes, entry_id: bytes
) -> AttachmentInfo:
    """The uploader names the entry (its own, in this group) that refers to the upload."""
    await warm(runtime, gid)

    def work(conn: sa.Connection) -> AttachmentInfo:
        active_writer(runtime, conn, gid, device)
        owner = store.uploader(conn, gid, aid)
        if owner is None:
            raise not_found("attachment")
        if owner != device:
            raise ServiceError(ErrorCode.NOT_UPLOADER, "another device owns this attachment id")
        if entry_device(conn, gid, entry_id) != device:
            raise not_found("entry of this device")
        store.name_entry(conn, gid, aid, entry_id)
        info = _info(conn, gid, aid)
        assert info is not None
        return info

    return await runtime.db.write(work)


async def list_attachments(
    runtime: Runtime, gid: bytes, device: bytes, after: bytes, limit: int | None
) -> AttachmentList:
    """The group's live attachments with their uploaders, for leaders, in id order."""
    page = min(limit or runtime.settings.page_limit, runtime.settings.page_limit)

    def work(conn: sa.Connection) -> list[tuple[bytes, bytes, bytes | None, int, int]]:
        require_leader(current_state(runtime.states, conn, gid), device)
        return store.listing(conn, gid, after, page + 1)

    rows = await runtime.db.read(work)
    items = [AttachmentItem(a, d, n, size, e) for a, d, e, n, size in rows[:page]]
    return AttachmentList(items, more=len(rows) > page)


def _delete(conn: sa.Connection, gid: bytes, aid: bytes, now: int) -> None:
    info = _info(conn, gid, aid)
    if info is not None:
        store.delete_attachment(conn, gid, aid, info.size, now)


def drop_departed_uploads(
    runtime: Runtime, conn: sa.Connection, gid: bytes, departed: list[bytes]
) -> int:
    """In an op's transaction: the unfinished uploads of devices that just left the roster go;
    how many (the caller schedules the scrub once the transaction is committed)."""
    if not departed:
        return 0
    gone = store.unfinished_of(conn, gid, departed)
    for aid in gone:
        _delete(conn, gid, aid, runtime.settings.blurred_now())
    return len(gone)


async def expire_uploads(runtime: Runtime) -> int:
    """Delete uploads no entry named within `upload_ttl`; how many went."""
    settings = runtime.settings
    before = settings.now() - settings.upload_ttl

    def work(conn: sa.Connection) -> int:
        found = store.unfinished(conn, before)
        for gid, aid in found:
            _delete(conn, gid, aid, settings.blurred_now())
        return len(found)

    gone = await runtime.db.write(work)
    if gone:
        schedule_scrub(runtime)
    return gone
