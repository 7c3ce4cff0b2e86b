"""The error tree of chatham.crypto.

    CryptoError                     root of everything this package raises
    ├── EncodingError               bytes are not a canonical v2 record
    ├── SignatureError              a signature or key failed strict verification
    ├── KeystoreError               keystore file unusable
    │   ├── WrongPassphrase         the passphrase does not open it
    │   └── WeakKeystoreParameters  the KDF cost is below the floor (refused, not opened)
    ├── LogError                    a group log fails verification (carries `seq` and `check`)
    │   ├── ForkError               divergent or shorter log than a verified head
    │   └── RotationError           missing, withheld or malformed rotation
    ├── EntryError                  an entry fails a public check (carries `check`)
    │   ├── ChainError              gap or broken link in an author chain
    │   └── EquivocationError       two different entries for one (device, seq)
    ├── InviteError                 an invite code or join request is invalid
    └── CouldNotOpen                any failure after a secret key was used (opaque)

Public checks are specific so a member can be told which record failed which
check. Everything past the point where a key is used raises `CouldNotOpen` with a
fixed message, so nothing about a failed decryption can be used as an oracle.
"""

from __future__ import annotations

from typing import Literal, TypeAlias

LogCheck: TypeAlias = Literal[
    "log",
    "server",
    "encoding",
    "genesis",
    "suite",
    "card",
    "signer",
    "signature",
    "group",
    "role",
    "names",
    "invite",
    "key",
    "member",
    "device",
    "invite_used",
    "invite_dead",
    "last_leader",
    "heads",
    "pending",
    "checkpoint",
    "sequence",
    "chain",
    "rollback",
    "fork",
    "epoch",
    "lockboxes",
    "ghost_member",
    "lockbox_missing",
    "backlink",
    "rotation",
    "lockbox_hash",
    "time",
    "future",
]
"""The checks of a group log op (docs/protocol.md §5.2, §6, §12); `log` when none applies."""

EntryCheck: TypeAlias = Literal[
    "entry",
    "encoding",
    "group",
    "author",
    "signature",
    "log_head",
    "epoch",
    "departed",
    "role",
    "chain",
    "gap",
    "equivocation",
    "clock",
    "pinned",
    "retracts",
]
"""The checks of an entry, stub or retraction (docs/protocol.md §7.1, §7.3, §12)."""

ClientCheck: TypeAlias = Literal[
    "verify",
    "entry_id",
    "lockbox_withheld",
    "link",
    "retraction_missing",
    "withheld_op",
]
"""Checks a client makes beyond the protocol's records (docs/client.md, "What sync checks")."""

Check: TypeAlias = LogCheck | EntryCheck | ClientCheck
"""Every check name crypto, the client and the server's error bodies use, so a typo fails mypy."""


class CryptoError(Exception):
    """A cryptographic check failed."""


class EncodingError(CryptoError):
    """Bytes are not a canonical, version 2 record."""


class SignatureError(CryptoError):
    """A signature or public key failed strict verification."""


class KeystoreError(CryptoError):
    """The keystore file cannot be used."""


class WrongPassphrase(KeystoreError):
    """The passphrase does not open this keystore."""


class WeakKeystoreParameters(KeystoreError):
    """The keystore's key-derivation cost is below the protocol floor."""


class LogError(CryptoError):
    """A group log failed verification."""

    def __init__(self, message: str, *, seq: int | None = None, check: LogCheck = "log") -> None:
        super().__init__(message if seq is None else f"log op {seq}: {message}")
        self.seq = seq
        self.check: LogCheck = check


class ForkError(LogError):
    """The log diverges from, or is shorter than, a head already verified."""


class RotationError(LogError):
    """A rotation is missing, withheld or malformed."""


class EntryError(CryptoError):
    """An entry failed a public check."""

    def __init__(self, message: str, *, check: EntryCheck = "entry") -> None:
        super().__init__(message)
        self.check: EntryCheck = check


class ChainError(EntryError):
    """An author's chain has a gap or a broken link."""


class EquivocationError(EntryError):
    """Two different entries claim one author sequence number."""


class InviteError(CryptoError):
    """An invite code or join request is invalid."""


class LinkError(CryptoError):
    """A device link code, or a message of a link, is invalid (docs/protocol.md §5.4)."""


class KitError(CryptoError):
    """Recovery kit words do not read (docs/protocol.md §5.5); `word` names the one at fault
    (1-based) when the checksum can tell."""

    def __init__(self, message: str, *, word: int | None = None) -> None:
        super().__init__(message)
        self.word = word


class CouldNotOpen(CryptoError):
    """Could not open: the data is damaged, forged, or not meant for this key."""

    def __init__(self) -> None:
        super().__init__("could not open")
