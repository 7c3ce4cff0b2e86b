"""Route of change notifications as server-sent events (`services.events`).

Each position becomes one `changed` event with data {"cursor": N, "seq": M}; a
keepalive becomes a comment line. Nothing else is ever sent.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, AsyncIterator

from litestar import Router, get
from litestar.response import ServerSentEvent, ServerSentEventMessage

from ..guards import STREAM, CallerDep, ServicesDep
from ..openapi import responses
from ..services import events as event_service
from ..services.tokens import device_of
from .params import GroupIdParam
from .params import group_id as parse_group_id


async def _messages(
    positions: AsyncIterator[event_service.Position | None],
) -> AsyncGenerator[ServerSentEventMessage, None]:
    async for position in positions:
        if position is None:
            yield ServerSentEventMessage(comment="keepalive", data=None)
        else:
            cursor, seq = position
            yield ServerSentEventMessage(
                event="changed", data=json.dumps({"cursor": cursor, "seq": seq})
            )


@get(
    "/{group_id:str}/events",
    summary="Change notifications (server-sent events)",
    description=(
        'Events `changed` with data {"cursor": N, "seq": M}: the newest entry cursor and log '
        "seq. Nothing else is ever sent."
    ),
    responses=responses(400, 401, 403, 429, 503),
    security=[{"bearer": []}],
    opt={STREAM: True},
)
async def events(
    group_id: GroupIdParam, caller: CallerDep, services: ServicesDep
) -> ServerSentEvent:
    device = device_of(caller)
    gid = parse_group_id(group_id)
    positions = await event_service.watch(services, gid, device, caller.expires)
    return ServerSentEvent(_messages(positions))


events_router = Router(path="/v1/groups", route_handlers=[events], tags=["events"])
