"""Routes of entries: post (a retraction is an entry too), list since a cursor, fetch
(`services.entries`, `services.entry_pages`)."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, Response, Router, get, post
from litestar.params import JSONBody, Parameter

from ..answers import Answer, negotiate
from ..guards import DeviceDep, ServicesDep
from ..lean_route import LeanRoute
from ..openapi import responses
from ..services import entries, entry_pages
from ..wire import EntryItem, EntryOutcomes, EntryPage, EntryPosted, PostEntries, PostEntry
from .params import EntryIdParam, GroupIdParam
from .params import entry_id as parse_entry_id
from .params import group_id as parse_group_id


async def _post_entry(
    group_id: GroupIdParam, data: JSONBody[PostEntry], device: DeviceDep, services: ServicesDep
) -> Response[EntryPosted]:
    gid = parse_group_id(group_id)
    return Answer(await entries.post_entry(services, gid, device, data.entry))


post_entry = post(
    "/{group_id:str}/entries",
    summary="Post an entry",
    description=(
        "`entry` is the canonical encoded Entry, posted by its author's device. Checked: "
        "signature, header against the roster, the author active, the epoch current with no "
        "rotation pending, the log head it claims not older than the latest checkpoint or an "
        "op that pinned its chain (409 stale_log_head), and the author's chain (seq 1, or a "
        "link to seq-1 claiming no older log head). An entry whose header lists `retracts` "
        "also deletes those entries' ciphertexts (its author's own entries, or any if its "
        "author is a leader), keeping their stubs where they are. Re-posting the same entry "
        "returns its cursor again."
    ),
    status_code=201,
    responses=responses(400, 401, 403, 409, 413, 422, 429),
    security=[{"bearer": []}],
    # Served by LeanRoute: the same checks, with less framework work per request.
    middleware=[LeanRoute(_post_entry, PostEntry)],
)(_post_entry)


async def _post_entries(
    group_id: GroupIdParam, data: JSONBody[PostEntries], device: DeviceDep, services: ServicesDep
) -> EntryOutcomes:
    gid = parse_group_id(group_id)
    return EntryOutcomes(await entries.post_entries(services, gid, device, data.entries))


post_entries = post(
    "/{group_id:str}/entries/bulk",
    summary="Post many entries",
    description=(
        "`entries` (at most 1000) are posted in order, each checked by exactly the rules of a "
        "single post and answered alone in `results`: `entry_id` and `cursor`, or `error` (the "
        "body a single post would get). A refused entry stops no other; later entries of the "
        "same chain then fail as a single post would (chain_gap). The body cap is "
        "`--max-bulk-body`."
    ),
    status_code=200,
    responses=responses(400, 401, 403, 413, 429),
    security=[{"bearer": []}],
    # LeanRoute: the token before the body, the body capped (at its own setting) and typed.
    middleware=[LeanRoute(_post_entries, PostEntries, limit="max_bulk_body")],
)(_post_entries)


@get(
    "/{group_id:str}/entries",
    summary="List entries after a cursor",
    description=(
        "Entries and retraction stubs with cursor > after, in cursor order, at most `limit` "
        "(and about 8 MiB). `cursor` is the last cursor in the page (or `after`); `more` says "
        "whether to ask again. Accept: application/msgpack for a msgpack page."
    ),
    responses=responses(400, 401, 403, 429),
    security=[{"bearer": []}],
)
async def list_entries(
    request: Request[Any, Any, Any],
    group_id: GroupIdParam,
    device: DeviceDep,
    services: ServicesDep,
    after: Annotated[int, Parameter(ge=0, le=2**62)] = 0,
    limit: Annotated[int | None, Parameter(ge=1, le=100_000)] = None,
) -> Response[EntryPage]:
    gid = parse_group_id(group_id)
    page = await entry_pages.list_entries(services, gid, device, after, limit)
    return negotiate(request, page)


@get(
    "/{group_id:str}/entries/{entry_id:str}",
    summary="Fetch one entry",
    responses=responses(400, 401, 403, 404, 429),
    security=[{"bearer": []}],
)
async def get_entry(
    request: Request[Any, Any, Any],
    group_id: GroupIdParam,
    entry_id: EntryIdParam,
    device: DeviceDep,
    services: ServicesDep,
) -> Response[EntryItem]:
    gid, eid = parse_group_id(group_id), parse_entry_id(entry_id)
    return negotiate(request, await entry_pages.get_entry(services, gid, device, eid))


entries_router = Router(
    path="/v1/groups",
    route_handlers=[post_entry, list_entries, get_entry],
    tags=["entries"],
)
