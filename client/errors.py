"""The error tree of chatham.client.

Every exception the library raises on purpose derives from `ChathamError`.
Each carries a `message` (what happened, in the user's words) and a `hint`
(what to do next); the CLI prints them from one dispatcher as
``chatham: error: <message>`` and ``hint: <hint>`` on stderr. A class's
docstring is its default message.

    ChathamError                    root: message + hint
    ├── UsageError                  a bad argument or an impossible request
    │   ├── NotFound                no such group, member or entry here
    │   │   └── UnknownItem         no journal item this member can see has that id
    │   ├── NotAllowed              the protocol does not allow this member to do that
    │   ├── Ambiguous               a prefix or name matches several things
    │   │   └── AmbiguousItem       an item id prefix matches several items
    │   ├── InvalidDate             not YYYY-MM-DD, today, tomorrow or next-meeting
    │   ├── ContentError            journal content breaks the format's rules (also a ValueError)
    │   │   └── UnsupportedVersion  written by a newer Chatham
    │   └── ExportError             an export cannot be written there
    ├── HomeError                   the member home cannot be used
    │   ├── NotInitialized          no keystore yet (`chatham init`)
    │   ├── AlreadyInitialized      init would overwrite a keystore
    │   ├── Locked                  no passphrase available and no unlock session
    │   ├── WrongPassphrase         the passphrase does not open the keystore
    │   ├── LinkPending             a new device waits for its link to be confirmed
    │   ├── UnsafePermissions       a private file or directory is readable by others
    │   └── StoreTampered           the local store was edited outside Chatham
    ├── ServerError                 the server refused or failed (carries `status`, `code`)
    │   ├── Unreachable             no connection to the server (writes are queued)
    │   │   └── CertificateRefused  the server's TLS certificate is not trusted
    │   ├── AuthFailed              login refused
    │   │   └── ServerChanged       the server at a URL is not the one this device knows
    │   ├── Forbidden               not allowed for this device (e.g. not a member)
    │   ├── ServerNotFound          the server has no such group or record
    │   ├── Conflict                someone else changed the log first (stale head)
    │   ├── Refused                 the server found the request invalid (400, 422)
    │   ├── TooLarge                request over the server's size cap
    │   ├── RateLimited             too many requests
    │   └── BadResponse             the server answered something that is not the protocol
    ├── VerificationError           a record from the server failed a check (carries `check`,
    │   │                           `record`); nothing unverified is stored or shown
    │   ├── RollbackError           the server went back to an older copy than one verified
    │   ├── ForkError               the server shows a log that diverges from a verified one
    │   ├── WithheldError           a rotation, lockbox or checkpointed entry is missing
    │   ├── ForgedOpError           a log op with a bad signature or from someone not allowed
    │   ├── GhostMemberError        a rotation seals the key to a device that is not a member
    │   ├── KeySubstitutionError    a lockbox does not match what the leader committed to
    │   ├── ChainGapError           an author's chain is missing an entry or does not link
    │   ├── EquivocationError       two different entries claim one author sequence number
    │   ├── TamperedEntryError      an entry was altered, swapped, truncated or moved
    │   ├── NonMemberEntryError     an entry signed by a device that was not a member then
    │   └── FakeDeletionError       the server dropped an entry without a signed retraction
    ├── CouldNotOpen                opaque: anything that failed after a key was used
    ├── NotAMember                  this device is not (or no longer) an active member
    ├── RotationPending             a rotation is pending and this member may not perform it
    ├── StaleLocal                  another process changed the group meanwhile (sync retries)
    └── StaleView                   this copy of the group is too old to write to safely

Checks made before any key is used name the check and the record (an op's
sequence number, an entry's id). Anything that fails after a key was used is
one opaque `CouldNotOpen`, so a failed decryption says nothing an attacker
could use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from chatham.crypto import Check


class ChathamError(Exception):
    """Something went wrong."""

    hint: ClassVar[str] = "run the command again with --help for usage"

    def __init__(self, message: str | None = None, *, hint: str | None = None) -> None:
        self.message = message if message is not None else _first_line(type(self).__doc__)
        if hint is not None:
            self.hint = hint  # type: ignore[misc]  # per-instance override of the class hint
        super().__init__(self.message)


def _first_line(doc: str | None) -> str:
    # The CLI's messages are lower case without a trailing period (the output contract).
    line = (doc or "error").strip().splitlines()[0].rstrip(".")
    return line[:1].lower() + line[1:]


# --- usage --------------------------------------------------------------------------------------


class UsageError(ChathamError):
    """That request cannot be carried out."""

    hint = "run the command again with --help for usage"


class NotFound(UsageError):
    """Nothing matches that name or id."""

    hint = "list what exists with `chatham group list` or the matching list command"


class NotAllowed(UsageError):
    """The group's rules do not allow this member to do that."""

    hint = "leaders manage membership, roles, policy and checkpoints; see `chatham members`"


