"""Every route with a JSON body is served by `LeanRoute`: the caller first, then the body,
capped and decoded straight into its type, answered as a Litestar route would.

Bad requests are sent both to POST .../entries and to POST .../log: both give the same
codes, name the field, and store nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import msgspec
import pytest
from chatham.server._private.answers import Answer
from chatham.server._private.guards import DEPENDENCIES, DeviceDep, ServicesDep
from chatham.server._private.lean_route import LeanRoute
from chatham.server._private.settings import Settings
from litestar import Litestar, Response, get, post
from litestar.di import Provide
from litestar.exceptions import ImproperlyConfiguredException
from litestar.params import JSONBody
from litestar.testing import TestClient

from tests.support.server_harness import World, assert_error, b64


def _both(world: World, group: Any, headers: dict[str, str], **kw: Any) -> list[Any]:
    return [
        world.client.post(f"{group.path}/{route}", headers=headers, **kw)
        for route in ("entries", "log")
    ]


def test_malformed_json_gets_the_framework_answer(world: World) -> None:
    alice = world.person()
    group = world.create_group(alice)
    headers = {**alice.headers, "Content-Type": "application/json"}
    for body in (b"{not json", b'{"entry": "AAAA"', b"\xff"):
        for r in _both(world, group, headers, content=body):
            assert_error(r, 400, "invalid_request")
    assert group.list_entries(alice).json()["entries"] == []


@pytest.mark.parametrize(
    ("entries_body", "log_body", "detail", "field"),
    [
        ({"entry": 5}, {"op": 5}, "Expected `bytes`, got `int`", "entry"),
        ({"entry": "%%%"}, {"op": "%%%"}, "Invalid base64 encoded string", "entry"),
        ({}, {}, "Object missing required field `entry`", "entry"),
        ({"entry": "AAAA", "x": 1}, {"x": 1}, "Object contains unknown field `x`", None),
        ([], [], "Expected `object`, got `array`", None),
    ],
)
def test_bodies_of_the_wrong_shape_name_the_field(
    world: World, entries_body: Any, log_body: Any, detail: str, field: str | None
) -> None:
    alice = world.person()
    group = world.create_group(alice)
    r = world.client.post(f"{group.path}/entries", json=entries_body, headers=alice.headers)
    err = assert_error(r, 400, "invalid_request")
    assert (err["detail"], err.get("field")) == (detail, field)
    # Litestar's own validation of an ordinary route gives the same kind of answer.
    if isinstance(log_body, dict) and log_body:
        full = {"expected_seq": 1, "expected_head": b64(group.state.head), "op": ""}
        log_body = {**full, **log_body}
    plain = world.client.post(f"{group.path}/log", json=log_body, headers=alice.headers)
    plain_err = assert_error(plain, 400, "invalid_request")
    assert plain_err["detail"].split("`")[0] == detail.split("`")[0]
    assert (plain_err.get("field") is None) == (field is None)
    assert group.list_entries(alice).json()["entries"] == []


def test_an_empty_body_is_a_clear_400(world: World) -> None:
    alice = world.person()
    group = world.create_group(alice)
    r = world.client.post(f"{group.path}/entries", content=b"", headers=alice.headers)
    err = assert_error(r, 400, "invalid_request")
    assert err["detail"] == "Expected `object`, got `null`"
    assert group.list_entries(alice).json()["entries"] == []


def test_token_is_checked_before_the_body(world: World) -> None:
    alice = world.person()
    group = world.create_group(alice)
    for headers in ({}, {"Authorization": "Bearer nonsense"}, {"Authorization": "Basic x"}):
        r = world.client.post(f"{group.path}/entries", content=b"{not json", headers=headers)
        assert r.status_code == 401, r.text
        assert r.json()["code"] in {"unauthorized", "invalid_token"}


def test_an_invitee_token_cannot_post(world: World) -> None:
    alice = world.person()
    group = world.create_group(alice)
    invite = group.invite(alice)
    sealed = group.seal(alice)
    r = world.client.post(
        f"{group.path}/entries",
        json={"entry": b64(sealed.data)},
        headers=world.invitee_headers(group, invite),
    )
    assert_error(r, 403, "device_token_required")
    assert group.list_entries(alice).json()["entries"] == []


def test_size_cap_with_and_without_a_length(make_client: Callable[..., TestClient[Any]]) -> None:
    world = World(make_client(max_body=16384))
    alice = world.person()
    group = world.create_group(alice)
    big = b'{"entry": "' + b"A" * 20000 + b'"}'
    r = world.client.post(f"{group.path}/entries", content=big, headers=alice.headers)
    assert_error(r, 413, "body_too_large")

    def chunks() -> Any:
        for i in range(0, len(big), 4000):
            yield big[i : i + 4000]

    r = world.client.post(f"{group.path}/entries", content=chunks(), headers=alice.headers)
    assert "content-length" not in r.request.headers
    assert_error(r, 413, "body_too_large")
    assert group.list_entries(alice).json()["entries"] == []


def test_success_answer_and_headers(world: World) -> None:
    alice = world.person()
    group = world.create_group(alice)
    sealed = group.seal(alice)
    r = group.post_sealed(alice, sealed)
    assert r.status_code == 201
    assert r.headers["content-type"] == "application/json"
    assert int(r.headers["content-length"]) == len(r.content)
    assert set(r.json()) == {"entry_id", "cursor"}
    # The same entry again: its cursor again, with the same status.
    again = group.post_sealed(alice, sealed)
    assert again.status_code == 201
    assert again.json() == r.json()


def test_openapi_still_describes_the_post(client: TestClient[Any]) -> None:
    schema = client.get("/schema/openapi.json").json()
    op = schema["paths"]["/v1/groups/{group_id}/entries"]["post"]
    body = op["requestBody"]["content"]["application/json"]["schema"]
    assert body["$ref"].endswith("/PostEntry")
    ok = op["responses"]["201"]["content"]["application/json"]["schema"]
    assert ok["$ref"].endswith("/EntryPosted")
    assert {"400", "401", "403", "409", "413", "422", "429"} <= set(op["responses"])
    assert op["security"] == [{"bearer": []}]


def test_ids_of_the_wrong_length_are_invalid_id_on_every_route(world: World) -> None:
    alice = world.person()
    group = world.create_group(alice)
    for bad in ("A" * 65, "A" * 42, "A" * 44, "A" * 200):
        base = f"/v1/groups/{bad}"
        for r in (
            world.client.post(f"{base}/entries", json={"entry": ""}, headers=alice.headers),
            world.client.get(f"{base}/entries", headers=alice.headers),
            world.client.get(base, headers=alice.headers),
            world.client.get(f"{group.path}/entries/{'B' * 33}", headers=alice.headers),
        ):
            assert_error(r, 400, "invalid_id")


def test_posts_spend_the_device_rate_limit(make_client: Callable[..., TestClient[Any]]) -> None:
    world = World(make_client(rate_device=5))
    alice = world.person()
    group = world.create_group(alice)  # 1
    for _ in range(4):
        group.post_sealed(alice, group.seal(alice))
    sealed = group.seal(alice)
    r = world.client.post(
        f"{group.path}/entries", json={"entry": b64(sealed.data)}, headers=alice.headers
    )
    assert_error(r, 429, "rate_limited")
    assert int(r.headers["retry-after"]) >= 1


class _Body(msgspec.Struct):
    entry: bytes


async def _handler(
    data: JSONBody[_Body], device: DeviceDep, services: ServicesDep
) -> Response[dict[str, int]]:
    return Answer({"n": len(data.entry)})


def _lean_app(**options: Any) -> Litestar:
    route = post("/x", middleware=[LeanRoute(_handler, _Body), *options.pop("middleware", [])])
    return Litestar(
        route_handlers=[route(_handler)],
        dependencies={**DEPENDENCIES, **options.pop("dependencies", {})},
        openapi_config=None,
        **options,
    )


def test_a_lean_route_alone_is_accepted() -> None:
    LeanRoute.verify(_lean_app())


@pytest.mark.parametrize(
    ("options", "skipped"),
    [
        ({"guards": [lambda connection, handler: None]}, "guards"),
        ({"allowed_hosts": ["chatham.example"]}, "allowed hosts"),
        ({"middleware": [lambda app: app]}, "other middleware"),
        ({"before_request": lambda request: None}, "before_request"),
        (
            {"dependencies": {"device": Provide(lambda: b"", sync_to_thread=False)}},
            "another device check",
        ),
    ],
)
def test_an_app_where_a_lean_route_would_skip_something_is_refused(
    options: dict[str, Any], skipped: str
) -> None:
    with pytest.raises(ImproperlyConfiguredException, match=skipped):
        LeanRoute.verify(_lean_app(**options))


def test_an_app_with_a_json_body_route_not_served_lean_is_refused() -> None:
    # Litestar would read and parse such a body before the caller is checked.
    plain = post("/y", sync_to_thread=False)(_plain_handler)
    app = Litestar(route_handlers=[plain], dependencies=DEPENDENCIES, openapi_config=None)
    with pytest.raises(ImproperlyConfiguredException, match="not served by LeanRoute"):
        LeanRoute.verify(app)


def _plain_handler(data: JSONBody[_Body]) -> None:
    return None


def test_a_number_sent_as_a_string_is_refused(world: World) -> None:
    # Bodies are decoded strictly, straight into their type (Litestar would convert "0").
    alice = world.person()
    group = world.create_group(alice)
    r = world.client.post(
        f"{group.path}/log",
        json={"expected_seq": "0", "expected_head": b64(bytes(32)), "op": ""},
        headers=alice.headers,
    )
    assert assert_error(r, 400, "invalid_request")["field"] == "expected_seq"


def test_a_lean_route_takes_a_body_and_services() -> None:
    async def no_body(services: ServicesDep) -> None:
        return None

    with pytest.raises(TypeError, match="no_body"):
        LeanRoute(no_body, _Body)


def test_an_answer_that_needs_more_goes_through_the_framework() -> None:
    @get("/headers")
    async def with_headers() -> Response[dict[str, int]]:
        return Answer({"n": 1}, headers={"Retry-After": "5"})

    @get("/empty", status_code=204)
    async def empty() -> Response[None]:
        return Answer(None)

    @get("/plain")
    async def plain() -> Response[dict[str, int]]:
        return Answer({"n": 1})

    app = Litestar(route_handlers=[with_headers, empty, plain], openapi_config=None)
    with TestClient(app) as client:
        r = client.get("/headers")
        assert (r.status_code, r.headers["retry-after"], r.json()) == (200, "5", {"n": 1})
        r = client.get("/empty")
        assert (r.status_code, r.content) == (204, b"")
        r = client.get("/plain")
        assert (r.status_code, r.headers["content-type"], r.content) == (
            200,
            "application/json",
            b'{"n":1}',
        )
        assert r.headers["content-length"] == "7"


def test_a_deeply_nested_unknown_field_is_400_on_a_lean_route(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # _Body, unlike the server's bodies, lets unknown fields through; msgspec then skips
    # their values recursively.
    import chatham.server._private.lean_route as lean_route
    from chatham.server._private.error_handlers import EXCEPTION_HANDLERS

    async def anyone(request: Any, services: Any) -> bytes:
        return b"device"

    monkeypatch.setattr(lean_route, "provide_device", anyone)
    app = _lean_app(exception_handlers=EXCEPTION_HANDLERS)
    app.state.services = SimpleNamespace(settings=Settings())
    nested = b"[" * 60_000 + b"]" * 60_000
    with TestClient(app) as client:
        r = client.post("/x", content=b'{"entry": "AAAA", "x": ' + nested + b"}")
        err = assert_error(r, 400, "invalid_request")
        assert err["detail"] == "the JSON body is nested too deeply"
        assert client.post("/x", content=b'{"entry": "AAAA"}').json() == {"n": 3}
