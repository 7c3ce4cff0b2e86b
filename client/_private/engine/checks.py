"""From the protocol's verification errors to the client's typed, user-facing ones.

chatham.crypto names each failed check (`LogError.check`, `EntryError.check`);
here each check becomes the error class that says what a member should
believe happened (a fork, a withheld rotation, a forged op, ...), with the
record it concerns. Nothing here looks at plaintext.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from chatham import crypto

from ... import errors as E

if TYPE_CHECKING:
    from .api import LogPage

_LOG_CHECKS: dict[str, type[E.VerificationError]] = {
    "rollback": E.RollbackError,
    "fork": E.ForkError,
    "sequence": E.ForkError,
    "chain": E.ForkError,
    "ghost_member": E.GhostMemberError,
    "lockbox_hash": E.KeySubstitutionError,
    "lockbox_missing": E.WithheldError,
}


def log_error(e: crypto.LogError) -> E.VerificationError:
    """A group log op failed verify_public (or a lockbox failed its commitment)."""
    cls = _LOG_CHECKS.get(e.check, E.ForgedOpError)
    record = None if e.seq is None else f"log op {e.seq}"
    message = str(e).removeprefix(f"log op {e.seq}: ")  # the record names the position
    if cls is E.ForgedOpError:
        message = f"forged or invalid op: {message}"
    return cls(message, check=e.check, record=record)


def apply_page(state: crypto.GroupState, ops: list[bytes], page: LogPage) -> bool:
    """Verify one page of a group's log op by op onto `state`, add it to `ops`.

    True when another page follows (the server said so and this one was not empty).
    """
    for op in page.ops:
        try:
            state.apply(op)
        except crypto.LogError as e:
            raise log_error(e) from None
    ops += page.ops
    return page.more and bool(page.ops)


def entry_error(
    e: crypto.EntryError, entry_id: bytes | None, *, log_seq: int | None = None, known_seq: int = -1
) -> E.VerificationError:
    """An entry failed a public check; name the entry and what the failure means."""
    record = "entry" if entry_id is None else f"entry {entry_id.hex()}"
    check = e.check
    cls: type[E.VerificationError]
    message = str(e)
    if isinstance(e, crypto.EquivocationError):
        cls = E.EquivocationError
    elif isinstance(e, crypto.ChainError):
        cls = E.ChainGapError
    elif check == "author" or check == "departed":
        cls = E.NonMemberEntryError
    elif check == "log_head" and log_seq is not None and log_seq > known_seq:
        cls = E.WithheldError
        message = (
            f"the entry was written after log op {log_seq}, which the server has not shown "
            "(a withheld rotation or leader op)"
        )
    elif check == "group":
        cls = E.TamperedEntryError
        message = "the entry belongs to another group (moved)"
    elif check == "log_head":
        cls = E.ForkError
        message = "the entry was written against a different group log (fork)"
    else:
        cls = E.TamperedEntryError
        if check == "signature":
            message = "bad signature: the entry was altered, swapped or truncated"
        elif check == "encoding":
            message = f"the entry is damaged: {message}"
    return cls(message, check=check, record=record)
