"""Routes of the group log: create, read, append, lockboxes (`services.groups`)."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, Response, Router, get, post
from litestar.params import JSONBody, Parameter

from ..answers import negotiate
from ..guards import CallerDep, DeviceDep, ServicesDep
from ..lean_route import LeanRoute
from ..openapi import responses
from ..services import groups
from ..wire import AppendOp, CreateGroup, GroupInfo, Head, LockboxPage, LogPage
from .params import GroupIdParam
from .params import group_id as parse_group_id


async def _create_group(
    data: JSONBody[CreateGroup], device: DeviceDep, services: ServicesDep
) -> Head:
    return await groups.create_group(services, device, data)


create_group = post(
    "/",
    summary="Create a group",
    description=(
        "ops = [genesis] or [genesis, first op] (normally the founder's rotate); lockboxes for "
        "the rotation's refs. The caller must be the founder's device. Needs open registration "
        "or an operator registration token."
    ),
    status_code=201,
    responses=responses(400, 401, 403, 409, 413, 422, 429),
    security=[{"bearer": []}],
    # LeanRoute: the token before the body, the body capped and decoded into its type.
    middleware=[LeanRoute(_create_group, CreateGroup)],
)(_create_group)


@get(
    "/{group_id:str}",
    summary="Group head, epoch and entry cursor (members)",
    responses=responses(400, 401, 403, 429),
    security=[{"bearer": []}],
)
async def group_info(group_id: GroupIdParam, device: DeviceDep, services: ServicesDep) -> GroupInfo:
    return await groups.group_info(services, parse_group_id(group_id), device)


@get(
    "/{group_id:str}/log",
    summary="Read the group log",
    description=(
        "Ops with since < seq <= the newest op the caller may read, oldest first, at most "
        "`limit`. `since` defaults to -1 (from genesis). Members read everything; a departed "
        "member up to and including their departure op; an invitee token the whole log while "
        "the invite is live. Accept: application/msgpack for a msgpack page."
    ),
    responses=responses(400, 401, 403, 429),
    security=[{"bearer": []}],
)
async def read_log(
    request: Request[Any, Any, Any],
    group_id: GroupIdParam,
    caller: CallerDep,
    services: ServicesDep,
    since: Annotated[int, Parameter(ge=-1, le=2**62)] = -1,
    limit: Annotated[int | None, Parameter(ge=1, le=100_000)] = None,
) -> Response[LogPage]:
    gid = parse_group_id(group_id)
    return negotiate(request, await groups.read_log(services, gid, caller, since, limit))


async def _append_op(
    group_id: GroupIdParam, data: JSONBody[AppendOp], device: DeviceDep, services: ServicesDep
) -> Head:
    return await groups.append_op(services, parse_group_id(group_id), device, data)


append_op = post(
    "/{group_id:str}/log",
    summary="Append an op",
    description=(
        "Appends `op` if the log's head is still (expected_seq, expected_head): otherwise 409 "
        "stale_head with the current seq and head. The op is verified (422 invalid_op naming the "
        "check); `lockboxes` must be exactly the rotation's refs."
    ),
    status_code=201,
    responses=responses(400, 401, 403, 409, 413, 422, 429),
    security=[{"bearer": []}],
    middleware=[LeanRoute(_append_op, AppendOp)],
)(_append_op)


@get(
    "/{group_id:str}/lockboxes",
    summary="This device's lockboxes",
    description="The caller's own lockboxes for epochs > since_epoch, oldest first.",
    responses=responses(400, 401, 403, 429),
    security=[{"bearer": []}],
)
async def read_lockboxes(
    request: Request[Any, Any, Any],
    group_id: GroupIdParam,
    device: DeviceDep,
    services: ServicesDep,
    since_epoch: Annotated[int, Parameter(ge=0, le=2**62)] = 0,
) -> Response[LockboxPage]:
    gid = parse_group_id(group_id)
    return negotiate(request, await groups.read_lockboxes(services, gid, device, since_epoch))


groups_router = Router(
    path="/v1/groups",
    route_handlers=[create_group, group_info, read_log, append_op, read_lockboxes],
    tags=["groups"],
)