class Ambiguous(UsageError):
    """That prefix or name matches more than one thing."""

    hint = "give more characters of the id"


class UnknownItem(NotFound):
    """No item with this id."""

    hint = "`chatham list` shows the items you can see"


class AmbiguousItem(Ambiguous):
    """This id prefix matches more than one item."""

    hint = "give more characters of the id"


class InvalidDate(UsageError):
    """Not a date."""

    hint = "use YYYY-MM-DD, today, tomorrow or next-meeting"


class ContentError(UsageError, ValueError):
    """This content is not a journal body this client can write or read.

    Also a ValueError, so that msgspec reports it from a struct's `__post_init__` as a
    validation failure.
    """

    hint = "see `--help` for what each field accepts"


class UnsupportedVersion(ContentError):
    """This entry was written by a newer version of Chatham; upgrade to read it."""

    hint = "upgrade Chatham to read it"

    def __init__(self, version: int | None = None, supported: int | None = None) -> None:
        super().__init__(
            None
            if version is None
            else f"journal body version {version} is not supported (this client reads "
            f"version {supported}); upgrade to read it"
        )
        self.version = version


class ExportError(UsageError):
    """The export cannot be written."""

    hint = "choose an empty directory, or pass --force"


# --- the member home ----------------------------------------------------------------------------


class HomeError(ChathamError):
    """The member home cannot be used."""

    hint = "check CHATHAM_HOME and its permissions"


class NotInitialized(HomeError):
    """No Chatham identity in this home yet."""

    hint = "create one with `chatham init --name NAME` (or set CHATHAM_HOME)"


class AlreadyInitialized(HomeError):
    """This home already holds a Chatham identity."""

    hint = "use another CHATHAM_HOME; an existing keystore is never overwritten"


class Locked(HomeError):
    """The keystore is locked and no passphrase was given."""

    hint = "run `chatham unlock`, or set CHATHAM_PASSPHRASE or --passphrase-file for scripts"


class WrongPassphrase(HomeError):
    """Wrong passphrase: the keystore did not open."""

    hint = "nothing was changed; try again (case matters)"


class LinkPending(HomeError):
    """This device is waiting for the link to be confirmed on your other device."""

    hint = (
        "on your other device run `chatham device confirm WORDS` with the words shown here, "
        "then `chatham sync` here"
    )


class UnsafePermissions(HomeError):
    """A private file or directory is accessible to other users."""

    hint = "fix it with `chmod 700` on the directory (or 600 on the file) and retry"


class StoreTampered(HomeError):
    """The local store was changed outside Chatham."""

    hint = (
        "the store's authenticated state does not match its contents; keep a copy of "
        "CHATHAM_HOME for inspection, then re-join the group from a fresh home"
    )


# --- the server ---------------------------------------------------------------------------------


