"""Who held which role when, and the notes policy over time: the journal's judge of authority.

Every journal permission is judged with the author's role at the log head their entry
claims (docs/journal.md, "Merge rule"), so a later role change does not rewrite history.
`RoleHistory` answers "what was this member's role after log op N"; `role_history(group)`
builds it by replaying the verified group log.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Protocol, TypeAlias

from chatham import crypto
from chatham.crypto import Add, Genesis, Leave, Remove, SetPolicy, SetRole

if TYPE_CHECKING:
    from ..engine.group import Group

Role: TypeAlias = Literal["leader", "member"]


NotesPolicy: TypeAlias = Literal["all", "leaders"]


class EntryMetaLike(Protocol):
    """The verified header facts of an entry (the client core's type can satisfy this)."""

    @property
    def entry_id(self) -> bytes: ...
    @property
    def author(self) -> bytes: ...  # member id
    @property
    def device(self) -> bytes: ...
    @property
    def seq(self) -> int: ...  # author device's chain position
    @property
    def log_seq(self) -> int: ...  # group log head the author had seen
    @property
    def epoch(self) -> int: ...


@dataclass(frozen=True, slots=True)
class EntryMeta:
    entry_id: bytes
    author: bytes
    device: bytes
    seq: int
    log_seq: int
    epoch: int = 0

    @classmethod
    def from_hex(
        cls, entry_id: str, author: str, device: str, seq: int, log_seq: int, epoch: int = 0
    ) -> EntryMeta:
        """From the hex ids the client library hands out."""
        return cls(
            bytes.fromhex(entry_id),
            bytes.fromhex(author),
            bytes.fromhex(device),
            seq,
            log_seq,
            epoch,
        )


class RoleHistoryView(Protocol):
    """What the view needs to know about the roster; judged at an entry's log head."""

    def role_at(self, member: bytes, log_seq: int) -> Role | None:
        """The member's role after log op `log_seq`, or None if not a member then."""
        ...

    def notes_policy_at(self, log_seq: int) -> NotesPolicy: ...

    def name(self, member: bytes) -> str | None:
        """The attested display name, if known."""
        ...

    def members(self) -> list[bytes]:
        """Current members, for the accountability round."""
        ...


class RoleHistory:
    """A `RoleHistoryView` built by replaying the group log (one call per relevant op).

    genesis → `join(founder, role="leader", seq=0)` and `set_notes_policy`;
    add → `join` (role from the invite); remove / leave → `depart`;
    set role → `set_role`; policy → `set_notes_policy`.
    """

    def __init__(self, notes: NotesPolicy = "all") -> None:
        self._roles: dict[bytes, list[tuple[int, Role | None]]] = {}
        self._names: dict[bytes, str] = {}
        self._notes: list[tuple[int, NotesPolicy]] = [(-1, notes)]

    @classmethod
    def of(
        cls,
        leaders: dict[bytes, str],
        members: dict[bytes, str] | None = None,
        *,
        notes: NotesPolicy = "all",
    ) -> RoleHistory:
        """A roster whose roles never changed (tests, single snapshots)."""
        r = cls(notes)
        for m, n in leaders.items():
            r.join(m, name=n, role="leader", seq=0)
        for m, n in (members or {}).items():
            r.join(m, name=n, role="member", seq=0)
        return r

    def _set(self, member: bytes, role: Role | None, seq: int) -> None:
        line = self._roles.setdefault(member, [])
        if line and seq < line[-1][0]:
            raise ValueError("roster changes must be replayed in log order")
        line.append((seq, role))

    def join(
        self, member: bytes, *, name: str | None = None, role: Role = "member", seq: int
    ) -> None:
        self._set(member, role, seq)
        if name is not None:
            self._names[member] = name

    def set_role(self, member: bytes, role: Role, *, seq: int) -> None:
        self._set(member, role, seq)

    def depart(self, member: bytes, *, seq: int) -> None:
        self._set(member, None, seq)

    def rename(self, member: bytes, name: str) -> None:
        self._names[member] = name

    def set_notes_policy(self, notes: NotesPolicy, *, seq: int) -> None:
        if seq < self._notes[-1][0]:
            raise ValueError("roster changes must be replayed in log order")
        self._notes.append((seq, notes))

    def role_at(self, member: bytes, log_seq: int) -> Role | None:
        line = self._roles.get(member)
        if not line:
            return None
        i = bisect.bisect_right(line, log_seq, key=lambda x: x[0])
        return line[i - 1][1] if i else None

    def notes_policy_at(self, log_seq: int) -> NotesPolicy:
        i = bisect.bisect_right(self._notes, log_seq, key=lambda x: x[0])
        return self._notes[max(i, 1) - 1][1]

    def name(self, member: bytes) -> str | None:
        return self._names.get(member)

    def members(self) -> list[bytes]:
        return [m for m, line in self._roles.items() if line[-1][1] is not None]


def role_history(group: Group) -> RoleHistory:
    """The roster with every role change at its log seq, replayed from the verified log."""
    state = group.state
    roster = RoleHistory()
    for a in group.log():
        body = a.op.body
        if isinstance(body, Genesis):
            roster = RoleHistory(body.policy.notes)
            roster.join(crypto.member_id(body.founder.cert.member_key), role="leader", seq=a.seq)
        elif isinstance(body, Add):
            for nm in body.members:
                invite = state.invites.get(nm.invite_id)
                role = invite.role if invite is not None else "member"
                roster.join(crypto.member_id(nm.card.cert.member_key), role=role, seq=a.seq)
        elif isinstance(body, Remove):
            roster.depart(body.member, seq=a.seq)
        elif isinstance(body, Leave):
            roster.depart(a.signer_member, seq=a.seq)
        elif isinstance(body, SetRole):
            roster.set_role(body.member, body.role, seq=a.seq)
        elif isinstance(body, SetPolicy):
            roster.set_notes_policy(body.policy.notes, seq=a.seq)
    for member, name in group.names().items():
        roster.rename(bytes.fromhex(member), name)
    return roster
