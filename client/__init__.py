"""chatham.client: the Chatham client library (and, in `chatham.client.cli`, the CLI).

    from chatham.client import Journal

    with Journal.open(passphrase=...) as journal:      # or CHATHAM_PASSPHRASE, or a session
        group = journal.group()                         # the current group
        report = group.sync()                           # fetch, verify, store; send queued writes
        for a in report.announcements:
            print(a.text)                               # leader actions in plain words
        entry_id = group.post(b"...")                   # the journal layer encodes bodies
        for item in group.entries():                    # verified and opened, offline
            ...

docs/client.md describes the whole API; errors are in `chatham.client.errors`.
"""

from __future__ import annotations

from ._private import errors
from ._private.core import HttpSource, Journal
from ._private.errors import (
    ChathamError,
    CouldNotOpen,
    NotAMember,
    ServerError,
    UsageError,
    VerificationError,
)
from ._private.group import Group, OpBuilder, OpContext, Progress
from ._private.home import Home, parse_duration, scrubbed_env
from ._private.views import (
    Announcement,
    ChainView,
    GroupSummary,
    Item,
    JoinRequest,
    Member,
    SyncReport,
    VerifyReport,
)

__all__ = [
    "Announcement",
    "ChainView",
    "ChathamError",
    "CouldNotOpen",
    "Group",
    "GroupSummary",
    "Home",
    "HttpSource",
    "Item",
    "JoinRequest",
    "Journal",
    "Member",
    "NotAMember",
    "OpBuilder",
    "OpContext",
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
