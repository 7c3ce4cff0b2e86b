"""Ops that pin chain heads must pin the chains the server holds (409 stale_heads).

A departure's final heads, a demotion's and a stricter policy's pinned heads, and a
checkpoint's heads decide which entries count: one that does not match the entries the
server accepted would leave an accepted entry beyond a final head (wedging every member
who syncs it, before clients learned to quarantine) or outside a checkpoint.
"""

from __future__ import annotations

from chatham.crypto import ChainHead, Policy, build_leave, build_remove

from tests.support.server_harness import World, assert_error, now


def test_a_remove_that_misses_an_accepted_entry_is_refused(world: World) -> None:
    group, (alice, bob) = world.group_of(2)
    group.post_entry(bob, b"one")
    stale = group.heads_of(bob)
    group.post_entry(bob, b"two, posted while the leader was removing him")
    pending = build_remove(
        group.state, group.keyring, alice.secrets.device, bob.member_id, stale, time=now()
    )
    assert_error(group.append(alice, pending, expect=409), 409, "stale_heads")
    group.remove(bob, by=alice)  # rebuilt on the heads the server holds


def test_a_leave_claiming_no_entries_is_refused(world: World) -> None:
    group, (_alice, bob) = world.group_of(2)
    group.post_entry(bob, b"bob wrote this")
    zero = [ChainHead(bob.device_id, 0, bytes(32))]
    pending = build_leave(group.state, bob.secrets.device, bob.member_id, zero, time=now())
    assert_error(group.append(bob, pending, expect=409), 409, "stale_heads")
    group.leave(bob)


def test_a_demotion_and_a_stricter_policy_pin_the_chains_as_held(world: World) -> None:
    group, (alice, bob, carol) = world.group_of(3)
    group.set_role(bob, "leader", by=alice)
    group.post_entry(bob, b"as a leader")
    bob_real = group.heads_of(bob)
    bob.chain_seq -= 1  # the harness forgets Bob's entry: the pinned head is stale
    r = group.set_role(bob, "member", by=alice, expect=409)
    assert_error(r, 409, "stale_heads")
    bob.chain_seq += 1
    assert group.heads_of(bob) == bob_real
    group.set_role(bob, "member", by=alice)
    group.post_entry(carol, b"carol")
    stale = [h for h in group.all_heads() if h.device != carol.device_id]
    r = group.set_policy(Policy(notes="leaders"), by=alice, heads=stale, expect=409)
    assert_error(r, 409, "stale_heads")
    group.set_policy(Policy(notes="leaders"), by=alice)


def test_a_checkpoint_must_list_every_chain_the_server_holds(world: World) -> None:
    group, (alice, bob) = world.group_of(2)
    group.post_entry(alice, b"alice")
    group.post_entry(bob, b"bob")
    only_alice = [h for h in group.all_heads() if h.device == alice.device_id]
    assert_error(group.checkpoint(alice, heads=only_alice, expect=409), 409, "stale_heads")
    group.checkpoint(alice)


def test_an_entry_may_not_claim_a_head_before_the_latest_checkpoint(world: World) -> None:
    group, (alice, bob) = world.group_of(2)
    before = (group.state.seq, group.state.head)
    group.checkpoint(alice)
    sealed = group.seal(bob, b"sealed before the checkpoint", log_seq=before[0], log_head=before[1])
    r = group.post_sealed(bob, sealed, expect=409)
    body = assert_error(r, 409, "stale_log_head")
    assert body["seq"] == group.state.seq  # the head to reseal on
    group.post_entry(bob, b"sealed on the newest head")
