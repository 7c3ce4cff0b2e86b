"""The checks an entry post must pass, first against the cached roster, then under the lock.

A post is decided in the transaction that locks the group row and reads the log
head, so no rotation can slip between the check "this epoch is current" and the
insert. The signature is checked once beforehand against the roster this process
already holds, outside the writer (the writer is the serial part), and again under
the lock only if the head moved since.
"""

from __future__ import annotations

import contextlib
import dataclasses
from typing import Any

from chatham.crypto import (
    Entry,
    EntryError,
    EntryHeader,
    EntryStub,
    GroupState,
    check_entry_public,
    ct_hash,
    decode_entry,
    encode,
)

from ..errors import ErrorCode, ServiceError
from ..runtime import Runtime
from .access import require_active

ZERO32 = bytes(32)


def invalid_entry(e: EntryError) -> ServiceError:
    return ServiceError(ErrorCode.INVALID_ENTRY, str(e), check=e.check)


@dataclasses.dataclass(slots=True)
class Post:
    """An entry post, decoded and (if the cached roster allowed) checked on the event loop."""

    gid: bytes
    device: bytes
    """The device whose token posts it."""
    entry: Entry
    stub: EntryStub
    """The entry with its ciphertext by hash, for the checks."""
    values: dict[str, Any]
    """The entries row, but for `cursor` and `link`."""
    verified: GroupState | None
    """The cached state `link` was checked against; None if it was not checked."""
    link: bytes | None

    @property
    def entry_id(self) -> bytes:
        return self.entry.header.entry_id

    @property
    def seq(self) -> int:
        return self.entry.header.seq


def prepare(runtime: Runtime, gid: bytes, device: bytes, data: bytes) -> Post:
    """Decode a post and check its signature against the cached roster, outside the writer.

    The check stays on the event loop: handing it to another thread costs the loop
    about as much as the check itself (docs/performance.md).
    """
    try:
        entry = decode_entry(data)
    except EntryError as e:
        raise invalid_entry(e) from None
    hdr = entry.header
    if hdr.group != gid:
        raise ServiceError(ErrorCode.INVALID_ENTRY, "the entry names another group", check="group")
    # The entry as its stub (the ciphertext by hash): the checks hash the ciphertext once.
    stub = EntryStub(hdr, ct_hash(entry.ct), entry.sig)
    values = row_values(gid, stub, entry.ct)
    verified = runtime.states.get(gid)
    link: bytes | None = None
    if (
        verified is not None
        and hdr.device == device
        and verified.is_active_device(device)
        and not verified.pending_rotation
    ):
        # A failure here is not final: another process may have moved the log past our
        # cached state (the entry names a newer head). The check under the lock decides.
        with contextlib.suppress(EntryError):
            link = check_entry_public(verified, stub)
    else:
        verified = None
    return Post(gid, device, entry, stub, values, verified, link)


def check_post(
    post: Post,
    state: GroupState,
    links: dict[tuple[bytes, bytes, int], tuple[bytes, int]],
    used: int,
    quota: int,
) -> bytes:
    """Every check of a post under the lock, in order; the entry's link if it may be stored.

    `state` is the roster at the locked head, `links` the chain links stored (or accepted
    before this post) with the log head each claims, `used` the group's ciphertext bytes
    so far.
    """
    hdr = post.entry.header
    require_active(state, post.device)
    if hdr.device != post.device:
        raise ServiceError(ErrorCode.NOT_AUTHOR, "an entry is posted by its author's device")
    if state.pending_rotation:
        raise ServiceError(
            ErrorCode.ROTATION_PENDING,
            "a member left; rotate the epoch key before writing",
            seq=state.seq,
            head=state.head,
        )
    link = post.link
    if state is not post.verified or link is None:
        try:
            link = check_entry_public(state, post.stub)
        except EntryError as e:
            raise invalid_entry(e) from None
    if hdr.epoch != state.epoch:
        raise ServiceError(
            ErrorCode.STALE_EPOCH,
            f"the current epoch is {state.epoch}; seal under it and retry",
            seq=state.seq,
            head=state.head,
        )
    check_log_floor(state, hdr.device, hdr.log_seq)
    check_quota(used, len(post.entry.ct), quota)
    check_chain(hdr, links.get((post.gid, hdr.device, hdr.seq - 1)) if hdr.seq > 1 else None)
    return link


def check_quota(used: int, size: int, quota: int) -> None:
    """`size` more bytes of ciphertext fit in the group's quota (its entries' ciphertexts
    count, not their headers or signatures)."""
    if used + size > quota:
        raise ServiceError(ErrorCode.QUOTA_EXCEEDED, "the group's storage quota is full")


def check_chain(hdr: EntryHeader, before: tuple[bytes, int] | None) -> None:
    """The entry extends its author's chain as the server holds it: seq 1 links to nothing;
    any other links to `before` (the link and claimed log head of seq − 1, None if absent)
    and claims no older log head than it."""
    if hdr.seq == 1:
        if hdr.prev != ZERO32:
            raise ServiceError(
                ErrorCode.INVALID_ENTRY,
                "the first entry of a chain links to nothing",
                check="chain",
            )
        return
    if before is None:
        missing = f"entry {hdr.seq - 1} of this device's chain is not here; post it first"
        raise ServiceError(ErrorCode.CHAIN_GAP, missing)
    if before[0] != hdr.prev:
        raise ServiceError(
            ErrorCode.INVALID_ENTRY, "the entry does not link to its predecessor", check="chain"
        )
    if hdr.log_seq < before[1]:
        raise ServiceError(
            ErrorCode.INVALID_ENTRY,
            "the entry claims an older log head than its predecessor",
            check="clock",
        )


def row_values(
    gid: bytes, stub: EntryStub, ct: bytes | None, retracted_by: bytes | None = None
) -> dict[str, Any]:
    """An entries row but for `cursor` and `link`: an entry, or (ct None) a retracted one's
    stub with the entry that retracted it."""
    hdr = stub.header
    return {
        "group_id": gid,
        "entry_id": hdr.entry_id,
        "device_id": hdr.device,
        "device_seq": hdr.seq,
        "epoch": hdr.epoch,
        "log_seq": hdr.log_seq,
        "header": encode(hdr),
        "ct_hash": stub.ct_hash,
        "signature": stub.sig,
        "ciphertext": ct,
        "retracted_by": retracted_by,
    }


def check_log_floor(state: GroupState, device: bytes, log_seq: int) -> None:
    """Refuse (409 `stale_log_head`) an entry that claims a head older than `log_floor`."""
    floor = log_floor(state, device)
    if log_seq < floor:
        # What an author may do is judged at the head an entry claims: a head older than an
        # op that took a power from this device (or than the latest checkpoint, which must
        # cover every entry that claims a head before it) could lend a power no longer held.
        raise ServiceError(
            ErrorCode.STALE_LOG_HEAD,
            f"the entry claims log op {log_seq}, older than op {floor}; seal it on the "
            "newest log head and retry",
            seq=state.seq,
            head=state.head,
        )


def log_floor(state: GroupState, device: bytes) -> int:
    """The oldest log head a new entry of `device` may claim: the latest checkpoint, and every
    op that pinned the device's chain (a demotion, a stricter policy)."""
    floor = -1 if state.checkpoint is None else state.checkpoint.seq
    dev = state.devices.get(device)
    if dev is not None:
        for pin_seq, _ in dev.pins:
            floor = max(floor, pin_seq)
    return floor
