"""Reading entries: pages after a cursor and single items, for active members.

Cursors are taken under the group row's lock, so a page read after cursor N
never misses an entry below N that appears later. A page is cut by count and by
ciphertext bytes, and its sizes are read first, so a page of large entries is cut
before any of it is loaded.
"""

from __future__ import annotations

from typing import Any

import msgspec
import sqlalchemy as sa

from ..errors import not_found
from ..runtime import Runtime
from ..storage import entries as store
from ..wire import EntryItem, EntryPage
from .access import active_member

PAGE_BYTES = 8 << 20
"""A page (of entries, or of log ops) stops growing once it holds this many bytes (at least
one item)."""
INLINE_PAGE_BYTES = 1 << 20
"""Pages up to this size are read on the event loop, larger ones in a reader thread."""

_msgpack = msgspec.msgpack.Encoder()


def page_cut(sizes: list[int]) -> tuple[int, int]:
    """How many of these items (in order) a page takes, and their bytes: as many as fit in
    `PAGE_BYTES`, and at least one."""
    take, total = 0, 0
    for size in sizes:
        if take and total + size > PAGE_BYTES:
            break
        take += 1
        total += size
    return take, total


def item(row: Any) -> EntryItem:
    """An item from a row that starts with `storage.entries.ITEM_COLUMNS`."""
    cursor, entry_id, header, cth, signature, ciphertext, retracted_by = row[:7]
    # An Entry is the msgpack array [header, ct, sig] and a stub is [header, ct_hash, sig];
    # the stored header is already canonical msgpack, so Raw splices it in unchanged.
    if retracted_by is None:
        entry = _msgpack.encode([msgspec.Raw(header), ciphertext, signature])
        return EntryItem(cursor, entry_id, entry=entry)
    stub = _msgpack.encode([msgspec.Raw(header), cth, signature])
    return EntryItem(cursor, entry_id, stub=stub, retracted_by=retracted_by)


async def list_entries(
    runtime: Runtime, gid: bytes, device: bytes, after: int, limit: int | None
) -> EntryPage:
    """The items after cursor `after`, at most `limit` (capped by `page_limit`)."""
    page = min(limit or runtime.settings.page_limit, runtime.settings.page_limit)

    def work(conn: sa.Connection, most: int | None) -> tuple[list[EntryItem], bool] | None:
        active_member(runtime, conn, gid, device)
        sizes = store.page_sizes(conn, gid, after, page + 1)
        take, total = page_cut([size for _, size in sizes[:page]])
        if not take:
            return [], False
        if most is not None and total > most:
            return None  # too large to read on the event loop
        rows = store.page_rows(conn, gid, after, sizes[take - 1][0])
        return [item(r) for r in rows], len(sizes) > take

    # A page of modest size for a group whose roster is cached (no log replay) is read on
    # the event loop; a larger page, or a cold roster, in a reader thread (Database.read).
    found = None
    if runtime.states.get(gid) is not None:
        found = await runtime.db.read(lambda conn: work(conn, INLINE_PAGE_BYTES), inline=True)
    if found is None:
        # Two large pages at most are read at once in this process (`Runtime.large_pages`): a
        # burst of them waits its turn instead of taking every thread and the GIL at once.
        async with runtime.large_pages:
            found = await runtime.db.read(lambda conn: work(conn, None))
    assert found is not None
    items, more = found
    cursor = items[-1].cursor if items else after
    return EntryPage(items, cursor, more)


async def get_entry(runtime: Runtime, gid: bytes, device: bytes, eid: bytes) -> EntryItem:
    """One item, or 404."""

    def work(conn: sa.Connection) -> Any:
        active_member(runtime, conn, gid, device)
        return store.one_entry(conn, gid, eid)

    # One row: on the event loop when the roster is cached (no log replay), see list_entries.
    row = await runtime.db.read(work, inline=runtime.states.get(gid) is not None)
    if row is None:
        raise not_found("entry")
    return item(row)
