"""The HTTP surface: error shape, size caps, validation, health, OpenAPI, the public API."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import chatham.server
import pytest
from litestar.testing import TestClient

from tests.support.server_harness import World, assert_error, b64, b64url


def test_public_api_is_what_all_says() -> None:
    public = {n for n in dir(chatham.server) if not n.startswith("_")}
    assert set(chatham.server.__all__) <= public
    modules = {"cli", "testing"}
    assert public - set(chatham.server.__all__) - modules <= {"annotations"}


def test_health(client: TestClient[Any]) -> None:
    r = client.get("/health")
    assert r.status_code == 200
    assert r.json()["status"] == "ok"


def test_openapi_schema_is_served(client: TestClient[Any]) -> None:
    r = client.get("/schema/openapi.json")
    assert r.status_code == 200
    schema = r.json()
    assert schema["openapi"].startswith("3.")
    paths = schema["paths"]
    for path in (
        "/health",
        "/v1/auth/challenge",
        "/v1/auth/token",
        "/v1/auth/invite-token",
        "/v1/groups",
        "/v1/groups/{group_id}",
        "/v1/groups/{group_id}/log",
        "/v1/groups/{group_id}/lockboxes",
        "/v1/groups/{group_id}/entries",
        "/v1/groups/{group_id}/entries/{entry_id}",
        "/v1/groups/{group_id}/attachments/{attachment_id}",
        "/v1/groups/{group_id}/attachments/{attachment_id}/chunks/{index}",
        "/v1/groups/{group_id}/join-requests",
        "/v1/groups/{group_id}/events",
    ):
        assert path in paths, path
    assert "bearer" in schema["components"]["securitySchemes"]
    # Every error response is documented with the one error body.
    for methods in paths.values():
        for op in methods.values():
            for status, resp in op["responses"].items():
                if status.startswith(("4", "5")):
                    ref = resp["content"]["application/json"]["schema"]["$ref"]
                    assert ref.endswith("/ErrorBody"), (status, ref)


def test_unknown_route_and_method(client: TestClient[Any]) -> None:
    assert_error(client.get("/v1/nothing"), 404, "not_found")
    assert_error(client.put("/health"), 405, "method_not_allowed")
    # Under /schema too, where the framework's own answer is an HTML page.
    for path in ("/schema/swagger", "/schema/x", "/schema/openapi.yaml", "/schema/x.json"):
        r = client.get(path)
        assert r.headers["content-type"] == "application/json", path
        assert_error(r, 404, "not_found")
    assert client.get("/schema/openapi.json").status_code == 200


def test_invalid_json_is_400(world: World) -> None:
    alice = world.person()
    r = world.client.post(
        "/v1/groups",
        content=b"{not json",
        headers={**alice.headers, "Content-Type": "application/json"},
    )
    assert_error(r, 400, "invalid_request")


def test_wrong_types_name_the_field(world: World) -> None:
    alice = world.person()
    group = world.create_group(alice)
    cases = [
        ({"expected_seq": "one", "expected_head": b64(bytes(32)), "op": ""}, "expected_seq"),
        ({"expected_seq": 1, "expected_head": b64(bytes(31)), "op": ""}, "expected_head"),
        ({"expected_seq": 1, "expected_head": b64(bytes(32)), "op": "%%%"}, "op"),
        ({"expected_seq": 1, "expected_head": b64(bytes(32))}, "op"),
        (
            {"expected_seq": 1, "expected_head": b64(bytes(32)), "op": "", "lockboxes": [{}]},
            "lockboxes[0]",
        ),
    ]
    for body, field in cases:
        r = world.client.post(f"{group.path}/log", json=body, headers=alice.headers)
        err = assert_error(r, 400, "invalid_request")
        assert err["field"] is not None
        assert err["field"].startswith(field), (err, field)


def test_body_size_cap(make_client: Callable[..., TestClient[Any]]) -> None:
    world = World(make_client(max_body=16384))
    alice = world.person()
    group = world.create_group(alice)
    r = world.client.post(
        f"{group.path}/entries", json={"entry": b64(bytes(20000))}, headers=alice.headers
    )
    assert_error(r, 413, "body_too_large")


def test_device_rate_limit(make_client: Callable[..., TestClient[Any]]) -> None:
    world = World(make_client(rate_device=5))
    alice = world.person()
    group = world.create_group(alice)  # 1
    codes = [world.client.get(group.path, headers=alice.headers).status_code for _ in range(6)]
    assert codes[:4] == [200] * 4
    assert codes[-1] == 429


def test_errors_change_nothing(world: World) -> None:
    alice = world.person()
    group = world.create_group(alice)
    before = group.read_log(alice).json()
    for body in (
        {"expected_seq": 1, "expected_head": b64(bytes(32)), "op": b64(b"x")},
        {"expected_seq": 1, "expected_head": b64(group.state.head), "op": b64(b"x")},
        {"expected_seq": 1, "expected_head": b64(group.state.head), "op": b64(group.ops[1])},
    ):
        r = world.client.post(f"{group.path}/log", json=body, headers=alice.headers)
        assert 400 <= r.status_code < 500
    assert group.read_log(alice).json() == before


def _snapshot(settings: Any) -> dict[str, list[Any]]:
    import sqlalchemy as sa
    from chatham.server._private.storage import schema

    from tests.support.server_dbutil import rows

    # Rate-limit buckets count every request, refused or not (shared through the database
    # on PostgreSQL): accounting, not a change a request made.
    return {
        t.name: sorted(map(tuple, rows(settings, sa.select(t))), key=repr)
        for t in schema.metadata.sorted_tables
        if t.name != "rate_buckets"
    }


def test_hostile_bodies_get_4xx_and_change_nothing(
    make_client: Callable[..., TestClient[Any]], server_settings: Callable[..., Any]
) -> None:
    import base64

    world = World(make_client(max_body=64 * 1024))
    alice, bob = world.person(), world.person()
    group = world.create_group(alice)
    group.join(bob, by=alice)
    sealed = group.seal(bob)
    invite = group.invite(alice)
    before = _snapshot(server_settings())
    entry = sealed.data
    op = group.ops[-1]
    request = invite.request(bob.card, created=0)
    hostile: list[tuple[str, str, Any]] = []
    for cut in (1, len(entry) // 2, len(entry) - 1):
        hostile.append(("POST", f"{group.path}/entries", {"entry": b64(entry[:cut])}))
        hostile.append(("POST", f"{group.path}/entries", {"entry": b64(entry + b"\x00" * cut)}))
    for cut in (1, len(op) // 2):
        hostile.append(
            (
                "POST",
                f"{group.path}/log",
                {
                    "expected_seq": group.state.seq,
                    "expected_head": b64(group.state.head),
                    "op": b64(op[:cut]),
                },
            )
        )
    hostile.append(("POST", f"{group.path}/join-requests", {"request": b64(request[:-5])}))
    hostile.append(("POST", f"{group.path}/entries", {"entry": b64(bytes(70 * 1024))}))
    hostile.append(("POST", f"{group.path}/entries", {"entry": "not base64!"}))
    hostile.append(
        ("POST", f"{group.path}/entries", {"entry": base64.b64encode(entry).decode()[:-3]})
    )
    hostile.append(("POST", f"{group.path}/entries", [1, 2, 3]))
    hostile.append(("POST", f"{group.path}/entries", {"entry": None}))
    hostile.append(("POST", f"{group.path}/log", {"op": {"nested": True}}))
    for method, path, body in hostile:
        r = world.client.request(method, path, json=body, headers=bob.headers)
        assert 400 <= r.status_code < 500, (path, r.status_code, r.text)
        assert set(r.json()) >= {"code", "detail"}
    for raw in (b"", b"{", b"\xff\xfe", b'{"entry": "AAAA"' + b" " * 10):
        r = world.client.post(
            f"{group.path}/entries",
            content=raw,
            headers={**bob.headers, "Content-Type": "application/json"},
        )
        assert 400 <= r.status_code < 500, (raw, r.status_code)
    assert _snapshot(server_settings()) == before


def test_deeply_nested_bodies_are_refused_on_every_json_route(
    world: World, server_settings: Callable[..., Any]
) -> None:
    alice = world.person()
    group = world.create_group(alice)
    before = _snapshot(server_settings())
    headers = {**alice.headers, "Content-Type": "application/json"}
    routes = [
        "/v1/groups",
        f"{group.path}/log",
        f"{group.path}/entries",
        f"{group.path}/join-requests",
        "/v1/auth/token",
    ]
    # Past the route's body cap the body is not even read (413); under it the decoder
    # refuses the nesting (400). Never a 500, never stored.
    from chatham.server._private import wire
    from chatham.server._private.bodies import json_bound

    caps = {
        f"{group.path}/join-requests": json_bound(wire.PostJoinRequest),
        "/v1/auth/token": json_bound(wire.TokenRequest),
    }
    for depth in (1_000, 60_000):
        nested = b"[" * depth + b"]" * depth
        shapes = (nested, b'{"a":' * depth + b"1" + b"}" * depth, b'{"entry": ' + nested + b"}")
        for shape in shapes:
            for path in routes:
                r = world.client.post(path, content=shape, headers=headers)
                if len(shape) > (caps.get(path) or len(shape)):
                    assert_error(r, 413, "body_too_large")
                else:
                    assert_error(r, 400, "invalid_request")
    assert _snapshot(server_settings()) == before


@pytest.mark.parametrize(
    "body",
    [b'{"\xff": 1}', b'{"a": "\xff"}', b'{"entry": "AAAA", "\xff": 1}', b'{"k": "\xed\xa0\x80"}'],
)
def test_invalid_utf8_bodies_are_400_on_every_json_route(
    world: World, server_settings: Callable[..., Any], body: bytes
) -> None:
    alice = world.person()
    group = world.create_group(alice)
    group.post_entry(alice)
    before = _snapshot(server_settings())
    headers = {**alice.headers, "Content-Type": "application/json"}
    for method, path in [
        ("POST", "/v1/auth/token"),
        ("POST", "/v1/auth/invite-token"),
        ("POST", "/v1/groups"),
        ("POST", f"{group.path}/log"),
        ("POST", f"{group.path}/entries"),
        ("POST", f"{group.path}/join-requests"),
    ]:
        for h in (headers, {"Content-Type": "application/json"}):
            r = world.client.request(method, path, content=body, headers=h)
            assert r.status_code in (400, 401), (method, path, r.status_code, r.text)
            assert r.json()["code"] in ("invalid_request", "unauthorized"), r.text
    assert _snapshot(server_settings()) == before


def test_a_content_length_of_unicode_digits_is_400(world: World) -> None:
    # Only a raw ASGI scope carries such bytes; HTTP parsers refuse them earlier.
    alice = world.person()
    group = world.create_group(alice)
    path = f"{group.path}/attachments/{b64url(bytes(16))}/chunks/0"
    app = world.client.app

    async def put(length: bytes) -> list[Any]:
        sent: list[Any] = []
        events = [{"type": "http.request", "body": b"abc", "more_body": False}]

        async def receive() -> Any:
            return events.pop(0) if events else {"type": "http.disconnect"}

        async def send(message: Any) -> None:
            sent.append(message)

        headers = [
            (b"host", b"testserver.local"),
            (b"authorization", alice.headers["Authorization"].encode()),
            (b"content-length", length),
        ]
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "PUT",
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "root_path": "",
            "headers": headers,
            "client": ("127.0.0.1", 1),
            "server": ("testserver.local", 80),
            "state": {},
        }
        await app(scope, receive, send)
        return sent

    for length in (b"\xb2", b"\xb9"):
        sent = world.client.blocking_portal.call(put, length)
        assert sent[0]["status"] == 400, sent
    assert world.client.blocking_portal.call(put, b"3")[0]["status"] == 201


def test_a_database_failure_is_logged_without_the_values_it_carried(
    world: World, server_settings: Callable[..., Any], caplog: pytest.LogCaptureFixture
) -> None:
    # The log says which statement failed, never the ids, hashes or ciphertext bound to it.
    import asyncio
    import logging

    import sqlalchemy as sa
    from chatham.server._private.storage.db import Database

    alice = world.person()
    group = world.create_group(alice)

    async def break_entries() -> None:
        db = Database(server_settings())
        try:
            await db.write(lambda conn: conn.execute(sa.text("ALTER TABLE entries RENAME TO gone")))
        finally:
            await db.dispose()

    asyncio.run(break_entries())
    r = world.client.get(f"{group.path}/entries", headers=alice.headers)
    assert_error(r, 500, "internal_error")
    logged = "\n".join(
        logging.Formatter().format(record)
        for record in caplog.records
        if record.name.startswith("chatham")
    )
    assert "FROM entries" in logged  # the statement is there
    for shown in (repr(group.id), group.id.hex(), b64(group.id), b64url(group.id)):
        assert shown not in logged
