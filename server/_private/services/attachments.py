"""The attachment service: opaque, capped, write-once chunks that only members read or write.

The first chunk claims the attachment id for the uploading device: only that
device adds chunks, and only it or a leader deletes the attachment. Chunks are
write-once (the same bytes again are accepted, different bytes are 409) so a
retry never corrupts a stream.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from ..errors import ErrorCode, ServiceError, not_found
from ..runtime import Runtime
from ..storage import attachments as store
from ..wire import AttachmentInfo, ChunkStored
from .access import active_member, active_writer, warm
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
