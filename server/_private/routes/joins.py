"""Join requests: an invitee's signed request, checked against the invite op's join key.

The server cannot mint a request (it never sees the invite secret) but checks
each one: the invite exists, is unused, unrevoked and unexpired, its issuer
is still an active leader, and the request is signed with its join key. One
request per invite (primary key (group, invite)); requests for invites that
die are dropped when the log moves. Rate-limited per group and per client.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from chatham.crypto import InviteError, decode_join_request, verify_join_request
from litestar import Request, Router, get, post
from litestar.params import JSONBody
from sqlalchemy.exc import IntegrityError

from ..access import require_leader
from ..auth import DeviceDep, ServicesDep, client_key
from ..errors import ApiError, responses
from ..groups import current_state
from ..http import path_id
from ..storage import schema as t
from ..wire import JoinRequestItem, JoinRequestPage, PostJoinRequest
from .groups import GroupIdParam


@post(
    "/{group_id:str}/join-requests",
    summary="Send a join request (invitee; no login needed)",
    description="`request` is the encoded SignedJoinRequest, signed with the invite's join key.",
    status_code=201,
    responses=responses(400, 403, 409, 413, 422, 429),
)
async def post_join_request(
    request: Request[Any, Any, Any],
    group_id: GroupIdParam,
    data: JSONBody[PostJoinRequest],
    services: ServicesDep,
) -> JoinRequestItem:
    gid = path_id(group_id, 32, "group_id")
    services.limiter.hit(("auth", client_key(request)), services.settings.rate_auth)
    services.limiter.hit(("join", gid), services.settings.rate_join)
    try:
        signed = decode_join_request(data.request)
    except InviteError as e:
        raise ApiError(422, "invalid_join_request", str(e), check="encoding") from None
    req = signed.request
    if req.group != gid:
        raise ApiError(
            422, "invalid_join_request", "the request names another group", check="group"
        )
    now = services.settings.now()

    def work(conn: sa.Connection) -> None:
        state = current_state(services.states, conn, gid)
        if state is None or not state.invite_usable(req.invite_id, now):
            raise ApiError(403, "invite_not_usable", "no live invite with this id in this group")
        try:
            verify_join_request(state, data.request, now=now)
        except InviteError as e:
            raise ApiError(422, "invalid_join_request", str(e), check="signature") from None
        conn.execute(
            sa.insert(t.join_requests).values(
                group_id=gid,
                invite_id=req.invite_id,
                request=data.request,
                created=services.settings.blurred_now(),
            )
        )

    try:
        await services.db.write(work)
    except IntegrityError:
        raise ApiError(
            409, "invite_used", "a join request for this invite has already been sent"
        ) from None
    return JoinRequestItem(req.invite_id, data.request)


@get(
    "/{group_id:str}/join-requests",
    summary="Pending join requests (leaders)",
    responses=responses(400, 401, 403, 429),
    security=[{"bearer": []}],
)
async def list_join_requests(
    group_id: GroupIdParam, device: DeviceDep, services: ServicesDep
) -> JoinRequestPage:
    gid = path_id(group_id, 32, "group_id")
    now = services.settings.now()

    def work(conn: sa.Connection) -> tuple[Any, Sequence[Any]]:
        state = require_leader(current_state(services.states, conn, gid), device)
        rows = conn.execute(
            sa.select(t.join_requests.c.invite_id, t.join_requests.c.request)
            .where(t.join_requests.c.group_id == gid)
            .order_by(t.join_requests.c.invite_id)
        ).all()
        return state, rows

    state, rows = await services.db.read(work)
    live = [
        JoinRequestItem(r.invite_id, r.request)
        for r in rows
        if state.invite_usable(r.invite_id, now)
    ]
    return JoinRequestPage(live)


joins_router = Router(
    path="/v1/groups",
    route_handlers=[post_join_request, list_join_requests],
    tags=["invites"],
)
