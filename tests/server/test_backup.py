"""`chatham-server backup` and `restore`: a copy holds every lasting row, moves between engines,
never overwrites, and is consistent while the server writes."""

from __future__ import annotations

import os
import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from chatham.server import Settings
from chatham.server._private.errors import Refused
from chatham.server._private.services.backup import backup, restore
from chatham.server._private.storage import schema
from chatham.server._private.storage.backup import EPHEMERAL
from chatham.server.cli import main

from tests.conftest import ServerDatabase
from tests.support.server_dbutil import rows
from tests.support.server_harness import World, b64url


def _everything(settings: Settings) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, sorted, as plain values."""
    out: dict[str, list[tuple[Any, ...]]] = {}
    for table in schema.metadata.sorted_tables:
        found = rows(settings, sa.select(table))
        out[table.name] = sorted(
            tuple(bytes(v) if isinstance(v, memoryview) else v for v in r) for r in found
        )
    return out


def _populate(world: World) -> None:
    """Two groups with members, entries, a retraction, an attachment and a pending invite."""
    alice, bob, carol = world.person(), world.person(), world.person()
    group = world.create_group(alice)
    group.join(bob, by=alice)
    group.join(carol, by=alice)
    withdrawn = group.seal(bob, b"entry by bob")
    group.post_sealed(bob, withdrawn)
    group.post_entry(carol, b"entry by carol")
    group.retract(bob, withdrawn.entry.header.entry_id, expect=201)
    group.invite(alice)
    att = os.urandom(16)
    for i, data in enumerate([os.urandom(65536 + 16), os.urandom(300)]):
        r = world.client.put(
            f"{group.path}/attachments/{b64url(att)}/chunks/{i}", content=data, headers=bob.headers
        )
        assert r.status_code == 201, r.text
    group.checkpoint(alice)
    dave = world.person()
    other = world.create_group(dave)
    other.post_entry(dave, b"elsewhere")


def _other_engine(
    server_database: ServerDatabase, tmp_path: Path, request: pytest.FixtureRequest
) -> Settings:
    if server_database.is_postgres:
        return Settings(data_dir=tmp_path / "restored")
    url: str = request.getfixturevalue("fresh_postgres_database")
    return Settings(database_url=url, data_dir=tmp_path / "restored")


def test_a_backup_restores_every_lasting_row_into_the_other_engine(
    world: World,
    server_settings: Any,
    server_database: ServerDatabase,
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    _populate(world)
    live: Settings = server_settings()
    dest = tmp_path / "chatham.backup"
    copied = backup(live, dest)  # the server is running: an online backup
    assert copied.counts["groups"] == 2
    assert copied.counts["attachment_chunks"] == 2
    assert dest.stat().st_mode & 0o777 == 0o600
    assert not list(tmp_path.glob(".*partial*"))

    target = _other_engine(server_database, tmp_path, request)
    restore(target, dest)
    before, after = _everything(live), _everything(target)
    for name in before:
        if name in EPHEMERAL:
            assert after[name] == [], name  # logins are not kept; clients log in again
        else:
            assert after[name] == before[name], name
    assert before["server_identity"]  # the identity members' clients pinned comes back


def test_a_backup_never_overwrites_and_a_restore_never_merges(
    world: World, server_settings: Any, tmp_path: Path
) -> None:
    _populate(world)
    live: Settings = server_settings()
    dest = tmp_path / "taken"
    dest.write_bytes(b"something precious")
    with pytest.raises(Refused, match="already exists"):
        backup(live, dest)
    assert dest.read_bytes() == b"something precious"
    dest.unlink()
    backup(live, dest)
    before = _everything(live)
    with pytest.raises(Refused, match="already holds groups"):
        restore(live, dest)
    assert _everything(live) == before


def test_a_file_that_is_not_a_backup_is_refused_and_changes_nothing(tmp_path: Path) -> None:
    target = Settings(data_dir=tmp_path / "fresh")
    junk = tmp_path / "junk"
    junk.write_bytes(b"not a database at all" * 100)
    with pytest.raises(Refused, match="cannot be restored"):
        restore(target, junk)
    other = tmp_path / "other.sqlite3"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE notes (x)")
    with pytest.raises(Refused, match="not a Chatham server backup"):
        restore(target, other)
    assert not (tmp_path / "fresh" / "chatham.sqlite3").exists()


def test_only_a_backup_at_this_schema_revision_is_taken_or_restored(
    world: World, server_settings: Any, tmp_path: Path
) -> None:
    _populate(world)
    live: Settings = server_settings()
    dest = tmp_path / "b.sqlite3"
    backup(live, dest)
    with sqlite3.connect(dest) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '0004_rate_buckets'")
    target = Settings(data_dir=tmp_path / "fresh")
    with pytest.raises(Refused, match="backup is at schema revision 0004_rate_buckets"):
        restore(target, dest)
    assert not (tmp_path / "fresh" / "chatham.sqlite3").exists()
    # A database another version left behind is not copied as if it were this one's.
    older = Settings(data_dir=tmp_path / "older")
    restore(older, _fresh_backup(live, tmp_path / "again.sqlite3"))
    with sqlite3.connect(older.data_dir / "chatham.sqlite3") as conn:
        conn.execute("UPDATE alembic_version SET version_num = '0004_rate_buckets'")
    with pytest.raises(Refused, match="database is at schema revision 0004_rate_buckets"):
        backup(older, tmp_path / "never.sqlite3")
    assert not (tmp_path / "never.sqlite3").exists()
    assert not (tmp_path / ".never.sqlite3.partial").exists()  # nothing half-written is left


def test_a_damaged_backup_is_refused_and_changes_nothing(
    world: World, server_settings: Any, tmp_path: Path
) -> None:
    _populate(world)
    dest = _fresh_backup(server_settings(), tmp_path / "b.sqlite3")
    # Empty one index's page: every table still reads, but the index no longer matches its
    # table, which only SQLite's integrity check sees.
    with sqlite3.connect(dest) as conn:
        [(root,)] = conn.execute(
            "SELECT rootpage FROM sqlite_master WHERE type = 'index' AND tbl_name = 'entries' "
            "AND name LIKE 'sqlite_autoindex%' LIMIT 1"
        ).fetchall()
        [(size,)] = conn.execute("PRAGMA page_size").fetchall()
    raw = bytearray(dest.read_bytes())
    at = (root - 1) * size
    assert raw[at] == 0x0A  # a leaf index page
    raw[at : at + 8] = bytes([0x0A, 0, 0, 0, 0]) + size.to_bytes(2, "big") + b"\x00"
    dest.write_bytes(bytes(raw))
    target = Settings(data_dir=tmp_path / "fresh")
    with pytest.raises(Refused, match="cannot be restored"):
        restore(target, dest)
    assert not (tmp_path / "fresh" / "chatham.sqlite3").exists()


def _fresh_backup(live: Settings, dest: Path) -> Path:
    backup(live, dest)
    return dest


def test_the_commands_report_in_the_output_contract(
    world: World, server_settings: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _populate(world)
    live: Settings = server_settings()
    where = ["--data-dir", str(live.data_dir)]
    if live.database_url:
        where += ["--database", live.database_url]
    dest = tmp_path / "b.sqlite3"
    with pytest.raises(SystemExit) as done:
        main(["backup", str(dest), *where])
    assert done.value.code == 0
    out, err = capsys.readouterr()
    assert out == ""
    assert f"to {dest}" in err
    assert "2 groups" in err
    with pytest.raises(SystemExit) as done:
        main(["backup", str(dest), *where])
    assert done.value.code == 1
    _, err = capsys.readouterr()
    assert err.startswith("chatham-server: error: ")
    assert "already exists" in err
    with pytest.raises(SystemExit) as done:
        main(["restore", str(dest), "--data-dir", str(tmp_path / "new")])
    assert done.value.code == 0
    _, err = capsys.readouterr()
    assert "restored" in err
    assert "2 groups" in err


@pytest.mark.slow
def test_a_backup_taken_during_writes_is_one_consistent_moment(
    world: World, server_settings: Any, tmp_path: Path
) -> None:
    alice = world.person()
    group = world.create_group(alice)
    stop = threading.Event()
    failures: list[str] = []

    def write() -> None:
        for i in range(400):
            if stop.is_set():
                return
            r = group.post_entry(alice, f"entry {i}".encode())
            if r.status_code != 201:
                failures.append(r.text)

    writer = threading.Thread(target=write)
    writer.start()
    copies = []
    try:
        for n in range(3):
            dest = tmp_path / f"during-{n}"
            backup(server_settings(), dest)
            copies.append(dest)
    finally:
        stop.set()
        writer.join(timeout=120)
    assert failures == []
    for n, dest in enumerate(copies):
        target = Settings(data_dir=tmp_path / f"restored-{n}")
        restore(target, dest)
        [(cursor, stored)] = rows(
            target, sa.select(schema.groups.c.entry_cursor, schema.groups.c.stored_bytes)
        )
        entries = rows(target, sa.select(schema.entries.c.cursor, schema.entries.c.ciphertext))
        # The group row and the entries are of one moment: cursors 1..N with no gap, the
        # counter at N, and the quota counter matching the ciphertext stored.
        assert sorted(c for c, _ in entries) == list(range(1, cursor + 1))
        assert stored == sum(len(ct) for _, ct in entries)
