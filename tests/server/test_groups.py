"""Group creation, registration control, and group info."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from chatham.crypto import Secrets, create_group, make_card
from chatham.server._private.services.admin import issue_registration_token
from litestar.testing import TestClient

from tests.support.server_harness import Clock, World, assert_error, b64, b64url, now, unb64


def _genesis_body(founder: Any) -> tuple[Any, dict[str, Any]]:
    new = create_group(founder.secrets, "Founder", time=now(), card=founder.card)
    return new, {
        "ops": [b64(op) for op in new.ops],
        "lockboxes": [{"device": b64(d), "lockbox": b64(lb)} for d, lb in new.lockboxes.items()],
    }


def test_create_group_returns_its_head(world: World) -> None:
    alice = world.person()
    group = world.create_group(alice)
    body = group.created.json()
    assert unb64(body["group_id"]) == group.id
    assert body["seq"] == 1
    assert unb64(body["head"]) == group.state.head


def test_group_info_for_members_only(world: World) -> None:
    alice, eve = world.person(), world.person()
    group = world.create_group(alice)
    r = world.client.get(group.path, headers=alice.headers)
    assert r.status_code == 200, r.text
    info = r.json()
    assert info["epoch"] == 1
    assert info["pending_rotation"] is False
    assert info["entry_cursor"] == 0
    assert_error(world.client.get(group.path, headers=eve.headers), 403, "not_a_member")


def test_unknown_group_is_not_a_member_not_404(world: World) -> None:
    alice = world.person()
    r = world.client.get(f"/v1/groups/{b64url(bytes(32))}", headers=alice.headers)
    assert_error(r, 403, "not_a_member")


def test_bad_group_id_in_path(world: World) -> None:
    alice = world.person()
    for bad in ("short", "x" * 43 + "!", b64url(bytes(31)), "A" * 64):
        body = assert_error(
            world.client.get(f"/v1/groups/{bad}", headers=alice.headers), 400, "invalid_id"
        )
        assert body["field"] == "group_id"


def test_only_the_founder_device_creates(world: World) -> None:
    alice, bob = world.person(), world.person()
    _, body = _genesis_body(alice)
    r = world.client.post("/v1/groups", json=body, headers=bob.headers)
    assert_error(r, 403, "not_founder")


def test_same_genesis_twice_conflicts(world: World) -> None:
    alice = world.person()
    _, body = _genesis_body(alice)
    assert world.client.post("/v1/groups", json=body, headers=alice.headers).status_code == 201
    assert_error(
        world.client.post("/v1/groups", json=body, headers=alice.headers), 409, "group_exists"
    )


def test_invalid_genesis_is_refused_with_the_check(world: World) -> None:
    alice = world.person()
    new, body = _genesis_body(alice)
    tampered = bytearray(new.ops[0])
    tampered[-1] ^= 1  # flip a signature bit
    body["ops"] = [b64(bytes(tampered))]
    body["lockboxes"] = []
    err = assert_error(
        world.client.post("/v1/groups", json=body, headers=alice.headers), 422, "invalid_op"
    )
    assert err["check"] == "signature"
    assert err["seq"] == 0


def test_rotate_out_of_order_is_refused(world: World) -> None:
    alice = world.person()
    new, body = _genesis_body(alice)
    body["ops"] = [b64(new.ops[1]), b64(new.ops[0])]
    err = assert_error(
        world.client.post("/v1/groups", json=body, headers=alice.headers), 422, "invalid_op"
    )
    assert err["check"] == "sequence"


def test_lockboxes_must_match_the_rotation(world: World) -> None:
    alice, bob = world.person(), world.person()
    new, body = _genesis_body(alice)
    # Missing.
    r = world.client.post("/v1/groups", json={**body, "lockboxes": []}, headers=alice.headers)
    assert_error(r, 422, "invalid_lockboxes")
    # Tampered bytes.
    ((device, lockbox),) = new.lockboxes.items()
    bad = bytes([lockbox[0] ^ 1]) + lockbox[1:]
    r = world.client.post(
        "/v1/groups",
        json={**body, "lockboxes": [{"device": b64(device), "lockbox": b64(bad)}]},
        headers=alice.headers,
    )
    assert_error(r, 422, "invalid_lockboxes")
    # A ghost lockbox for a device the rotation does not name.
    extra = [*body["lockboxes"], {"device": b64(bob.device_id), "lockbox": b64(lockbox)}]
    r = world.client.post("/v1/groups", json={**body, "lockboxes": extra}, headers=alice.headers)
    assert_error(r, 422, "invalid_lockboxes")
    # Genesis alone carries no rotation, so no lockboxes either.
    r = world.client.post(
        "/v1/groups", json={**body, "ops": body["ops"][:1]}, headers=alice.headers
    )
    assert_error(r, 422, "invalid_lockboxes")


def test_genesis_alone_then_rotate_through_the_log(world: World) -> None:
    alice = world.person()
    new, body = _genesis_body(alice)
    r = world.client.post(
        "/v1/groups", json={"ops": body["ops"][:1], "lockboxes": []}, headers=alice.headers
    )
    assert r.status_code == 201, r.text
    assert r.json()["seq"] == 0
    r = world.client.post(
        f"/v1/groups/{b64url(new.group_id)}/log",
        json={
            "expected_seq": 0,
            "expected_head": r.json()["head"],
            "op": body["ops"][1],
            "lockboxes": body["lockboxes"],
        },
        headers=alice.headers,
    )
    assert r.status_code == 201, r.text
    assert r.json()["seq"] == 1


def test_registration_required_when_closed(make_client: Callable[..., TestClient[Any]]) -> None:
    world = World(make_client(open_registration=False))
    alice = world.person()
    _, body = _genesis_body(alice)
    err = assert_error(
        world.client.post("/v1/groups", json=body, headers=alice.headers),
        403,
        "registration_required",
    )
    assert err["field"] == "registration_token"
    r = world.client.post(
        "/v1/groups", json={**body, "registration_token": "made-up"}, headers=alice.headers
    )
    assert_error(r, 403, "invalid_registration_token")


def test_registration_tokens_are_counted(
    make_client: Callable[..., TestClient[Any]], server_settings: Callable[..., Any]
) -> None:
    settings = server_settings(open_registration=False)
    token = asyncio.run(issue_registration_token(settings, uses=2, expires_in=3600))
    world = World(make_client(open_registration=False))
    world.registration_token = token
    for _ in range(2):
        world.create_group(world.person())
    alice = world.person()
    _, body = _genesis_body(alice)
    r = world.client.post(
        "/v1/groups", json={**body, "registration_token": token}, headers=alice.headers
    )
    assert_error(r, 403, "invalid_registration_token")


def test_expired_registration_token(
    make_client: Callable[..., TestClient[Any]], server_settings: Callable[..., Any]
) -> None:
    clock = Clock()
    settings = server_settings(open_registration=False, clock=clock)
    token = asyncio.run(issue_registration_token(settings, uses=5, expires_in=60))
    world = World(make_client(open_registration=False, clock=clock))
    clock.advance(61)
    alice = world.person()
    _, body = _genesis_body(alice)
    r = world.client.post(
        "/v1/groups", json={**body, "registration_token": token}, headers=alice.headers
    )
    assert_error(r, 403, "invalid_registration_token")


def test_conflict_rolls_back_token_use(
    make_client: Callable[..., TestClient[Any]], server_settings: Callable[..., Any]
) -> None:
    settings = server_settings(open_registration=False)
    token = asyncio.run(issue_registration_token(settings, uses=2, expires_in=3600))
    world = World(make_client(open_registration=False))
    alice = world.person()
    _, body = _genesis_body(alice)
    body["registration_token"] = token
    assert world.client.post("/v1/groups", json=body, headers=alice.headers).status_code == 201
    assert_error(
        world.client.post("/v1/groups", json=body, headers=alice.headers), 409, "group_exists"
    )
    # The conflict did not spend the second use.
    bob = world.person()
    _, body2 = _genesis_body(bob)
    body2["registration_token"] = token
    assert world.client.post("/v1/groups", json=body2, headers=bob.headers).status_code == 201


def test_unknown_fields_are_refused(world: World) -> None:
    alice = world.person()
    _, body = _genesis_body(alice)
    r = world.client.post("/v1/groups", json={**body, "name": "Forum 7"}, headers=alice.headers)
    assert_error(r, 400, "invalid_request")


def test_cards_do_not_need_a_login_to_exist(world: World) -> None:
    # A card made for a device that never logged in still founds nothing: creation needs a token.
    secrets = Secrets.generate(created=now())
    card = make_card(secrets.member, secrets.device, created=now())
    new = create_group(secrets, "X", time=now(), card=card)
    r = world.client.post("/v1/groups", json={"ops": [b64(o) for o in new.ops]})
    assert_error(r, 401, "unauthorized")


def test_open_registration_bounds_groups_per_device(
    make_client: Callable[..., TestClient[Any]],
) -> None:
    # Each group comes with a full quota: one device cannot create them without end.
    world = World(make_client(max_groups_per_device=2))
    alice, bob = world.person(), world.person()
    world.create_group(alice)
    world.create_group(alice)
    err = assert_error(
        world.client.post("/v1/groups", json=_genesis_body(alice)[1], headers=alice.headers),
        403,
        "not_allowed",
    )
    assert "at most 2 groups" in err["detail"]
    world.create_group(bob)
