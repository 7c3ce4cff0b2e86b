"""chatham.client: the Chatham client library (and, in `chatham.client.cli`, the CLI).

    from chatham.client import Account

    with Account.open(passphrase=...) as journal:      # or CHATHAM_PASSPHRASE, or a session
        group = journal.group()                         # the current group
        report = group.sync()                           # fetch, verify, store; send queued writes
        for a in report.announcements:
            print(a.text)                               # leader actions in plain words
        entry_id = group.post(b"...")                   # the journal layer encodes bodies
        for item in group.entries():                    # verified and opened, offline
            ...

docs/client.md describes the whole API; the error tree is in `chatham.client.errors`.

Names are re-exported lazily (PEP 562): importing `chatham.client.cli` must not
load httpx, sqlite and the crypto stack just to print `chatham --help`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from . import errors
    from ._private.account import Account, HttpSource
    from ._private.engine.group import Group, OpBuilder, OpContext, Progress
    from ._private.local.home import Home, parse_duration, scrubbed_env
    from ._private.views import (
        Announcement,
        ChainView,
        EntryRef,
        GroupSummary,
        JoinRequest,
        Member,
        OpenedEntry,
        SyncReport,
        VerifyReport,
    )
    from .errors import (
        ChathamError,
        CouldNotOpen,
        NotAMember,
        ServerError,
        UsageError,
        VerificationError,
    )

_EXPORTS: dict[str, str] = {
    "Announcement": "views",
    "ChainView": "views",
    "EntryRef": "views",
    "ChathamError": "errors",
    "CouldNotOpen": "errors",
    "Group": "engine.group",
    "GroupSummary": "views",
    "Home": "local.home",
    "HttpSource": "account",
    "OpenedEntry": "views",
    "JoinRequest": "views",
    "Account": "account",
    "Member": "views",
    "NotAMember": "errors",
    "OpBuilder": "engine.group",
    "OpContext": "engine.group",
    "Progress": "engine.group",
    "ServerError": "errors",
    "SyncReport": "views",
    "UsageError": "errors",
    "VerificationError": "errors",
    "VerifyReport": "views",
    "parse_duration": "local.home",
    "scrubbed_env": "local.home",
}

__all__ = [
    "Account",
    "Announcement",
    "ChainView",
    "ChathamError",
    "CouldNotOpen",
    "EntryRef",
    "Group",
    "GroupSummary",
    "Home",
    "HttpSource",
    "JoinRequest",
    "Member",
    "NotAMember",
    "OpBuilder",
    "OpContext",
    "OpenedEntry",
    "Progress",
    "ServerError",
    "SyncReport",
    "UsageError",
    "VerificationError",
    "VerifyReport",
    "errors",
    "parse_duration",
    "scrubbed_env",
]


def __getattr__(name: str) -> Any:
    if name == "errors":
        value: Any = importlib.import_module(".errors", __name__)
    elif name in _EXPORTS:
        where = _EXPORTS[name]
        path = ".errors" if where == "errors" else f"._private.{where}"
        value = getattr(importlib.import_module(path, __name__), name)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
