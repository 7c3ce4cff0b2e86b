"""chatham.client: the Chatham client library. The `chatham` CLI (`chatham.client.cli`) and the
web app stand on exactly this public API.

    from chatham.client import Account

    with Account.open(passphrase=...) as account:     # or CHATHAM_PASSPHRASE, or a session
        group = account.group()                         # the current group
        report = group.sync()                           # fetch, verify, store; send queued writes
        for a in report.announcements:
            print(a.text)                               # leader actions in plain words
        journal = group.journal()                       # issues, meetings, notes, commitments
        journal.new_issue(title="Selling the company?", priority="A", minutes=30)

docs/client.md describes the whole API; `chatham.client.journal` holds the journal's
types and renderings, and the error tree is in `chatham.client.errors`.

Names are re-exported lazily (PEP 562): importing `chatham.client.cli` must not
load httpx, sqlite and the crypto stack just to print `chatham --help`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from chatham.crypto import error_lines, terminal_text

    from . import errors, journal
    from ._private.account import Account, GroupSummary, HttpSource, WaitingGroup
    from ._private.devices import DeviceInfo, DeviceLink, LinkedDevice
    from ._private.engine.alarms import Alarm
    from ._private.engine.freshness import Freshness
    from ._private.engine.group import Group
    from ._private.engine.heal import HealReport
    from ._private.engine.ops import OpBuilder, OpContext
    from ._private.engine.results import (
        ChainView,
        EntryRef,
        OpenedEntry,
        SyncReport,
        Unsent,
        VerifyReport,
    )
    from ._private.engine.sync import Progress
    from ._private.journal.service import Journal
    from ._private.local.home import (
        Home,
        check_new_passphrase,
        parse_duration,
        private_dir,
        runtime_dir,
        scratch_dir,
        scrubbed_env,
        shred,
        wipe,
    )
    from ._private.local.process import ENV_PASSPHRASE, env_passphrase, harden_process
    from ._private.membership.values import (
        Announcement,
        Approval,
        EpochExposure,
        Exposure,
        History,
        InviteInfo,
        InviteStatus,
        JoinRequest,
        Member,
        Notes,
        PendingRequest,
        Removal,
        Role,
        RosterEntry,
    )
    from ._private.membership.workflows import Ask
    from ._private.recovery import KitInfo
    from .errors import (
        ChathamError,
        CouldNotOpen,
        NotAMember,
        ServerError,
        UsageError,
        VerificationError,
    )

_EXPORTS: dict[str, str] = {
    "Account": "account",
    "Alarm": "engine.alarms",
    "Announcement": "membership.values",
    "Approval": "membership.values",
    "Ask": "membership.workflows",
    "ChainView": "engine.results",
    "ChathamError": "errors",
    "DeviceInfo": "devices",
    "DeviceLink": "devices",
    "LinkedDevice": "devices",
    "KitInfo": "recovery",
    "CouldNotOpen": "errors",
    "ENV_PASSPHRASE": "local.process",
    "EntryRef": "engine.results",
    "error_lines": "text",
    "terminal_text": "text",
    "EpochExposure": "membership.values",
    "Exposure": "membership.values",
    "Freshness": "engine.freshness",
    "Group": "engine.group",
    "GroupSummary": "account",
    "WaitingGroup": "account",
    "History": "membership.values",
    "Home": "local.home",
    "InviteInfo": "membership.values",
    "InviteStatus": "membership.values",
    "HttpSource": "account",
    "JoinRequest": "membership.values",
    "Journal": "journal.service",
    "Member": "membership.values",
    "NotAMember": "errors",
    "Notes": "membership.values",
    "HealReport": "engine.heal",
    "OpBuilder": "engine.ops",
    "OpContext": "engine.ops",
    "OpenedEntry": "engine.results",
    "PendingRequest": "membership.values",
    "Progress": "engine.sync",
    "Removal": "membership.values",
    "Role": "membership.values",
    "RosterEntry": "membership.values",
    "ServerError": "errors",
    "SyncReport": "engine.results",
    "Unsent": "engine.results",
    "Upload": "engine.results",
    "UsageError": "errors",
    "VerificationError": "errors",
    "VerifyReport": "engine.results",
    "check_new_passphrase": "local.home",
    "env_passphrase": "local.process",
    "harden_process": "local.process",
    "parse_duration": "local.home",
    "private_dir": "local.home",
    "runtime_dir": "local.home",
    "scratch_dir": "local.home",
    "scrubbed_env": "local.home",
    "shred": "local.home",
    "wipe": "local.home",
}

__all__ = [
    "ENV_PASSPHRASE",
    "Account",
    "Alarm",
    "Announcement",
    "Approval",
    "Ask",
    "ChainView",
    "ChathamError",
    "CouldNotOpen",
    "DeviceInfo",
    "DeviceLink",
    "EntryRef",
    "EpochExposure",
    "Exposure",
    "Freshness",
    "Group",
    "GroupSummary",
    "HealReport",
    "History",
    "Home",
    "HttpSource",
    "InviteInfo",
    "InviteStatus",
    "JoinRequest",
    "Journal",
    "KitInfo",
    "LinkedDevice",
    "Member",
    "NotAMember",
    "Notes",
    "OpBuilder",
    "OpContext",
    "OpenedEntry",
    "PendingRequest",
    "Progress",
    "Removal",
    "Role",
    "RosterEntry",
    "ServerError",
    "SyncReport",
    "Unsent",
    "Upload",
    "UsageError",
    "VerificationError",
    "VerifyReport",
    "WaitingGroup",
    "check_new_passphrase",
    "env_passphrase",
    "error_lines",
    "errors",
    "harden_process",
    "journal",
    "parse_duration",
    "private_dir",
    "runtime_dir",
    "scratch_dir",
    "scrubbed_env",
    "shred",
    "terminal_text",
    "wipe",
]


def __getattr__(name: str) -> Any:
    if name in ("errors", "journal"):
        value: Any = importlib.import_module(f".{name}", __name__)
    elif name in _EXPORTS:
        where = _EXPORTS[name]
        if where == "text":  # the protocol package's text helpers, shared by both CLIs
            value = getattr(importlib.import_module("chatham.crypto"), name)
        else:
            path = ".errors" if where == "errors" else f"._private.{where}"
            value = getattr(importlib.import_module(path, __name__), name)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
