"""Entries: post, list since a cursor, fetch, retract.

A post is checked against the roster in the same transaction that locks the
group row and reads the log head, so no rotation can slip between the check
"this epoch is current" and the insert. The unique (group, device, seq)
decides races for an author's sequence number. The per-group cursor is taken
from the locked group row, so cursors become visible in the order they were
assigned: a reader that has seen cursor N will never later find an entry
below N it has not seen.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
from collections.abc import Callable
from typing import Annotated, Any

import msgspec
import sqlalchemy as sa
from chatham.crypto import (
    Entry,
    EntryError,
    EntryHeader,
    EntryStub,
    GroupState,
    check_entry_public,
    ct_hash,
    decode,
    decode_entry,
    encode,
    verify_retraction,
)
from litestar import Request, Response, Router, delete, get, post
from litestar.params import JSONBody, Parameter
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.expression import ClauseElement

from ..access import require_active
from ..auth import DeviceDep, ServicesDep
from ..errors import ApiError, not_a_member, responses
from ..groups import GroupRow, current_state, read_group_row
from ..http import Answer, LeanRoute, negotiate, path_id
from ..services import Services
from ..storage import schema as t
from ..storage.db import Statement, WriteFailed, note_bound
from ..wire import EntryItem, EntryPage, EntryPosted, PostEntry, Retract
from .groups import GroupIdParam

ZERO32 = bytes(32)
PAGE_BYTES = 8 << 20
"""A page stops growing once it holds this many bytes of ciphertext (at least one entry)."""
INLINE_PAGE_BYTES = 1 << 20
"""Pages up to this size are read on the event loop, larger ones in a reader thread."""

EntryIdParam = Annotated[
    str, Parameter(description="The entry id: unpadded base64url of 16 bytes (22 characters).")
]

_COLUMNS = (
    t.entries.c.cursor,
    t.entries.c.entry_id,
    t.entries.c.header,
    t.entries.c.ct_hash,
    t.entries.c.signature,
    t.entries.c.ciphertext,
    t.entries.c.retraction,
)


def _item(row: Any) -> EntryItem:
    """An item from a row that starts with `_COLUMNS` (a driver tuple or a SQLAlchemy row)."""
    cursor, entry_id, header, cth, signature, ciphertext, retraction = row[:7]
    # An Entry is the msgpack array [header, ct, sig] and a stub is [header, ct_hash, sig];
    # the stored header is already canonical msgpack, so Raw splices it in unchanged.
    if retraction is None:
        entry = _msgpack.encode([msgspec.Raw(header), ciphertext, signature])
        return EntryItem(cursor, entry_id, entry=entry)
    stub = _msgpack.encode([msgspec.Raw(header), cth, signature])
    return EntryItem(cursor, entry_id, stub=stub, retraction=retraction)


_msgpack = msgspec.msgpack.Encoder()


def _invalid_entry(e: EntryError) -> ApiError:
    return ApiError(422, "invalid_entry", str(e), check=e.check)


async def _post_entry(
    group_id: GroupIdParam, data: JSONBody[PostEntry], device: DeviceDep, services: ServicesDep
) -> Response[EntryPosted]:
    gid = path_id(group_id, 32, "group_id")
    item = _prepare(services, gid, device, data.entry)
    try:
        cursor = await services.db.together(_store_entries, services, item, savepoint=False)
    except (IntegrityError, _Taken):
        cursor = await _existing(services, gid, item.entry_id, device, item.seq, item.entry.sig)
    else:
        services.hub.notify(gid)
    return Answer(EntryPosted(item.entry_id, cursor))


post_entry = post(
    "/{group_id:str}/entries",
    summary="Post an entry",
    description=(
        "`entry` is the canonical encoded Entry, posted by its author's device. Checked: "
        "signature, header against the roster, the author active, the epoch current with no "
        "rotation pending, and the author's chain (seq 1 or a link to seq-1). Re-posting the "
        "same entry returns its cursor again."
    ),
    status_code=201,
    responses=responses(400, 401, 403, 409, 413, 422, 429),
    security=[{"bearer": []}],
    # Served by LeanRoute: the same checks, with less framework work per request.
    middleware=[LeanRoute(_post_entry, PostEntry)],
)(_post_entry)


@dataclasses.dataclass(slots=True)
class _Post:
    """An entry post, decoded and (if the cached roster allowed) checked on the event loop."""

    gid: bytes
    device: bytes
    """The device whose token posts it."""
    entry: Entry
    stub: EntryStub
    """The entry with its ciphertext by hash, for the checks."""
    values: dict[str, Any]
    """The entries row, but for `cursor` and `link`."""
    verified: GroupState | None
    """The cached state `link` was checked against; None if it was not checked."""
    link: bytes | None

    @property
    def entry_id(self) -> bytes:
        return self.entry.header.entry_id

    @property
    def seq(self) -> int:
        return self.entry.header.seq


class _Taken(Exception):
    """The post's (device, seq) or entry id is taken by a post stored before it."""


