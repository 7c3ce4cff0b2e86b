"""Strings from members and the server are text in every output, never markup: a name like
`Lee [/]` or `[bold]Max` prints as typed, and status tags in brackets stay visible."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from chatham.server.testing import live_server

from tests.support.cli_member import UNLIMITED, CliMember, environment

PASSPHRASE = "a passphrase for the member text tests"


class Member(CliMember):
    def __init__(self, name: str, root: Path) -> None:
        super().__init__(name, root, PASSPHRASE, COLUMNS="200")


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("member-text")
    with environment(UNLIMITED), live_server(root / "server") as server:
        yield server.url


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("member-text-homes")


def bring_in(leader: Member, newcomer: Member, name: str) -> None:
    code = leader.ok("invite", "--name", name).splitlines()[-1]
    newcomer.ok("join", stdin=code + "\n")
    [req] = leader.json("requests")
    leader.ok("approve", req["id"], "--fingerprint", newcomer.fingerprint)
    newcomer.ok("sync")


def test_names_that_look_like_markup_print_as_typed(url: str, root: Path) -> None:
    dana = Member("Dana", root)
    lee = Member("Lee", root)
    sam = Member("Sam", root)
    dana.ok("group", "create", "Forum [beta]", "--server", url)
    bring_in(dana, sam, "Sam")

    code = dana.ok("invite", "--name", "Lee [/]").splitlines()[-1]
    assert "Lee [/]" in dana.ok("invite", "list")
    lee.ok("join", stdin=code + "\n")
    assert "waiting for approval" in lee.ok("group", "list")
    assert "Lee [/]" in dana.ok("requests")
    [req] = dana.json("requests")
    approved = dana.ok("approve", req["id"], "--fingerprint", lee.fingerprint)
    assert "Lee [/]" in approved
    assert "Lee [/]" in sam.ok("sync")
    # Before approval the joiner's home knows only the group's id; the group's own name
    # arrives sealed with the approval, and each member may call it something else here.
    assert lee.json("group", "list")[0]["name"].startswith("group ")
    assert "Forum [beta]" in lee.ok("sync")
    assert lee.json("group", "list")[0]["name"] == "Forum [beta]"
    assert lee.ok("group", "rename", "Thursdays") == (
        "Forum [beta] is now called Thursdays here\n"
        "the group's own name stays Forum [beta]; other members see that\n"
    )
    assert "Thursdays" in lee.ok("group", "list")
    lee.ok("sync")
    assert lee.json("group", "list")[0]["name"] == "Thursdays"
    assert "Lee [/]" in dana.ok("members")

    removed = dana.ok("remove", "Lee [/]", "--yes")
    assert "removed Lee [/]" in removed
    roster = dana.ok("members")
    [line] = [line for line in roster.splitlines() if "Lee [/]" in line]
    assert "removed" in line
    assert "Lee [/]" in sam.ok("sync")


def test_bracketed_names_and_tags_survive_every_listing(url: str, root: Path) -> None:
    max_ = Member("Max", root)
    ana = Member("Ana", root)
    max_.ok("group", "create", "[red]Circle", "--server", url)
    bring_in(max_, ana, "[bold]Ana[/bold] :smile:")
    out = max_.ok("members")
    assert "[bold]Ana[/bold] :smile:" in out
    ana.ok("leave", "--yes")
    max_.ok("sync")
    [line] = [line for line in max_.ok("members").splitlines() if "[bold]Ana" in line]
    assert "left" in line
    assert "[red]Circle" in max_.ok("group", "list")
    max_.ok("issue", "new", "--title", "[link=http://x]Click[/link]", "--what", "x")
    assert "[link=http://x]Click[/link]" in max_.ok("issue", "list")


def test_markdown_export_shows_names_and_titles_as_text() -> None:
    from datetime import date

    from chatham.client.journal import (
        Comment,
        Commitment,
        EntryMeta,
        Issue,
        JournalView,
        Meeting,
        Note,
        RoleHistory,
        encode_body,
        markdown_files,
    )

    lee, ann = b"L" * 32, b"A" * 32
    view = JournalView(RoleHistory.of({lee: "<b>Lee</b>"}, {ann: "Ann [x](https://evil.example)"}))
    bodies = [
        (lee, Meeting(ts=1, date=date(2026, 12, 3), title="*December* <script>", place="[room]")),
        (ann, Issue(ts=2, title="# [Click](https://evil.example) `code`", what="plain *markdown*")),
        (ann, Commitment(ts=3, owner=ann, text="Call <the> _bank_ [now]")),
        (lee, Note(ts=4, body="Notes with <img src=x onerror=alert(1)> and **bold**")),
    ]
    for n, (who, body) in enumerate(bodies, 1):
        view.add(EntryMeta(n.to_bytes(16, "big"), who, who, n, 1), encode_body(body))
    issue = n.to_bytes(16, "big")
    view.add(
        EntryMeta((9).to_bytes(16, "big"), lee, lee, 9, 1),
        encode_body(Comment(ts=9, item=(2).to_bytes(16, "big"), text="reply <i>x</i>")),
    )
    del issue
    files = markdown_files(view, today=date(2026, 11, 1))
    every = "\n".join(files.values())
    for raw in ("<b>", "<script>", "[x](https://evil", "[Click](https", "<img", "<i>", "<the>"):
        assert raw not in every, raw
    assert "\\<b\\>Lee\\</b\\>" in every
    assert "\\# \\[Click\\](https://evil.example) \\`code\\`" in every
    assert "plain *markdown*" in every  # the issue's own text keeps its markdown
    assert "**bold**" in every
    assert "&lt;img src=x onerror=alert(1)>" in every


def test_a_joiner_is_told_the_groups_name_comes_with_the_approval(url: str, root: Path) -> None:
    lead, new = Member("Kim", root), Member("Joe", root)
    lead.ok("group", "create", "Named Later", "--server", url)
    code = lead.ok("invite").splitlines()[-1]
    out = new.ok("join", stdin=code + "\n").splitlines()[0]
    assert out.startswith("sent a join request to group ")
    assert out.endswith(f" on {url}; you see its name once a leader approves you")
