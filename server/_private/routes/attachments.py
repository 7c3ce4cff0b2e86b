"""Routes of attachment chunks: raw bodies, capped as they stream in (`services.attachments`)."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, Router, delete, get, put

from ..bodies import read_capped
from ..errors import invalid_request
from ..guards import DeviceDep, ServicesDep
from ..openapi import responses
from ..services import attachments
from ..wire import AttachmentInfo, ChunkStored
from .params import AttachmentIdParam, GroupIdParam, IndexParam
from .params import attachment_id as parse_attachment_id
from .params import group_id as parse_group_id


def _ids(gid: str, aid: str) -> tuple[bytes, bytes]:
    """The group and attachment ids from the path, or a 400 naming the field."""
    return parse_group_id(gid), parse_attachment_id(aid)


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
    most = services.settings.max_chunks_per_attachment
    if index >= most:
        raise invalid_request(f"an attachment has at most {most} chunks", field="index")
    data = await read_capped(request, services.settings.max_chunk)
    return await attachments.put_chunk(services, gid, aid, index, device, data)


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
    data = await attachments.get_chunk(services, gid, aid, index, device)
    return Response(content=data, media_type="application/octet-stream")


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
    return await attachments.attachment_info(services, gid, aid, device)


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
    return await attachments.delete_attachment(services, gid, aid, device)


attachments_router = Router(
    path="/v1/groups",
    route_handlers=[put_chunk, get_chunk, attachment_info, delete_attachment],
    tags=["attachments"],
)
