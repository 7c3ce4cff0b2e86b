"""Server-sent events: a member learns "the group changed: cursor N, log seq M" and no more.

The stream sends one `changed` event at once (the current position), then one
whenever the entry cursor or log seq moves; a comment line every
`events_keepalive` seconds keeps proxies from closing it. It ends when the
token expires, after `events_max_seconds`, or when the device stops being an
active member; the client reconnects and resumes from its own cursor.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncGenerator

import sqlalchemy as sa
from litestar import Router, get
from litestar.response import ServerSentEvent, ServerSentEventMessage

from ..access import require_active
from ..auth import CallerDep, ServicesDep, device_of
from ..errors import responses
from ..groups import current_state, read_group_row
from ..http import path_id
from ..services import Services
from .groups import GroupIdParam


async def _position(services: Services, gid: bytes, device: bytes) -> tuple[int, int] | None:
    def work(conn: sa.Connection) -> tuple[int, int] | None:
        row = read_group_row(conn, gid)
        state = None if row is None else services.states.state_at(conn, row, exact=False)
        if row is None or state is None or not state.is_active_device(device):
            return None
        return row.entry_cursor, row.seq

    return await services.db.read(work)


@get(
    "/{group_id:str}/events",
    summary="Change notifications (server-sent events)",
    description=(
        'Events `changed` with data {"cursor": N, "seq": M}: the newest entry cursor and log '
        "seq. Nothing else is ever sent."
    ),
    responses=responses(400, 401, 403, 429),
    security=[{"bearer": []}],
)
async def events(
    group_id: GroupIdParam, caller: CallerDep, services: ServicesDep
) -> ServerSentEvent:
    device = device_of(caller)
    gid = path_id(group_id, 32, "group_id")
    settings = services.settings
    require_active(await services.db.read(lambda c: current_state(services.states, c, gid)), device)

    async def stream() -> AsyncGenerator[ServerSentEventMessage, None]:
        wake = services.hub.subscribe(gid)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + min(
            settings.events_max_seconds, max(0, caller.expires - settings.now())
        )
        last: tuple[int, int] | None = None
        idle_since = loop.time()
        try:
            while loop.time() < deadline:
                wake.clear()
                position = await _position(services, gid, device)
                if position is None:
                    return
                if position != last:
                    last = position
                    idle_since = loop.time()
                    yield ServerSentEventMessage(
                        event="changed",
                        data=json.dumps({"cursor": position[0], "seq": position[1]}),
                    )
                elif loop.time() - idle_since >= settings.events_keepalive:
                    idle_since = loop.time()
                    yield ServerSentEventMessage(comment="keepalive", data=None)
                timeout = max(0.0, min(settings.events_poll, deadline - loop.time()))
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(wake.wait(), timeout)
        finally:
            services.hub.unsubscribe(gid, wake)

    return ServerSentEvent(stream())


events_router = Router(path="/v1/groups", route_handlers=[events], tags=["events"])
