"""Rate limits hold across processes: two `chatham-server` processes on one PostgreSQL share
each device's and each group's bucket, so alternating between them buys nothing."""

from __future__ import annotations

import os
import time
from pathlib import Path

import httpx
import pytest

from tests.support.server_harness import World, b64url
from tests.support.server_process import ServerProcess

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

PER_MINUTE = 40


def test_a_device_alternating_between_two_processes_gets_one_allowance(
    tmp_path: Path, fresh_postgres_database: str
) -> None:
    args = ["--rate-device", str(PER_MINUTE), "--rate-auth", "0"]
    one = ServerProcess(tmp_path / "a", fresh_postgres_database, args=args)
    two = ServerProcess(tmp_path / "b", fresh_postgres_database, args=args)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    with one, two, httpx.Client(base_url=one.url) as a, httpx.Client(base_url=two.url) as b:
        alice = World(a).person()
        path = f"/v1/groups/{b64url(os.urandom(32))}"  # any authenticated request is counted
        started = time.monotonic()
        answers = [
            (a if i % 2 else b).get(path, headers=alice.headers) for i in range(3 * PER_MINUTE)
        ]
        elapsed = time.monotonic() - started
    served = [r for r in answers if r.status_code != 429]
    limited = [r for r in answers if r.status_code == 429]
    # One minute's allowance, plus what refilled while the requests ran; with a bucket in
    # each process's memory, twice that would have passed.
    assert len(served) <= PER_MINUTE + elapsed * PER_MINUTE / 60 + 1, (len(served), elapsed)
    assert len(served) >= PER_MINUTE - 2 * 1  # at most one unused lease per process is lost
    assert limited
    assert all(int(r.headers["retry-after"]) >= 1 for r in limited)
    assert {r.json()["code"] for r in limited} == {"rate_limited"}


def test_a_groups_join_allowance_is_shared_by_both_processes(
    tmp_path: Path, fresh_postgres_database: str
) -> None:
    args = ["--rate-join", "6", "--rate-auth", "0"]
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    one = ServerProcess(tmp_path / "a", fresh_postgres_database, args=args)
    two = ServerProcess(tmp_path / "b", fresh_postgres_database, args=args)
    with one, two, httpx.Client(base_url=one.url) as a, httpx.Client(base_url=two.url) as b:
        world = World(a)
        group = world.create_group(world.person())
        invite = group.invite(world.people[0])
        worlds = [World(a), World(b)]
        codes = [worlds[i % 2].invite_token(group, invite).status_code for i in range(14)]
    assert codes.count(200) <= 7, codes  # six, plus at most one refilled meanwhile
    assert codes.count(429) >= 7, codes
