"""Join requests: checked against the invite op's join key; single-use; die with the invite."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chatham.crypto import InviteSecret, SignedJoinRequest, decode_join_request, encode, labels
from litestar.testing import TestClient

from tests.support.server_harness import Clock, World, assert_error, b64, b64url, now, unb64


def _post(world: World, group: Any, request: bytes) -> Any:
    return world.client.post(f"{group.path}/join-requests", json={"request": b64(request)})


def test_request_is_accepted_and_listed_for_leaders(world: World) -> None:
    alice, bob = world.person(), world.person()
    group = world.create_group(alice)
    invite = group.invite(alice)
    request = invite.request(bob.card, created=now())
    r = _post(world, group, request)  # no login needed
    assert r.status_code == 201, r.text
    assert unb64(r.json()["invite_id"]) == invite.invite_id
    listed = world.client.get(f"{group.path}/join-requests", headers=alice.headers).json()
    assert [unb64(x["request"]) for x in listed["requests"]] == [request]
    # The leader adds bob; the request is gone.
    group.add(alice, (bob, invite))
    listed = world.client.get(f"{group.path}/join-requests", headers=alice.headers).json()
    assert listed["requests"] == []


def test_only_leaders_list_requests(world: World) -> None:
    alice, bob, eve = world.person(), world.person(), world.person()
    group = world.create_group(alice)
    group.join(bob, by=alice)
    assert_error(
        world.client.get(f"{group.path}/join-requests", headers=bob.headers), 403, "not_a_leader"
    )
    assert_error(
        world.client.get(f"{group.path}/join-requests", headers=eve.headers), 403, "not_a_member"
    )


def test_request_signed_with_another_key_is_refused(world: World) -> None:
    alice, bob = world.person(), world.person()
    group = world.create_group(alice)
    invite = group.invite(alice)
    # The real invite id, signed with a join key the leader never published.
    forged = InviteSecret(b"\x00" * 16, group.id, "https://x.example")
    real = decode_join_request(invite.request(bob.card, created=now())).request
    sig = forged.sign_join(labels.SIG_JOIN, encode(real))
    r = _post(world, group, encode(SignedJoinRequest(real, sig)))
    assert assert_error(r, 422, "invalid_join_request")["check"] == "signature"
    # A request for an invite id that does not exist.
    assert_error(
        _post(world, group, forged.request(bob.card, created=now())), 403, "invite_not_usable"
    )


def test_request_for_a_used_revoked_or_expired_invite(
    make_client: Callable[..., TestClient[Any]],
) -> None:
    clock = Clock()
    world = World(make_client(clock=clock))
    alice, bob, carol = world.person(), world.person(), world.person()
    group = world.create_group(alice)
    used = group.join(bob, by=alice)
    assert_error(
        _post(world, group, used.request(carol.card, created=now())), 403, "invite_not_usable"
    )
    revoked = group.invite(alice)
    group.revoke(revoked, by=alice)
    assert_error(
        _post(world, group, revoked.request(carol.card, created=now())), 403, "invite_not_usable"
    )
    expiring = group.invite(alice, expires=int(clock.now) + 10)
    clock.advance(11)
    assert_error(
        _post(world, group, expiring.request(carol.card, created=now())), 403, "invite_not_usable"
    )


def test_invite_dies_with_its_issuer(world: World) -> None:
    alice, bob, carol = world.person(), world.person(), world.person()
    group = world.create_group(alice)
    group.join(bob, by=alice, role="leader")
    invite = group.invite(bob)
    assert _post(world, group, invite.request(carol.card, created=now())).status_code == 201
    group.set_role(bob, "member", by=alice)
    assert (
        world.client.get(f"{group.path}/join-requests", headers=alice.headers).json()["requests"]
        == []
    )
    dave = world.person()
    other = group.invite(alice)
    group.remove(bob, by=alice)
    assert_error(
        _post(world, group, invite.request(dave.card, created=now())), 403, "invite_not_usable"
    )
    assert _post(world, group, other.request(dave.card, created=now())).status_code == 201


def test_one_request_per_invite(world: World) -> None:
    alice, bob, eve = world.person(), world.person(), world.person()
    group = world.create_group(alice)
    invite = group.invite(alice)
    assert _post(world, group, invite.request(bob.card, created=now())).status_code == 201
    assert_error(_post(world, group, invite.request(eve.card, created=now())), 409, "invite_used")


def test_malformed_and_misdirected_requests(world: World) -> None:
    alice, bob = world.person(), world.person()
    group = world.create_group(alice)
    other = world.create_group(alice)
    assert (
        assert_error(_post(world, group, b"junk"), 422, "invalid_join_request")["check"]
        == "encoding"
    )
    invite = other.invite(alice)
    r = _post(world, group, invite.request(bob.card, created=now()))
    assert assert_error(r, 422, "invalid_join_request")["check"] == "group"


def test_garbage_join_requests_do_not_lock_the_invitee_out(
    make_client: Callable[..., TestClient[Any]],
) -> None:
    # Anyone who knows the group id may send junk; only requests that verify spend the
    # group's allowance, so the real invitee still gets in.
    world = World(make_client(rate_join=2, rate_auth=0))
    alice, bob = world.person(), world.person()
    group = world.create_group(alice)
    invite = group.invite(alice)
    codes = {_post(world, group, b"junk").status_code for _ in range(20)}
    assert codes == {422}
    assert _post(world, group, invite.request(bob.card, created=now())).status_code == 201


def test_verified_join_requests_spend_the_groups_allowance(
    make_client: Callable[..., TestClient[Any]],
) -> None:
    world = World(make_client(rate_join=2, rate_auth=0))
    alice = world.person()
    group = world.create_group(alice)
    invites = [group.invite(alice) for _ in range(3)]
    codes = [
        _post(world, group, inv.request(world.person().card, created=now())).status_code
        for inv in invites
    ]
    assert codes == [201, 201, 429]


def test_bad_invitee_logins_do_not_lock_the_invitee_out(
    make_client: Callable[..., TestClient[Any]],
) -> None:
    world = World(make_client(rate_join=2, rate_auth=0))
    alice = world.person()
    group = world.create_group(alice)
    invite, other = group.invite(alice), group.invite(alice)
    for _ in range(10):
        assert_error(world.invite_token(group, invite, signer=other), 401, "bad_signature")
    assert world.invite_token(group, invite).status_code == 200


def test_join_routes_spend_the_address_allowance_before_reading_the_body(
    make_client: Callable[..., TestClient[Any]],
) -> None:
    world = World(make_client(rate_auth=2))
    alice = world.person()  # a challenge and a login: the address's two
    group = world.create_group(alice)
    r = world.client.post(f"{group.path}/join-requests", content=b"[" * 100_000)
    assert_error(r, 429, "rate_limited")


def test_an_invitee_finds_the_group_by_the_invite_id_alone(world: World) -> None:
    alice = world.person()
    group = world.create_group(alice)
    other = world.create_group(alice)
    invite = group.invite(alice)
    r = world.client.get(f"/v1/invites/{b64url(invite.invite_id)}")  # no login needed
    assert r.status_code == 200, r.text
    assert [unb64(g) for g in r.json()["groups"]] == [group.id]
    other.invite(alice)
    unknown = InviteSecret(b"\x01" * 16, group.id, "https://x.example")
    path = f"/v1/invites/{b64url(unknown.invite_id)}"
    assert_error(world.client.get(path), 404, "invite_unknown")
    assert_error(world.client.get("/v1/invites/short"), 400, "invalid_id")


def test_a_request_whose_invite_expired_is_listed_for_a_month(
    make_client: Callable[..., TestClient[Any]],
) -> None:
    clock = Clock()
    world = World(make_client(clock=clock))
    alice, bob = world.person(), world.person()
    group = world.create_group(alice)
    expiring = group.invite(alice, expires=int(clock.now) + 60)
    request = expiring.request(bob.card, created=now())
    assert _post(world, group, request).status_code == 201

    def listed() -> list[bytes]:
        page = world.client.get(f"{group.path}/join-requests", headers=alice.headers).json()
        return [unb64(x["request"]) for x in page["requests"]]

    clock.advance(3600)
    world.login(alice)
    group.invite(alice)  # the log moves on: the expired request is kept, not dropped
    assert listed() == [request]
    clock.advance(31 * 86400)
    world.login(alice)
    group.invite(alice)
    assert listed() == []
