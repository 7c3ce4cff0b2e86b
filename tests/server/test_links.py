"""The device link mailbox and recovery escrows, as the server enforces them: write-once
slots, the access key, the creator's rights, expiry, spending; a removed device's
device escrow and a stranger's upload. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import os
from typing import Any

from chatham.crypto import (
    DeviceKeys,
    LinkSecret,
    RecoveryKit,
    Secrets,
    build_add_device,
    build_remove_device,
    make_card,
)

from tests.support.server_harness import HOST, Person, World, b64, b64url, now, unb64

SERVER = f"http://{HOST}"


def open_link(world: World, creator: Person) -> tuple[LinkSecret, str]:
    secret = LinkSecret.generate(SERVER)
    offer = secret.offer(creator.secrets.member, creator.device_id, created=now(), rand=os.urandom)
    body = {"link_id": b64(secret.link_id), "verifier": b64(secret.verifier), "offer": b64(offer)}
    r = world.client.post("/v1/links", json=body, headers=creator.headers)
    assert r.status_code == 201, r.text
    return secret, f"/v1/links/{b64url(secret.link_id)}"


def code(r: Any) -> str:
    return str(r.json()["code"])


def test_a_link_runs_once_through_its_slots(world: World) -> None:
    desk = world.person()
    secret, path = open_link(world, desk)
    auth = {"auth": b64(secret.auth)}
    offer = world.client.post(f"{path}/offer", json=auth)
    assert offer.status_code == 200
    assert secret.read_offer(unb64(offer.json()["data"])).member_key == desk.secrets.member.public
    # Not answered yet: the creator waits.
    waiting = world.client.get(f"{path}/request", headers=desk.headers)
    assert (waiting.status_code, code(waiting)) == (409, "link_waiting")
    request = {"auth": b64(secret.auth), "request": b64(os.urandom(100))}
    assert world.client.post(f"{path}/request", json=request).status_code == 201
    again = world.client.post(f"{path}/request", json=request)
    assert (again.status_code, code(again)) == (409, "link_used")
    # Another device cannot read the request or write the handover.
    stranger = world.person()
    r = world.client.get(f"{path}/request", headers=stranger.headers)
    assert (r.status_code, code(r)) == (404, "link_unknown")
    handover = {"handover": b64(os.urandom(200))}
    r = world.client.post(f"{path}/handover", json=handover, headers=stranger.headers)
    assert (r.status_code, code(r)) == (404, "link_unknown")
    assert world.client.get(f"{path}/request", headers=desk.headers).status_code == 200
    r = world.client.post(f"{path}/handover", json=handover, headers=desk.headers)
    assert r.status_code == 201
    # A wrong access key reads nothing.
    wrong = world.client.post(f"{path}/handover/read", json={"auth": b64(os.urandom(32))})
    assert (wrong.status_code, code(wrong)) == (404, "link_unknown")
    read = world.client.post(f"{path}/handover/read", json=auth)
    assert read.status_code == 200
    assert unb64(read.json()["data"]) == unb64(handover["handover"])
    # Spent: every later use says so.
    for r in (
        world.client.post(f"{path}/handover/read", json=auth),
        world.client.post(f"{path}/offer", json=auth),
    ):
        assert (r.status_code, code(r)) == (409, "link_used")


def test_an_expired_link_is_refused(make_client: Any) -> None:
    clock = [1_800_000_000.0]
    world = World(make_client(clock=lambda: clock[0]))
    desk = world.person()
    secret, path = open_link(world, desk)
    clock[0] += 601
    r = world.client.post(f"{path}/offer", json={"auth": b64(secret.auth)})
    assert (r.status_code, code(r)) == (410, "link_expired")


def test_a_device_keeps_at_most_three_links_open(world: World) -> None:
    desk = world.person()
    for _ in range(3):
        open_link(world, desk)
    secret = LinkSecret.generate(SERVER)
    body = {
        "link_id": b64(secret.link_id),
        "verifier": b64(secret.verifier),
        "offer": b64(b"x" * 64),
    }
    r = world.client.post("/v1/links", json=body, headers=desk.headers)
    assert (r.status_code, code(r)) == (429, "too_many_links")


def test_only_an_active_device_stores_an_escrow_and_removal_deletes_it(world: World) -> None:
    group, (alice,) = world.group_of(1)
    kit = RecoveryKit.generate()
    dev = kit.device()
    kit_person = Person(Secrets(alice.secrets.member, dev, os.urandom(32), now()), alice.card)
    world.login(kit_person)
    body = {"group": b64(group.id), "escrow": b64(os.urandom(300))}
    # Not (yet) a device of the group: refused.
    r = world.client.put("/v1/escrow", json=body, headers=kit_person.headers)
    assert (r.status_code, code(r)) == (403, "not_a_member")
    card = make_card(alice.secrets.member, dev, created=now())
    group.append(alice, build_add_device(group.state, alice.secrets.device, card, time=now()))
    assert world.client.put("/v1/escrow", json=body, headers=kit_person.headers).status_code == 204
    got = world.client.get("/v1/escrow", headers=kit_person.headers)
    assert unb64(got.json()["escrow"]) == unb64(body["escrow"])
    # Another device has none, and cannot read this one.
    none = world.client.get("/v1/escrow", headers=alice.headers)
    assert (none.status_code, code(none)) == (404, "escrow_unknown")
    # Removing the kit's device deletes its escrow: a revoked kit finds nothing.
    removal = build_remove_device(
        group.state, group.keyring, alice.secrets.device, dev.id, [], time=now()
    )
    group.append(alice, removal)
    gone = world.client.get("/v1/escrow", headers=kit_person.headers)
    assert (gone.status_code, code(gone)) == (404, "escrow_unknown")


def test_a_remove_device_op_must_pin_the_head_the_server_holds(world: World) -> None:
    group, (alice,) = world.group_of(1)
    laptop = DeviceKeys.from_seeds(os.urandom(32), os.urandom(96))
    card = make_card(alice.secrets.member, laptop, created=now())
    group.append(alice, build_add_device(group.state, alice.secrets.device, card, time=now()))
    lap = Person(Secrets(alice.secrets.member, laptop, os.urandom(32), now()), card)
    world.login(lap)
    group.post_entry(lap, b"from the laptop")
    stale = build_remove_device(
        group.state, group.keyring, alice.secrets.device, laptop.id, [], time=now()
    )
    r = group.append(alice, stale, expect=409)
    assert code(r) == "stale_heads"
    fresh = build_remove_device(
        group.state, group.keyring, alice.secrets.device, laptop.id, group.heads_of(lap),
        time=now(),
    )  # fmt: skip
    group.append(alice, fresh)
    # The removed laptop posts nothing more.
    late = group.post_entry(lap, b"after removal", expect=403)
    assert code(late) == "not_a_member"


LOGIN_ROUTES = [("POST", "/v1/links"), ("PUT", "/v1/escrow")]
CODE_ROUTES = ["offer", "request", "handover/read"]


def test_link_routes_check_the_caller_before_reading_the_body(world: World) -> None:
    desk = world.person()
    _, path = open_link(world, desk)
    routes = [*LOGIN_ROUTES, ("POST", f"{path}/handover")]
    for method, route in routes:
        for headers in ({}, {"Authorization": "Bearer nonsense"}):
            r = world.client.request(method, route, content=b"{not json", headers=headers)
            assert r.status_code == 401, (route, r.text)
            assert code(r) in {"unauthorized", "invalid_token"}


def test_link_codes_spend_the_address_limit_before_the_body_is_read(make_client: Any) -> None:
    world = World(make_client(rate_auth=3))
    desk = world.person()  # its login (a challenge and a token) spends two of the three
    secret, path = open_link(world, desk)
    r = world.client.post(f"{path}/offer", json={"auth": b64(secret.auth)})
    assert r.status_code == 200, r.text
    # The allowance is spent: a body too large and not even JSON is refused unread.
    for route in CODE_ROUTES:
        r = world.client.post(f"{path}/{route}", content=b"{" * 100_000)
        assert (r.status_code, code(r)) == (429, "rate_limited"), route


def test_a_link_body_past_its_cap_is_refused_unread(world: World) -> None:
    desk = world.person()
    secret, path = open_link(world, desk)
    big = b'{"auth": "' + b"A" * 20_000 + b'"}'
    headers = {"Content-Type": "application/json"}
    for route in CODE_ROUTES:
        r = world.client.post(f"{path}/{route}", content=big, headers=headers)
        assert (r.status_code, code(r)) == (413, "body_too_large"), route
    assert world.client.post(f"{path}/offer", json={"auth": b64(secret.auth)}).status_code == 200


def test_only_its_creator_withdraws_a_link_and_its_code_then_stops_working(world: World) -> None:
    desk, stranger = world.person(), world.person()
    secret, path = open_link(world, desk)
    auth = {"auth": b64(secret.auth)}
    r = world.client.delete(path, headers=stranger.headers)
    assert (r.status_code, code(r)) == (404, "link_unknown")
    assert world.client.post(f"{path}/offer", json=auth).status_code == 200
    assert world.client.delete(path, headers=desk.headers).status_code == 204
    r = world.client.post(f"{path}/offer", json=auth)
    assert (r.status_code, code(r)) == (404, "link_unknown")


def test_a_device_stores_its_escrow_only_so_often(make_client: Any) -> None:
    # Each store rewrites up to 4 MiB: a device has the login allowance for it, per minute.
    world = World(make_client(rate_auth=4))
    group, (alice,) = world.group_of(1)  # Alice's login: two of the address's four
    dev = RecoveryKit.generate().device()
    kit = Person(Secrets(alice.secrets.member, dev, os.urandom(32), now()), alice.card)
    world.login(kit)  # the other two
    card = make_card(alice.secrets.member, dev, created=now())
    group.append(alice, build_add_device(group.state, alice.secrets.device, card, time=now()))
    body = {"group": b64(group.id), "escrow": b64(os.urandom(300))}
    answers = [world.client.put("/v1/escrow", json=body, headers=kit.headers) for _ in range(5)]
    assert [r.status_code for r in answers] == [204] * 4 + [429]
    assert code(answers[-1]) == "rate_limited"
