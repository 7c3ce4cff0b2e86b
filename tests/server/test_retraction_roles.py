"""Retractions at the server: judged now, not at the (possibly backdated) head they claim.

A signature carries no time. A leader who steps down stays a member and can
still sign retractions claiming a log head from when they led; the server must
refuse them, and must refuse any retraction that claims a head older than the
entry it retracts.
"""

from __future__ import annotations

from chatham.crypto import sign_retraction

from tests.support.server_harness import World, assert_error, now


def test_a_demoted_leader_cannot_retract_with_a_head_from_when_they_led(world: World) -> None:
    group, (alice, bob, carol) = world.group_of(3)
    sealed = group.seal(bob)
    group.post_sealed(bob, sealed)
    entry_id = sealed.entry.header.entry_id
    group.set_role(carol, "leader", by=alice)
    as_leader = group.state.seq
    made_while_leading = sign_retraction(
        carol.secrets.device, group.id, entry_id, as_leader, time=now()
    )
    group.set_role(carol, "member", by=alice)
    r = group.retract(carol, entry_id, retraction=made_while_leading)
    assert assert_error(r, 403, "not_allowed")["check"] == "role"
    listed = group.list_entries(bob).json()["entries"]
    assert [e["entry_id"] for e in listed if e.get("retraction")] == []
    assert group.retract(alice, entry_id).status_code == 200


def test_a_retraction_may_not_claim_a_head_older_than_its_entry(world: World) -> None:
    group, (alice, bob) = world.group_of(2)
    before = group.state.seq
    group.rotate(alice)
    sealed = group.seal(bob)
    group.post_sealed(bob, sealed)
    entry_id = sealed.entry.header.entry_id
    backdated = sign_retraction(alice.secrets.device, group.id, entry_id, before, time=now())
    r = group.retract(alice, entry_id, retraction=backdated)
    assert assert_error(r, 422, "invalid_entry")["check"] == "log_head"
    assert group.retract(alice, entry_id).status_code == 200
