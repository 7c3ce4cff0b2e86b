"""The server is replaceable: a real `chatham-server` (on SQLite, and on PostgreSQL) loses
its database, is restored from an older backup, and is abandoned for a new server; four
members driven through the `chatham` commands get every item back.

Dana founds the group; Sam, Ana and Lee join. Over two "months" they post issues,
notes, commitments, comments and files; in the second Dana removes Ana. Then:

(b) the operator restores the database from the backup taken after the first month:
    every member's `sync` fails naming the rollback; `chatham group heal` gives it back;
(a) the database is deleted (a new, empty server at the same address): `sync` refuses
    the server that changed; Dana points her client at it with `--give-copy`, the
    others follow with `chatham group server URL`;
(c) Dana moves the group to a new server (`chatham group move`): Sam's client follows the
    signed move on its next sync; once the old server is gone, Lee and Ana point their
    clients at the new one.

After each, every item is back for every member, `verify` passes, the meeting codes
match, the files nobody could give back are named, and Ana stays locked out of
everything written after her removal.
"""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from chatham.server.testing import LiveServer, free_port, live_server

from tests.conftest import _admin, _with_database
from tests.support.cli_member import UNLIMITED, CliMember, admit, environment

pytestmark = pytest.mark.slow

PASSPHRASE = "server replaced passphrase"
GROUP = "Thursday Forum"


@dataclass
class Storage:
    """One server's database, as its operator sees it: back it up, restore it, lose it."""

    data_dir: Path
    url: str | None
    admin: str | None

    @property
    def args(self) -> tuple[str, ...]:
        return () if self.url is None else ("--database", self.url)

    def _name(self) -> str:
        assert self.url is not None
        return urlsplit(self.url).path.lstrip("/")

    def backup(self, tag: str) -> None:
        if self.url is None:
            shutil.copyfile(self.data_dir / "chatham.sqlite3", self.data_dir.parent / tag)
            return
        assert self.admin is not None
        asyncio.run(_admin(self.admin, f'CREATE DATABASE "{tag}" TEMPLATE "{self._name()}"'))

    def restore(self, tag: str) -> None:
        if self.url is None:
            self._remove_sqlite()
            shutil.copyfile(self.data_dir.parent / tag, self.data_dir / "chatham.sqlite3")
            return
        assert self.admin is not None
        name = self._name()
        asyncio.run(
            _admin(
                self.admin,
                f'DROP DATABASE "{name}" WITH (FORCE)',
                f'CREATE DATABASE "{name}" TEMPLATE "{tag}"',
            )
        )

    def lose(self) -> None:
        if self.url is None:
            self._remove_sqlite()
            return
        assert self.admin is not None
        name = self._name()
        asyncio.run(
            _admin(self.admin, f'DROP DATABASE "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"')
        )

    def _remove_sqlite(self) -> None:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{self.data_dir / 'chatham.sqlite3'}{suffix}").unlink(missing_ok=True)


