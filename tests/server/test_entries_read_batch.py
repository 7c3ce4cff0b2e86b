"""The entry writer's one-row read of a batch's state on SQLite (`api_entries._read_batch`).

On SQLite the group rows and the chain links a batch of posts needs come back as one
row of two JSON arrays, blobs in hex, with unused parameters NULL. It must return
exactly what the two plain reads return (they are what PostgreSQL runs), for any
mix of known and unknown groups and chain positions, any byte values and integers
up to 2⁶³ − 1, and across the parameter-count buckets.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from chatham.server._private import api_entries
from chatham.server._private import schema as t
from chatham.server._private.db import _make_sqlite_engine, _require_json
from hypothesis import given, settings
from hypothesis import strategies as st

BIG = 2**63 - 1
# Ids with the byte values that trip hex and text handling: zeros, 0xff, a NUL inside.
GROUPS = [bytes([i]) * 32 for i in (0, 1, 0x7F, 0x80, 0xFF)] + [b"\x00" * 31 + b"\x01"]
DEVICES = [bytes([0xFF - i]) * 32 for i in range(4)] + [b"\x00" * 32]


@pytest.fixture(scope="module")
def conn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[sa.Connection]:
    path = Path(tmp_path_factory.mktemp("read-batch")) / "db.sqlite3"
    engine = _make_sqlite_engine(f"sqlite:///{path}")
    t.metadata.create_all(engine)
    with engine.begin() as c:
        # Every group but the last is stored; the last is "unknown".
        for n, gid in enumerate(GROUPS[:-1]):
            c.execute(
                sa.insert(t.groups).values(
                    group_id=gid,
                    seq=[0, 1, BIG, 2**53 + 1, 7][n],
                    head=bytes([n, 0, 0xFF]) * 10 + b"\x00\xff",
                    entry_cursor=[0, 5, 2**62, BIG, 3][n],
                    stored_bytes=[0, BIG, 1, 2**40, 9][n],
                    created=0,
                )
            )
        cursor = 0
        for gid in GROUPS[:3]:
            for d, device in enumerate(DEVICES[:-1]):
                for seq in (1, 2, 3, BIG):
                    cursor += 1
                    c.execute(
                        sa.insert(t.entries).values(
                            group_id=gid,
                            entry_id=cursor.to_bytes(16, "big"),
                            cursor=cursor,
                            device_id=device,
                            device_seq=seq,
                            epoch=0,
                            header=b"h",
                            ct_hash=b"c" * 32,
                            link=bytes([d, seq % 256]) + gid[:1] * 30,
                            signature=b"s" * 64,
                            ciphertext=b"x",
                        )
                    )
    with engine.connect() as c, c.begin():
        yield c
    engine.dispose()


def _plain(conn: sa.Connection, gids: list[bytes], wanted: list[Any]) -> tuple[Any, Any]:
    """The two plain reads (what PostgreSQL runs), on the same SQLite connection."""
    rows = api_entries._group_rows(len(gids)).rows(conn, {f"g{i}": g for i, g in enumerate(gids)})
    groups = {row[0]: api_entries._Tally(*row[1:]) for row in rows}
    links = {}
    if wanted:
        params = {}
        for i, (g, d, s) in enumerate(wanted):
            params.update({f"g{i}": g, f"d{i}": d, f"s{i}": s})
        links = {(g, d, s): x for g, d, s, x in api_entries._links(len(wanted)).rows(conn, params)}
    return groups, links


positions = st.tuples(
    st.sampled_from(GROUPS), st.sampled_from(DEVICES), st.sampled_from([0, 1, 2, 3, 4, BIG])
)


@settings(max_examples=120, deadline=None)
@given(
    gids=st.lists(st.sampled_from(GROUPS), min_size=1, max_size=len(GROUPS), unique=True),
    wanted=st.lists(positions, max_size=40, unique=True),
)
def test_one_row_read_equals_the_plain_reads(
    conn: sa.Connection, gids: list[bytes], wanted: list[Any]
) -> None:
    gids, wanted = sorted(gids), sorted(wanted)
    groups, links = api_entries._read_batch(conn, gids, wanted)
    assert (groups, links) == _plain(conn, gids, wanted)


def test_unknown_groups_and_positions_are_absent(conn: sa.Connection) -> None:
    unknown = GROUPS[-1]
    groups, links = api_entries._read_batch(
        conn, [GROUPS[0], unknown], [(GROUPS[0], DEVICES[0], BIG), (unknown, DEVICES[0], 1)]
    )
    assert set(groups) == {GROUPS[0]}
    assert groups[GROUPS[0]].seq == 0
    assert groups[GROUPS[0]].stored_bytes == 0
    assert list(links) == [(GROUPS[0], DEVICES[0], BIG)]
    assert links[(GROUPS[0], DEVICES[0], BIG)] == bytes([0, BIG % 256]) + GROUPS[0][:1] * 30


@pytest.mark.parametrize(("n", "bucket"), [(0, 1), (1, 1), (2, 2), (3, 4), (5, 8), (128, 128)])
def test_parameter_counts_are_rounded_to_few_statements(n: int, bucket: int) -> None:
    assert api_entries._bucket(n) == bucket


def test_an_sqlite_without_json_functions_is_refused_at_connect() -> None:
    class NoJson:
        def execute(self, sql: str) -> Any:
            raise sqlite3.OperationalError("no such function: json_group_array")

    with pytest.raises(RuntimeError, match="no JSON functions"):
        _require_json(NoJson())
    real = sqlite3.connect(":memory:")
    try:
        _require_json(real.cursor())  # this interpreter's SQLite has them
    finally:
        real.close()
