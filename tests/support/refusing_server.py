"""A `chatham` command that a server refuses with words of its choosing, as the member's
terminal shows it."""

from __future__ import annotations

import pytest
from chatham.client import cli as client_cli
from chatham.client import errors


def refused_sync(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], said: str
) -> str:
    """`chatham sync` refused by a server that puts `said` in its reason and its hint: what
    the command wrote to stderr (it exits 1)."""

    def hostile() -> None:
        raise errors.Refused(f"the server refused: {said}", hint=f"it says {said}")

    monkeypatch.setattr(client_cli, "app", lambda **_: hostile())
    assert client_cli.main(["sync"]) == 1
    return capsys.readouterr().err