def _prepare(services: Services, gid: bytes, device: bytes, data: bytes) -> _Post:
    """Decode a post and check its signature against the cached roster, outside the writer."""
    try:
        entry = decode_entry(data)
    except EntryError as e:
        raise _invalid_entry(e) from None
    hdr = entry.header
    if hdr.group != gid:
        raise ApiError(422, "invalid_entry", "the entry names another group", check="group")
    # The entry as its stub (the ciphertext by hash): the checks hash the ciphertext once.
    stub = EntryStub(hdr, ct_hash(entry.ct), entry.sig)
    values = {
        "group_id": gid,
        "entry_id": hdr.entry_id,
        "device_id": hdr.device,
        "device_seq": hdr.seq,
        "epoch": hdr.epoch,
        "header": encode(hdr),
        "ct_hash": stub.ct_hash,
        "signature": entry.sig,
        "ciphertext": entry.ct,
        "retraction": None,
    }
    # Verify the signature against the roster we already hold, outside the writer (the
    # writer is the serial part); under the lock it is redone only if the head moved.
    # (Handing the check to a thread of its own was measured slower here: the hand-off and
    # the GIL contention it adds cost the event loop about as much as the check.)
    verified = services.states.get(gid)
    link: bytes | None = None
    if (
        verified is not None
        and hdr.device == device
        and verified.is_active_device(device)
        and not verified.pending_rotation
    ):
        # A failure here is not final: another process may have moved the log past our
        # cached state (the entry names a newer head). The check under the lock decides.
        with contextlib.suppress(EntryError):
            link = check_entry_public(verified, stub)
    else:
        verified = None
    return _Post(gid, device, entry, stub, values, verified, link)


def _store_entries(
    conn: sa.Connection, services: Services, posts: list[_Post]
) -> list[int | Exception]:
    """Store the posts that reached the writer together; each one's cursor or its error.

    The same checks, in the same order, with the same outcome as each post alone after
    the ones before it (`Database.together`), but with a handful of statements for all
    of them: one read of the group rows (locked on PostgreSQL), one of the links the
    posts build on, one INSERT of every accepted row, one UPDATE of their groups. Writes
    come after every check, so a refused post has written nothing; an INSERT that
    conflicts with a row stored before this call raises, and the writer then runs
    each post alone (the conflict then becomes `_Taken` for that post only).
    """
    gids = sorted({p.gid for p in posts})  # one lock order, should PostgreSQL get several
    found = _group_rows(len(gids)).rows(conn, {f"g{i}": g for i, g in enumerate(gids)})
    groups = {row[0]: _Tally(*row[1:]) for row in found}
    wanted = sorted({(p.gid, p.entry.header.device, p.seq - 1) for p in posts if p.seq > 1})
    links: dict[tuple[bytes, bytes, int], bytes] = {}
    if wanted:
        params = {}
        for i, (g, d, s) in enumerate(wanted):
            params.update({f"g{i}": g, f"d{i}": d, f"s{i}": s})
        for g, d, s, link in _links(len(wanted)).rows(conn, params):
            links[(g, d, s)] = link
    quota = services.settings.group_quota
    outcomes: list[int | Exception] = []
    rows: list[dict[str, Any]] = []
    ids: set[tuple[bytes, bytes]] = set()
    for item in posts:
        try:
            tally = groups.get(item.gid)
            if tally is None:
                raise not_a_member()
            if tally.state is None:
                row = GroupRow(item.gid, tally.seq, tally.head, tally.cursor)
                tally.state = services.states.state_at(conn, row)
            link = _check_post(item, tally, tally.state, links, quota)
            key = (item.gid, item.entry.header.device, item.seq)
            if key in links or (item.gid, item.entry_id) in ids:
                raise _Taken
        except (ApiError, _Taken) as e:
            outcomes.append(e)
            continue
        tally.cursor += 1
        tally.posts += 1
        tally.added += len(item.entry.ct)
        links[key] = link
        ids.add((item.gid, item.entry_id))
        rows.append({**item.values, "cursor": tally.cursor, "link": link})
        outcomes.append(tally.cursor)
    if rows:
        params = {f"{name}{i}": value for i, row in enumerate(rows) for name, value in row.items()}
        note_bound(conn, sum(tally.added for tally in groups.values()))
        try:
            _insert_entries(len(rows)).run(conn, params)
        except IntegrityError:
            if len(posts) > 1:
                # A conflict with a stored row: whose, and what the posts after it would have
                # seen without it (its bytes, its link), only each alone can tell.
                raise
            return [_Taken()]
        except Exception as e:
            # Not a conflict (a disk error): SQLite may have ended the transaction itself.
            raise WriteFailed("storing entries failed") from e
        bumps = [(gid, tally) for gid, tally in groups.items() if tally.posts]
        params = {}
        for i, (gid, tally) in enumerate(bumps):
            params.update({f"g{i}": gid, f"c{i}": tally.cursor, f"n{i}": tally.added})
        try:
            _bump_cursors(len(bumps)).run(conn, params)
        except Exception as e:  # pragma: no cover - a disk error between two statements
            # The rows are in, the cursors are not: none of this may be committed.
            raise WriteFailed("storing entries failed after their insert") from e
    return outcomes


