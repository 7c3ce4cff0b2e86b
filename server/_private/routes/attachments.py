"""Attachment chunks: opaque, capped, write-once blobs that only members can read or write.

A chunk is at most `max_chunk` bytes (64 KiB of plaintext plus its tag). The
body is read from the request stream and refused as soon as it passes the cap,
so a request costs at most one chunk of memory whatever the client sends; the
download is one chunk too. The first chunk claims the attachment id for the
uploading device: only that device adds chunks, and only it or a leader
deletes the attachment. Chunks are write-once (the same bytes again are
accepted, different bytes are 409) so a retry never corrupts a stream.
"""

from __future__ import annotations

from typing import Annotated, Any

import sqlalchemy as sa
from litestar import Request, Response, Router, delete, get, put
from litestar.params import Parameter
from sqlalchemy.exc import IntegrityError

from ..access import require_active
from ..auth import DeviceDep, ServicesDep
from ..errors import ApiError, not_a_member, responses
from ..groups import current_state, read_group_row
from ..http import insert_ignore, path_id
from ..services import Services
from ..storage import schema as t
from ..wire import AttachmentInfo, ChunkStored
from .groups import GroupIdParam

AttachmentIdParam = Annotated[
    str, Parameter(description="The attachment id: unpadded base64url of 16 bytes (22 characters).")
]
IndexParam = Annotated[int, Parameter(ge=0, le=2**31, description="Chunk index, from 0.")]


def _ids(group_id: str, attachment_id: str) -> tuple[bytes, bytes]:
    """The group and attachment ids from the path, or a 400 naming the field."""
    return path_id(group_id, 32, "group_id"), path_id(attachment_id, 16, "attachment_id")


def _chunk(gid: bytes, aid: bytes, index: int) -> sa.Select[Any]:
    """The stored bytes of one chunk."""
    return sa.select(t.attachment_chunks.c.data).where(
        t.attachment_chunks.c.group_id == gid,
        t.attachment_chunks.c.attachment_id == aid,
        t.attachment_chunks.c.idx == index,
    )


async def _read_capped(request: Request[Any, Any, Any], cap: int) -> bytes:
    declared = request.headers.get("content-length")
    # isascii: str.isdigit() also accepts digits such as "²" that int() refuses.
    if declared is not None and declared.isascii() and declared.isdigit() and int(declared) > cap:
        raise ApiError(413, "body_too_large", f"a chunk is at most {cap} bytes")
    buf = bytearray()
    async for part in request.stream():
        buf += part
        if len(buf) > cap:
            raise ApiError(413, "body_too_large", f"a chunk is at most {cap} bytes")
    return bytes(buf)


@put(
    "/{group_id:str}/attachments/{attachment_id:str}/chunks/{index:int}",
    summary="Upload one attachment chunk (raw body)",
    status_code=201,
    responses=responses(400, 401, 403, 409, 413, 429),
    security=[{"bearer": []}],
)
async def put_chunk(
    request: Request[Any, Any, Any],
    group_id: GroupIdParam,
    attachment_id: AttachmentIdParam,
    index: IndexParam,
    device: DeviceDep,
    services: ServicesDep,
) -> ChunkStored:
    gid, aid = _ids(group_id, attachment_id)
    settings = services.settings
    if index >= settings.max_chunks_per_attachment:
        raise ApiError(
            400,
            "invalid_request",
            f"an attachment has at most {settings.max_chunks_per_attachment} chunks",
            field="index",
        )
    data = await _read_capped(request, settings.max_chunk)

    def work(conn: sa.Connection) -> None:
        row = read_group_row(conn, gid, lock=True)
        if row is None:
            raise not_a_member()
        require_active(services.states.state_at(conn, row), device)
        insert_ignore(
            conn,
            t.attachments,
            {
                "group_id": gid,
                "attachment_id": aid,
                "device_id": device,
                "created": settings.blurred_now(),
            },
        )
        owner = conn.execute(
            sa.select(t.attachments.c.device_id).where(
                t.attachments.c.group_id == gid, t.attachments.c.attachment_id == aid
            )
        ).scalar_one()
        if owner != device:
            raise ApiError(403, "not_uploader", "another device owns this attachment id")
        grown = conn.execute(
            sa.update(t.groups)
            .where(
                t.groups.c.group_id == gid,
                t.groups.c.stored_bytes + len(data) <= settings.group_quota,
            )
            .values(stored_bytes=t.groups.c.stored_bytes + len(data))
        )
        if grown.rowcount != 1:
            raise ApiError(413, "quota_exceeded", "the group's storage quota is full")
        conn.execute(
            sa.insert(t.attachment_chunks).values(
                group_id=gid, attachment_id=aid, idx=index, data=data
            )
        )

    try:
        await services.db.batch(work)
    except IntegrityError:
        query = _chunk(gid, aid, index)
        existing = await services.db.read(lambda conn: conn.execute(query).scalar())
        if existing != data:
            raise ApiError(
                409, "chunk_exists", "this chunk was already uploaded with other bytes"
            ) from None
    return ChunkStored(aid, index, len(data))


