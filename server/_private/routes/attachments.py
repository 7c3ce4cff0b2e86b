"""Routes of attachment chunks: raw bodies, capped as they stream in (`services.attachments`)."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, Response, Router, delete, get, put
from litestar.params import JSONBody, Parameter

from ..bodies import read_capped
from ..errors import invalid_request
from ..guards import DeviceDep, ServicesDep
from ..lean_route import LeanRoute
from ..openapi import responses
from ..services import attachments
from ..wire import AttachmentInfo, AttachmentList, ChunkStored, NameEntry
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


async def _name_entry(
    group_id: GroupIdParam,
    attachment_id: AttachmentIdParam,
    data: JSONBody[NameEntry],
    device: DeviceDep,
    services: ServicesDep,
) -> AttachmentInfo:
    gid, aid = _ids(group_id, attachment_id)
    return await attachments.name_entry(services, gid, aid, device, data.entry_id)


name_entry = put(
    "/{group_id:str}/attachments/{attachment_id:str}/entry",
    summary="Finish an upload by naming the entry that refers to it (its uploader)",
    description=(
        "`entry_id` must be an entry the calling device posted in this group. An upload no "
        "entry names is deleted `upload_ttl` (a day) after it began, and at once when its "
        "device leaves the group."
    ),
    status_code=200,
    responses=responses(400, 401, 403, 404, 413, 429),
    security=[{"bearer": []}],
    middleware=[LeanRoute(_name_entry, NameEntry)],
)(_name_entry)


@get(
    "/{group_id:str}/attachments",
    summary="The group's attachments with their uploaders (leaders)",
    description=(
        "Live attachments with ids after `after`, in id order, at most `limit`: id, uploading "
        "device, chunk count, bytes, and the entry its uploader named (absent: not finished)."
    ),
    responses=responses(400, 401, 403, 429),
    security=[{"bearer": []}],
)
async def list_attachments(
    group_id: GroupIdParam,
    device: DeviceDep,
    services: ServicesDep,
    after: Annotated[str | None, Parameter(description="An attachment id: list after it.")] = None,
    limit: Annotated[int | None, Parameter(ge=1, le=100_000)] = None,
) -> AttachmentList:
    gid = parse_group_id(group_id)
    start = bytes(16) if after is None else parse_attachment_id(after)
    return await attachments.list_attachments(services, gid, device, start, limit)


attachments_router = Router(
    path="/v1/groups",
    route_handlers=[
        put_chunk,
        get_chunk,
        attachment_info,
        delete_attachment,
        name_entry,
        list_attachments,
    ],
    tags=["attachments"],
)
