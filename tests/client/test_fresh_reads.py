"""Reads are never stale without saying so: they sync first when the server answers, say how
old the local copy is when it does not, and `sync --all` brings every group up to date."""

from __future__ import annotations

import json
from pathlib import Path

from chatham.server.testing import live_server

from tests.support.cli_member import UNLIMITED, CliMember, environment

PASSPHRASE = "a passphrase for the fresh read tests"


def test_reads_sync_first_or_say_how_old_the_copy_is(tmp_path: Path) -> None:
    with environment(UNLIMITED):
        dana = CliMember("Dana", tmp_path, PASSPHRASE, COLUMNS="200")
        sam = CliMember("Sam", tmp_path, PASSPHRASE, COLUMNS="200")
        with live_server(tmp_path / "one") as one, live_server(tmp_path / "two") as two:
            dana.ok("group", "create", "Forum", "--server", one.url)
            code = dana.ok("invite", "--name", "Sam").splitlines()[-1]
            sam.ok("join", stdin=code)
            [req] = dana.json("requests")
            dana.ok("approve", req["id"], "--fingerprint", sam.fingerprint)
            sam.ok("sync")
            dana.ok("group", "create", "Circle", "--server", two.url)

            # Dana posts; Sam never runs `sync`, and his reads show it anyway.
            dana.ok("issue", "new", "-g", "Forum", "--title", "Selling the company?")
            dana.ok("commit", "new", "-g", "Forum", "Call the bank")
            assert [i["title"] for i in sam.json("parking-lot")] == ["Selling the company?"]
            assert "Call the bank" in sam.ok("commit", "list")
            # --offline reads the copy as it is, without asking.
            dana.ok("issue", "new", "-g", "Forum", "--title", "Hiring a COO")
            assert len(sam.json("--offline", "issue", "list")) == 1
            assert len(sam.json("issue", "list")) == 2

            # Both of Dana's groups at once.
            out = dana.ok("sync", "--all").splitlines()
            assert out == ["Forum: up to date", "Circle: up to date"]
            assert [r["status"] for r in dana.json("sync", "--all")] == ["member", "member"]

        # The servers are gone: reads still work, and say how old the copy is.
        code, out, err = sam("parking-lot", "--json")
        assert code == 0, err
        assert len(json.loads(out)) == 2
        assert err.startswith(
            "chatham: note: the server is out of reach; showing your copy (last synced "
        )
        code, out, err = sam("members")
        assert (code, "Dana" in out) == (0, True)
        assert "out of reach" in err
        assert sam("--offline", "members")[2] == ""
        code, out, err = dana("sync", "--all")
        assert code == 1
        assert err.splitlines()[0].startswith(
            "chatham: error: 2 of 2 groups did not sync; Forum: could not reach"
        )
