"""Login: challenge → signature bound to the server's identity, the action and the challenge →
short-lived hashed token."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from chatham.crypto import labels, sign_auth
from chatham.server._private.storage import schema
from litestar.testing import TestClient

from tests.support.server_dbutil import scalar_rows
from tests.support.server_harness import Clock, World, assert_error, b64, unb64


def _token_request(
    world: World, person: Any, *, server_id: bytes | None = None, action: str = "login"
) -> dict[str, str]:
    challenge = world.challenge()
    sig = sign_auth(person.secrets.device, server_id or world.server_id, action, challenge)
    return {
        "device_key": b64(person.secrets.device.public),
        "challenge": b64(challenge),
        "signature": b64(sig),
    }


def test_challenge_is_random_and_expires_later(world: World) -> None:
    r1 = world.client.post("/v1/auth/challenge")
    r2 = world.client.post("/v1/auth/challenge")
    assert r1.status_code == 200
    c1, c2 = unb64(r1.json()["challenge"]), unb64(r2.json()["challenge"])
    assert len(c1) == 32
    assert c1 != c2
    assert r1.json()["expires"] > 0


def test_login_gives_a_token_that_authorizes(world: World) -> None:
    alice = world.person(login=False)
    r = world.login(alice)
    assert r.status_code == 200, r.text
    body = r.json()
    assert unb64(body["device_id"]) == alice.device_id
    assert body["expires"] > 0
    world.create_group(alice)  # the token works


def test_login_signature_for_another_server_is_refused(world: World) -> None:
    alice = world.person(login=False)
    body = _token_request(world, alice, server_id=bytes(32))
    assert_error(world.client.post("/v1/auth/token", json=body), 401, "bad_signature")


def test_a_login_relayed_to_another_server_is_refused(
    make_client: Callable[..., TestClient[Any]], tmp_path: Path
) -> None:
    """Server B hands a member server A's challenge; what the member signs for B (naming B's
    identity) is useless at A, whatever Host header either saw."""
    at_a, at_b = World(make_client()), World(make_client(data_dir=tmp_path, database_url=None))
    alice = at_a.person(login=False)
    a_challenge = at_a.challenge()
    at_b.challenge()
    assert at_a.server_id != at_b.server_id
    relayed = {
        "device_key": b64(alice.secrets.device.public),
        "challenge": b64(a_challenge),
        "signature": b64(sign_auth(alice.secrets.device, at_b.server_id, "login", a_challenge)),
    }
    assert_error(at_a.client.post("/v1/auth/token", json=relayed), 401, "bad_signature")


def test_the_server_identity_survives_a_restart(
    make_client: Callable[..., TestClient[Any]],
) -> None:
    first = World(make_client())
    first.challenge()
    again = World(make_client())
    again.challenge()
    assert len(first.server_id) == 32
    assert again.server_id == first.server_id


def test_login_signature_for_another_action_is_refused(world: World) -> None:
    alice = world.person(login=False)
    r = world.client.post("/v1/auth/token", json=_token_request(world, alice, action="join"))
    assert_error(r, 401, "bad_signature")


def test_signature_by_another_key_is_refused(world: World) -> None:
    alice = world.person(login=False)
    mallory = world.person(login=False)
    body = _token_request(world, mallory)
    body["device_key"] = b64(alice.secrets.device.public)
    assert_error(world.client.post("/v1/auth/token", json=body), 401, "bad_signature")


def test_challenge_is_single_use(world: World) -> None:
    alice = world.person(login=False)
    body = _token_request(world, alice)
    assert world.client.post("/v1/auth/token", json=body).status_code == 200
    assert_error(world.client.post("/v1/auth/token", json=body), 401, "invalid_challenge")


def test_made_up_challenge_is_refused(world: World) -> None:
    alice = world.person(login=False)
    world.challenge()  # learn the server's identity
    challenge = bytes(32)
    sig = sign_auth(alice.secrets.device, world.server_id, "login", challenge)
    body = {
        "device_key": b64(alice.secrets.device.public),
        "challenge": b64(challenge),
        "signature": b64(sig),
    }
    assert_error(world.client.post("/v1/auth/token", json=body), 401, "invalid_challenge")


def test_expired_challenge_is_refused(make_client: Callable[..., TestClient[Any]]) -> None:
    clock = Clock()
    world = World(make_client(clock=clock, challenge_ttl=60))
    alice = world.person(login=False)
    body = _token_request(world, alice)
    clock.advance(61)
    assert_error(world.client.post("/v1/auth/token", json=body), 401, "invalid_challenge")


def test_token_expires(make_client: Callable[..., TestClient[Any]]) -> None:
    clock = Clock()
    world = World(make_client(clock=clock, token_ttl=600))
    alice = world.person()
    group = world.create_group(alice)
    assert world.client.get(group.path, headers=alice.headers).status_code == 200
    clock.advance(601)
    assert_error(world.client.get(group.path, headers=alice.headers), 401, "invalid_token")


def test_missing_and_unknown_tokens(world: World) -> None:
    alice = world.person()
    group = world.create_group(alice)
    assert_error(world.client.get(group.path), 401, "unauthorized")
    assert_error(
        world.client.get(group.path, headers={"Authorization": "Basic x"}), 401, "unauthorized"
    )
    assert_error(
        world.client.get(group.path, headers={"Authorization": "Bearer nope"}), 401, "invalid_token"
    )


def test_tokens_are_stored_hashed(world: World, server_settings: Callable[..., Any]) -> None:
    alice = world.person()
    assert alice.token is not None
    hashes = scalar_rows(server_settings(), sa.select(schema.tokens.c.token_hash))
    want = hashlib.sha256(labels.H_TOKEN + b"\x00" + alice.token.encode()).digest()
    assert want in hashes
    assert all(alice.token.encode() not in h for h in hashes)


def test_login_is_rate_limited(make_client: Callable[..., TestClient[Any]]) -> None:
    world = World(make_client(rate_auth=3))
    for _ in range(3):
        assert world.client.post("/v1/auth/challenge").status_code == 200
    r = world.client.post("/v1/auth/challenge")
    assert_error(r, 429, "rate_limited")
    assert int(r.headers["retry-after"]) >= 1


def test_malformed_token_request_names_the_field(world: World) -> None:
    r = world.client.post(
        "/v1/auth/token", json={"device_key": "AAAA", "challenge": "", "signature": b64(bytes(64))}
    )
    body = assert_error(r, 400, "invalid_request")
    assert body["field"] == "device_key"


def test_each_request_checks_its_token_once(make_client: Callable[..., TestClient[Any]]) -> None:
    # `device` and `caller` each check the token and spend a rate-limit token, so no
    # handler may take both (it would be charged twice).
    import inspect

    client = make_client()
    for route in client.app.routes:
        for handler in getattr(route, "route_handlers", []):
            params = inspect.signature(handler.fn).parameters
            assert not {"device", "caller"} <= set(params), handler.handler_name
    world = World(make_client(rate_device=3))
    alice = world.person()
    group = world.create_group(alice)
    assert group.list_entries(alice).status_code == 200
    assert group.list_entries(alice).status_code == 200
    assert_error(group.list_entries(alice), 429, "rate_limited")


def _challenges(client: TestClient[Any], forwarded: str | None) -> int:
    headers = {} if forwarded is None else {"X-Forwarded-For": forwarded}
    return client.post("/v1/auth/challenge", headers=headers).status_code


def test_forwarded_addresses_are_ignored_from_an_untrusted_peer(
    make_client: Callable[..., TestClient[Any]],
) -> None:
    # A client cannot pick a fresh login allowance by naming an address of its own.
    client = make_client(rate_auth=1)
    assert _challenges(client, "192.0.2.1") == 200
    assert _challenges(client, "192.0.2.2") == 429


def test_behind_a_trusted_proxy_each_client_has_its_own_login_limit(
    make_client: Callable[..., TestClient[Any]],
) -> None:
    # The test client's peer address is "testclient": here, the trusted proxy.
    client = make_client(rate_auth=1, trusted_proxies="testclient, 198.51.100.7")
    assert _challenges(client, "192.0.2.1") == 200
    assert _challenges(client, "192.0.2.1") == 429
    assert _challenges(client, "192.0.2.2") == 200
    # What the client wrote before the proxies appended theirs does not choose the key.
    assert _challenges(client, "192.0.2.9, 192.0.2.1, 198.51.100.7") == 429
    # Only proxies in the chain: the peer itself.
    assert _challenges(client, "198.51.100.7") == 200
    assert _challenges(client, None) == 429
