"""Routes of invites and join requests: an invitee finds the group an invite belongs to and
sends a request, leaders list the requests (`services.joins`)."""

from __future__ import annotations

from typing import Any

from litestar import Request, Router, get, post
from litestar.params import JSONBody

from ..guards import DeviceDep, ServicesDep, client_key
from ..lean_route import LeanRoute
from ..openapi import responses
from ..services import joins
from ..wire import InviteGroups, JoinRequestItem, JoinRequestPage, PostJoinRequest
from .params import GroupIdParam, InviteIdParam
from .params import group_id as parse_group_id
from .params import invite_id as parse_invite_id


async def _post_join_request(
    group_id: GroupIdParam, data: JSONBody[PostJoinRequest], services: ServicesDep
) -> JoinRequestItem:
    return await joins.post_join_request(services, parse_group_id(group_id), data.request)


post_join_request = post(
    "/{group_id:str}/join-requests",
    summary="Send a join request (invitee; no login needed)",
    description="`request` is the encoded SignedJoinRequest, signed with the invite's join key.",
    status_code=201,
    responses=responses(400, 403, 409, 413, 422, 429),
    # LeanRoute: the per-address limit before the body is read, the body capped and typed.
    middleware=[LeanRoute(_post_join_request, PostJoinRequest)],
)(_post_join_request)


@get(
    "/{group_id:str}/join-requests",
    summary="Pending join requests (leaders)",
    responses=responses(400, 401, 403, 429),
    security=[{"bearer": []}],
)
async def list_join_requests(
    group_id: GroupIdParam, device: DeviceDep, services: ServicesDep
) -> JoinRequestPage:
    return await joins.list_join_requests(services, parse_group_id(group_id), device)


@get(
    "/{invite_id:str}",
    summary="The group that published an invite (invitee; no login needed)",
    description="`invite_id` is derived from the invite code's secret (docs/protocol.md §8); "
    "the answer lists the groups whose log holds an invite op with it (normally one).",
    responses=responses(400, 404, 429),
)
async def invite_groups(
    request: Request[Any, Any, Any], invite_id: InviteIdParam, services: ServicesDep
) -> InviteGroups:
    return await joins.invite_groups(services, client_key(request), parse_invite_id(invite_id))


joins_router = Router(
    path="/v1/groups",
    route_handlers=[post_join_request, list_join_requests],
    tags=["invites"],
)
invites_router = Router(path="/v1/invites", route_handlers=[invite_groups], tags=["invites"])
