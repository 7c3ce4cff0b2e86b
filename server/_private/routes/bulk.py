"""The routes that carry many records in one request, under their own body cap
(`--max-bulk-body`): many entries at once (`services.entries.post_entries`), and a heal
(`services.heal`)."""

from __future__ import annotations

from litestar import Router, post
from litestar.params import JSONBody

from ..guards import DeviceDep, ServicesDep
from ..lean_route import LeanRoute
from ..openapi import responses
from ..services import heal as heal_service
from ..wire import Heal, Healed
from .entries import post_entries
from .params import GroupIdParam
from .params import group_id as parse_group_id


async def _heal(
    group_id: GroupIdParam, data: JSONBody[Heal], device: DeviceDep, services: ServicesDep
) -> Healed:
    return await heal_service.heal(services, parse_group_id(group_id), device, data)


heal = post(
    "/{group_id:str}/heal",
    summary="Give the server back what it lost of the group",
    description=(
        "A member's verified copy beyond the server's state: `ops` extending the head named by "
        "`expected_seq`/`expected_head` (-1 and empty when the server holds no such group: it "
        "is then created, under the registration rules), `lockboxes` the healer holds (each "
        "hashing to its rotation's commitment), and `entries` (at most 1000: an entry, or a "
        "retracted entry's stub with the entry that retracted it). Ops are verified as "
        "appends are; each entry is checked as members' clients check it and answered alone. "
        "A server state that is not a prefix of the healer's copy is refused (409 "
        "not_a_prefix, or stale_head), never overwritten. See docs/protocol.md §14.2."
    ),
    status_code=200,
    responses=responses(400, 401, 403, 409, 413, 422, 429),
    security=[{"bearer": []}],
    # LeanRoute: the token before the body, the body capped (at its own setting) and typed.
    middleware=[LeanRoute(_heal, Heal, limit="max_bulk_body")],
)(_heal)


def bulk_router(max_body: int) -> Router:
    """The bulk routes, with their body cap."""
    return Router(
        path="/v1/groups",
        route_handlers=[post_entries, heal],
        tags=["bulk"],
        request_max_body_size=max_body,
    )
