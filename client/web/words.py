"""What went wrong, in plain words: every error the library raises, as the web app says it.

A member who never opened a terminal reads "gap in an author's chain" as a disaster and
"`chatham sync`" as gibberish. So each error class maps, from one table (most specific
first), to what happened, what it means, and what to do, without jargon and without
quoting anything a member wrote. Verification failures are *alarms*: shown on every page
until a sync verifies everything again.

The sync engine reports what failed a check as `Alarm`s on its `SyncReport` (the record is
set aside, the sync goes on); the desk shows the oldest through `explain(alarm.error())`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from .. import ChathamError
from .. import errors as E


@dataclass(frozen=True)
class Said:
    """An error as a member reads it."""

    title: str
    detail: str
    todo: str
    alarm: bool = False


TELL_LEADER: Final = (
    "Nothing was changed on your computer and nothing unchecked is shown. Tell your group's "
    "leader in person or by phone, and at the next meeting compare the meeting code aloud."
)

_CHECKS: Final[dict[tuple[type[ChathamError], str], tuple[str, str]]] = {
    (E.ForgedOpError, "future"): (
        "A change to the group is dated in the future",
        "Chatham waits until that time comes before applying it and anything after it: a "
        "member's clock may be wrong, or someone may be trying to make your copy of the "
        "group look newer than it is.",
    ),
    (E.ForgedOpError, "time"): (
        "A change to the group is dated before the one it follows",
        "Changes to the group are dated in order, so it was not applied.",
    ),
    (E.ChainGapError, "clock"): (
        "A member's post claims an older point in the group's history than their last one",
        "A post can only be newer than the one before it, so it was not shown.",
    ),
    (E.TamperedEntryError, "pinned"): (
        "A post contradicts a change a leader made",
        "When a leader took a power away, the group's record noted the member's last post; "
        "this one claims to be that post but differs from it. It was not shown.",
    ),
}
"""Some checks mean something more specific than their error's class says."""

_ALARMS: Final[tuple[tuple[type[ChathamError], str, str], ...]] = (
    (
        E.RollbackError,
        "The server showed an older copy of your group's history",
        "Your computer already holds a newer one. A server that goes back in time may be "
        "hiding something that was written or changed since.",
    ),
    (
        E.ForkError,
        "The server showed a different history of your group",
        "It differs from the one your computer already checked: someone may be showing "
        "different members different versions of the group.",
    ),
    (
        E.WithheldError,
        "Something the group wrote has not reached you (withheld)",
        "The group's signed record says it exists, but the server did not deliver it. Until "
        "it arrives, you may be missing part of the conversation.",
    ),
    (
        E.ForgedOpError,
        "A change to the group's membership failed its signature check",
        "It was not signed by someone allowed to make it, so it was not applied.",
    ),
    (
        E.GhostMemberError,
        "The group key was given to a device that is not a member",
        "Someone may be trying to listen in; the change was not applied.",
    ),
    (
        E.KeySubstitutionError,
        "A key from the server does not match what the leader sealed",
        "Someone may have swapped it on the way; it was not used.",
    ),
    (
        E.ChainGapError,
        "Some of a member's posts are missing",
        "Each member's posts are linked one to the next, and a link is missing here: the "
        "server may have dropped a post.",
    ),
    (
        E.EquivocationError,
        "Two different versions of the same post arrived",
        "A member's device appears to have written two versions of one post, or someone "
        "forged one. Neither was shown.",
    ),
    (
        E.TamperedEntryError,
        "A post was altered on its way to you",
        "It failed its signature check, so it was not shown.",
    ),
    (
        E.NonMemberEntryError,
        "A post came from someone who was not a member at the time",
        "It was not shown.",
    ),
    (
        E.FakeDeletionError,
        "The server removed a post without permission",
        "Only its author or a leader may withdraw a post; your copy was kept.",
    ),
    (
        E.VerificationError,
        "Something from the server failed a security check",
        "It was not stored or shown.",
    ),
    (
        E.StoreTampered,
        "The copy of the group on this computer was changed outside Chatham",
        "Chatham will not trust it. Someone, or some program, edited the files in your "
        "Chatham folder.",
    ),
)

