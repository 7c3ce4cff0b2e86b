"""The join request service: an invitee's signed request, checked against the invite op.

The server cannot mint a request (it never sees the invite secret) but checks
each one: the invite exists, is unused, unrevoked and unexpired, its issuer
is still an active leader, and the request is signed with its join key. One
request per invite (primary key (group, invite)); requests for invites that
die are dropped when the log moves (`groups.append_op`), those whose invite
expired are listed a while longer. Rate-limited per client address (before the body is
read) and per group (once the signature verifies). An
invitee first asks which group published the invite (`invite_groups`).
"""

from __future__ import annotations

from typing import Final

import sqlalchemy as sa
from chatham.crypto import (
    Check,
    GroupState,
    InviteError,
    decode_join_request,
    verify_join_request,
)
from sqlalchemy.exc import IntegrityError

from ..errors import ErrorCode, ServiceError
from ..rosters import current_state
from ..runtime import Runtime
from ..storage import joins as store
from ..wire import InviteGroups, JoinRequestItem, JoinRequestPage
from .access import require_leader


def _invalid(detail: str, check: Check) -> ServiceError:
    return ServiceError(ErrorCode.INVALID_JOIN_REQUEST, detail, check=check)


async def post_join_request(runtime: Runtime, gid: bytes, request: bytes) -> JoinRequestItem:
    """Store a join request for a live invite of this group, signed with its join key.

    The route spent the sender's per-address allowance before reading the body; the group's
    join allowance is spent only once the signature verifies, so garbage sent by anyone who
    knows the group id cannot lock the real invitee out."""
    try:
        signed = decode_join_request(request)
    except InviteError as e:
        raise _invalid(str(e), "encoding") from None
    req = signed.request
    if req.group != gid:
        raise _invalid("the request names another group", "group")
    now = runtime.settings.now()

    def usable(conn: sa.Connection) -> GroupState:
        state = current_state(runtime.states, conn, gid)
        if state is None or not state.invite_usable(req.invite_id, now):
            raise ServiceError(
                ErrorCode.INVITE_NOT_USABLE, "no live invite with this id in this group"
            )
        return state

    try:
        verify_join_request(await runtime.db.read(usable), request, now=now)
    except InviteError as e:
        raise _invalid(str(e), "signature") from None
    await runtime.limiter.hit(("join", gid), runtime.settings.rate_join)

    def work(conn: sa.Connection) -> None:
        usable(conn)  # still, in the writing transaction (the invite's join key never changes)
        store.insert_join_request(conn, gid, req.invite_id, request, runtime.settings.blurred_now())

    try:
        await runtime.db.write(work)
    except IntegrityError:
        raise ServiceError(
            ErrorCode.INVITE_USED, "a join request for this invite has already been sent"
        ) from None
    return JoinRequestItem(req.invite_id, request)


EXPIRED_REQUESTS_KEPT: Final = 30 * 86400
"""How long a request stays listed after its invite expired unused (then it is dropped)."""


def answerable(state: GroupState, invite_id: bytes, now: int) -> bool:
    """Whether a request for this invite is still worth listing: the invite is unused, not
    revoked, its issuer still a leader, and it expired no more than `EXPIRED_REQUESTS_KEPT`
    ago (leaders see such a request as expired; it can no longer be approved)."""
    inv = state.invites.get(invite_id)
    if inv is None or now > inv.expires + EXPIRED_REQUESTS_KEPT:
        return False
    return state.invite_usable(invite_id, min(now, inv.expires))


def drop_dead_join_requests(conn: sa.Connection, gid: bytes, state: GroupState, now: int) -> None:
    """Requests whose invites the new op used, revoked or killed are pending no more; those
    whose invite merely expired are kept a while (`EXPIRED_REQUESTS_KEPT`), so leaders are
    told a request expired instead of never learning it was sent."""
    requested = store.requested_invites(conn, gid)
    dead = [invite for invite in requested if not answerable(state, invite, now)]
    if dead:
        store.delete_join_requests(conn, gid, dead)


def groups_with_join_requests(conn: sa.Connection) -> list[bytes]:
    """The groups holding any join request (the upkeep's sweep visits only these)."""
    return store.groups_with_requests(conn)


async def list_join_requests(runtime: Runtime, gid: bytes, device: bytes) -> JoinRequestPage:
    """The pending requests, for leaders: those of live invites, and those whose invite
    expired recently (`answerable`)."""
    now = runtime.settings.now()

    def work(conn: sa.Connection) -> list[JoinRequestItem]:
        state = require_leader(current_state(runtime.states, conn, gid), device)
        return [
            JoinRequestItem(invite, request)
            for invite, request in store.join_requests(conn, gid)
            if answerable(state, invite, now)
        ]

    return JoinRequestPage(await runtime.db.read(work))


async def invite_groups(runtime: Runtime, client: str, invite_id: bytes) -> InviteGroups:
    """The groups that published an invite with this id, for an invitee holding its code.

    An invite id is a hash of the code's secret, so only code holders and members (who read
    it in the log) can ask; the answer is a group id, which the invitee then checks against
    the code (docs/protocol.md §8). Rate-limited per client like logins."""
    await runtime.limiter.hit(("auth", client), runtime.settings.rate_auth)
    groups = await runtime.db.read(lambda conn: store.invite_groups(conn, invite_id))
    if not groups:
        raise ServiceError(ErrorCode.INVITE_UNKNOWN, "no group on this server has this invite")
    return InviteGroups(groups)