class ServerError(ChathamError):
    """The server refused the request."""

    hint = "try again later; if it persists, ask the server's operator"

    def __init__(
        self,
        message: str | None = None,
        *,
        hint: str | None = None,
        status: int | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.status = status
        self.code = code
        self.body: object = None


class Unreachable(ServerError):
    """Could not reach the server."""

    hint = "check the network and the server URL; reading works offline and writes are queued"


class CertificateRefused(Unreachable):
    """The server's TLS certificate is not trusted; nothing was sent to it."""

    hint = (
        "if the server's operator uses a private certificate authority, set CHATHAM_CA_FILE "
        "to its certificate (ask the operator for it and check it in person); otherwise "
        "someone may be in between: never switch to http://. Writes stay queued"
    )


class AuthFailed(ServerError):
    """The server refused to log this device in."""

    hint = "check the server URL; the server may have been reset"


class ServerChanged(AuthFailed):
    """The server at this address is not the server this device first logged in to."""

    hint = (
        "nothing was sent to it; someone else may be answering at this address. If its "
        "operator rebuilt the server on purpose, ask them and a leader: `chatham group server "
        "URL` then accepts it only if it holds your group as this device verified it "
        "(`--give-copy` gives an empty one your copy)"
    )


class Forbidden(ServerError):
    """The server does not allow this device to do that."""

    hint = "`chatham sync` shows where you stand in the group; ask a leader if that is wrong"


class ServerNotFound(ServerError):
    """The server does not know that group or record."""

    hint = "check the group id and the server URL"


class Conflict(ServerError):
    """Someone changed the group first."""

    hint = "run `chatham sync` and try again"


class Refused(ServerError):
    """The server refused the request as invalid."""

    hint = "run `chatham sync` and try again; if it persists, this may be a client bug"


class TooLarge(ServerError):
    """The request is larger than the server accepts."""

    hint = "make the entry smaller or attach large files instead"


class RateLimited(ServerError):
    """The server is limiting requests."""

    hint = "wait a minute and try again"


class BadResponse(ServerError):
    """The server's answer is not valid protocol."""

    hint = "the server may be a different version or misbehaving; nothing was stored"


# --- verification -------------------------------------------------------------------------------


class VerificationError(ChathamError):
    """A record from the server failed verification."""

    hint = (
        "nothing unverified was stored or shown and local data was kept; "
        "tell your group's leader, and compare `chatham verify` with another member"
    )

    def __init__(
        self,
        message: str | None = None,
        *,
        hint: str | None = None,
        check: Check = "verify",
        record: str | None = None,
    ) -> None:
        base = message if message is not None else _first_line(type(self).__doc__)
        super().__init__(base if record is None else f"{record}: {base}", hint=hint)
        self.check: Check = check
        self.record = record


class RollbackError(VerificationError):
    """The server has gone back to an older copy of the group than this member verified."""

    hint = (
        "the server may have been restored from an older backup or lost data; nothing held "
        "here was lost. Run `chatham group heal` to give it back what this device holds, "
        "and tell the server's operator and your group's leader"
    )


class ForkError(VerificationError):
    """The server shows a history of the group that differs from the one already verified
    (fork)."""

    hint = (
        "nothing was changed locally; compare `chatham verify` with other members. If the "
        "server really shows two different histories, a leader re-founds the group "
        "(docs/protocol.md §5.2)"
    )


class WithheldError(VerificationError):
    """Something the group's history says exists was not delivered (withheld)."""


class ForgedOpError(VerificationError):
    """A change to the group is forged, or its signer was not allowed to make it."""


class GhostMemberError(VerificationError):
    """A rotation seals the group key to a device that is not a member (ghost member)."""


class KeySubstitutionError(VerificationError):
    """A copy of the group key does not match what its key change committed to (key
    substitution)."""


class ChainGapError(VerificationError):
    """A member's posts have a gap or a broken link between them."""


class EquivocationError(VerificationError):
    """Two different entries claim the same author sequence number (equivocation)."""


class TamperedEntryError(VerificationError):
    """An entry was altered, swapped, truncated or moved from elsewhere."""


class NonMemberEntryError(VerificationError):
    """An entry is signed by a device that was not a member at the time."""


class FakeDeletionError(VerificationError):
    """The server claims an entry is deleted without a signed retraction."""

    hint = "the local copy was kept; tell your group's leader"


# --- after a key was used -----------------------------------------------------------------------


class CouldNotOpen(ChathamError):
    """Could not open."""

    hint = "the data is damaged, forged, or not meant for this member"


# --- membership state ---------------------------------------------------------------------------


class NotAMember(ChathamError):
    """This device is not an active member of the group."""

    hint = "what was already synced stays readable; ask a leader for a new invite"


class RotationPending(ChathamError):
    """The group key must rotate before anything new can be written."""

    hint = "run `chatham sync` to perform the pending rotation"


class StaleLocal(ChathamError):
    """Another chatham process changed this group's local copy meanwhile."""

    hint = "wait for the other process to finish, then try again"


class StaleView(ChathamError):
    """This copy of the group has not been confirmed current for too long to write safely."""

    hint = (
        "run `chatham sync`; if it stays this old, ask a leader to sync (their app confirms "
        "the group is current), or write anyway with --anyway"
    )


__all__ = [
    "AlreadyInitialized",
    "Ambiguous",
    "AmbiguousItem",
    "AuthFailed",
    "BadResponse",
    "CertificateRefused",
    "ChainGapError",
    "ChathamError",
    "Conflict",
    "ContentError",
    "CouldNotOpen",
    "EquivocationError",
    "ExportError",
    "FakeDeletionError",
    "Forbidden",
    "ForgedOpError",
    "ForkError",
    "GhostMemberError",
    "HomeError",
    "InvalidDate",
    "KeySubstitutionError",
    "LinkPending",
    "Locked",
    "NonMemberEntryError",
    "NotAMember",
    "NotAllowed",
    "NotFound",
    "NotInitialized",
    "RateLimited",
    "Refused",
    "RollbackError",
    "RotationPending",
    "ServerChanged",
    "ServerError",
    "ServerNotFound",
    "StaleLocal",
    "StaleView",
    "StoreTampered",
    "TamperedEntryError",
    "TooLarge",
    "UnknownItem",
    "Unreachable",
    "UnsafePermissions",
    "UnsupportedVersion",
    "UsageError",
    "VerificationError",
    "WithheldError",
    "WrongPassphrase",
]
