"""Nothing a server or another member wrote can drive the member's terminal: every CLI output
path (the console, plain table columns, JSON, prompts, error lines) turns control
characters, escape sequences and bidi overrides into visible U+FFFD."""

from __future__ import annotations

import ast
import io
import json
import re
from pathlib import Path

import pytest
from chatham.client import cli as client_cli
from chatham.client.cli import common
from chatham.client.cli.show import print_table
from rich.console import Console
from rich.table import Table
from rich.text import Text

from tests.support.refusing_server import refused_sync

CLEAR = "\x1b[2J\x1b[H"  # wipe the screen
CLIPBOARD = "\x1b]52;c;Y3VybCBldmlsIHwgc2g=\x07"  # OSC 52: set the clipboard
TITLE = "\x1b]0;owned\x1b\\"  # OSC 0 with an ST ending: retitle the window
CSI_C1 = "\x9b31m"  # the one-byte CSI some terminals honour
OVERWRITE = "approved\rREFUSED "  # a carriage return writes over what came before
BIDI = "\u202eevil\u202c"  # reads backwards
HOSTILE = f"Dana{CLEAR}{CLIPBOARD}{TITLE}{CSI_C1}{OVERWRITE}{BIDI}\x07\x08\x7f"
RAW = ("\x1b[2J", "\x1b]", "\x07", "\x9b", "\r", "\u202e", "\u202c", "\x08", "\x7f")
SGR = re.compile(r"\x1b\[[0-9;]*m")  # rich's own colours, the only escapes allowed


def assert_inert(out: str) -> None:
    for raw in RAW:
        assert raw not in out, repr(raw)
    assert "\x1b" not in SGR.sub("", out)  # every escape left is a colour rich chose
    assert "\ufffd" in out  # the reader sees that something was there


@pytest.fixture(params=["terminal", "pipe"])
def out(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> io.StringIO:
    monkeypatch.delenv("NO_COLOR", raising=False)
    if request.param == "terminal":
        monkeypatch.setenv("FORCE_COLOR", "1")
    else:
        monkeypatch.delenv("FORCE_COLOR", raising=False)
    return io.StringIO()


def console_into(buf: io.StringIO) -> Console:
    c = common.console()
    c.file = buf
    return c


def test_the_console_shows_no_escape_a_server_or_member_sent(out: io.StringIO) -> None:
    c = console_into(out)
    c.print(f"chatham: the server said {HOSTILE}; reconnecting")
    c.print(Text.assemble(("by ", "bold"), HOSTILE, (" title", "italic")))
    table = Table("name", "title")
    table.add_row(Text(HOSTILE), HOSTILE)
    c.print(table)
    assert_inert(out.getvalue())
    assert "Dana" in out.getvalue()


def test_plain_columns_and_tables_show_no_escape(out: io.StringIO) -> None:
    c = console_into(out)
    print_table(c, ["id", "title", "owner"], [["3f9a", HOSTILE, Text(HOSTILE, style="bold")]])
    text = out.getvalue()
    assert_inert(text)
    if not c.is_terminal:  # one row per line, whatever a cell held
        assert len(text.splitlines()) == 2


def test_json_is_inert_on_a_terminal_and_decodes_to_the_same_strings(
    capsys: pytest.CaptureFixture[str],
) -> None:
    common.emit_json({"title": HOSTILE, "names": [HOSTILE, "plain"]})
    text = capsys.readouterr().out
    for raw in RAW:
        assert raw not in text, repr(raw)
    assert json.loads(text) == {"title": HOSTILE, "names": [HOSTILE, "plain"]}


def test_a_hostile_server_detail_reaches_the_terminal_inert(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    err = refused_sync(monkeypatch, capsys, HOSTILE)
    assert_inert(err)
    assert len(err.splitlines()) == 2  # a carriage return forges no third line


def test_a_traceback_shown_for_debugging_is_inert_too(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """CHATHAM_DEBUG=1 shows a bug's traceback; a message quoting what a server or member
    sent (a decoder's complaint, a key that was missing) drives no terminal there either."""

    def bug() -> None:
        raise ValueError(f"no such member {HOSTILE}")

    monkeypatch.setattr(client_cli, "app", lambda **_: bug())
    monkeypatch.setenv("CHATHAM_DEBUG", "1")
    assert client_cli.main(["sync"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("Traceback (most recent call last):")
    assert "ValueError" in err
    assert_inert(err)
    monkeypatch.delenv("CHATHAM_DEBUG")
    assert client_cli.main(["sync"]) == 1
    assert capsys.readouterr().err == (
        "chatham: error: internal error (ValueError)\n"
        "chatham: hint: this is a bug in chatham; CHATHAM_DEBUG=1 shows the traceback\n"
    )


def test_a_question_quoting_a_chosen_name_is_inert(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from chatham.client.cli import members

    monkeypatch.setattr(members, "_interactive", lambda: True)
    monkeypatch.setattr("sys.stdin", io.StringIO("yes\n"))
    assert members._ask(f"approve {HOSTILE}? ") == "yes"
    asked = capsys.readouterr().err
    assert asked.startswith("approve ")  # the question was shown
    assert asked.endswith("? ")
    assert_inert(asked)


def test_every_cli_output_goes_through_the_safe_console() -> None:
    """One place: no command module makes a console of its own or calls print()."""
    cli_dir = Path(client_cli.__file__).parent
    for path in cli_dir.glob("*.py"):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                assert node.func.id != "print", f"{path.name}:{node.lineno} calls print()"
                if node.func.id == "Console":
                    assert path.name == "common.py", f"{path.name}:{node.lineno} makes a Console"
