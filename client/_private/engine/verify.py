"""`verify`: replay the whole stored log and every stored chain from scratch, offline."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chatham import crypto

from ... import errors as E
from ..membership.roster import display
from .results import ChainView, VerifyReport
from .snapshot import Snapshot
from .sync import alarms, checkpoint_problems

if TYPE_CHECKING:
    from .group import Group


def verify(group: Group) -> VerifyReport:
    """Replay the whole stored log and every stored chain from scratch; offline.

    Re-checks every op, re-opens this device's stored lockboxes against their
    commitments and key confirmations, re-checks every entry's signature, header and
    chain position, compares the chains with the latest checkpoint and departures, and
    derives the meeting code. Raises StoreTampered if stored data fails; reports
    withheld or differing chains as problems.
    """
    snap = group._load()
    tag = f"group {group.id[:12]}"
    try:
        state = crypto.replay(group._store.ops(group._gid))
    except crypto.LogError as e:
        raise E.StoreTampered(f"{tag}: the stored log does not verify ({e})") from None
    keyring = crypto.Keyring()
    device = group._device()
    for epoch, box in sorted(group._store.lockboxes(group._gid).items()):
        try:
            keyring.accept_lockbox(state, device, group._me(), epoch, box)
        except (crypto.RotationError, crypto.CouldNotOpen):
            raise E.StoreTampered(f"{tag}: a stored lockbox for epoch {epoch} fails") from None
    for epoch, key in keyring.keys.items():
        if snap.keyring.keys.get(epoch) != key:
            raise E.StoreTampered(f"{tag}: the stored key for epoch {epoch} is wrong")
    # Keys held without a stored lockbox (reached through back-links) still must confirm.
    keyring = crypto.Keyring(dict(snap.keyring.keys))
    try:
        keyring.follow_backlinks(state)
    except crypto.CouldNotOpen:
        raise E.StoreTampered(f"{tag}: a stored epoch key fails its confirmation") from None
    tracker = crypto.ChainTracker()
    rows = sorted(group._store.iter_entries(group._gid), key=lambda r: (r.device, r.seq))
    entries = retracted = unreadable = 0
    headers = {
        row.entry_id: crypto.decode(row.header, crypto.EntryHeader, max_size=crypto.MAX_STUB_SIZE)
        for row in rows
    }
    for row in rows:
        header = headers[row.entry_id]
        if (row.entry_id, row.device, row.seq, row.epoch, row.log_seq) != (
            header.entry_id,
            header.device,
            header.seq,
            header.epoch,
            header.log_seq,
        ):
            raise E.StoreTampered(
                f"{tag}: stored entry {row.entry_id.hex()} does not match its signed header"
            )
        item: crypto.Entry | crypto.EntryStub
        if row.ct is None:
            item = crypto.EntryStub(header, row.ct_hash, row.sig)
            retracted += 1
        else:
            item = crypto.Entry(header, row.ct, row.sig)
            entries += 1
        try:
            link = crypto.check_entry_public(state, item)
            tracker.check(header, link)
            tracker.add(header, link)
            if row.retracted_by is not None:
                # As sync checked it: the retracting entry is held, names this entry, and
                # its author could withdraw it.
                by = headers.get(row.retracted_by)
                if by is None:
                    raise crypto.EntryError(
                        "the entry that retracted it is not stored", check="retracts"
                    )
                crypto.check_retraction(state, by, header)
        except crypto.EntryError as e:
            if e.check == "departed":
                # A row that verified when stored (its MAC says it is unchanged) and lies beyond
                # a final head a later departure recorded: the departure missed it, which the
                # checkpoint comparison below reports as withholding. Not a store edit.
                tracker.add(header, row.link)
                continue
            raise E.StoreTampered(f"{tag}: stored entry {row.entry_id.hex()} fails: {e}") from None
        if isinstance(item, crypto.Entry):
            try:
                crypto.open_entry(item, keyring.key(header.epoch))
            except crypto.CouldNotOpen:
                unreadable += 1
    check_snap = Snapshot(snap.version, snap.pinned, state, keyring, tracker, snap.status, snap.log)
    withheld, differ = checkpoint_problems(group, check_snap)
    kept = alarms(group)
    problems = differ + withheld + [a.text for a in kept if a.check != "checkpoint"]
    names = group._names(check_snap)
    chains = tuple(
        ChainView(
            h.device.hex(),
            display(state.devices[h.device].member, names, b""),
            h.seq,
            h.link.hex(),
        )
        for h in tracker.heads()
    )
    return VerifyReport(
        group=group.id,
        ok=not problems,
        log_ops=state.seq + 1,
        log_head=state.head.hex(),
        epoch=state.epoch,
        members=len(state.active_members()),
        entries=entries,
        retracted=retracted,
        unreadable=unreadable,
        chains=chains,
        checkpoint_seq=None if state.checkpoint is None else state.checkpoint.seq,
        meeting_code=keyring.meeting_code(state),
        problems=tuple(problems),
        alarms=kept,
    )
