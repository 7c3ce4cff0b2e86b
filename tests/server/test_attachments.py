"""Attachment chunks: members only, capped, write-once, owned by their uploader."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

import pytest
from chatham.server._private.services import upkeep
from litestar.testing import TestClient

from tests.support.server_harness import Clock, World, assert_error, b64, b64url, unb64


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


def _upload(world: World, group: Any, who: Any, size: int = 1000) -> bytes:
    att = os.urandom(16)
    r = world.client.put(_chunk_url(group, att, 0), content=b"x" * size, headers=who.headers)
    assert r.status_code == 201, r.text
    return att


def _name(world: World, group: Any, who: Any, att: bytes, entry_id: bytes) -> Any:
    return world.client.put(
        f"{group.path}/attachments/{b64url(att)}/entry",
        json={"entry_id": b64(entry_id)},
        headers=who.headers,
    )


def test_uploads_no_entry_names_expire_and_give_the_quota_back(
    make_client: Callable[..., TestClient[Any]],
) -> None:
    # A member uploads without ever posting the entry: the chunks go after upload_ttl, and
    # the quota they held is free again for the leader's own posts.
    clock = Clock()
    world = World(make_client(clock=clock, upload_ttl=3600, group_quota=6500, token_ttl=86400))
    group, (alice, bob) = _setup(world, 2)
    orphan = _upload(world, group, bob, 2500)
    kept = _upload(world, group, alice, 2500)
    sealed = group.seal(alice, b"see the file")
    group.post_sealed(alice, sealed)
    assert _name(world, group, alice, kept, sealed.entry.header.entry_id).status_code == 200
    r = world.client.put(
        _chunk_url(group, os.urandom(16), 0), content=b"y" * 2000, headers=alice.headers
    )
    assert_error(r, 413, "quota_exceeded")
    clock.advance(2 * 3600)
    runtime = world.client.app.state.services  # type: ignore[attr-defined]
    world.client.blocking_portal.call(upkeep.purge_expired, runtime)
    url = f"{group.path}/attachments/{b64url(orphan)}"
    assert_error(world.client.get(url, headers=alice.headers), 404, "not_found")
    assert (
        world.client.get(
            f"{group.path}/attachments/{b64url(kept)}", headers=alice.headers
        ).status_code
        == 200
    )
    r = world.client.put(
        _chunk_url(group, os.urandom(16), 0), content=b"y" * 2000, headers=alice.headers
    )
    assert r.status_code == 201


def test_only_the_uploader_names_only_its_own_entry(world: World) -> None:
    group, (alice, bob) = _setup(world, 2)
    att = _upload(world, group, bob)
    mine = group.seal(bob, b"bob's")
    group.post_sealed(bob, mine)
    theirs = group.seal(alice, b"alice's")
    group.post_sealed(alice, theirs)
    assert_error(_name(world, group, alice, att, mine.entry.header.entry_id), 403, "not_uploader")
    assert_error(_name(world, group, bob, att, theirs.entry.header.entry_id), 404, "not_found")
    assert_error(_name(world, group, bob, att, os.urandom(16)), 404, "not_found")
    r = _name(world, group, bob, att, mine.entry.header.entry_id)
    assert r.status_code == 200
    assert r.json()["chunks"] == 1


def test_a_removed_devices_unfinished_uploads_go(world: World) -> None:
    group, (alice, bob) = _setup(world, 2)
    unfinished = _upload(world, group, bob)
    finished = _upload(world, group, bob)
    sealed = group.seal(bob, b"with a file")
    group.post_sealed(bob, sealed)
    assert _name(world, group, bob, finished, sealed.entry.header.entry_id).status_code == 200
    group.remove(bob, by=alice)
    base = f"{group.path}/attachments"
    assert_error(
        world.client.get(f"{base}/{b64url(unfinished)}", headers=alice.headers), 404, "not_found"
    )
    assert world.client.get(f"{base}/{b64url(finished)}", headers=alice.headers).status_code == 200


def test_leaders_list_attachments_by_uploader_and_delete_them(world: World) -> None:
    group, (alice, bob) = _setup(world, 2)
    uploads = sorted(_upload(world, group, bob, 100 + i) for i in range(3))
    assert_error(
        world.client.get(f"{group.path}/attachments", headers=bob.headers), 403, "not_a_leader"
    )
    listed = world.client.get(f"{group.path}/attachments", headers=alice.headers).json()
    assert listed["more"] is False
    items = listed["attachments"]
    assert [unb64(i["attachment_id"]) for i in items] == uploads
    assert {unb64(i["uploader"]) for i in items} == {bob.device_id}
    assert sorted(i["size"] for i in items) == [100, 101, 102]
    assert all(i["chunks"] == 1 for i in items)
    assert all("entry_id" not in i for i in items)
    page = world.client.get(
        f"{group.path}/attachments", params={"limit": 2}, headers=alice.headers
    ).json()
    assert len(page["attachments"]) == 2
    assert page["more"] is True
    rest = world.client.get(
        f"{group.path}/attachments",
        params={"after": b64url(uploads[1])},
        headers=alice.headers,
    ).json()
    assert [unb64(i["attachment_id"]) for i in rest["attachments"]] == uploads[2:]
    for att in uploads:
        r = world.client.delete(f"{group.path}/attachments/{b64url(att)}", headers=alice.headers)
        assert r.status_code == 200
    listed = world.client.get(f"{group.path}/attachments", headers=alice.headers).json()
    assert listed["attachments"] == []