class Place:
    """A server address that stays the same while its process is stopped and started."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        self.port = free_port()
        self._running: AbstractContextManager[LiveServer] | None = None
        self.url = f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self._running = live_server(self.storage.data_dir, *self.storage.args, port=self.port)
        self._running.__enter__()

    def stop(self) -> None:
        if self._running is not None:
            self._running.__exit__(None, None, None)
            self._running = None


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def storages(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[list[Storage]]:
    """Two databases (the group's server and the one it moves to) on the engine under test."""
    if request.param == "sqlite":
        yield [Storage(tmp_path / f"server-{i}", None, None) for i in range(2)]
        return
    admin: str = request.getfixturevalue("postgres_admin_url")
    names = [f"chatham_replaced_{free_port()}_{i}" for i in range(2)]
    for name in names:
        asyncio.run(_admin(admin, f'CREATE DATABASE "{name}"'))
    try:
        yield [
            Storage(tmp_path / f"server-{i}", _with_database(admin, name), admin)
            for i, name in enumerate(names)
        ]
    finally:
        for name in names:
            asyncio.run(_admin(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        for tag in ("month-1",):
            asyncio.run(_admin(admin, f'DROP DATABASE IF EXISTS "{tag}_{names[0]}" WITH (FORCE)'))


def items(m: CliMember) -> dict[str, Any]:
    """Every item this member can see, by id (offline: what their device holds)."""
    return {i["id"]: i for i in m.json("list", "-g", GROUP, "--offline")}


def sync_all(*ms: CliMember) -> None:
    for m in ms:
        m.ok("sync", "-g", GROUP)


def check_whole(stayed: list[CliMember], before: dict[str, dict[str, Any]]) -> None:
    """Every item each member saw is back, `verify` passes, the meeting codes match."""
    dana = stayed[0]
    dana.ok("checkpoint", "-g", GROUP)
    sync_all(*stayed)
    codes = set()
    for m in stayed:
        now = items(m)
        assert set(before[m.name]) <= set(now), m.name
        for item_id, item in before[m.name].items():
            assert now[item_id]["title"] == item["title"]
        report = m.json("verify", "-g", GROUP)
        assert report["ok"] is True, report
        codes.add(report["meeting_code"])
    assert len(codes) == 1
    assert None not in codes


def locked_out(ana: CliMember, written_after: str) -> None:
    code, out, _ = ana("sync", "-g", GROUP)
    assert code == 0
    assert "no longer a member" in out
    assert all(written_after not in i["title"] for i in items(ana).values())


def test_every_item_survives_a_restore_a_lost_database_and_a_move(
    tmp_path: Path, storages: list[Storage]
) -> None:
    with environment(UNLIMITED):
        _story(tmp_path, storages)


def _story(tmp_path: Path, storages: list[Storage]) -> None:
    old, new = Place(storages[0]), Place(storages[1])
    dana, sam, ana, lee = (
        CliMember(n, tmp_path, PASSPHRASE) for n in ("Dana", "Sam", "Ana", "Lee")
    )
    everyone = [dana, sam, lee]
    files = tmp_path / "files"
    files.mkdir()
    (files / "budget.txt").write_text("month one budget\n" * 500)
    (files / "minutes.txt").write_text("month two minutes\n" * 300)
    old.start()
    try:
        dana.ok("group", "create", GROUP, "--server", old.url)
        for m in (sam, ana, lee):
            admit(dana, m, GROUP)
        # Month one.
        issue = dana.json("issue", "new", "--title", "Selling the company", "-g", GROUP)["id"]
        sam.ok("issue", "new", "--title", "Hiring a COO", "-g", GROUP)
        ana.ok("issue", "new", "--title", "Ana's lawsuit", "-g", GROUP)
        dana.ok("note", "new", "--body", "# Month one\n\nWe met.", "-g", GROUP)
        sam.ok("commit", "new", "Call the bank", "-g", GROUP)
        sync_all(*everyone, ana)
        sam.ok("attach", issue[:8], str(files / "budget.txt"), "-g", GROUP)
        lee.ok("comment", issue[:8], "Lee's first thought", "-g", GROUP)
        sync_all(*everyone, ana)
        old.stop()
        tag = f"month-1_{old.storage._name()}" if old.storage.url else "month-1"
        storages[0].backup(tag)
        old.start()
        # Month two: Ana is removed; the others write on.
        dana.ok("remove", "Ana", "-g", GROUP)
        lee.ok("issue", "new", "--title", "After Ana left", "-g", GROUP)
        sam.ok("note", "new", "--body", "# Month two\n\nWe met again.", "-g", GROUP)
        lee.ok("attach", issue[:8], str(files / "minutes.txt"), "-g", GROUP)
        sync_all(*everyone, ana)
        before = {m.name: items(m) for m in everyone}
        assert len(before["Sam"]) >= 8

        # (b) the operator restores the backup of month one.
        old.stop()
        storages[0].restore(tag)
        old.start()
        for m in everyone:
            code, _, err = m("sync", "-g", GROUP)
            assert code == 1, (m.name, err)
            assert "older copy of the group" in err, err
            assert "chatham group heal" in err
        healed = dana.ok("group", "heal", "-g", GROUP)
        assert "gave the server" in healed
        assert "minutes.txt" in healed  # uploaded after the backup: its chunks are gone
        for m in (sam, lee):
            m.ok("group", "heal", "-g", GROUP)
        check_whole(everyone, before)
        locked_out(ana, "After Ana left")

        # (a) the database is lost: an empty server answers at the same address.
        old.stop()
        storages[0].lose()
        old.start()
        code, _, err = sam("sync", "-g", GROUP)
        assert code == 1
        assert "not the server this device first logged in to" in err
        given = dana.ok("group", "server", old.url, "--give-copy", "-g", GROUP)
        assert "created the group on the server" in given
        assert "budget.txt" in given
        for m in (sam, lee):
            pointed = m.ok("group", "server", old.url, "-g", GROUP)
            assert "now uses" in pointed
            assert " log " not in pointed  # members' words, not the protocol's
        ana.ok("group", "server", old.url, "-g", GROUP)
        lost = {m["name"] for m in lee.json("attachment", "missing", "-g", GROUP)}
        assert lost == {"budget.txt", "minutes.txt"}
        check_whole(everyone, before)
        locked_out(ana, "After Ana left")
        # Whoever still has a file attaches it again.
        sam.ok("attach", issue[:8], str(files / "budget.txt"), "--text", "again", "-g", GROUP)
        sync_all(*everyone)
        before = {m.name: items(m) for m in everyone}

        # (c) Dana moves the group to a new server; the old one is abandoned.
        new.start()
        moved = dana.ok("group", "move", "--server", new.url, "-g", GROUP)
        assert "1 attached file copied" in moved
        # Sam syncs while the old server still answers: his client follows the signed move.
        followed = sam.ok("sync", "-g", GROUP)
        assert f"moved the group to the server at {new.url}" in followed
        assert "this device now uses" in followed
        old.stop()
        for m in (lee, ana):  # the old server is gone: told the address, they point there
            assert "now uses" in m.ok("group", "server", new.url, "-g", GROUP)
        check_whole(everyone, before)
        locked_out(ana, "After Ana left")
        saved = tmp_path / "saved.txt"
        attached = [i for i in items(lee).values() if i["type"] == "comment" and i.get("file")]
        again = next(i for i in attached if i["text"] == "again")
        lee.ok("attachment", "save", again["id"][:8], str(saved), "-g", GROUP)
        assert saved.read_text() == (files / "budget.txt").read_text()
        assert json.dumps(before)  # the story's record is plain JSON
    finally:
        old.stop()
        new.stop()
