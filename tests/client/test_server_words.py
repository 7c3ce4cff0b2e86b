"""The server's refusals in members' words: what happened and what to do next."""

from __future__ import annotations

from pathlib import Path

from chatham.server.testing import live_server

from tests.support.cli_member import UNLIMITED, CliMember, environment

PASSPHRASE = "a passphrase for the server words tests"


def test_registration_token_errors_say_what_to_do(tmp_path: Path) -> None:
    """A closed server's refusal speaks of the operator's token, not of membership."""
    with environment(UNLIMITED), live_server(tmp_path / "closed", "--no-open-registration") as s:
        dana = CliMember("Dana", tmp_path, PASSPHRASE, COLUMNS="200")
        assert dana.fails("group", "create", "Forum", "--server", s.url, code=1) == [
            "chatham: error: this server creates groups only with a registration token from "
            "its operator",
            "chatham: hint: ask the server's operator for one (`chatham-server issue-token`), "
            "then run `chatham group create NAME --server URL --registration-token TOKEN`",
        ]
        wrong = ["group", "create", "Forum", "--server", s.url, "--registration-token", "nope"]
        assert dana.fails(*wrong, code=1) == [
            "chatham: error: the server does not accept this registration token: it is "
            "unknown, used up or expired",
            "chatham: hint: check it was copied whole, or ask the server's operator for a new "
            "one (`chatham-server issue-token`, run with the server's own --data-dir or "
            "--database)",
        ]