@dataclasses.dataclass(slots=True)
class _Tally:
    """A group row as `_store_entries` goes: the cursor and bytes of the posts it accepted."""

    seq: int
    head: bytes
    cursor: int
    stored_bytes: int
    posts: int = 0
    added: int = 0
    state: GroupState | None = None


def _check_post(
    post: _Post,
    tally: _Tally,
    state: GroupState,
    links: dict[tuple[bytes, bytes, int], bytes],
    quota: int,
) -> bytes:
    """Every check of a post under the lock, in order; the entry's link if it may be stored."""
    hdr = post.entry.header
    require_active(state, post.device)
    if hdr.device != post.device:
        raise ApiError(403, "not_author", "an entry is posted by its author's device")
    if state.pending_rotation:
        raise ApiError(
            409,
            "rotation_pending",
            "a member left; rotate the epoch key before writing",
            seq=state.seq,
            head=state.head,
        )
    link = post.link
    if state is not post.verified or link is None:
        try:
            link = check_entry_public(state, post.stub)
        except EntryError as e:
            raise _invalid_entry(e) from None
    if hdr.epoch != state.epoch:
        raise ApiError(
            409,
            "stale_epoch",
            f"the current epoch is {state.epoch}; seal under it and retry",
            seq=state.seq,
            head=state.head,
        )
    if tally.stored_bytes + tally.added + len(post.entry.ct) > quota:
        raise ApiError(413, "quota_exceeded", "the group's storage quota is full")
    if hdr.seq == 1:
        if hdr.prev != ZERO32:
            raise ApiError(
                422, "invalid_entry", "the first entry of a chain links to nothing", check="chain"
            )
        return link
    before = links.get((post.gid, hdr.device, hdr.seq - 1))
    if before is None:
        missing = f"entry {hdr.seq - 1} of this device's chain is not here; post it first"
        raise ApiError(409, "chain_gap", missing)
    if before != hdr.prev:
        raise ApiError(
            422, "invalid_entry", "the entry does not link to its predecessor", check="chain"
        )
    return link


# The statements of `_store_entries`, for n posts (or groups, or links) at once, each
# compiled once per dialect and size and run on the driver's cursor (db.Statement).
def _per_size(build: Callable[[int], ClauseElement]) -> Callable[[int], Statement]:
    """One `Statement` per size n, whose Core construct is built only to be compiled."""

    @functools.cache
    def statement(n: int) -> Statement:
        return Statement(functools.partial(build, n))

    return statement


@_per_size
def _group_rows(n: int) -> ClauseElement:
    g = t.groups.c
    return (
        sa.select(g.group_id, g.seq, g.head, g.entry_cursor, g.stored_bytes)
        .where(g.group_id.in_([sa.bindparam(f"g{i}") for i in range(n)]))
        .with_for_update()
    )


