"""Attachment chunks: members only, capped, write-once, owned by their uploader."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

import pytest
from litestar.testing import TestClient

from tests.support.server_harness import World, assert_error, b64url, unb64


def _setup(world: World, n: int = 2) -> tuple[Any, list[Any]]:
    people = [world.person() for _ in range(n)]
    group = world.create_group(people[0])
    for p in people[1:]:
        group.join(p, by=people[0])
    return group, people


def _chunk_url(group: Any, att: bytes, i: int) -> str:
    return f"{group.path}/attachments/{b64url(att)}/chunks/{i}"


def test_upload_download_and_count(world: World) -> None:
    group, (alice, bob) = _setup(world)
    att = os.urandom(16)
    chunks = [os.urandom(65536 + 16), os.urandom(100)]
    for i, data in enumerate(chunks):
        r = world.client.put(_chunk_url(group, att, i), content=data, headers=alice.headers)
        assert r.status_code == 201, r.text
        assert r.json()["size"] == len(data)
        assert r.json()["index"] == i
    for i, data in enumerate(chunks):
        r = world.client.get(_chunk_url(group, att, i), headers=bob.headers)
        assert r.status_code == 200
        assert r.content == data
        assert r.headers["content-type"] == "application/octet-stream"
    info = world.client.get(f"{group.path}/attachments/{b64url(att)}", headers=bob.headers).json()
    assert info["chunks"] == 2
    assert info["size"] == sum(map(len, chunks))
    assert unb64(info["attachment_id"]) == att
    assert_error(world.client.get(_chunk_url(group, att, 2), headers=bob.headers), 404, "not_found")
    r = world.client.get(f"{group.path}/attachments/{b64url(os.urandom(16))}", headers=bob.headers)
    assert_error(r, 404, "not_found")


def test_chunk_size_is_capped(make_client: Callable[..., TestClient[Any]]) -> None:
    world = World(make_client(max_chunk=2048))
    group, (alice, _) = _setup(world)
    att = os.urandom(16)
    r = world.client.put(_chunk_url(group, att, 0), content=os.urandom(2049), headers=alice.headers)
    assert_error(r, 413, "body_too_large")
    assert (
        world.client.put(
            _chunk_url(group, att, 0), content=os.urandom(2048), headers=alice.headers
        ).status_code
        == 201
    )


def test_chunk_cap_holds_without_content_length(
    make_client: Callable[..., TestClient[Any]],
) -> None:
    world = World(make_client(max_chunk=2048))
    group, (alice, _) = _setup(world)

    def body() -> Any:
        for _ in range(10):
            yield os.urandom(1000)

    r = world.client.put(
        _chunk_url(group, os.urandom(16), 0), content=body(), headers=alice.headers
    )
    assert_error(r, 413, "body_too_large")


def test_chunks_are_write_once(world: World) -> None:
    group, (alice, _) = _setup(world)
    att = os.urandom(16)
    data = os.urandom(500)
    assert (
        world.client.put(_chunk_url(group, att, 0), content=data, headers=alice.headers).status_code
        == 201
    )
    # The same bytes again (a retry) is fine.
    assert (
        world.client.put(_chunk_url(group, att, 0), content=data, headers=alice.headers).status_code
        == 201
    )
    r = world.client.put(_chunk_url(group, att, 0), content=os.urandom(500), headers=alice.headers)
    assert_error(r, 409, "chunk_exists")
    assert world.client.get(_chunk_url(group, att, 0), headers=alice.headers).content == data


def test_only_the_uploader_adds_chunks(world: World) -> None:
    group, (alice, bob) = _setup(world)
    att = os.urandom(16)
    world.client.put(_chunk_url(group, att, 0), content=b"a", headers=alice.headers)
    r = world.client.put(_chunk_url(group, att, 1), content=b"b", headers=bob.headers)
    assert_error(r, 403, "not_uploader")


def test_non_members_see_nothing(world: World) -> None:
    group, (alice, bob) = _setup(world)
    eve = world.person()
    att = os.urandom(16)
    world.client.put(_chunk_url(group, att, 0), content=b"a", headers=alice.headers)
    assert_error(
        world.client.get(_chunk_url(group, att, 0), headers=eve.headers), 403, "not_a_member"
    )
    assert_error(
        world.client.put(_chunk_url(group, att, 1), content=b"a", headers=eve.headers),
        403,
        "not_a_member",
    )
    assert_error(
        world.client.get(f"{group.path}/attachments/{b64url(att)}", headers=eve.headers),
        403,
        "not_a_member",
    )
    group.remove(bob, by=alice)
    assert_error(
        world.client.get(_chunk_url(group, att, 0), headers=bob.headers), 403, "not_a_member"
    )
    assert_error(world.client.get(_chunk_url(group, att, 0)), 401, "unauthorized")


def test_delete_by_uploader_or_leader(world: World) -> None:
    group, (alice, bob, carol) = _setup(world, 3)
    mine, theirs = os.urandom(16), os.urandom(16)
    world.client.put(_chunk_url(group, mine, 0), content=b"x" * 10, headers=bob.headers)
    world.client.put(_chunk_url(group, theirs, 0), content=b"y" * 10, headers=carol.headers)
    r = world.client.delete(f"{group.path}/attachments/{b64url(theirs)}", headers=bob.headers)
    assert_error(r, 403, "not_allowed")
    r = world.client.delete(f"{group.path}/attachments/{b64url(mine)}", headers=bob.headers)
    assert r.status_code == 200
    assert r.json()["size"] == 10
    r = world.client.delete(f"{group.path}/attachments/{b64url(theirs)}", headers=alice.headers)
    assert r.status_code == 200
    assert_error(
        world.client.get(_chunk_url(group, mine, 0), headers=bob.headers), 404, "not_found"
    )
    r = world.client.delete(f"{group.path}/attachments/{b64url(mine)}", headers=bob.headers)
    assert_error(r, 404, "not_found")


def test_a_deleted_attachment_id_is_never_claimed_again(world: World) -> None:
    """A leader who deleted a member's file cannot upload other bytes under its id (and the
    key the entry carries): the id stays dead, for everyone, the leader included."""
    group, (alice, bob) = _setup(world, 2)
    att = os.urandom(16)
    r = world.client.put(_chunk_url(group, att, 0), content=b"bob's" * 4, headers=bob.headers)
    assert r.status_code == 201
    r = world.client.delete(f"{group.path}/attachments/{b64url(att)}", headers=alice.headers)
    assert r.status_code == 200
    for who in (alice, bob):
        r = world.client.put(_chunk_url(group, att, 0), content=b"other", headers=who.headers)
        assert_error(r, 409, "attachment_deleted")
    assert_error(world.client.get(_chunk_url(group, att, 0), headers=bob.headers), 404, "not_found")


def test_index_and_id_validation(make_client: Callable[..., TestClient[Any]]) -> None:
    world = World(make_client(max_chunks_per_attachment=4))
    group, (alice, _) = _setup(world)
    att = os.urandom(16)
    r = world.client.put(_chunk_url(group, att, 4), content=b"a", headers=alice.headers)
    assert assert_error(r, 400, "invalid_request")["field"] == "index"
    r = world.client.put(_chunk_url(group, att, -1), content=b"a", headers=alice.headers)
    assert r.status_code in (400, 404)
    r = world.client.put(
        f"{group.path}/attachments/{b64url(os.urandom(8))}/chunks/0",
        content=b"a",
        headers=alice.headers,
    )
    assert assert_error(r, 400, "invalid_id")["field"] == "attachment_id"


def test_attachment_quota(make_client: Callable[..., TestClient[Any]]) -> None:
    world = World(make_client(group_quota=1000))
    group, (alice, _) = _setup(world)
    att = os.urandom(16)
    assert (
        world.client.put(
            _chunk_url(group, att, 0), content=b"a" * 900, headers=alice.headers
        ).status_code
        == 201
    )
    r = world.client.put(_chunk_url(group, att, 1), content=b"a" * 200, headers=alice.headers)
    assert_error(r, 413, "quota_exceeded")
    world.client.delete(f"{group.path}/attachments/{b64url(att)}", headers=alice.headers)
    # The space is free again (under a new id: a deleted one is never used again).
    assert (
        world.client.put(
            _chunk_url(group, os.urandom(16), 0), content=b"a" * 900, headers=alice.headers
        ).status_code
        == 201
    )


def test_a_storm_of_deletions_costs_one_scrub(
    make_client: Callable[..., TestClient[Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A scrub checkpoints the whole WAL (or vacuums): deletions in a burst share one.
    from chatham.server._private.services import upkeep

    scrubs = 0

    async def counting(db: Any) -> None:
        nonlocal scrubs
        scrubs += 1

    monkeypatch.setattr(upkeep, "scrub_freed", counting)
    world = World(make_client(scrub_delay=1.0))
    group, (alice,) = _setup(world, 1)
    for _ in range(10):
        att = os.urandom(16)
        url = _chunk_url(group, att, 0)
        assert world.client.put(url, content=b"x" * 100, headers=alice.headers).status_code == 201
        r = world.client.delete(f"{group.path}/attachments/{b64url(att)}", headers=alice.headers)
        assert r.status_code == 200
    deadline = time.monotonic() + 5
    while scrubs == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    assert 1 <= scrubs <= 2
