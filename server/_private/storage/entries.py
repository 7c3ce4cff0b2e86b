"""SQL for entries: storing posts n at a time, reading pages and items, retracting.

The unique (group, device, seq) decides races for an author's sequence number,
and the per-group cursor is taken from the locked group row, so cursors become
visible in the order they were assigned. The statements of a post and of a page
run on the driver's cursor (`Statement`); those for n posts at once are one
statement per size (`per_size`).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.expression import ClauseElement

from . import schema as t
from .statements import Statement, per_size

ITEM_COLUMNS = (
    t.entries.c.cursor,
    t.entries.c.entry_id,
    t.entries.c.header,
    t.entries.c.ct_hash,
    t.entries.c.signature,
    t.entries.c.ciphertext,
    t.entries.c.retracted_by,
)
"""What a listed item is made of; every row read here starts with these."""


# --- posts stored together (n posts, groups or links at once) ----------------------------------


@per_size
def group_rows(n: int) -> ClauseElement:
    """(group_id, seq, head, entry_cursor, stored_bytes, quota) of groups g0…g{n-1}, locked."""
    g = t.groups.c
    return (
        sa.select(g.group_id, g.seq, g.head, g.entry_cursor, g.stored_bytes, g.quota)
        .where(g.group_id.in_([sa.bindparam(f"g{i}") for i in range(n)]))
        .with_for_update()
    )


@per_size
def links(n: int) -> ClauseElement:
    """(group_id, device_id, device_seq, link, log_seq) of the entries at (g{i}, d{i}, s{i})."""
    e = t.entries.c
    return sa.select(e.group_id, e.device_id, e.device_seq, e.link, e.log_seq).where(
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


@per_size
def insert_entries(n: int) -> ClauseElement:
    """n entries rows, each column `name` of row i bound as `{name}{i}`."""
    names = [c.name for c in t.entries.c]
    return sa.insert(t.entries).values(
        [{name: sa.bindparam(f"{name}{i}") for name in names} for i in range(n)]
    )


@per_size
def bump_cursors(n: int) -> ClauseElement:
    """Set group g{i}'s entry cursor to c{i} and add n{i} to its stored bytes."""
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


def entry_at(
    conn: sa.Connection, group_id: bytes, device: bytes, seq: int
) -> tuple[bytes, int, bytes] | None:
    """(entry_id, cursor, signature) of the device's entry with this seq, if stored."""
    row = conn.execute(
        sa.select(t.entries.c.entry_id, t.entries.c.cursor, t.entries.c.signature).where(
            t.entries.c.group_id == group_id,
            t.entries.c.device_id == device,
            t.entries.c.device_seq == seq,
        )
    ).first()
    return None if row is None else (row.entry_id, row.cursor, row.signature)


# --- reading -----------------------------------------------------------------------------------

_PAGE_SIZES = Statement(
    sa.select(t.entries.c.cursor, sa.func.coalesce(sa.func.length(t.entries.c.ciphertext), 0))
    .where(t.entries.c.group_id == sa.bindparam("g"), t.entries.c.cursor > sa.bindparam("after"))
    .order_by(t.entries.c.cursor)
    .limit(sa.bindparam("n", type_=sa.Integer))
)
_PAGE_ROWS = Statement(
    sa.select(*ITEM_COLUMNS)
    .where(
        t.entries.c.group_id == sa.bindparam("g"),
        t.entries.c.cursor > sa.bindparam("after"),
        t.entries.c.cursor <= sa.bindparam("last"),
    )
    .order_by(t.entries.c.cursor)
)
_ONE_ENTRY = Statement(
    sa.select(*ITEM_COLUMNS).where(
        t.entries.c.group_id == sa.bindparam("g"), t.entries.c.entry_id == sa.bindparam("e")
    )
)


def page_sizes(
    conn: sa.Connection, group_id: bytes, after: int, limit: int
) -> list[tuple[Any, ...]]:
    """(cursor, ciphertext bytes) of at most `limit` items after the cursor, in order."""
    return _PAGE_SIZES.rows(conn, {"g": group_id, "after": after, "n": limit})


