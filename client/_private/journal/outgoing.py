"""Which queued writes the journal's rules no longer allow on the head they would be sealed on.

A write is judged when it is made, but sealed when it is sent: in between, a leader may
have made notes leaders-only or demoted its author. The server cannot read a note, so
it would accept one its author may no longer write, and every client would ignore it.
The outbox asks here first (`Group.set_write_rules`); the fold itself judges, so the
rules stay those of `permissions.py`, in one place.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from chatham import crypto

from .cache import opened_rows
from .fold import JournalView
from .permissions import full_powers, no_longer_allowed
from .roles import EntryMeta, role_history

if TYPE_CHECKING:
    from ..engine.group import Group


def disallowed(group: Group, writes: Sequence[tuple[bytes, bytes]]) -> dict[bytes, str]:
    """Of the queued writes (entry id, body; oldest first), those the rules would have every
    client ignore if they were sealed on the group's head now: entry id → why, in the
    member's words. A body that is not a journal post is not judged here."""
    state = group.state
    head = state.seq
    me = group._me()
    device = group._device().id
    roles = role_history(group)
    role, notes = roles.role_at(me, head), roles.notes_policy_at(head)
    if full_powers(role, notes=notes):
        return {}  # a leader loses nothing to a policy: no fold of the journal needed
    view = JournalView(roles)
    for r in opened_rows(group):
        at = crypto.authority_seq(state, r[2], r[3], r[4])
        view.add(EntryMeta(r[0], r[1], r[2], r[3], at, r[5]), r[7])
    for entry_id, body in writes:
        # Sealed on the head, each claims it: nothing pins this device's chain past it.
        view.add(EntryMeta(entry_id, me, device, 0, head, state.epoch), body)
    out: dict[bytes, str] = {}
    for entry_id, _ in writes:
        action = view.refused_action(entry_id)
        if action is not None:
            out[entry_id] = no_longer_allowed(action, role=role, notes=notes)
    return out
