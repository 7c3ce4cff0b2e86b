"""`chatham device …` against a real server: the output contract of linking (the code and the
words as last lines), the new device's first sync, `device list --json`, rename and remove,
and the error lines of a reused or mistyped code."""

from __future__ import annotations

import getpass
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from chatham.client.cli import members as cli_members
from chatham.server.testing import live_server

from tests.support.cli_member import UNLIMITED, CliMember, environment

PASSPHRASE = "a passphrase for the device cli tests"


class Member(CliMember):
    def __init__(self, name: str, root: Path) -> None:
        super().__init__(name, root, PASSPHRASE, COLUMNS="200")


class NewDevice(CliMember):
    """A home with nothing in it yet: `chatham device add` makes it."""

    def __init__(self, name: str, root: Path) -> None:  # no init: the link makes the keys
        from tests.support.cli_member import member_env

        self.name = name
        self.home, self.env = member_env(root, name, PASSPHRASE)
        self.env["COLUMNS"] = "200"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    root = tmp_path_factory.mktemp("devices-cli")
    with environment(UNLIMITED), live_server(root / "server") as server:
        yield root, server.url


def form(url: str, leader: Member, member: Member, group: str) -> None:
    leader.ok("group", "create", group, "--server", url)
    code = leader.ok("invite", "--name", member.name, "-g", group).splitlines()[-1]
    member.ok("join", "--group-name", group, stdin=code + "\n")
    [req] = [r for r in leader.json("requests", "-g", group) if r["member"] == member.id]
    leader.ok("approve", req["id"], "--fingerprint", member.fingerprint, "-g", group)
    member.ok("sync", "-g", group)