def page_rows(conn: sa.Connection, group_id: bytes, after: int, last: int) -> list[tuple[Any, ...]]:
    """The `ITEM_COLUMNS` of the items with `after < cursor <= last`, in order."""
    return _PAGE_ROWS.rows(conn, {"g": group_id, "after": after, "last": last})


def one_entry(conn: sa.Connection, group_id: bytes, entry_id: bytes) -> tuple[Any, ...] | None:
    """The `ITEM_COLUMNS` of one entry, or None."""
    return _ONE_ENTRY.first(conn, {"g": group_id, "e": entry_id})


# --- retraction --------------------------------------------------------------------------------


def retraction_targets(conn: sa.Connection, group_id: bytes, entry_ids: list[bytes]) -> list[Any]:
    """(entry_id, device_id, header, ciphertext bytes, retracted_by) of the listed entries."""
    e = t.entries.c
    return list(
        conn.execute(
            sa.select(
                e.entry_id,
                e.device_id,
                e.header,
                sa.func.coalesce(sa.func.length(e.ciphertext), 0),
                e.retracted_by,
            ).where(e.group_id == group_id, e.entry_id.in_(entry_ids))
        )
    )


def retract(
    conn: sa.Connection, group_id: bytes, entry_ids: list[bytes], by: bytes, freed: int
) -> None:
    """Delete the listed entries' ciphertexts, keeping each stub at its cursor with the id of
    the entry that retracted it, and take their bytes off the group's total. The group row
    must be locked."""
    if not entry_ids:
        return
    conn.execute(
        sa.update(t.entries)
        .where(t.entries.c.group_id == group_id, t.entries.c.entry_id.in_(entry_ids))
        .values(ciphertext=None, retracted_by=by)
    )
    conn.execute(
        sa.update(t.groups)
        .where(t.groups.c.group_id == group_id)
        .values(stored_bytes=t.groups.c.stored_bytes - freed)
    )


def chain_heads(conn: sa.Connection, group_id: bytes) -> dict[bytes, tuple[int, bytes]]:
    """Every device's chain head in the group: device → (seq, link) of its newest entry."""
    e = t.entries.c
    newest = (
        sa.select(e.device_id, sa.func.max(e.device_seq).label("seq"))
        .where(e.group_id == group_id)
        .group_by(e.device_id)
        .subquery()
    )
    rows = conn.execute(
        sa.select(e.device_id, e.device_seq, e.link)
        .join(
            newest,
            sa.and_(e.device_id == newest.c.device_id, e.device_seq == newest.c.seq),
        )
        .where(e.group_id == group_id)
    )
    return {r.device_id: (r.device_seq, r.link) for r in rows}


def chain_rows(conn: sa.Connection, group_id: bytes) -> dict[bytes, dict[int, ChainRow]]:
    """Every entry's place in its author's chain: device → seq → (link, log_seq, entry_id,
    cursor). A heal checks what it brings against all of it (services.heal)."""
    e = t.entries.c
    out: dict[bytes, dict[int, ChainRow]] = {}
    for r in conn.execute(
        sa.select(e.device_id, e.device_seq, e.link, e.log_seq, e.entry_id, e.cursor).where(
            e.group_id == group_id
        )
    ):
        out.setdefault(r.device_id, {})[r.device_seq] = ChainRow(
            r.link, r.log_seq, r.entry_id, r.cursor
        )
    return out


@dataclasses.dataclass(frozen=True, slots=True)
class ChainRow:
    link: bytes
    log_seq: int
    entry_id: bytes
    cursor: int


def entry_device(conn: sa.Connection, group_id: bytes, entry_id: bytes) -> bytes | None:
    """The device that posted an entry (None if the group holds no such entry)."""
    found: bytes | None = conn.execute(
        sa.select(t.entries.c.device_id).where(
            t.entries.c.group_id == group_id, t.entries.c.entry_id == entry_id
        )
    ).scalar()
    return found
