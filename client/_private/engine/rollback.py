"""Rollbacks: what this device verified that the server no longer holds.

A server restored from an older backup (or one that lost part of its database) is behind
what members verified. The log shows it at once (sync.py asks for the newest verified op
again). Entries do not: a copy that lost entries but no log op serves a log that checks,
and when others post after the restore the entry cursor is back where it was. So every
active member's log page carries each device's chain head as the server holds it, read
in the same transaction as the entry cursor, and before this device takes in anything
new it compares them with the chains it verified: an honest server only ever grows, so
a chain the server holds shorter than verified here, another entry at a verified
position, or an entry cursor behind the pinned one, is the server going back.
"""

from __future__ import annotations

import hmac
from typing import TYPE_CHECKING

from ... import errors as E
from ..membership.roster import display

if TYPE_CHECKING:
    from .api import ChainHeadItem
    from .group import Group
    from .snapshot import Snapshot

RESTORED = "the server has gone back to an older copy of the group"


def server_behind(
    group: Group, snap: Snapshot, heads: list[ChainHeadItem] | None, cursor: int | None
) -> E.VerificationError | None:
    """The rollback (or fork) of entries the server's last log page shows, if one.

    `heads` and `cursor` are what the server said this sync; `snap` is what this device
    verified before it (nothing of this sync's entries is in it yet)."""
    if heads is None:
        return None  # not an active member's page: nothing to compare
    held = {h.device: (h.seq, h.link) for h in heads}
    behind: list[str] = []
    differ: list[str] = []
    names = None
    for device, chain in sorted(snap.tracker.links.items()):
        if not chain:
            continue
        mine = max(chain)
        seq, link = held.get(device, (0, b""))
        if seq >= mine and not (seq == mine and not hmac.compare_digest(link, chain[mine])):
            continue
        if names is None:
            names = group._names(snap)  # only to word the problem: opening names costs
        member = snap.state.member_of_device(device)
        who = display(member.id, names, group._me()) if member else device.hex()[:12]
        whose = "your" if device == group._device().id else f"{who}'s"
        if seq < mine:
            lost = f"entry {mine}" if seq + 1 == mine else f"entries {seq + 1} to {mine}"
            behind.append(f"{whose} {lost}")
        else:
            differ.append(f"{whose} entry {mine}")
    if differ:
        return E.ForkError(
            f"the server holds other entries than the ones verified here ({', '.join(differ)})",
            check="fork",
        )
    if behind:
        return E.RollbackError(
            f"{RESTORED}: it no longer has {'; '.join(behind)}, already verified here",
            check="rollback",
        )
    if cursor is not None and cursor < snap.pinned.cursor:
        return E.RollbackError(
            f"{RESTORED}: its entries end at number {cursor}, but this device already "
            f"verified up to number {snap.pinned.cursor}",
            check="rollback",
        )
    return None