def _require_member(services: Services, conn: sa.Connection, gid: bytes, device: bytes) -> None:
    require_active(current_state(services.states, conn, gid), device)


@get(
    "/{group_id:str}/attachments/{attachment_id:str}/chunks/{index:int}",
    summary="Download one attachment chunk (raw body)",
    media_type="application/octet-stream",
    responses=responses(400, 401, 403, 404, 429),
    security=[{"bearer": []}],
)
async def get_chunk(
    group_id: GroupIdParam,
    attachment_id: AttachmentIdParam,
    index: IndexParam,
    device: DeviceDep,
    services: ServicesDep,
) -> Response[bytes]:
    gid, aid = _ids(group_id, attachment_id)

    def work(conn: sa.Connection) -> bytes | None:
        _require_member(services, conn, gid, device)
        data: bytes | None = conn.execute(_chunk(gid, aid, index)).scalar()
        return data

    data = await services.db.read(work)
    if data is None:
        raise ApiError(404, "not_found", "no such chunk")
    return Response(content=data, media_type="application/octet-stream")


def _info(conn: sa.Connection, gid: bytes, aid: bytes) -> AttachmentInfo | None:
    exists = conn.execute(
        sa.select(t.attachments.c.device_id).where(
            t.attachments.c.group_id == gid, t.attachments.c.attachment_id == aid
        )
    ).first()
    if exists is None:
        return None
    count, size = conn.execute(
        sa.select(
            sa.func.count(),
            sa.func.coalesce(sa.func.sum(sa.func.length(t.attachment_chunks.c.data)), 0),
        ).where(t.attachment_chunks.c.group_id == gid, t.attachment_chunks.c.attachment_id == aid)
    ).one()
    return AttachmentInfo(aid, int(count), int(size))


@get(
    "/{group_id:str}/attachments/{attachment_id:str}",
    summary="How many chunks an attachment has",
    description="`chunks` counts the stored chunks; a complete upload has indices 0..chunks-1.",
    responses=responses(400, 401, 403, 404, 429),
    security=[{"bearer": []}],
)
async def attachment_info(
    group_id: GroupIdParam,
    attachment_id: AttachmentIdParam,
    device: DeviceDep,
    services: ServicesDep,
) -> AttachmentInfo:
    gid, aid = _ids(group_id, attachment_id)

    def work(conn: sa.Connection) -> AttachmentInfo | None:
        _require_member(services, conn, gid, device)
        return _info(conn, gid, aid)

    info = await services.db.read(work)
    if info is None:
        raise ApiError(404, "not_found", "no such attachment")
    return info


@delete(
    "/{group_id:str}/attachments/{attachment_id:str}",
    summary="Delete an attachment (its uploader or a leader)",
    status_code=200,
    responses=responses(400, 401, 403, 404, 429),
    security=[{"bearer": []}],
)
async def delete_attachment(
    group_id: GroupIdParam,
    attachment_id: AttachmentIdParam,
    device: DeviceDep,
    services: ServicesDep,
) -> AttachmentInfo:
    gid, aid = _ids(group_id, attachment_id)

    def work(conn: sa.Connection) -> AttachmentInfo:
        row = read_group_row(conn, gid, lock=True)
        if row is None:
            raise not_a_member()
        state = require_active(services.states.state_at(conn, row), device)
        owner = conn.execute(
            sa.select(t.attachments.c.device_id).where(
                t.attachments.c.group_id == gid, t.attachments.c.attachment_id == aid
            )
        ).scalar()
        if owner is None:
            raise ApiError(404, "not_found", "no such attachment")
        if owner != device and not state.is_leader_device(device):
            raise ApiError(
                403, "not_allowed", "only the uploader or a leader deletes an attachment"
            )
        info = _info(conn, gid, aid)
        assert info is not None
        conn.execute(
            sa.delete(t.attachment_chunks).where(
                t.attachment_chunks.c.group_id == gid, t.attachment_chunks.c.attachment_id == aid
            )
        )
        conn.execute(
            sa.delete(t.attachments).where(
                t.attachments.c.group_id == gid, t.attachments.c.attachment_id == aid
            )
        )
        conn.execute(
            sa.update(t.groups)
            .where(t.groups.c.group_id == gid)
            .values(stored_bytes=t.groups.c.stored_bytes - info.size)
        )
        return info

    info = await services.db.write(work)
    services.schedule_scrub()
    return info


attachments_router = Router(
    path="/v1/groups",
    route_handlers=[put_chunk, get_chunk, attachment_info, delete_attachment],
    tags=["attachments"],
)
