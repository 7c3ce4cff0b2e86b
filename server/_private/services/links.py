"""Device links: a short-lived, opaque mailbox between a member's existing device and a new
one (docs/protocol.md §5.4, docs/server-api.md "Device links").

The server stores three sealed slots per link and never holds a key to them: the existing
(logged-in) device opens the link with its id, a verifier of the access key and the sealed
offer; the new device, which has no login, shows the access key to read the offer and to
write its request once; the existing device reads the request and writes the handover
once; the new device's read of the handover spends the link. Every slot is write-once, a
link lives `LINK_SECONDS`, and a device keeps at most `MAX_OPEN_LINKS` open.
"""

from __future__ import annotations

import hmac
from typing import Final

import sqlalchemy as sa
from chatham.crypto import link_verifier
from sqlalchemy.exc import IntegrityError

from ..errors import ErrorCode, ServiceError
from ..rosters import current_state
from ..runtime import Runtime
from ..storage import links as store
from ..wire import (
    Escrow,
    LinkAnswer,
    LinkAuth,
    LinkHandoverBody,
    LinkInfo,
    LinkSlot,
    OpenLink,
    PutEscrow,
)
from .access import warm

LINK_SECONDS: Final = 600
"""How long a link stays open: ten minutes from `chatham device link`."""
MAX_OPEN_LINKS: Final = 3


def _unknown() -> ServiceError:
    return ServiceError(
        ErrorCode.LINK_UNKNOWN, "no link with this code: it was never made, or expired long ago"
    )


def _live(row: store.LinkRow | None, now: int) -> store.LinkRow:
    if row is None:
        raise _unknown()
    if row.done:
        raise ServiceError(ErrorCode.LINK_USED, "this link code was already used")
    if now > row.expires:
        raise ServiceError(ErrorCode.LINK_EXPIRED, "this link code has expired")
    return row


def _with_code(row: store.LinkRow | None, auth: bytes, now: int) -> store.LinkRow:
    """The link, for a caller that shows its access key (the verifier must match)."""
    if row is None or not hmac.compare_digest(link_verifier(auth), row.verifier):
        raise _unknown()
    return _live(row, now)


def _as_creator(row: store.LinkRow | None, device: bytes, now: int) -> store.LinkRow:
    if row is None or row.creator != device:
        raise _unknown()
    return _live(row, now)


def _answered(row: store.LinkRow) -> bytes:
    """The new device's request, which the creator needs before anything else."""
    if row.request is None:
        raise ServiceError(ErrorCode.LINK_WAITING, "the new device has not answered this link yet")
    return row.request


async def open_link(runtime: Runtime, device: bytes, data: OpenLink) -> LinkInfo:
    now = runtime.settings.now()
    expires = now + LINK_SECONDS

    def work(conn: sa.Connection) -> None:
        if store.open_links(conn, device, now) >= MAX_OPEN_LINKS:
            raise ServiceError(
                ErrorCode.TOO_MANY_LINKS,
                f"this device already has {MAX_OPEN_LINKS} links open; let one expire or close it",
            )
        store.insert_link(conn, data.link_id, device, data.verifier, expires, data.offer)

    try:
        await runtime.db.write(work)
    except IntegrityError:
        raise ServiceError(ErrorCode.CONFLICT, "a link with this id exists") from None
    return LinkInfo(data.link_id, expires)


async def read_offer(runtime: Runtime, link_id: bytes, data: LinkAuth) -> LinkSlot:
    """The offer, to a holder of the code (the new device)."""
    now = runtime.settings.now()

    def work(conn: sa.Connection) -> LinkSlot:
        row = _with_code(store.read_link(conn, link_id), data.auth, now)
        if row.request is not None:
            raise ServiceError(ErrorCode.LINK_USED, "this link code was already used")
        assert row.offer is not None
        return LinkSlot(row.offer)

    return await runtime.db.read(work)


async def post_request(runtime: Runtime, link_id: bytes, data: LinkAnswer) -> LinkInfo:
    """The new device's request, written once."""
    now = runtime.settings.now()

    def work(conn: sa.Connection) -> LinkInfo:
        row = _with_code(store.read_link(conn, link_id), data.auth, now)
        if not store.set_slot(conn, link_id, "request", data.request):
            raise ServiceError(ErrorCode.LINK_USED, "this link code was already used")
        return LinkInfo(link_id, row.expires)

    return await runtime.db.write(work)


async def read_request(runtime: Runtime, device: bytes, link_id: bytes) -> LinkSlot:
    """The new device's request, to the device that opened the link."""
    now = runtime.settings.now()

    def work(conn: sa.Connection) -> LinkSlot:
        return LinkSlot(_answered(_as_creator(store.read_link(conn, link_id), device, now)))

    return await runtime.db.read(work)


async def post_handover(
    runtime: Runtime, device: bytes, link_id: bytes, data: LinkHandoverBody
) -> LinkInfo:
    now = runtime.settings.now()

    def work(conn: sa.Connection) -> LinkInfo:
        row = _as_creator(store.read_link(conn, link_id), device, now)
        _answered(row)
        if not store.set_slot(conn, link_id, "handover", data.handover):
            raise ServiceError(ErrorCode.LINK_USED, "this link was already completed")
        return LinkInfo(link_id, row.expires)

    return await runtime.db.write(work)


async def read_handover(runtime: Runtime, link_id: bytes, data: LinkAuth) -> LinkSlot:
    """The handover, to a holder of the code; reading it spends the link (its route has
    spent the address's allowance first)."""
    now = runtime.settings.now()

    def work(conn: sa.Connection) -> LinkSlot:
        row = _with_code(store.read_link(conn, link_id), data.auth, now)
        if row.handover is None:
            raise ServiceError(
                ErrorCode.LINK_WAITING,
                "the link is not confirmed yet on the other device",
            )
        store.close_link(conn, link_id)
        return LinkSlot(row.handover)

    return await runtime.db.write(work)


async def close_link(runtime: Runtime, device: bytes, link_id: bytes) -> None:
    """The creator withdraws a link (its code stops working at once)."""

    def work(conn: sa.Connection) -> None:
        row = store.read_link(conn, link_id)
        if row is None or row.creator != device:
            raise _unknown()
        store.delete_link(conn, link_id)

    await runtime.db.write(work)


# --- recovery kit escrows -------------------------------------------------------------------


async def put_escrow(runtime: Runtime, device: bytes, data: PutEscrow) -> None:
    """A kit's device stores its escrow (replacing any earlier one). It must be an active
    device of the group it names, so only a device a member signed in can store one."""
    now = runtime.settings.now()
    await runtime.limiter.hit(("escrow", device), runtime.settings.rate_auth)
    await warm(runtime, data.group)

    def work(conn: sa.Connection) -> None:
        state = current_state(runtime.states, conn, data.group)
        if state is None or not state.is_active_device(device):
            raise ServiceError(
                ErrorCode.NOT_A_MEMBER, "only an active device of this group stores an escrow"
            )
        store.put_escrow(conn, device, data.escrow, now)

    await runtime.db.write(work)


async def read_escrow(runtime: Runtime, device: bytes) -> Escrow:
    """The calling device's escrow: only a kit's own device, logged in with its key, reads it;
    a removed kit device has none (its removal deleted it)."""
    found = await runtime.db.read(lambda conn: store.read_escrow(conn, device))
    if found is None:
        raise ServiceError(
            ErrorCode.ESCROW_UNKNOWN,
            "no recovery kit is stored for this device: it was revoked, or never made here",
        )
    return Escrow(found)
