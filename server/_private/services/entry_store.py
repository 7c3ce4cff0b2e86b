"""Storing the entry posts that reach the writer together, with one outcome per post.

The same checks, in the same order, with the same outcome as each post alone
after the ones before it (`Database.together`), but with a handful of statements
for all of them: one read of the group rows (locked on PostgreSQL), one of the
links the posts build on, one INSERT of every accepted row, one UPDATE of their
groups. Writes come after every check, so a refused post has written nothing; an
INSERT that conflicts with a row stored before this call raises, and the writer
then runs each post alone (the conflict then becomes `Taken` for that post only).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import sqlalchemy as sa
from chatham.crypto import GroupState
from sqlalchemy.exc import IntegrityError

from ..errors import ServiceError, not_a_member
from ..runtime import Runtime
from ..storage import entries as store
from ..storage.groups import GroupRow
from ..storage.writer import WriteFailed, note_bound
from .entry_checks import Post, check_post


class Taken(Exception):
    """The post's (device, seq) or entry id is taken by a post stored before it."""


@dataclasses.dataclass(slots=True)
class _Tally:
    """A group row as `store_entries` goes: the cursor and bytes of the posts it accepted."""

    seq: int
    head: bytes
    cursor: int
    stored_bytes: int
    quota: int | None
    """The group's own quota, if the operator set one (else the server's)."""
    posts: int = 0
    added: int = 0
    state: GroupState | None = None


def store_entries(
    conn: sa.Connection, runtime: Runtime, posts: list[Post]
) -> list[int | Exception]:
    """Store the posts that reached the writer together; each one's cursor or its error."""
    gids = sorted({p.gid for p in posts})  # one lock order, should PostgreSQL get several
    found = store.group_rows(len(gids)).rows(conn, {f"g{i}": g for i, g in enumerate(gids)})
    groups = {row[0]: _Tally(*row[1:]) for row in found}
    wanted = sorted({(p.gid, p.entry.header.device, p.seq - 1) for p in posts if p.seq > 1})
    links: dict[tuple[bytes, bytes, int], tuple[bytes, int]] = {}
    if wanted:
        params = {}
        for i, (g, d, s) in enumerate(wanted):
            params.update({f"g{i}": g, f"d{i}": d, f"s{i}": s})
        for g, d, s, link, log_seq in store.links(len(wanted)).rows(conn, params):
            links[(g, d, s)] = (link, log_seq)
    default_quota = runtime.settings.group_quota
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
                tally.state = runtime.states.state_at(conn, row)
            used = tally.stored_bytes + tally.added
            quota = default_quota if tally.quota is None else tally.quota
            link = check_post(item, tally.state, links, used, quota)
            key = (item.gid, item.entry.header.device, item.seq)
            if key in links or (item.gid, item.entry_id) in ids:
                raise Taken
        except (ServiceError, Taken) as e:
            outcomes.append(e)
            continue
        tally.cursor += 1
        tally.posts += 1
        tally.added += len(item.entry.ct)
        links[key] = (link, item.entry.header.log_seq)
        ids.add((item.gid, item.entry_id))
        rows.append({**item.values, "cursor": tally.cursor, "link": link})
        outcomes.append(tally.cursor)
    if rows:
        params = {f"{name}{i}": value for i, row in enumerate(rows) for name, value in row.items()}
        note_bound(conn, sum(tally.added for tally in groups.values()))
        try:
            store.insert_entries(len(rows)).run(conn, params)
        except IntegrityError:
            if len(posts) > 1:
                # A conflict with a stored row: whose, and what the posts after it would have
                # seen without it (its bytes, its link), only each alone can tell.
                raise
            return [Taken()]
        except Exception as e:
            # Not a conflict (a disk error): SQLite may have ended the transaction itself.
            raise WriteFailed("storing entries failed") from e
        bumps = [(gid, tally) for gid, tally in groups.items() if tally.posts]
        params = {}
        for i, (gid, tally) in enumerate(bumps):
            params.update({f"g{i}": gid, f"c{i}": tally.cursor, f"n{i}": tally.added})
        try:
            store.bump_cursors(len(bumps)).run(conn, params)
        except Exception as e:  # pragma: no cover - a disk error between two statements
            # The rows are in, the cursors are not: none of this may be committed.
            raise WriteFailed("storing entries failed after their insert") from e
    return outcomes
