"""Alarms: a check that failed, kept and shown until it is resolved, never stopping a sync.

A record that fails a check (an entry, a stub, a retraction) is quarantined: the store
keeps it as it came, with what failed, and every sync tries it again, so a record that
was only early (its chain predecessor, the entry that retracted it, a log op the server
has not shown yet) is taken in as soon as what it waits for arrives. Problems with the
group as a whole (a log that forks from or is shorter than the verified one, a withheld
lockbox, a checkpoint that lists what was not delivered) are alarms too, found again on
every sync. Detection is exactly as strict as it ever was: every check still fires; it
now stops only the record that failed it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import msgspec

from ... import errors as E


class AlarmRecord(msgspec.Struct, array_like=True, frozen=True):
    """An alarm as the store keeps it (MAC'd): what failed, and the record to try again."""

    kind: str
    """The `VerificationError` subclass that names what a member should believe happened."""
    check: str
    record: str | None
    message: str
    waiting: bool
    """True when the record may still verify once something else arrives."""
    since: int
    cursor: int = 0
    entry_id: bytes | None = None
    entry: bytes | None = None
    stub: bytes | None = None
    retracted_by: bytes | None = None


@dataclass(frozen=True)
class Alarm:
    """A problem this member's client found, in words, with what to do about it."""

    kind: str
    check: str
    record: str | None
    """The op or entry it concerns (`log op 7`, `entry 3f9a…`), if one."""
    message: str
    hint: str
    waiting: bool
    """It may resolve by itself: the record it waits for has not arrived yet."""
    since: int
    """When it was first seen (Unix seconds, this device's clock)."""

    @property
    def text(self) -> str:
        return self.message if self.record is None else f"{self.record}: {self.message}"

    def error(self) -> E.VerificationError:
        """The error this alarm stands for (its class names what a member should believe)."""
        cls = getattr(E, self.kind, E.VerificationError)
        if not (isinstance(cls, type) and issubclass(cls, E.VerificationError)):
            cls = E.VerificationError
        err = cls(self.message, check=self.check, record=self.record)  # type: ignore[arg-type]
        return err


def record_of(
    err: E.VerificationError,
    *,
    waiting: bool,
    since: int,
    cursor: int = 0,
    entry_id: bytes | None = None,
    entry: bytes | None = None,
    stub: bytes | None = None,
    retracted_by: bytes | None = None,
) -> AlarmRecord:
    base = err.message
    if err.record is not None and base.startswith(f"{err.record}: "):
        base = base[len(err.record) + 2 :]
    return AlarmRecord(
        type(err).__name__,
        err.check,
        err.record,
        base,
        waiting,
        since,
        cursor,
        entry_id,
        entry,
        stub,
        retracted_by,
    )


def alarm_of(r: AlarmRecord) -> Alarm:
    cls = getattr(E, r.kind, E.VerificationError)
    hint = cls.hint if isinstance(cls, type) and issubclass(cls, E.ChathamError) else ""
    if r.waiting:
        hint = (
            "it may resolve by itself once the server delivers what it waits for; "
            "if it stays, tell your group's leader and compare `chatham verify` with a member"
        )
    return Alarm(r.kind, r.check, r.record, r.message, hint, r.waiting, r.since)


def item_key(entry_id: bytes, data: bytes | None, retracted_by: bytes | None) -> str:
    """The alarm key of a record from the server: its id and a digest of what came."""
    h = hashlib.sha256(data or b"")
    h.update(retracted_by or b"")
    return f"entry:{entry_id.hex()}:{h.hexdigest()[:16]}"


STATE_PREFIX = "state:"
"""Keys of alarms about the group as a whole: found again (or not) on every sync."""
