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
from typing import Annotated, Any

import msgspec
import sqlalchemy as sa
from chatham.crypto import (
    EntryError,
    EntryHeader,
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

from . import schema as t
from .access import require_active
from .api_groups import GroupIdParam
from .auth import DeviceDep, ServicesDep
from .db import Statement
from .errors import ApiError, not_a_member, responses
from .groups import GroupRow, current_state, read_group_row
from .http import Answer, LeanRoute, negotiate, path_id
from .services import Services
from .wire import EntryItem, EntryPage, EntryPosted, PostEntry, Retract

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
    try:
        entry = decode_entry(data.entry)
    except EntryError as e:
        raise _invalid_entry(e) from None
    hdr = entry.header
    if hdr.group != gid:
        raise ApiError(422, "invalid_entry", "the entry names another group", check="group")
    size = len(entry.ct)
    quota = services.settings.group_quota
    values = {
        "group_id": gid,
        "entry_id": hdr.entry_id,
        "device_id": hdr.device,
        "device_seq": hdr.seq,
        "epoch": hdr.epoch,
        "header": encode(hdr),
        "ct_hash": ct_hash(entry.ct),
        "signature": entry.sig,
        "ciphertext": entry.ct,
        "retraction": None,
    }

    # Verify the signature against the roster we already hold, outside the writer (the
    # writer is the serial part); under the lock below it is redone only if the head moved.
    # (Handing the check to a thread of its own was measured slower here: the hand-off and
    # the GIL contention it adds cost the event loop about as much as the ~40 µs check.)
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
            link = check_entry_public(verified, entry)

    def job(conn: sa.Connection) -> int:
        # Reads and checks first, writes last: a job that fails has written nothing, so it
        # needs no savepoint of its own (the first write is the only one that can fail).
        row = _GROUP_LOCKED.first(conn, {"g": gid})
        if row is None:
            raise not_a_member()
        head_seq, head, entry_cursor, stored_bytes = row
        state = services.states.state_at(conn, GroupRow(gid, head_seq, head, entry_cursor))
        require_active(state, device)
        if hdr.device != device:
            raise ApiError(403, "not_author", "an entry is posted by its author's device")
        if state.pending_rotation:
            raise ApiError(
                409,
                "rotation_pending",
                "a member left; rotate the epoch key before writing",
                seq=state.seq,
                head=state.head,
            )
        checked = link
        if state is not verified or checked is None:
            try:
                checked = check_entry_public(state, entry)
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
        if stored_bytes + size > quota:
            raise ApiError(413, "quota_exceeded", "the group's storage quota is full")
        _check_chain(conn, gid, hdr.device, hdr.seq, hdr.prev)
        cursor: int = entry_cursor + 1
        _INSERT_ENTRY.run(conn, {**values, "cursor": cursor, "link": checked})
        _BUMP_CURSOR.run(conn, {"g": gid, "c": cursor, "n": size})
        return cursor

    try:
        cursor = await services.db.batch(job, savepoint=False)
    except IntegrityError:
        cursor = await _existing(services, gid, hdr.entry_id, hdr.device, hdr.seq, entry.sig)
    else:
        services.hub.notify(gid)
    return Answer(EntryPosted(hdr.entry_id, cursor))


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


# Compiled once per dialect and run on the driver's cursor (db.Statement): a post's four
# statements are its whole database work, and SQLAlchemy's per-statement overhead was
# several times SQLite's own.
_GROUP_LOCKED = Statement(
    sa.select(t.groups.c.seq, t.groups.c.head, t.groups.c.entry_cursor, t.groups.c.stored_bytes)
    .where(t.groups.c.group_id == sa.bindparam("g"))
    .with_for_update()
)
_PREV_LINK = Statement(
    sa.select(t.entries.c.link).where(
        t.entries.c.group_id == sa.bindparam("g"),
        t.entries.c.device_id == sa.bindparam("d"),
        t.entries.c.device_seq == sa.bindparam("s"),
    )
)
_INSERT_ENTRY = Statement(sa.insert(t.entries))
_BUMP_CURSOR = Statement(
    sa.update(t.groups)
    .where(t.groups.c.group_id == sa.bindparam("g"))
    .values(
        entry_cursor=sa.bindparam("c"), stored_bytes=t.groups.c.stored_bytes + sa.bindparam("n")
    )
)


def _check_chain(conn: sa.Connection, gid: bytes, device: bytes, seq: int, prev: bytes) -> None:
    if seq == 1:
        if prev != ZERO32:
            raise ApiError(
                422, "invalid_entry", "the first entry of a chain links to nothing", check="chain"
            )
        return
    found = _PREV_LINK.first(conn, {"g": gid, "d": device, "s": seq - 1})
    before = None if found is None else found[0]
    if before is None:
        raise ApiError(
            409, "chain_gap", f"entry {seq - 1} of this device's chain is not here; post it first"
        )
    if before != prev:
        raise ApiError(
            422, "invalid_entry", "the entry does not link to its predecessor", check="chain"
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
