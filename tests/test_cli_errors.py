"""Both command lines print failures through one function, and nothing unsafe reaches a terminal."""

from __future__ import annotations

import pytest
from chatham import crypto
from chatham.client import error_lines, terminal_text
from chatham.server import cli as server_cli

from tests.support.refusing_server import refused_sync

ESCAPES = "\x1b[2J\x1b]0;owned\x07\u202eevil\x9b1m"


def test_both_command_lines_share_one_printer() -> None:
    assert error_lines is crypto.error_lines
    assert server_cli.error_lines is crypto.error_lines


def test_error_lines_follow_the_output_contract() -> None:
    assert error_lines("chatham", "it broke", "try again") == (
        "chatham: error: it broke\nchatham: hint: try again\n"
    )
    assert error_lines("chatham-server", "it broke", None) == "chatham-server: error: it broke\n"


def test_nothing_a_server_or_member_wrote_can_drive_the_terminal() -> None:
    out = error_lines("chatham", f"the server said: {ESCAPES}\nchatham: error: forged", ESCAPES)
    for unsafe in ("\x1b", "\x07", "\u202e", "\x9b"):
        assert unsafe not in out
    assert out.count("\n") == 2  # a newline in the message cannot forge a second error line
    assert terminal_text("line one\n\ttabbed") == "line one\n\ttabbed"
    assert terminal_text("a\nb", one_line=True) == "a\ufffdb"


def test_the_chatham_dispatcher_strips_escapes(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    err = refused_sync(monkeypatch, capsys, ESCAPES)
    assert err.startswith("chatham: error: the server refused: ")
    assert "\x1b" not in err
    assert "\u202e" not in err
