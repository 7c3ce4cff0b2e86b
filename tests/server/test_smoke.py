from __future__ import annotations

from tests.support.server_harness import World


def test_group_lifecycle(world: World) -> None:
    alice = world.person()
    group = world.create_group(alice)
    bob = world.person()
    group.join(bob, by=alice)
    r = group.post_entry(bob, b"hello")
    assert r.json()["cursor"] == 1
    r = group.list_entries(alice)
    assert r.status_code == 200, r.text
    assert len(r.json()["entries"]) == 1
