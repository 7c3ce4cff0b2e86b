"""Server-sent events: members learn the cursor and log seq, and nothing else."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import pytest
from litestar.testing import TestClient

from tests.support.server_harness import World, assert_error


def _events(text: str) -> list[dict[str, Any]]:
    out = []
    for block in text.split("\r\n\r\n"):
        lines = [ln for ln in block.splitlines() if ln]
        if not lines or lines[0].startswith(":"):
            continue
        fields = dict(ln.split(": ", 1) for ln in lines)
        out.append({"event": fields.get("event"), "data": json.loads(fields["data"])})
    return out


def test_members_get_the_current_position(make_client: Callable[..., TestClient[Any]]) -> None:
    world = World(make_client(events_max_seconds=0.3, events_poll=0.05))
    alice = world.person()
    group = world.create_group(alice)
    group.post_entry(alice)
    r = world.client.get(f"{group.path}/events", headers=alice.headers)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/event-stream")
    events = _events(r.text)
    assert events[0] == {"event": "changed", "data": {"cursor": 1, "seq": 1}}
    # Nothing but positions, ever.
    assert all(set(e["data"]) == {"cursor", "seq"} for e in events)


def test_non_members_get_403(world: World) -> None:
    alice, eve = world.person(), world.person()
    group = world.create_group(alice)
    assert_error(world.client.get(f"{group.path}/events", headers=eve.headers), 403, "not_a_member")
    assert_error(world.client.get(f"{group.path}/events"), 401, "unauthorized")


def test_many_streams_on_a_group_share_one_database_read_per_poll() -> None:
    from chatham.crypto import GroupState
    from chatham.server._private.hub import Hub, Snapshot

    reads = 0
    state = GroupState()

    async def read() -> Snapshot:
        nonlocal reads
        reads += 1
        return (reads // 3, 0), state

    async def scenario() -> list[int]:
        hub = Hub(per_device=1000, most=1000, poll=0.05)
        subs = [hub.subscribe(b"g", bytes([i % 7]), read) for i in range(200)]
        woken = [0] * len(subs)
        deadline = asyncio.get_running_loop().time() + 0.5
        while asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.01)
            for i, sub in enumerate(subs):
                if sub.wake.is_set():
                    woken[i] += 1
                    sub.wake.clear()
        for sub in subs:
            sub.release()
        assert hub.watchers() == 0
        assert hub.streams() == 0
        hub.close()
        return woken

    woken = asyncio.run(scenario())
    # About ten polls for 200 streams: one watcher reads, not one read per stream.
    assert 3 <= reads <= 20, reads
    # Every stream was woken whenever the position moved.
    assert min(woken) >= 2


def test_streams_are_capped_per_device_and_per_process() -> None:
    from chatham.server._private.errors import ServiceError
    from chatham.server._private.hub import Hub, Snapshot

    async def read() -> Snapshot:
        return None

    async def scenario() -> None:
        hub = Hub(per_device=2, most=3, poll=1.0)
        a = [hub.subscribe(b"g", b"a", read) for _ in range(2)]
        with pytest.raises(ServiceError) as per_device:
            hub.subscribe(b"g", b"a", read)
        assert per_device.value.status == 429
        hub.subscribe(b"h", b"b", read)
        with pytest.raises(ServiceError) as per_process:
            hub.subscribe(b"g", b"c", read)
        assert per_process.value.status == 503
        a[0].release()
        a[0].release()  # once only
        hub.subscribe(b"g", b"a", read)
        hub.close()

    asyncio.run(scenario())


def test_watchers_reads_are_run_together_and_each_gets_its_own_group(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Hundreds of watched groups cost a few transactions per poll, not one each."""
    import asyncio

    from chatham.server._private.services import events

    transactions: list[int] = []

    class Db:
        async def read(self, work: Any) -> Any:
            transactions.append(1)
            await asyncio.sleep(0.01)  # a transaction takes a while; others ask meanwhile
            return work(None)

    tasks: list[Any] = []

    class Runtime:
        db = Db()
        event_reads: object = None

        def spawn(self, coro: Any) -> None:
            tasks.append(asyncio.ensure_future(coro))

    monkeypatch.setattr(events, "_read_snapshot", lambda runtime, conn, gid: ((gid[0], 0), None))

    async def run() -> list[Any]:
        runtime = Runtime()
        return await asyncio.gather(
            *(events._snapshot(runtime, bytes([i % 200]) * 32) for i in range(400))  # type: ignore[arg-type]
        )

    answers = asyncio.run(run())
    assert [a[0][0] for a in answers] == [i % 200 for i in range(400)]
    assert len(transactions) <= 2  # the first group alone, then everyone who asked meanwhile
