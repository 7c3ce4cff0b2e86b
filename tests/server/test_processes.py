"""Real server processes over 127.0.0.1: two processes on one PostgreSQL, and SIGKILL durability.

Loops are bounded in count and time; every server binds to 127.0.0.1 only.
"""

from __future__ import annotations

import json
import random
import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from chatham.crypto import (
    ChainTracker,
    build_invite,
    check_entry_public,
    decode_entry,
    decode_signed_op,
    replay,
)

from tests.support.server_harness import Group, Person, World, b64, now, unb64
from tests.support.server_process import ServerProcess

pytestmark = pytest.mark.slow


def _full_log(client: httpx.Client, group: Group, person: Person) -> list[bytes]:
    ops: list[bytes] = []
    while True:
        page = client.get(
            f"{group.path}/log", params={"since": len(ops) - 1}, headers=person.headers
        ).json()
        ops += [unb64(o) for o in page["ops"]]
        if not page["more"]:
            return ops


def _all_entries(client: httpx.Client, group: Group, person: Person) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = 0
    while True:
        r = client.get(f"{group.path}/entries", params={"after": cursor}, headers=person.headers)
        assert r.status_code == 200, r.text
        page = r.json()
        items += page["entries"]
        cursor = page["cursor"]
        if not page["more"]:
            return items


def _verify_entries(group: Group, items: list[dict[str, Any]]) -> None:
    """Cursors 1..N without gaps or repeats, every entry verifies, every chain is whole."""
    assert [it["cursor"] for it in items] == list(range(1, len(items) + 1))
    tracker = ChainTracker()
    entries = sorted(
        (decode_entry(unb64(it["entry"])) for it in items),
        key=lambda e: (e.header.device, e.header.seq),
    )
    for entry in entries:
        link = check_entry_public(group.state, entry)
        assert tracker.check(entry.header, link)
        tracker.add(entry.header, link)


def test_two_processes_on_one_postgres(fresh_postgres_database: str, tmp_path: Path) -> None:
    a = ServerProcess(tmp_path / "a", fresh_postgres_database)
    b = ServerProcess(tmp_path / "b", fresh_postgres_database)
    # Start both at once: the migration lock makes exactly one of them create the schema.
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(lambda s: s.start(), (a, b)))
    try:
        with (
            httpx.Client(base_url=a.url, timeout=30) as ca,
            httpx.Client(base_url=b.url, timeout=30) as cb,
        ):
            world = World(ca)
            group, people = world.group_of(4)
            leader = people[0]
            # A token from one process works on the other: state lives in the database.
            assert cb.get(group.path, headers=leader.headers).status_code == 200
            # Both processes are one server: one identity, so a login works at either.
            world.client = cb
            for p in people:
                assert world.login(p).status_code == 200
            at_a = World(ca)
            at_a.challenge()
            assert at_a.server_id == world.server_id
            world.client = ca
            _race_log_appends(group, leader, (ca, cb))
            _race_entry_posts(group, people, (ca, cb))
            # Both processes agree on everything.
            log_a, log_b = _full_log(ca, group, leader), _full_log(cb, group, leader)
            assert log_a == log_b
            state = replay(log_a)
            assert state.head == group.state.head
            items_a, items_b = _all_entries(ca, group, leader), _all_entries(cb, group, leader)
            assert items_a == items_b
            _verify_entries(group, items_a)
    finally:
        a.stop()
        b.stop()


def _race_log_appends(group: Group, leader: Person, clients: tuple[httpx.Client, ...]) -> None:
    """Rounds of racers appending different ops at the same seq: exactly one wins each round."""
    racers = 6
    for _ in range(8):
        seq, head = group.state.seq, group.state.head
        ops = [
            build_invite(
                group.state,
                leader.secrets.device,
                role="member",
                expires=now() + 3600,
                server="https://x.example",
                time=now(),
            )[0].op
            for _ in range(racers)
        ]
        barrier = threading.Barrier(racers)
        bodies = [{"expected_seq": seq, "expected_head": b64(head), "op": b64(op)} for op in ops]

        def post(i: int, bodies: list[dict[str, Any]] = bodies, barrier: Any = barrier) -> int:
            barrier.wait(timeout=10)
            r = clients[i % len(clients)].post(
                f"{group.path}/log", json=bodies[i], headers=leader.headers
            )
            return r.status_code

        with ThreadPoolExecutor(racers) as pool:
            codes = list(pool.map(post, range(racers)))
        assert sorted(codes) == [201] + [409] * (racers - 1), codes
        log = _full_log(clients[0], group, leader)
        assert len(log) == seq + 2
        winner = log[-1]
        assert winner in ops
        assert decode_signed_op(winner).op.seq == seq + 1
        group.state.apply(winner)
        group.ops.append(winner)


