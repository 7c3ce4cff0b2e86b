"""Bulk posts: many entries in one request, each checked by exactly the rules of a single
post and answered alone, in order; a refused entry stops no other and changes nothing."""

from __future__ import annotations

from typing import Any

from chatham.crypto import SealedEntry

from tests.support.server_harness import (
    Group,
    Person,
    World,
    assert_error,
    b64,
    sealed_chain,
    unb64,
)


def bulk(group: Group, by: Person, sealed: list[SealedEntry], **kw: Any) -> Any:
    r = group.client.post(
        f"{group.path}/entries/bulk",
        json={"entries": [b64(s.data) for s in sealed]},
        headers=by.headers,
        **kw,
    )
    return r


def test_a_bulk_post_stores_a_chain_in_order_with_one_cursor_each(world: World) -> None:
    group, (alice, bob) = world.group_of(2)
    sealed = sealed_chain(group, bob, 5)
    r = bulk(group, bob, sealed)
    assert r.status_code == 200, r.text
    results = r.json()["results"]
    assert [x["cursor"] for x in results] == [1, 2, 3, 4, 5]
    assert [unb64(x["entry_id"]) for x in results] == [s.entry.header.entry_id for s in sealed]
    page = group.list_entries(alice).json()
    assert [unb64(e["entry"]) for e in page["entries"]] == [s.data for s in sealed]
    # Safe retries, as for a single post: the same entries again get their cursors again.
    again = bulk(group, bob, sealed).json()["results"]
    assert [x["cursor"] for x in again] == [1, 2, 3, 4, 5]


def test_each_entry_is_answered_alone_and_a_refused_one_stops_no_other(world: World) -> None:
    group, (alice, bob) = world.group_of(2)
    good = sealed_chain(group, bob, 2)
    forged = group.seal(bob, b"forged", seq=3, prev=good[1].link)
    tampered = forged.data[:-1] + bytes([forged.data[-1] ^ 1])
    mine = sealed_chain(group, alice, 1)
    r = group.client.post(
        f"{group.path}/entries/bulk",
        json={
            "entries": [
                b64(good[0].data),
                b64(tampered),  # a bad signature
                b64(good[1].data),
                b64(mine[0].data),  # another device's entry: not_author
            ]
        },
        headers=bob.headers,
    )
    assert r.status_code == 200, r.text
    results = r.json()["results"]
    assert results[0]["cursor"] == 1
    assert results[1]["error"]["code"] == "invalid_entry"
    assert results[2]["cursor"] == 2
    assert results[3]["error"]["code"] == "not_author"
    # What a single post of the refused entry gets is exactly what the bulk answer said.
    single = group.client.post(
        f"{group.path}/entries", json={"entry": b64(mine[0].data)}, headers=bob.headers
    )
    assert_error(single, 403, "not_author")
    assert len(group.list_entries(alice).json()["entries"]) == 2


def test_a_gap_in_a_bulk_chain_refuses_what_follows_as_single_posts_would(world: World) -> None:
    group, (_, bob) = world.group_of(2)
    sealed = sealed_chain(group, bob, 4)
    results = bulk(group, bob, [sealed[0], sealed[2], sealed[3]]).json()["results"]
    assert results[0]["cursor"] == 1
    assert [x["error"]["code"] for x in results[1:]] == ["chain_gap", "chain_gap"]


def test_a_retraction_in_a_bulk_post_is_applied_in_its_place(world: World) -> None:
    group, (alice, bob) = world.group_of(2)
    first = sealed_chain(group, bob, 1)
    retraction = group.seal(
        bob,
        b"withdrawn",
        seq=2,
        prev=first[0].link,
        retracts=[first[0].entry.header.entry_id],
    )
    results = bulk(group, bob, [first[0], retraction]).json()["results"]
    assert [x["cursor"] for x in results] == [1, 2]
    [stub, kept] = group.list_entries(alice).json()["entries"]
    assert "entry" not in stub
    assert unb64(stub["retracted_by"]) == retraction.entry.header.entry_id
    assert unb64(kept["entry"]) == retraction.data


def test_a_bulk_post_by_a_non_member_is_refused_whole(world: World) -> None:
    group, (_, bob) = world.group_of(2)
    stranger = world.person()
    sealed = sealed_chain(group, bob, 1)
    r = bulk(group, stranger, sealed)
    assert r.json()["results"][0]["error"]["code"] == "not_a_member"
    assert r.status_code == 200


def test_bulk_bodies_have_their_own_cap_and_count(world: World) -> None:
    group, (_, bob) = world.group_of(2)
    r = group.client.post(f"{group.path}/entries/bulk", json={"entries": []}, headers=bob.headers)
    assert_error(r, 400, "invalid_request")
    r = group.client.post(
        f"{group.path}/entries/bulk", json={"entries": ["AA=="] * 1001}, headers=bob.headers
    )
    assert_error(r, 400, "invalid_request")
    big = b64(b"x" * (3 << 20))  # over the single-post cap, under the bulk cap
    r = group.client.post(
        f"{group.path}/entries/bulk", json={"entries": [big[: (1 << 20)]] * 3}, headers=bob.headers
    )
    assert r.status_code == 200, r.text  # read whole (each refused as an entry, not as a body)
    assert {x["error"]["code"] for x in r.json()["results"]} == {"invalid_entry"}


def test_bulk_routes_check_the_token_before_the_body_and_cap_it(
    world: World, make_client: Any
) -> None:
    group, (_, bob) = world.group_of(2)
    for route in ("entries/bulk", "heal"):
        r = world.client.post(f"{group.path}/{route}", content=b"[" * 5000)
        assert_error(r, 401, "unauthorized")
    small = make_client(max_bulk_body=4096)
    other = World(small)
    other.login(bob)
    big = {"entries": [b64(b"x" * 3000), b64(b"y" * 3000)]}
    assert_error(
        small.post(f"{group.path}/entries/bulk", json=big, headers=bob.headers),
        413,
        "body_too_large",
    )