_PLAIN: Final[tuple[tuple[type[ChathamError], str, str, str | None], ...]] = (
    (
        E.CertificateRefused,
        "This computer does not trust the server's certificate",
        "Nothing was sent to it. You are seeing what this computer already had; what you "
        "write is kept.",
        "Ask the server's operator. If they use their own certificate authority, set "
        "CHATHAM_CA_FILE to its certificate before starting Chatham.",
    ),
    (
        E.Unreachable,
        "The server can't be reached right now",
        "You are seeing what this computer already had. What you write is kept and sent "
        "when the server is back.",
        "Check your internet connection; Chatham keeps trying.",
    ),
    (
        E.WrongPassphrase,
        "Wrong passphrase",
        "Nothing was changed. Check Caps Lock: case matters.",
        "Type it again.",
    ),
    (
        E.NotAMember,
        "You are not a member of this group (any more)",
        "What you already had stays readable here.",
        "Ask a leader for a new invite to rejoin.",
    ),
    (
        E.CouldNotOpen,
        "This could not be opened",
        "It may be damaged, forged, or not meant for you (written before you joined, say).",
        None,
    ),
    (
        E.StaleView,
        "Not written: your copy of the group is too old to write to safely",
        "Nothing has confirmed for a month that your copy of the group is current. The server "
        "may be hiding a change, such as a member's removal, and what you write now could be "
        "readable by that person. What you typed is kept.",
        "Ask a leader to open Chatham (their app confirms the group is current), then try "
        "again; or choose “Write anyway” at the top of the page.",
    ),
    (
        E.RotationPending,
        "The group key must change before anything new is written",
        "Your computer does it for you when it syncs.",
        "Press Sync, then try again.",
    ),
)

_HINTS: Final[tuple[tuple[type[ChathamError], str], ...]] = (
    (E.NotFound, "It may have been withdrawn, or it has not reached you yet: press Sync."),
    (E.NotAllowed, "Ask one of your group's leaders."),
    (E.Ambiguous, "Pick it from the list instead."),
    (E.InvalidDate, "Pick a date with the calendar, or write it like 2026-12-03."),
    (E.ContentError, "Check what you typed in each field and try again."),
    (E.UsageError, "Check what you typed and try again."),
    (E.Locked, "Type your passphrase to unlock."),
    (E.NotInitialized, "Create your identity first."),
    (E.HomeError, "Check the Chatham folder on this computer (CHATHAM_HOME)."),
    (E.Conflict, "Someone changed the group at the same moment: try again."),
    (E.ServerError, "Try again in a minute; if it persists, tell whoever runs your server."),
    (E.ChathamError, "Try again; if it persists, tell your group's leader."),
)


def _sentence(text: str) -> str:
    text = text.strip()
    return text[:1].upper() + text[1:] if text else text


PAGES: Final = {
    "`chatham whoami`": "the fingerprint on their screen",
    "`chatham sync`": "Sync",
    "`chatham members`": "the Members page",
    "`chatham verify`": "Meeting code and checks",
    "`chatham requests`": "Join requests",
    "`chatham list`": "the lists",
    "`chatham meeting list`": "the Meetings page",
    "`chatham commit list`": "the Commitments page",
    "`chatham unlock`": "Unlock",
}
"""Terminal commands in the library's hints, as the page a web member would use instead."""


def _hint(e: ChathamError) -> str:
    """The library's hint in the page's words; if it still speaks in terminal commands, a
    hint for the page from the table instead."""
    hint = getattr(e, "hint", "") or ""
    for command, page in PAGES.items():
        hint = hint.replace(command, page)
    if hint and "`" not in hint and "--" not in hint and "chatham " not in hint:
        return _sentence(hint).rstrip(".") + "."
    return next(h for cls, h in _HINTS if isinstance(e, cls))


def explain(e: ChathamError) -> Said:
    """What to tell a member about `e`."""
    check = getattr(e, "check", None)
    for (cls, name), (title, detail) in _CHECKS.items():
        if isinstance(e, cls) and check == name:
            return Said(title, detail, TELL_LEADER, alarm=True)
    for cls, title, detail in _ALARMS:
        if isinstance(e, cls):
            return Said(title, detail, TELL_LEADER, alarm=True)
    for cls, title, detail, todo in _PLAIN:
        if isinstance(e, cls):
            return Said(title, detail, todo or _hint(e))
    return Said(_sentence(e.message), "", _hint(e))