def test_link_a_device_list_rename_and_remove_it(
    world: tuple[Path, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    root, url = world
    dana, sam = Member("Dana", root), Member("Sam", root)
    form(url, dana, sam, "Device Forum")
    sam.ok("issue", "new", "-t", "Before the laptop", "-g", "Device Forum")
    line = sam.ok("device", "link").splitlines()[-1]
    server, _, code = line.rpartition("#")
    assert server == url
    assert re.fullmatch(r"[0-9A-HJKMNP-TV-Z]{5}(-[0-9A-HJKMNP-TV-Z]{5}){3}", code)
    laptop = NewDevice("Laptop", root)
    words = laptop.ok("device", "add", line).splitlines()[-1]
    assert len(words.split()) == 6
    # Before the words are confirmed, the new device says what it waits for.
    err = laptop.fails("sync", code=1)
    assert err[0] == (
        "chatham: error: this device is waiting for the link to be confirmed on your other device"
    )
    sam.ok("device", "confirm", *words.split(), "--name", "laptop")
    laptop.ok("sync")
    me: Any = laptop.json("whoami")
    assert (me["id"], me["fingerprint"]) == (sam.id, sam.fingerprint)
    titles = [i["title"] for i in laptop.json("issue", "list", "-g", "Device Forum")]
    assert "Before the laptop" in titles
    listed = sam.json("device", "list")
    assert [sorted(d) for d in listed] == [["added", "current", "id", "name"]] * 2
    assert [d["current"] for d in listed] == [True, False]
    assert listed[1]["name"] == "laptop"
    laptop_id = listed[1]["id"]
    sam.ok("device", "rename", laptop_id[:8], "old laptop")
    assert sam.json("device", "list")[1]["name"] == "old laptop"
    announced = dana.ok("sync", "-g", "Device Forum")
    assert "Sam added a device" in announced
    # On a terminal removing asks first, as removing a member does; anything but yes keeps it.
    with monkeypatch.context() as m:
        m.setattr(cli_members, "_interactive", lambda: True)
        status, out, err = sam("device", "remove", "old laptop", stdin="no\n")
    assert (status, out) == (1, "")
    assert err.splitlines() == [
        "remove device old laptop from every group? [y/N] chatham: error: not removed",
        "chatham: hint: nothing was changed",
    ]
    out = sam.ok("device", "remove", "old laptop", "--yes")
    assert out.startswith(f"removed device {laptop_id[:12]} from Device Forum")
    assert [d["id"] for d in sam.json("device", "list")] == [listed[0]["id"]]
    sam.ok("issue", "new", "-t", "After the laptop", "-g", "Device Forum")
    laptop.ok("sync", "-g", "Device Forum")
    titles = [i["title"] for i in laptop.json("issue", "list", "-g", "Device Forum")]
    assert "After the laptop" not in titles


def test_a_code_used_twice_and_a_typo_are_refused_and_change_nothing(
    world: tuple[Path, str],
) -> None:
    root, url = world
    ana, lee = Member("Ana", root), Member("Lee", root)
    form(url, ana, lee, "Code Forum")
    line = lee.ok("device", "link").splitlines()[-1]
    server, _, code = line.rpartition("#")
    typo = code[:-1] + ("0" if code[-1] != "0" else "1")
    one = NewDevice("One", root)
    assert one.fails("device", "add", f"{server}#{typo}") == [
        "chatham: error: the link code and the server address do not match: one of them has a typo",
        "chatham: hint: copy the whole last line of `chatham device link` from your other device "
        "(`server#code`); letters and digits, case does not matter",
    ]
    assert not (one.home / "keystore").exists()
    one.ok("device", "add", line)
    two = NewDevice("Two", root)
    err = two.fails("device", "add", line, code=1)
    assert err[0] == "chatham: error: this link code was already used"
    assert not (two.home / "keystore").exists()
    assert lee.fails("device", "confirm") == [
        "chatham: error: missing: the six words the new device shows",
        "chatham: hint: pass them on the command line",
    ]
    assert lee.fails("device", "confirm", "wrong", "words", "six", "of", "them", "here") == [
        "chatham: error: the words do not match the ones this device computed: nothing was "
        "handed over",
        "chatham: hint: compare them again with the new device's `chatham device add`; if you "
        "typed them right, someone swapped the new device's keys: run `chatham device link` "
        "again",
    ]


def test_recovery_kit_and_recover_from_the_kits_own_output(
    world: tuple[Path, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    root, url = world
    max_, kim = Member("Max", root), Member("Kim", root)
    form(url, max_, kim, "Kit Forum")
    kim.ok("issue", "new", "-t", "Before the loss", "-g", "Kit Forum")
    printed = kim.ok("recovery-kit")
    lines = printed.splitlines()
    assert len(lines[-1].split()) == 15
    assert f"server: {url}" in lines
    paper = root / "kim-kit.txt"
    paper.write_text(printed, encoding="utf-8")
    fresh = NewDevice("Kim2", root)
    bad = lines[-1].split()
    bad[2] = "qqqqq"
    assert fresh.fails("recover", "--words", "-", "--server", url, stdin=" ".join(bad)) == [
        "chatham: error: word 3 ('qqqqq') is not a recovery kit word",
        "chatham: hint: compare the words with your paper kit: fifteen words, in order; the "
        "first four letters of each are enough",
    ]
    # On a terminal the words are asked for without showing them: whoever sees them can act
    # as Kim, and a terminal keeps what it showed.
    asked: list[str] = []
    with monkeypatch.context() as m:
        m.setattr(cli_members, "_interactive", lambda: True)
        m.setattr(getpass, "getpass", lambda prompt: asked.append(prompt) or " ".join(bad))
        refused = fresh.fails("recover", "--server", url)
    assert asked == ["your kit's fifteen words: "]
    assert refused[0] == "chatham: error: word 3 ('qqqqq') is not a recovery kit word"
    out = fresh.ok("recover", "--words", f"@{paper}")
    assert f"fingerprint: {kim.fingerprint}" in out
    fresh.ok("sync")
    titles = [i["title"] for i in fresh.json("issue", "list", "-g", "Kit Forum")]
    assert "Before the loss" in titles
    assert fresh.json("whoami")["id"] == kim.id


def test_a_group_whose_server_is_away_is_named_on_the_new_device_until_it_comes(
    world: tuple[Path, str], tmp_path: Path
) -> None:
    """Sam's second group lives on a server that is down when the new laptop first runs a
    command: the laptop says which group is not here yet, and adds it once the server is
    back, instead of leaving it silently missing."""
    root, url = world
    dora, sam = Member("Dora", root), Member("Sammy", root)
    form(url, dora, sam, "Near Forum")
    away_dir = tmp_path / "away"
    with live_server(away_dir) as away:
        sam.ok("group", "create", "Far Forum", "--server", away.url)
        line = sam.ok("device", "link", "--server", url).splitlines()[-1]
        laptop = NewDevice("Laptop2", root)
        words = laptop.ok("device", "add", line).splitlines()[-1]
        sam.ok("device", "confirm", *words.split())
    status, out, err = laptop("group", "list")
    assert status == 0, err
    [said] = err.splitlines()
    assert said.startswith("not here yet: Far Forum, from your other device (")
    assert said.endswith("); it is added at a later command")
    assert "Near Forum" in out
    assert "Far Forum" not in out
    with live_server(away_dir, port=int(away.url.rsplit(":", 1)[1])):
        status, out, err = laptop("group", "list")
    assert (status, err) == (0, "")
    assert "Far Forum" in out