@_per_size
def _links(n: int) -> ClauseElement:
    e = t.entries.c
    return sa.select(e.group_id, e.device_id, e.device_seq, e.link).where(
        sa.or_(
            *(
                sa.and_(
                    e.group_id == sa.bindparam(f"g{i}"),
                    e.device_id == sa.bindparam(f"d{i}"),
                    e.device_seq == sa.bindparam(f"s{i}"),
                )
                for i in range(n)
            )
        )
    )


@_per_size
def _insert_entries(n: int) -> ClauseElement:
    names = [c.name for c in t.entries.c]
    return sa.insert(t.entries).values(
        [{name: sa.bindparam(f"{name}{i}") for name in names} for i in range(n)]
    )


@_per_size
def _bump_cursors(n: int) -> ClauseElement:
    g = t.groups.c
    keys: list[sa.BindParameter[Any]] = [sa.bindparam(f"g{i}") for i in range(n)]

    def per_group(name: str) -> sa.Case[Any]:
        return sa.case(
            *(
                (g.group_id == k, sa.bindparam(f"{name}{i}", type_=sa.BigInteger))
                for i, k in enumerate(keys)
            )
        )

    cursors, added = per_group("c"), per_group("n")
    return (
        sa.update(t.groups)
        .where(g.group_id.in_(keys))
        .values(entry_cursor=cursors, stored_bytes=g.stored_bytes + added)
    )


async def _existing(
    services: ServicesDep, gid: bytes, entry_id: bytes, device: DeviceDep, seq: int, sig: bytes
) -> int:
    """After a unique-constraint conflict: the same entry again gets its cursor, anything else
    is refused."""
    query = sa.select(t.entries.c.entry_id, t.entries.c.cursor, t.entries.c.signature).where(
        t.entries.c.group_id == gid,
        t.entries.c.device_id == device,
        t.entries.c.device_seq == seq,
    )
    row = await services.db.read(lambda conn: conn.execute(query).first())
    if row is not None and row.entry_id == entry_id and row.signature == sig:
        found: int = row.cursor
        return found
    raise ApiError(
        409,
        "duplicate_entry",
        "this device already posted a different entry with this sequence number (or this id)",
    )


# A page of entries: the cursors and ciphertext sizes first, then the rows that fit.
_PAGE_SIZES = Statement(
    sa.select(t.entries.c.cursor, sa.func.coalesce(sa.func.length(t.entries.c.ciphertext), 0))
    .where(t.entries.c.group_id == sa.bindparam("g"), t.entries.c.cursor > sa.bindparam("after"))
    .order_by(t.entries.c.cursor)
    .limit(sa.bindparam("n", type_=sa.Integer))
)
_PAGE_ROWS = Statement(
    sa.select(*_COLUMNS)
    .where(
        t.entries.c.group_id == sa.bindparam("g"),
        t.entries.c.cursor > sa.bindparam("after"),
        t.entries.c.cursor <= sa.bindparam("last"),
    )
    .order_by(t.entries.c.cursor)
)

_ONE_ENTRY = Statement(
    sa.select(*_COLUMNS).where(
        t.entries.c.group_id == sa.bindparam("g"), t.entries.c.entry_id == sa.bindparam("e")
    )
)


