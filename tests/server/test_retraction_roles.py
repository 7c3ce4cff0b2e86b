"""Retractions at the server: a retracting entry is judged now, and where its chain places it.

A retraction is an entry of the retracting member's chain that lists what it
withdraws. A leader who steps down stays a member and could claim a log head from
when they led; the server must refuse the retraction (the role counts now), and
must refuse an entry that claims a head older than the op that demoted its author.
"""

from __future__ import annotations

from tests.support.server_harness import World, assert_error


def test_a_demoted_leader_cannot_retract_with_a_head_from_when_they_led(world: World) -> None:
    group, (alice, bob, carol) = world.group_of(3)
    sealed = group.seal(bob)
    group.post_sealed(bob, sealed)
    entry_id = sealed.entry.header.entry_id
    group.set_role(carol, "leader", by=alice)
    as_leader = (group.state.seq, group.state.head)
    group.set_role(carol, "member", by=alice)
    r = group.retract(carol, entry_id, log_seq=as_leader[0], log_head=as_leader[1])
    assert_error(r, 409, "stale_log_head")
    r = group.retract(carol, entry_id)
    assert assert_error(r, 403, "not_allowed")["check"] == "role"
    listed = group.list_entries(bob).json()["entries"]
    assert [e["entry_id"] for e in listed if e.get("retracted_by")] == []
    assert group.retract(alice, entry_id).status_code == 201


def test_an_entry_may_not_claim_a_head_older_than_its_previous_one(world: World) -> None:
    group, (alice, bob) = world.group_of(2)
    before = (group.state.seq, group.state.head)
    group.post_entry(bob, b"on the first head")
    group.invite(alice)  # the log moves on without a new epoch
    group.post_entry(bob, b"on the newer head")
    backdated = group.seal(bob, b"claims the first head", log_seq=before[0], log_head=before[1])
    r = group.post_sealed(bob, backdated, expect=422)
    assert assert_error(r, 422, "invalid_entry")["check"] == "clock"
