"""Both command lines print failures through one function, and nothing unsafe reaches a terminal."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from chatham import crypto
from chatham.client import error_lines, terminal_text
from chatham.client import errors as client_errors
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


PROTOCOL_TERMS = re.compile(
    r"\b(epochs?|lockbox(es)?|escrows?|log heads?|cursors?|ops?|seq|chains?|(the|group'?s?) log)\b",
    re.IGNORECASE,
)
"""Words of docs/protocol.md that a member who is not an engineer does not know."""


def _raised_words(root: Path) -> Iterator[tuple[str, str]]:
    """(where, message and hint) of every client error raised under `root` with its words."""
    names = set(client_errors.__all__)
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call)):
                continue
            func = node.exc.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name not in names:
                continue
            parts = [*node.exc.args[:1], *(k.value for k in node.exc.keywords if k.arg == "hint")]
            words = " ".join(
                c.value
                for part in parts
                for c in ast.walk(part)
                if isinstance(c, ast.Constant) and isinstance(c.value, str)
            )
            yield f"{path}:{node.lineno}", words


def test_errors_a_member_reads_use_no_protocol_terms() -> None:
    """What the devices, recovery, journal and front ends raise reads in plain words (the
    engine's verification errors name their check in words.py and with --verbose)."""
    client = Path(client_errors.__file__).parent
    found = [
        f"{where}: {words}"
        for part in ("_private", "cli", "web")
        for where, words in _raised_words(client / part)
        if "engine" not in Path(where).parts and PROTOCOL_TERMS.search(words)
    ]
    assert found == []
    for cls in vars(client_errors).values():
        if isinstance(cls, type) and issubclass(cls, client_errors.ChathamError):
            # Its docstring is its default message.
            for words in (cls.__doc__ or "", getattr(cls, "hint", None) or ""):
                assert not PROTOCOL_TERMS.search(words), (cls.__name__, words)
