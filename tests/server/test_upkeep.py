"""What expires is deleted on a schedule, by the server itself: login challenges, bearer tokens,
used-up registration tokens, idle rate-limit buckets, join requests no leader can answer, and
device links a day after they expired."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from chatham.server._private.services import upkeep
from chatham.server._private.storage import schema
from litestar.testing import TestClient

from tests.support.server_dbutil import scalar_rows
from tests.support.server_harness import Clock, World, b64, now

SWEPT = ("auth_challenges", "tokens", "join_requests", "rate_buckets", "device_links")


def _counts(settings: Any) -> dict[str, int]:
    out = {}
    for name in SWEPT:
        table = schema.metadata.tables[name]
        [n] = scalar_rows(settings, sa.select(sa.func.count()).select_from(table))
        out[name] = int(n)
    return out


def test_what_expired_is_deleted_on_a_schedule(
    make_client: Callable[..., TestClient[Any]],
    server_settings: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(upkeep, "PURGE_EVERY", 0.2)
    clock = Clock()
    world = World(make_client(clock=clock))
    alice, bob = world.person(), world.person()
    group = world.create_group(alice)
    invite = group.invite(alice, expires=int(clock.now) + 60)
    r = world.client.post(
        f"{group.path}/join-requests",
        json={"request": b64(invite.request(bob.card, created=now()))},
    )
    assert r.status_code == 201, r.text
    world.challenge()  # asked for, never used
    link = {"link_id": b64(os.urandom(32)), "verifier": b64(os.urandom(32))}
    r = world.client.post(
        "/v1/links", json={**link, "offer": b64(os.urandom(64))}, headers=alice.headers
    )
    assert r.status_code == 201, r.text
    settings = server_settings()
    before = _counts(settings)
    assert before["auth_challenges"] >= 1
    assert before["tokens"] >= 2
    assert before["join_requests"] == 1
    assert before["device_links"] == 1
    shared = settings.is_postgres  # one SQLite process keeps its buckets in memory
    assert (before["rate_buckets"] > 0) == shared

    time.sleep(0.6)  # a few rounds of the schedule: nothing live is touched
    assert _counts(settings)["join_requests"] == 1
    assert _counts(settings)["device_links"] == 1
    assert world.client.get(group.path, headers=alice.headers).status_code == 200

    clock.advance(31 * 86400 + 7200)  # past every lifetime, and the month a request is kept
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(_counts(settings).values()):
        time.sleep(0.1)
    assert _counts(settings) == dict.fromkeys(SWEPT, 0)
    # The expired token no longer works, whichever cache held it.
    r = world.client.get(group.path, headers=alice.headers)
    assert r.status_code == 401
