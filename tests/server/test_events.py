"""Server-sent events: members learn the cursor and log seq, and nothing else."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

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
