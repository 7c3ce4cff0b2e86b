"""The join request service: an invitee's signed request, checked against the invite op.

The server cannot mint a request (it never sees the invite secret) but checks
each one: the invite exists, is unused, unrevoked and unexpired, its issuer
is still an active leader, and the request is signed with its join key. One
request per invite (primary key (group, invite)); requests for invites that
die are dropped when the log moves (`groups.append_op`). Rate-limited per group
and per client.
"""

from __future__ import annotations

import sqlalchemy as sa
from chatham.crypto import Check, InviteError, decode_join_request, verify_join_request
from sqlalchemy.exc import IntegrityError

from ..errors import ErrorCode, ServiceError
from ..rosters import current_state
from ..runtime import Runtime
from ..storage import joins as store
from ..wire import JoinRequestItem, JoinRequestPage
from .access import require_leader


def _invalid(detail: str, check: Check) -> ServiceError:
    return ServiceError(ErrorCode.INVALID_JOIN_REQUEST, detail, check=check)


async def post_join_request(
    runtime: Runtime, gid: bytes, client: str, request: bytes
) -> JoinRequestItem:
    """Store a join request for a live invite of this group, signed with its join key."""
    runtime.limiter.hit(("auth", client), runtime.settings.rate_auth)
    runtime.limiter.hit(("join", gid), runtime.settings.rate_join)
    try:
        signed = decode_join_request(request)
    except InviteError as e:
        raise _invalid(str(e), "encoding") from None
    req = signed.request
    if req.group != gid:
        raise _invalid("the request names another group", "group")
    now = runtime.settings.now()

    def work(conn: sa.Connection) -> None:
        state = current_state(runtime.states, conn, gid)
        if state is None or not state.invite_usable(req.invite_id, now):
            raise ServiceError(
                ErrorCode.INVITE_NOT_USABLE, "no live invite with this id in this group"
            )
        try:
            verify_join_request(state, request, now=now)
        except InviteError as e:
            raise _invalid(str(e), "signature") from None
        store.insert_join_request(conn, gid, req.invite_id, request, runtime.settings.blurred_now())

    try:
        await runtime.db.write(work)
    except IntegrityError:
        raise ServiceError(
            ErrorCode.INVITE_USED, "a join request for this invite has already been sent"
        ) from None
    return JoinRequestItem(req.invite_id, request)


async def list_join_requests(runtime: Runtime, gid: bytes, device: bytes) -> JoinRequestPage:
    """The pending requests whose invites are still live, for leaders."""
    now = runtime.settings.now()

    def work(conn: sa.Connection) -> list[JoinRequestItem]:
        state = require_leader(current_state(runtime.states, conn, gid), device)
        return [
            JoinRequestItem(invite, request)
            for invite, request in store.join_requests(conn, gid)
            if state.invite_usable(invite, now)
        ]

    return JoinRequestPage(await runtime.db.read(work))
