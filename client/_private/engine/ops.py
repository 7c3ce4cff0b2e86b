"""Appending to the group log: build an op on the verified state, check it, send it with the
head it extends, and on a conflict (another leader appended first) sync, rebuild and retry."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from chatham import crypto

from ... import errors as E
from .sync import commit_log

if TYPE_CHECKING:
    from .group import Group


@dataclass(frozen=True)
class OpContext:
    """What a builder needs to make the next op (passed to `Group.append_op`)."""

    state: crypto.GroupState
    keyring: crypto.Keyring = field(repr=False)
    device: crypto.DeviceKeys = field(repr=False)
    member: bytes
    heads: list[crypto.ChainHead]
    """This member's view of every author chain (entries the server acknowledged)."""
    time: int


OpBuilder = Callable[[OpContext], crypto.PendingOp]


RETRIES = 10
"""How often an op built on a moved log or moved chain heads is rebuilt and sent again: a
member posting while a leader removes them moves their chain head between the leader's read
and the leader's send, so one retry is not always enough."""


def append_op(
    group: Group, op: crypto.PendingOp | OpBuilder, *, retries: int = RETRIES
) -> crypto.AppliedOp:
    """Append a signed op (with its lockboxes) to the group log.

    Pass a builder (`OpContext -> PendingOp`) to have a conflict (another leader
    appended first) handled by syncing, rebuilding and retrying up to `retries`
    times; a ready `PendingOp` is sent once and a conflict raises `Conflict`.
    The op is checked locally first, so a non-leader gets `NotAllowed` without
    a round trip. Returns the applied op once it is verified and stored.
    """
    api = group._api()
    for attempt in range(retries + 1):
        group.sync(send=False)
        snap = group._load()
        if snap.status != "member":
            raise E.NotAMember()
        try:
            pending = op if isinstance(op, crypto.PendingOp) else op(context(group))
        except crypto.LogError as e:
            raise E.NotAllowed(str(e)) from None
        except ValueError as e:
            raise E.UsageError(str(e)) from None
        state = snap.state.copy()
        try:
            applied = state.apply(pending.op)
        except crypto.ForkError:
            raise E.Conflict("the op was built on an older log head", code="stale_head") from None
        except crypto.LogError as e:
            raise E.NotAllowed(_plain(e)) from None
        try:
            api.append(group._gid, snap.state.seq, snap.state.head, pending.op, pending.lockboxes)
        except E.Conflict as e:
            # Another leader appended first, or the chains moved on since the heads this op
            # pins were read: sync, rebuild on the new state, retry.
            if e.code in ("stale_head", "stale_heads") and callable(op) and attempt < retries:
                continue
            raise
        keyring = crypto.Keyring(dict(snap.keyring.keys))
        boxes: dict[int, bytes] = {}
        mine = pending.lockboxes.get(group._device().id)
        if pending.epoch is not None and mine is not None:
            keyring.accept_lockbox(state, group._device(), group._me(), pending.epoch, mine)
            boxes[pending.epoch] = mine
        commit_log(
            group, snap, state, [applied], keyring, boxes, group._status_of(state, snap.status)
        )
        if pending.epoch is not None and pending.lockboxes:
            group._store.keep_signed_lockboxes(group._gid, pending.epoch, pending.lockboxes)
        return applied
    raise AssertionError("unreachable")  # pragma: no cover


def rotate_if_pending(group: Group) -> crypto.AppliedOp | None:
    """Perform the rotation a leave left pending (any active member may); None if none is.

    Sync and send call it, so no client seals under a key a departed member holds.
    When another member rotates first, the retry finds nothing pending and stops.
    """
    if group._load().status != "member" or not group._load().state.pending_rotation:
        return None

    def build(c: OpContext) -> crypto.PendingOp:
        if not c.state.pending_rotation:
            raise crypto.LogError("another member performed the rotation", check="rotation")
        return crypto.build_rotate(c.state, c.keyring, c.device, time=c.time)

    try:
        return append_op(group, build)
    except E.NotAllowed:
        if group._load().state.pending_rotation:
            raise
        return None


def context(group: Group) -> OpContext:
    snap = group._load()
    return OpContext(
        snap.state,
        snap.keyring,
        group._device(),
        group._me(),
        snap.tracker.heads(),
        group._account.now(),
    )


def _plain(e: crypto.LogError) -> str:
    message = str(e)
    if e.seq is not None and message.startswith(f"log op {e.seq}: "):
        message = message[len(f"log op {e.seq}: ") :]
    return message