def _race_entry_posts(
    group: Group, people: list[Person], clients: tuple[httpx.Client, ...]
) -> None:
    """Every member posts a chain through both processes, each entry sent to both at once."""
    per_member = 12
    acked: dict[bytes, int] = {}
    lock = threading.Lock()
    failures: list[str] = []

    def writer(person: Person) -> None:
        for _ in range(per_member):
            sealed = group.seal(person, b"race " + bytes([random.randrange(256)]) * 40)
            body = {"entry": b64(sealed.data)}
            results: list[httpx.Response] = []

            def send(
                c: httpx.Client, body: dict[str, str] = body, out: list[Any] = results
            ) -> None:
                out.append(c.post(f"{group.path}/entries", json=body, headers=person.headers))

            threads = [threading.Thread(target=send, args=(c,)) for c in clients]
            for t in threads:
                t.start()
            for t in threads:
                t.join(timeout=30)
            cursors = {r.json()["cursor"] for r in results if r.status_code == 201}
            if [r.status_code for r in results] != [201, 201] or len(cursors) != 1:
                failures.append(str([(r.status_code, r.text) for r in results]))
                return
            person.chain_seq += 1
            person.chain_link = sealed.link
            with lock:
                acked[sealed.entry.header.entry_id] = cursors.pop()

    def appender() -> None:
        # Meanwhile the leader appends ops (no rotation, so the epoch stays current).
        for _ in range(5):
            pending, _ = build_invite(
                group.state,
                people[0].secrets.device,
                role="member",
                expires=now() + 3600,
                server="https://x.example",
                time=now(),
            )
            group.append(people[0], pending)
            time.sleep(0.02)

    with ThreadPoolExecutor(len(people) + 1) as pool:
        futures = [pool.submit(writer, p) for p in people] + [pool.submit(appender)]
        for f in futures:
            f.result(timeout=120)
    assert failures == []
    assert len(acked) == len(people) * per_member
    items = _all_entries(clients[1], group, people[0])
    assert {unb64(it["entry_id"]): it["cursor"] for it in items} == acked


def test_acknowledged_writes_survive_sigkill(server_database: Any, tmp_path: Path) -> None:
    server = ServerProcess(server_database.data_dir, server_database.url).start()
    acked: dict[bytes, tuple[int, bytes]] = {}
    lock = threading.Lock()
    stop = threading.Event()
    try:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            world = World(client)
            group, people = world.group_of(4)

            def writer(person: Person) -> None:
                with httpx.Client(base_url=server.url, timeout=10) as c:
                    for _ in range(2000):  # bounded; the kill comes first
                        if stop.is_set():
                            return
                        sealed = group.seal(person, b"durable " * 20)
                        try:
                            r = c.post(
                                f"{group.path}/entries",
                                json={"entry": b64(sealed.data)},
                                headers=person.headers,
                            )
                        except httpx.HTTPError:
                            return  # the server died mid-request: not acknowledged
                        if r.status_code != 201:
                            return
                        person.chain_seq += 1
                        person.chain_link = sealed.link
                        with lock:
                            acked[sealed.entry.header.entry_id] = (r.json()["cursor"], sealed.data)

            with ThreadPoolExecutor(len(people)) as pool:
                futures = [pool.submit(writer, p) for p in people]
                deadline = time.monotonic() + 20
                while len(acked) < 60 and time.monotonic() < deadline:
                    time.sleep(0.02)
                server.kill()  # mid-load: writers are between requests or inside one
                stop.set()
                for f in futures:
                    f.result(timeout=60)
        assert len(acked) >= 60
        if server_database.url is None:
            db_file = server_database.data_dir / "chatham.sqlite3"
            with sqlite3.connect(db_file) as conn:
                assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        server = ServerProcess(server_database.data_dir, server_database.url).start()
        with httpx.Client(base_url=server.url, timeout=30) as client:
            world.client = client
            world.login(people[0])
            items = _all_entries(client, group, people[0])
            stored = {unb64(it["entry_id"]): (it["cursor"], unb64(it["entry"])) for it in items}
            missing = [e for e in acked if e not in stored]
            assert missing == []
            for entry_id, (cursor, data) in acked.items():
                assert stored[entry_id] == (cursor, data)
            # The database is consistent: a contiguous cursor, whole chains, a log that replays.
            _verify_entries(group, items)
            log = _full_log(client, group, people[0])
            assert replay(log).head == group.state.head
            info = client.get(group.path, headers=people[0].headers).json()
            assert info["entry_cursor"] == len(items)
    finally:
        stop.set()
        server.kill()


