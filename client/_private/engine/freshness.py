"""How recently this member's view of the group log is known to have been current (§9.1).

A server can stop showing a member new log ops, for example the remove op that took the key
away from someone it colludes with; the member would keep writing under a key that person
holds. Nothing the server says can prove the log has not moved on, but every op is signed and
dated and op times never decrease, so the newest op a member verified bounds how stale their
view may be. Only ops signed by *other* devices count: a server can show a device a fork of
the log that grows with that device's own ops. (A member who is the group's only leader counts
their own too: nobody else can remove anyone.) Each leader's client adds a checkpoint whenever
it syncs and has signed no op for `CHECKPOINT_EVERY`, so an active group's log never goes quiet
for long; a member whose newest such op is older than `STALE_WARN` is warned, and past
`STALE_REFUSE` their client refuses to write unless they insist. A view can look at most
`OP_CLOCK_SKEW` fresher than it is. The bound does not hold against a removed *leader* who
colludes with the server: on a fork where they still lead, their own checkpoints look fresh to
the members shown it (the meeting code, compared aloud, tells the fork apart).
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, Literal

from chatham import crypto

from ... import errors as E

if TYPE_CHECKING:
    from .group import Group

DAY: Final = 86400
CHECKPOINT_EVERY: Final = DAY
"""A leader's sync adds a checkpoint when the newest op is older than this."""
STALE_WARN: Final = 7 * DAY
"""Past this, every sync and write says plainly how old the member's view is."""
STALE_REFUSE: Final = 30 * DAY
"""Past this, writing needs the member to insist (`insist=True`, `chatham … --anyway`)."""
OP_CLOCK_SKEW: Final = DAY
"""An op dated more than this after the verifier's clock is refused until that time comes
(servers allow an hour): op times may not lend a view a freshness it lacks."""

Level = Literal["current", "stale", "too_stale"]


@dataclass(frozen=True)
class Freshness:
    """How recently this member's copy of the group log is known to have been current."""

    confirmed: int
    """Unix time of the newest log op this member verified (signed, so a server cannot fake
    it); 0 before the first sync."""
    age: int
    """Seconds from `confirmed` to now (never negative)."""
    level: Level
    """`current`; `stale` (older than `STALE_WARN`: warned); `too_stale` (older than
    `STALE_REFUSE`: writing needs the member to insist)."""

    @property
    def days(self) -> int:
        return self.age // DAY

    def words(self) -> str:
        """`your copy of the group was last confirmed current 9 days ago`."""
        days = self.days
        when = "today" if days == 0 else "yesterday" if days == 1 else f"{days} days ago"
        return f"your copy of the group was last confirmed current {when}"


def confirmed(state: crypto.GroupState, log: Sequence[crypto.AppliedOp], device: bytes) -> int:
    """The time of the newest op that confirms this device's view: signed by another device,
    or by any device of this member while they are the group's only active leader. 0 if none
    (a brand-new group confirms itself: its genesis, by whoever founded it)."""
    me = state.member_of_device(device)
    sole_leader = me is not None and [m.id for m in state.leaders()] == [me.id]
    for applied in reversed(log):
        signer = applied.op.signer
        if signer != device or sole_leader:
            return applied.op.time
    return log[0].op.time if log else 0


def freshness(
    state: crypto.GroupState, log: Sequence[crypto.AppliedOp], device: bytes, now: float
) -> Freshness:
    if state.seq < 0:
        return Freshness(0, 0, "current")
    when = confirmed(state, log, device)
    age = max(0, int(now) - when)
    level: Level = "current"
    if age > STALE_REFUSE:
        level = "too_stale"
    elif age > STALE_WARN:
        level = "stale"
    return Freshness(when, age, level)


def require_fresh(group: Group, insist: bool) -> None:
    """Before a write: refresh a view past `STALE_REFUSE` and, if it stays that old, refuse
    (nothing is queued) unless the member insists."""
    if insist or group.freshness().level != "too_stale":
        return
    with contextlib.suppress(E.Unreachable):
        group.sync(send=False)
    fresh = group.freshness()
    if fresh.level == "too_stale":
        raise E.StaleView(
            f"not written: {fresh.words()}. A leader may have removed someone since, and a "
            "write now could be readable by them"
        )


def checkpoint_if_quiet(group: Group) -> crypto.AppliedOp | None:
    """A leader's sync: add a checkpoint when this device has signed no op for
    `CHECKPOINT_EVERY`, so members (and the other leaders) can tell a quiet log from a
    withheld one. Best effort: any refusal is left for the next sync (a pending rotation, a
    conflict, the server out of reach)."""
    from ..membership.workflows import append_checkpoint

    snap = group._load()
    state = snap.state
    if (
        snap.status != "member"
        or state.pending_rotation
        or not state.is_leader_device(group._device().id)
    ):
        return None
    device = group._device().id
    mine = next((a.op.time for a in reversed(snap.log) if a.op.signer == device), 0)
    if group._account.now() - mine <= CHECKPOINT_EVERY:
        return None
    try:
        return append_checkpoint(group)
    except (E.ServerError, E.NotAllowed, E.VerificationError, E.RotationPending):
        return None
