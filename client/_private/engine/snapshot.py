"""`Snapshot`: the verified state of one group as loaded from (and kept in step with) the store."""

from __future__ import annotations

from dataclasses import dataclass

from chatham import crypto

from ..local.store import Pinned


@dataclass
class Snapshot:
    """The verified state of one group as loaded from (and kept in step with) the store."""

    version: int
    pinned: Pinned
    state: crypto.GroupState
    keyring: crypto.Keyring
    tracker: crypto.ChainTracker
    status: str
    log: list[crypto.AppliedOp]