def _member_state(services: Services, conn: sa.Connection, gid: bytes, device: bytes) -> None:
    require_active(current_state(services.states, conn, gid), device)


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
    gid = path_id(group_id, 32, "group_id")
    page = min(limit or services.settings.page_limit, services.settings.page_limit)

    def work(conn: sa.Connection, most: int | None) -> tuple[list[EntryItem], bool] | None:
        _member_state(services, conn, gid, device)
        # Sizes first, so a page of large entries is cut before any of it is loaded.
        sizes = _PAGE_SIZES.rows(conn, {"g": gid, "after": after, "n": page + 1})
        take, total = 0, 0
        for _, size in sizes[:page]:
            if take and total + size > PAGE_BYTES:
                break
            take += 1
            total += size
        if not take:
            return [], False
        if most is not None and total > most:
            return None  # too large to read on the event loop
        rows = _PAGE_ROWS.rows(conn, {"g": gid, "after": after, "last": sizes[take - 1][0]})
        return [_item(r) for r in rows], len(sizes) > take

    # A page of modest size for a group whose roster is cached (no log replay) is read on
    # the event loop; a larger page, or a cold roster, in a reader thread (Database.read).
    found = None
    if services.states.get(gid) is not None:
        found = await services.db.read(lambda conn: work(conn, INLINE_PAGE_BYTES), inline=True)
    if found is None:
        found = await services.db.read(lambda conn: work(conn, None))
    assert found is not None
    items, more = found
    cursor = items[-1].cursor if items else after
    return negotiate(request, EntryPage(items, cursor, more))


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
    gid = path_id(group_id, 32, "group_id")
    eid = path_id(entry_id, 16, "entry_id")

    def work(conn: sa.Connection) -> Any:
        _member_state(services, conn, gid, device)
        return _ONE_ENTRY.first(conn, {"g": gid, "e": eid})

    # One row: on the event loop when the roster is cached (no log replay), see list_entries.
    row = await services.db.read(work, inline=services.states.get(gid) is not None)
    if row is None:
        raise ApiError(404, "not_found", "no such entry")
    return negotiate(request, _item(row))


@delete(
    "/{group_id:str}/entries/{entry_id:str}",
    summary="Retract an entry",
    description=(
        "Deletes the ciphertext, keeping header, ciphertext hash and signature (the stub) so "
        "chains still verify, plus the signed retraction (author's or a leader's device). The "
        "stub moves to a new cursor so syncing members learn of it. Retracting twice is fine. "
        "A retraction cannot recall what members already downloaded."
    ),
    status_code=200,
    responses=responses(400, 401, 403, 404, 422, 429),
    security=[{"bearer": []}],
)
async def retract_entry(
    group_id: GroupIdParam,
    entry_id: EntryIdParam,
    data: JSONBody[Retract],
    device: DeviceDep,
    services: ServicesDep,
) -> EntryItem:
    gid = path_id(group_id, 32, "group_id")
    eid = path_id(entry_id, 16, "entry_id")

    def work(conn: sa.Connection) -> tuple[Any, bool]:
        row = read_group_row(conn, gid, lock=True)
        if row is None:
            raise not_a_member()
        state = require_active(services.states.state_at(conn, row), device)
        entry = conn.execute(
            sa.select(*_COLUMNS, t.entries.c.device_id).where(
                t.entries.c.group_id == gid, t.entries.c.entry_id == eid
            )
        ).first()
        if entry is None:
            raise ApiError(404, "not_found", "no such entry")
        try:
            header = decode(entry.header, EntryHeader, max_size=1024)
            # at_head: the signer must be the author or a leader now, not only at the
            # (possibly backdated) log head the retraction claims.
            signed = verify_retraction(
                state,
                data.retraction,
                entry.device_id,
                entry_log_seq=header.log_seq,
                at_head=True,
            )
        except EntryError as e:
            if e.check == "role":
                raise ApiError(403, "not_allowed", str(e), check=e.check) from None
            raise _invalid_entry(e) from None
        if signed.retraction.entry_id != eid:
            raise ApiError(
                422, "invalid_entry", "the retraction names another entry", check="entry_id"
            )
        if entry.retraction is not None:
            return entry, False
        freed = len(entry.ciphertext or b"")
        cursor = conn.execute(
            sa.update(t.groups)
            .where(t.groups.c.group_id == gid)
            .values(
                entry_cursor=t.groups.c.entry_cursor + 1,
                stored_bytes=t.groups.c.stored_bytes - freed,
            )
            .returning(t.groups.c.entry_cursor)
        ).scalar_one()
        conn.execute(
            sa.update(t.entries)
            .where(t.entries.c.group_id == gid, t.entries.c.entry_id == eid)
            .values(ciphertext=None, retraction=data.retraction, cursor=cursor)
        )
        updated = conn.execute(
            sa.select(*_COLUMNS).where(t.entries.c.group_id == gid, t.entries.c.entry_id == eid)
        ).one()
        return updated, True

    updated, changed = await services.db.write(work)
    if not changed:
        return _item(updated)
    services.hub.notify(gid)
    services.schedule_scrub()
    return _item(updated)


entries_router = Router(
    path="/v1/groups",
    route_handlers=[post_entry, list_entries, get_entry, retract_entry],
    tags=["entries"],
)
