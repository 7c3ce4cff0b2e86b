"""The operator's commands: a report of sizes and counts per group (never content), a group's
own quota, deleting a group, revoking registration tokens; each logged, without an address."""

from __future__ import annotations

import json
import os
from typing import Any

import pytest
import sqlalchemy as sa
from chatham.server._private.storage import schema
from chatham.server.cli import main

from tests.support.server_dbutil import scalar_rows
from tests.support.server_harness import World, assert_error, b64, b64url

SECRET = b"the minutes nobody may read"


def _run(settings: Any, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    where = ["--data-dir", str(settings.data_dir)]
    if settings.database_url:
        where += ["--database", settings.database_url]
    with pytest.raises(SystemExit) as done:
        main([*args, *where])
    out, err = capsys.readouterr()
    return int(done.value.code or 0), out, err


def _error(err: str) -> tuple[str, str]:
    """The message and hint of a refusal, as the output contract prints them."""
    error, hint = err.splitlines()[-2:]  # after whatever the migrations logged
    assert error.startswith("chatham-server: error: "), err
    assert hint.startswith("chatham-server: hint: "), err
    return error.removeprefix("chatham-server: error: "), hint.removeprefix(
        "chatham-server: hint: "
    )


def _populate(world: World) -> tuple[Any, Any, Any]:
    alice, bob = world.person(), world.person()
    group = world.create_group(alice)
    group.join(bob, by=alice)
    for _ in range(3):
        group.post_entry(bob, SECRET)
    att = os.urandom(16)
    r = world.client.put(
        f"{group.path}/attachments/{b64url(att)}/chunks/0",
        content=os.urandom(700),
        headers=bob.headers,
    )
    assert r.status_code == 201, r.text
    other_founder = world.person()
    other = world.create_group(other_founder)
    other.post_entry(other_founder, b"elsewhere")
    return group, other, bob


def test_the_report_shows_sizes_and_counts_and_nothing_else(
    world: World, server_settings: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    group, other, _ = _populate(world)
    settings = server_settings()
    code, out, _ = _run(settings, capsys, "groups", "--json")
    assert code == 0
    rows = {r["group_id"]: r for r in map(json.loads, out.splitlines())}
    assert set(rows) == {group.id.hex(), other.id.hex()}
    mine = rows[group.id.hex()]
    assert mine["entries"] == 3
    assert mine["attachments"] == 1
    assert mine["chunks"] == 1
    assert mine["log_ops"] == 4  # genesis, rotation, invite, add
    assert mine["quota"] is None
    [stored] = scalar_rows(
        settings,
        sa.select(schema.groups.c.stored_bytes).where(schema.groups.c.group_id == group.id),
    )
    assert mine["stored_bytes"] == stored
    assert set(mine) == {
        "group_id", "created", "log_ops", "entries", "retracted", "attachments", "chunks",
        "stored_bytes", "quota", "pending_joins",
    }  # fmt: skip
    code, table, _ = _run(settings, capsys, "groups")
    assert code == 0
    assert table.splitlines()[0].startswith("group id")
    assert len(table.splitlines()) == 3
    for text in (out, table):
        assert SECRET.decode() not in text
        assert b64(SECRET) not in text
        assert "127.0.0.1" not in text


def test_a_groups_own_quota_binds_posts_and_uploads_and_is_logged(
    world: World, server_settings: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    group, other, bob = _populate(world)
    settings = server_settings()
    [stored] = scalar_rows(
        settings,
        sa.select(schema.groups.c.stored_bytes).where(schema.groups.c.group_id == group.id),
    )
    code, out, err = _run(settings, capsys, "set-quota", b64url(group.id), str(stored + 10))
    assert code == 0
    assert out == ""
    assert f"chatham-server: admin: set the quota of group {group.id.hex()} to" in err
    assert_error(group.post_entry(bob, b"one more", expect=413), 413, "quota_exceeded")
    r = world.client.put(
        f"{group.path}/attachments/{b64url(os.urandom(16))}/chunks/0",
        content=os.urandom(100),
        headers=bob.headers,
    )
    assert_error(r, 413, "quota_exceeded")
    other.post_entry(world.people[2], b"others unaffected")
    code, _, _ = _run(settings, capsys, "set-quota", group.id.hex(), "default")
    assert code == 0
    group.post_entry(bob, b"room again")

    code, _, err = _run(settings, capsys, "set-quota", group.id.hex(), "lots")
    assert code == 1
    assert _error(err) == ("not a number of bytes: 'lots'", "give whole bytes, or `default`")
    code, _, err = _run(settings, capsys, "set-quota", "00" * 32, "5")
    assert code == 1
    message, hint = _error(err)
    assert message == f"no group {'00' * 32} in this database"
    assert "chatham-server groups" in hint


def test_a_group_id_that_is_not_one_is_refused_with_a_hint(
    world: World, server_settings: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    group, _, _ = _populate(world)
    settings = server_settings()
    for command in (["groups"], ["set-quota"], ["delete-group"]):
        for wrong in (group.id.hex()[:-2], b64url(group.id)[:-1], "zz" * 32):
            args = [*command, wrong] + (["5"] if command == ["set-quota"] else [])
            code, out, err = _run(settings, capsys, *args)
            assert (code, out) == (1, "")
            message, hint = _error(err)
            assert message.startswith("not a group id"), message
            assert "64 hex digits" in hint
    code, out, err = _run(settings, capsys, "groups", "00" * 32)
    assert (code, out) == (1, "")
    assert _error(err)[0] == f"no group {'00' * 32} in this database"
    code, out, _ = _run(settings, capsys, "groups", b64url(group.id), "--json")
    assert [json.loads(line)["group_id"] for line in out.splitlines()] == [group.id.hex()]


def test_deleting_a_group_leaves_no_row_of_it_and_others_untouched(
    world: World, server_settings: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    group, other, bob = _populate(world)
    settings = server_settings()
    code, _, err = _run(settings, capsys, "delete-group", group.id.hex())
    assert code == 1
    message, hint = _error(err)
    assert message == f"deleting group {group.id.hex()} cannot be undone"
    assert hint.startswith("add --yes")
    [stored] = scalar_rows(
        settings,
        sa.select(sa.func.count())
        .select_from(schema.groups)
        .where(schema.groups.c.group_id == group.id),
    )
    assert stored == 1
    code, out, err = _run(settings, capsys, "delete-group", group.id.hex(), "--yes")
    assert code == 0
    assert out == ""
    assert f"chatham-server: admin: deleted group {group.id.hex()}: 4 log ops, 3 entries" in err
    for table in schema.metadata.sorted_tables:
        if "group_id" in table.c:
            left = scalar_rows(
                settings,
                sa.select(sa.func.count()).select_from(table).where(table.c.group_id == group.id),
            )
            assert left == [0], table.name
    assert_error(world.client.get(group.path, headers=bob.headers), 403, "not_a_member")
    code, out, _ = _run(settings, capsys, "groups", "--json")
    assert [json.loads(line)["group_id"] for line in out.splitlines()] == [other.id.hex()]


def test_a_revoked_registration_token_creates_no_group(
    make_client: Any, server_settings: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = server_settings(open_registration=False)
    code, token, err = _run(settings, capsys, "issue-token", "--uses", "3")
    assert code == 0
    token = token.strip()
    assert "chatham-server: admin: issued registration token" in err
    assert token not in err
    code, listed, _ = _run(settings, capsys, "tokens")
    [line] = listed.splitlines()
    token_id = line.split()[0]
    assert token not in listed
    code, out, err = _run(settings, capsys, "revoke-token", token_id)
    assert code == 0
    assert out == ""
    assert f"chatham-server: admin: revoked 1 registration token(s): {token_id}" in err
    world = World(make_client(open_registration=False))
    world.registration_token = token
    world.create_group(world.person(), expect=403)
    code, _, err = _run(settings, capsys, "revoke-token", token_id)
    assert code == 1
    message, hint = _error(err)
    assert message == "no such registration token"
    assert "chatham-server tokens" in hint


def test_revoking_by_the_token_itself_or_all_leaves_no_token(
    server_settings: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = server_settings(open_registration=False)
    tokens = [_run(settings, capsys, "issue-token")[1].strip() for _ in range(3)]
    code, out, err = _run(settings, capsys, "revoke-token", tokens[0])
    assert (code, out) == (0, "")
    assert "revoked 1 registration token(s)" in err
    assert tokens[0] not in err
    assert len(_run(settings, capsys, "tokens")[1].splitlines()) == 2
    code, _, err = _run(settings, capsys, "revoke-token", "all")
    assert code == 0
    assert "revoked 2 registration token(s)" in err
    assert _run(settings, capsys, "tokens")[1] == ""