def _read_events(
    client: httpx.Client,
    path: str,
    headers: dict[str, str],
    out: list[dict[str, int]],
    ready: threading.Event,
    until: dict[str, int],
) -> None:
    with client.stream("GET", path, headers=headers, timeout=20) as r:
        assert r.status_code == 200
        for line in r.iter_lines():
            if line.startswith("data: "):
                out.append(json.loads(line[6:]))
                ready.set()
                if out[-1] == until:
                    return


def test_event_stream_wakes_on_changes(server_database: Any, tmp_path: Path) -> None:
    """A member's stream learns the new cursor and log seq; via another process on PostgreSQL.

    Changes close together may arrive as one event (the stream sends positions,
    not a history), so the test waits for the final position.
    """
    env = {"CHATHAM_SERVER_EVENTS_POLL": "0.2"}
    writer = ServerProcess(server_database.data_dir, server_database.url, env=env).start()
    reader = writer
    if server_database.url is not None:
        reader = ServerProcess(tmp_path / "b", server_database.url, env=env).start()
    try:
        with (
            httpx.Client(base_url=writer.url, timeout=30) as cw,
            httpx.Client(base_url=reader.url, timeout=30) as cr,
        ):
            world = World(cw)
            group, (alice, bob) = world.group_of(2)
            seen: list[dict[str, int]] = []
            ready = threading.Event()
            final = {"cursor": 1, "seq": group.state.seq + 1}
            t = threading.Thread(
                target=_read_events,
                args=(cr, f"{group.path}/events", alice.headers, seen, ready, final),
                daemon=True,
            )
            t.start()
            assert ready.wait(10)
            assert seen[0] == {"cursor": 0, "seq": group.state.seq}
            group.post_entry(bob, b"wake up")
            group.invite(alice)
            t.join(timeout=30)  # generous: CI machines may be loaded
            assert not t.is_alive(), seen
            assert seen[-1] == final
            assert all(set(e) == {"cursor", "seq"} for e in seen)
    finally:
        writer.stop()
        if reader is not writer:
            reader.stop()


def test_several_workers_share_the_database(server_database: Any) -> None:
    """`--workers 2`: uvicorn workers rebuild the settings from the environment and agree."""
    server = ServerProcess(server_database.data_dir, server_database.url, args=["--workers", "2"])
    server.start()
    try:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            world = World(client)
            group, people = world.group_of(3)
            for _ in range(10):
                for p in people:
                    group.post_entry(p)
            items = _all_entries(client, group, people[0])
            assert len(items) == 30
            _verify_entries(group, items)
    finally:
        server.stop()


def test_ctrl_c_stops_the_server_promptly_while_event_streams_are_open(tmp_path: Path) -> None:
    """A member's open event stream never finishes by itself; Ctrl-C must not wait for it."""
    import signal

    from chatham.client import Account
    from chatham.server.testing import live_server

    with live_server(tmp_path / "server") as server:
        account = Account.init(tmp_path / "home", passphrase="a passphrase for ctrl c", name="Dana")
        group = account.create_group("Forum", server.url)
        opened = threading.Event()

        def follow() -> None:
            try:
                for _ in group.changes(read_timeout=60):
                    opened.set()
            except Exception:
                pass

        watcher = threading.Thread(target=follow, daemon=True)
        watcher.start()
        assert opened.wait(20)
        started = time.monotonic()
        server.proc.send_signal(signal.SIGINT)
        server.proc.wait(timeout=20)
        stopped_in = time.monotonic() - started
        watcher.join(timeout=20)
        account.close()
    assert stopped_in < 8, stopped_in
