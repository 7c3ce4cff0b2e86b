"""Exposure: what a member could have read, judged from the verified log and the entries here."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .values import EpochExposure, Exposure

if TYPE_CHECKING:
    from ..engine.group import Group


def exposure(group: Group, ref: str) -> Exposure:
    """What `ref` could have read: the epochs whose key they held, and the entries sealed
    under them that this device holds. Offline; run `chatham sync` first for a full count.

    A member holds an epoch's key when one of their devices got its lockbox, and, where a
    rotation carries a back-link (history policy `full`), every earlier key the chain of
    back-links reaches from there.
    """
    m = group.member(ref)
    state = group.state
    mid = bytes.fromhex(m.id)
    # Every device the member ever had: one added again comes back on a new device.
    devices = {d.id for d in state.devices.values() if d.member == mid}
    via: dict[int, str] = {}
    for epoch, info in sorted(state.rotations.items()):
        if any(r.device in devices for r in info.rotation.refs):
            via[epoch] = "lockbox"
    for epoch in sorted(via, reverse=True):
        e = epoch
        while e >= 2 and (e - 1) not in via:
            later = state.rotations.get(e)
            if later is None or later.rotation.backlink is None or (e - 1) not in state.rotations:
                break
            via[e - 1] = "back-link"
            e -= 1
    live: dict[int, int] = dict.fromkeys(via, 0)
    gone: dict[int, int] = dict.fromkeys(via, 0)
    for row in group._store.iter_entries(group.id_bytes):
        if row.epoch in via:
            if row.ct is None:
                gone[row.epoch] += 1
            else:
                live[row.epoch] += 1
    epochs = tuple(EpochExposure(e, via[e], live[e], gone[e]) for e in sorted(via))
    return Exposure(
        member=m.id,
        name=m.name,
        status=m.status,
        fingerprint=m.fingerprint,
        joined_seq=m.joined_seq,
        departed_seq=state.members[mid].departed_seq,
        epochs=epochs,
        entries=sum(live.values()),
        retracted=sum(gone.values()),
    )
