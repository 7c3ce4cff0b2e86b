"""Membership workflows: each leader and member action on the roster, with its checks.

`Group`'s membership methods (invite, join_requests, approve, roster,
verify_member, remove, leave, set_role, rotate, checkpoint, set_policy) are this
module's functions, so every such action has one path. Each op is built on the
verified state and appended through `engine.ops` (checked locally, sent with
compare-and-swap, retried after a conflict); around it this module adds:

- members and join requests found by id, unique id prefix or unique name;
- a clear refusal, before anything is signed, for every request the group's
  rules forbid (a non-leader acting as one, the last leader leaving, a member
  removed twice, a request approved twice, a name already taken);
- the name a leader notes when inviting, used when approving;
- local fingerprint verification ("I compared their words aloud").

Local records (noted names, verifications) live in the store's `meta` table,
sealed under the store key and bound to the group and the member or invite
they describe, so they are unreadable without the passphrase and cannot be
moved from one member to another. docs/membership.md is the leader's guide to
exactly this behaviour.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from chatham import crypto

from ... import errors as E
from ..engine.ops import OpContext, append_op, rotate_if_pending
from .values import (
    Approval,
    History,
    InviteInfo,
    InviteStatus,
    JoinRequest,
    Member,
    Notes,
    PendingRequest,
    Removal,
    Role,
    RosterEntry,
)

if TYPE_CHECKING:
    from ..engine.group import Group

DEFAULT_INVITE_SECONDS = 7 * 86400
SEAL_VERIFIED = b"member-verified"
SEAL_INVITE_NAME = b"invite-name"


# --- values -------------------------------------------------------------------------------------


# --- helpers ------------------------------------------------------------------------------------


def _me(group: Group) -> bytes:
    return bytes.fromhex(group._account.member_id)


def _label(m: Member) -> str:
    return m.name if m.name is not None else f"member {m.id[:12]}"


def _require_member(group: Group) -> None:
    if group.status != "member":
        raise E.NotAMember()


def _require_leader(group: Group, action: str) -> None:
    _require_member(group)
    me = group.state.members[_me(group)]
    if me.role != "leader":
        raise E.NotAllowed(
            f"only a leader can {action}",
            hint="ask one of the group's leaders (`chatham members` shows who they are)",
        )


def _last_leader(group: Group, member: bytes) -> bool:
    leaders = group.state.leaders()
    return [m.id for m in leaders] == [member]


def _last_leader_error() -> E.NotAllowed:
    return E.NotAllowed(
        "the last leader cannot leave, be removed or step down without a successor",
        hint="promote a successor first with `chatham members promote MEMBER`",
    )


def _fresh(group: Group) -> crypto.AppliedOp | None:
    """Catch up with the server before judging a request against the group's rules.

    A rotation left pending by a leave is performed first (any member may), so no op
    or meeting code of ours builds on a key that a departed member holds. Returns that
    rotation, if one was made.
    """
    group.sync(send=False)
    return rotate_if_pending(group)


def _day(ts: int) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(ts))


def _meta_key(kind: str, group: Group, item: bytes) -> str:
    return f"membership/{kind}/{group.id}/{item.hex()}"


def _check_name(name: str) -> str:
    try:
        return crypto.check_name(name)
    except ValueError as e:
        raise E.UsageError(str(e), hint="choose the name the group knows them by") from None


def _check_name_free(group: Group, name: str, member: str | None = None) -> None:
    """No two active members' names may look alike (`crypto.name_skeleton`)."""
    snap = group._load()
    try:
        names = snap.keyring.names(snap.state)
    except crypto.CouldNotOpen:
        raise E.CouldNotOpen() from None
    wanted = crypto.name_skeleton(name)
    for m in snap.state.active_members():
        taken = names.get(m.id)
        if m.id.hex() != member and taken is not None and crypto.name_skeleton(taken) == wanted:
            raise E.UsageError(
                f"another member is already called {taken!r}",
                hint="choose a name that tells them apart, e.g. with an initial",
            )


def member(group: Group, ref: str) -> Member:
    """A member by id, unique id prefix, or unique name (`Group.member`, with a clear
    message for an empty reference)."""
    if not ref.strip():
        raise E.UsageError("no member given", hint="name a member by name, id or id prefix")
    return group.member(ref)


# --- invites and join requests ------------------------------------------------------------------


def invite(
    group: Group,
    *,
    role: Role = "member",
    expires_in: int = DEFAULT_INVITE_SECONDS,
    name: str | None = None,
) -> crypto.InviteSecret:
    """Publish a signed invite (leaders); hand the returned secret's `.code` over out of band.

    `name`, if given, is noted (sealed) in this leader's store and used when approving
    the request that answers the invite; it never leaves this device until the add.
    """
    if role not in ("member", "leader"):
        raise E.UsageError(f"unknown role {role!r}", hint="use member or leader")
    if expires_in <= 0:
        raise E.UsageError("an invite must stay valid for some time", hint="e.g. --expires 7d")
    if name is not None:
        name = _check_name(name)
    _fresh(group)
    _require_leader(group, "invite members")
    if name is not None:
        _check_name_free(group, name)
    secret = _append_invite(group, role=role, expires_in=expires_in)
    if name is not None:
        store = group._store
        store.set_meta(
            _meta_key("invite-name", group, secret.invite_id),
            store.vault.seal(SEAL_INVITE_NAME, group.id_bytes + secret.invite_id, name.encode()),
        )
    return secret


def _noted_name(group: Group, invite_id: bytes) -> str | None:
    store = group._store
    blob = store.get_meta(_meta_key("invite-name", group, invite_id))
    if blob is None:
        return None
    return store.vault.open(SEAL_INVITE_NAME, group.id_bytes + invite_id, blob).decode()


def pending_requests(group: Group, refused: list[str] | None = None) -> list[PendingRequest]:
    """Join requests waiting for approval (leaders), and those whose invite expired while
    they waited (`status` expired); refused ones are described in `refused`."""
    _fresh(group)
    _require_leader(group, "see join requests")
    state = group.state
    now = group._account.now()
    out = []
    for r in _checked_requests(group, refused=refused):
        invite_id = bytes.fromhex(r.id)
        inv = state.invites[invite_id]
        out.append(
            PendingRequest(
                id=r.id,
                member=r.member,
                fingerprint=r.fingerprint,
                role=r.role,
                name=_noted_name(group, invite_id),
                invited_by=inv.issuer.hex(),
                expires=inv.expires,
                mac_ok=r.mac_ok,
                request=r,
                status="expired" if now > inv.expires else "waiting",
            )
        )
    return out


def _invite_status(group: Group, inv: crypto.InviteState) -> InviteStatus:
    if inv.used_seq is not None:
        return "used"
    if inv.revoked:
        return "revoked"
    return "expired" if group._account.now() > inv.expires else "open"


def invites(group: Group, *, everything: bool = False, sync: bool = True) -> list[InviteInfo]:
    """The group's open invites (with `everything`, also used, revoked and expired ones),
    newest first, from the verified log (leaders); `sync` catches up with the server first."""
    if sync:
        _fresh(group)
    _require_leader(group, "see invites")
    state = group.state
    names = group.names()
    joined = {m.joined_seq: m.id for m in group.members()}
    out = []
    for inv in sorted(state.invites.values(), key=lambda i: -i.seq):
        status = _invite_status(group, inv)
        if status != "open" and not everything:
            continue
        issuer = inv.issuer.hex()
        out.append(
            InviteInfo(
                id=inv.id.hex(),
                role=inv.role,
                name=_noted_name(group, inv.id),
                invited_by=issuer,
                invited_by_name=names.get(issuer),
                expires=inv.expires,
                status=status,
                member=None if inv.used_seq is None else joined.get(inv.used_seq),
            )
        )
    return out


def revoke_invite(group: Group, ref: str) -> InviteInfo:
    """Revoke an unused invite (leaders): its code no longer works, and a request that
    answers it can no longer be approved."""
    _fresh(group)
    _require_leader(group, "revoke invites")
    key = "".join(ref.split()).lower()
    if len(key) < 4 or any(c not in "0123456789abcdef" for c in key):
        raise E.UsageError(
            f"not an invite id: {ref!r}", hint="`chatham invite list` shows the open ones"
        )
    found = [i for i in group.state.invites.values() if i.id.hex().startswith(key)]
    if not found:
        raise E.NotFound(
            f"no invite matches {ref!r}", hint="`chatham invite list --all` shows every invite"
        )
    if len(found) > 1:
        raise E.Ambiguous(f"{ref!r} matches {len(found)} invites", hint="give more of the id")
    inv = found[0]
    status = _invite_status(group, inv)
    if status in ("used", "revoked"):
        raise E.UsageError(
            f"invite {inv.id.hex()[:12]} is {status} already", hint="nothing was changed"
        )
    invite_id = inv.id
    append_op(
        group,
        lambda c: crypto.build_revoke_invite(c.state, c.device, invite_id, time=c.time),
    )
    revoked = next(i for i in invites(group, everything=True) if i.id == invite_id.hex())
    group._store.set_meta(_meta_key("invite-name", group, invite_id), None)  # no longer needed
    return revoked


def _find_request(group: Group, ref: str, pending: list[PendingRequest]) -> PendingRequest:
    key = "".join(ref.split()).lower()
    if not key or any(c not in "0123456789abcdef" for c in key):
        raise E.UsageError(
            f"not a request id: {ref!r}", hint="`chatham requests` lists the pending ones"
        )
    found = [p for p in pending if p.id.startswith(key)]
    if len(found) == 1:
        if found[0].status == "expired":
            raise E.UsageError(
                f"the invite behind join request {key[:12]} expired on "
                f"{_day(found[0].expires)}: it can no longer be approved",
                hint="issue a new invite with `chatham invite`, and ask them to join again",
            )
        return found[0]
    if len(found) > 1:
        raise E.Ambiguous(f"{ref!r} matches {len(found)} join requests", hint="give more of the id")
    # Not pending: say why, from the verified log.
    state = group.state
    invites = [i for i in state.invites.values() if i.id.hex().startswith(key)]
    if len(invites) == 1:
        inv = invites[0]
        if inv.used_seq is not None:
            who = next(
                (
                    _label(m)
                    for m in group.members()
                    if m.joined_seq == inv.used_seq and m.id != group._account.member_id
                ),
                "the invitee",
            )
            raise E.UsageError(
                f"join request {key[:12]} was already approved: {who} is in the group",
                hint="nothing was changed; `chatham members` shows the roster",
            )
        if inv.revoked:
            raise E.UsageError(
                f"the invite behind join request {key[:12]} was revoked or died with the "
                "leader who issued it",
                hint="issue a new invite with `chatham invite`",
            )
        if inv.expires < group._account.now():
            raise E.UsageError(
                f"the invite behind join request {key[:12]} has expired",
                hint="issue a new invite with `chatham invite`",
            )
    raise E.NotFound(
        f"no pending join request matches {ref!r}",
        hint="`chatham requests` lists the pending ones; the invitee runs `chatham join` first",
    )


Ask = Callable[[str], "str | None"]
"""ask(question) → the answer typed at a terminal, or None (no terminal)."""


def _never(question: str) -> str | None:
    return None


def _answer(given: str | None, ask: Ask | None, question: str, missing: E.UsageError) -> str:
    """`given`, or else what `ask` gets for `question`; no answer at all raises `missing`."""
    answer = given if given is not None else (ask or _never)(question)
    if not answer:
        raise missing
    return answer


def approve(
    group: Group,
    ref: str,
    *,
    fingerprint: str | None = None,
    name: str | None = None,
    ask: Ask | None = None,
) -> Approval:
    """Add the member behind join request `ref` (leaders), after the fingerprint check.

    `fingerprint` is what the invitee read aloud; a mismatch refuses and changes nothing.
    `name` (or the name noted at `invite`) is the name the add op attests. What is not
    given is asked for with `ask`, once the request is known to be pending.
    """
    pending = pending_requests(group)
    req = _find_request(group, ref, pending)
    fingerprint = _answer(
        fingerprint,
        ask,
        "type the eight words the invitee reads aloud: ",
        E.UsageError(
            "approving needs the fingerprint the invitee reads aloud",
            hint='pass --fingerprint "the eight words" (on a terminal, approve asks for them)',
        ),
    )
    if not crypto.fingerprints_match(req.fingerprint, fingerprint):
        raise E.UsageError(
            "the fingerprint does not match the join request: nothing was changed",
            hint="ask the invitee to read `chatham whoami` aloud again; a mismatch can mean "
            "the server or someone with the code swapped the request",
        )
    chosen = _answer(
        name if name is not None else req.name,
        ask,
        "the name the group will know them by: ",
        E.UsageError(
            "approving needs the name the group will know the new member by",
            hint="pass --name NAME (or give it when inviting: `chatham invite --name NAME`)",
        ),
    )
    chosen = _check_name(chosen)
    _check_name_free(group, chosen, req.member)
    invite_id = bytes.fromhex(req.id)
    try:
        applied = _append_add(group, req.request, name=chosen, fingerprint=fingerprint)
    except E.NotAllowed:
        inv = group.state.invites.get(invite_id)
        if inv is not None and inv.used_seq is not None:
            # Another leader approved it first (our retry found the invite used).
            _find_request(group, req.id, [])
        raise
    mid = bytes.fromhex(req.member)
    _record_verified(group, mid)
    group._store.set_meta(_meta_key("invite-name", group, invite_id), None)
    return Approval(req.member, chosen, req.fingerprint, req.role, group.epoch, applied.seq)


# --- the roster and local verification ----------------------------------------------------------


def _verified(group: Group, member_id: bytes) -> bool:
    store = group._store
    blob = store.get_meta(_meta_key("verified", group, member_id))
    if blob is None:
        return False
    store.vault.open(SEAL_VERIFIED, group.id_bytes + member_id, blob)  # StoreTampered if edited
    return True


def _record_verified(group: Group, member_id: bytes) -> None:
    store = group._store
    when = group._account.now().to_bytes(8, "big")
    store.set_meta(
        _meta_key("verified", group, member_id),
        store.vault.seal(SEAL_VERIFIED, group.id_bytes + member_id, when),
    )


def roster(group: Group) -> list[RosterEntry]:
    """Every member the verified log knows (active first), offline."""
    state = group.state
    out = []
    for m in group.members():
        mid = bytes.fromhex(m.id)
        out.append(
            RosterEntry(
                id=m.id,
                name=m.name,
                role=m.role,
                status=m.status,
                fingerprint=m.fingerprint,
                joined_epoch=m.joined_epoch,
                joined_seq=m.joined_seq,
                departed_seq=state.members[mid].departed_seq,
                verified=m.is_me or _verified(group, mid),
                is_me=m.is_me,
                devices=len(state.current_devices(mid)) if m.status == "active" else 0,
            )
        )
    return out


def verify_member(
    group: Group, ref: str, fingerprint: str | None = None, *, ask: Ask | None = None
) -> RosterEntry:
    """Record that `ref`'s fingerprint was compared aloud; a mismatch records nothing."""
    m = member(group, ref)
    if m.is_me:
        raise E.UsageError(
            "that is you", hint="verify other members; they verify you with your words"
        )
    fingerprint = _answer(
        fingerprint,
        ask,
        f"type the eight words {_label(m)} reads aloud: ",
        E.UsageError(
            "verifying needs the fingerprint the member reads aloud",
            hint='pass --fingerprint "the eight words" (on a terminal, you are asked for them)',
        ),
    )
    if not crypto.fingerprints_match(m.fingerprint, fingerprint):
        raise E.UsageError(
            f"the fingerprint does not match {_label(m)}'s: nothing was recorded",
            hint="ask them to read `chatham whoami` aloud again; a mismatch can mean a "
            "substituted key, so tell a leader",
        )
    _record_verified(group, bytes.fromhex(m.id))
    return next(r for r in roster(group) if r.id == m.id)


# --- remove, leave, roles -----------------------------------------------------------------------


def _active_target(group: Group, ref: str) -> Member:
    m = member(group, ref)
    if m.status != "active":
        raise E.UsageError(
            f"{_label(m)} is no longer a member ({m.status})",
            hint="nothing was changed; `chatham members` shows the roster",
        )
    return m


def removable(group: Group, ref: str) -> Member:
    """The active member `ref`, after every check a removal must pass (syncs first)."""
    _fresh(group)
    m = member(group, ref)
    if m.is_me:
        if m.role == "leader" and _last_leader(group, _me(group)):
            raise _last_leader_error()
        raise E.UsageError(
            "you cannot remove yourself", hint="leave the group with `chatham leave`"
        )
    _require_leader(group, "remove members")
    return _active_target(group, ref)


def remove(group: Group, ref: str) -> Removal:
    """Remove a member and rotate the key in one signed op (leaders)."""
    m = removable(group, ref)
    try:
        applied = _append_remove(group, m.id)
    except E.NotAllowed:
        # Another leader acted first and our retry no longer applies: say what changed.
        _active_target(group, m.id)
        raise
    return Removal(m.id, m.name, m.fingerprint, group.epoch, applied.seq)


def remove_device(group: Group, ref: str) -> crypto.AppliedOp:
    """Remove one device from the group and rotate past it (another device of its member,
    or a leader), pinning its final head."""
    from ..devices import remove_from

    _fresh(group)
    _require_member(group)
    state = group.state
    key = ref.strip().lower()
    hits = [
        d.id
        for d in state.active_devices()
        if d.id.hex() == key or (len(key) >= 8 and d.id.hex().startswith(key))
    ]
    if len(hits) != 1:
        raise E.NotFound(
            f"no active device matches {ref!r}" if not hits else f"{ref!r} matches several",
            hint="give the device id (`chatham device list` on the member's own device)",
        )
    target = state.devices[hits[0]]
    mine = target.member == _me(group)
    if not mine:
        _require_leader(group, "remove another member's device")
    if target.id == group._device().id:
        raise E.UsageError(
            "this is the device you are using",
            hint="remove it from another of your devices, or leave the group",
        )
    if state.current_devices(target.member) == [target.id]:
        raise E.UsageError(
            "that is the member's only device",
            hint="removing it is removing the member: `chatham remove MEMBER`",
        )
    return remove_from(group, target.id)


def leave(group: Group) -> crypto.AppliedOp:
    """Leave the group (self-signed); the next member to write or sync rotates the key."""
    _fresh(group)
    _require_member(group)
    me = _me(group)
    if group.state.members[me].role == "leader" and _last_leader(group, me):
        raise _last_leader_error()
    return _append_leave(group)


def set_role(group: Group, ref: str, role: Role) -> Member:
    """Promote to leader or demote to member (leaders); a leader may step down."""
    if role not in ("member", "leader"):
        raise E.UsageError(f"unknown role {role!r}", hint="use member or leader")
    _fresh(group)
    _require_leader(group, "change roles")
    m = _active_target(group, ref)
    if m.role == role:
        raise E.UsageError(
            f"{'you are' if m.is_me else _label(m) + ' is'} already a {role}",
            hint="nothing was changed",
        )
    if role == "member" and _last_leader(group, bytes.fromhex(m.id)):
        raise _last_leader_error()
    _append_set_role(group, m.id, role)
    return group.member(m.id)


# --- keys, checkpoints, policy ------------------------------------------------------------------


def rotate(group: Group) -> crypto.AppliedOp:
    """A fresh group key for every active device (leaders; anyone while one is pending)."""
    pending = _fresh(group)
    if pending is not None:
        return pending  # the rotation a departure left pending: that is the fresh key
    _require_leader(group, "rotate the group key")
    return _append_rotate(group)


def checkpoint(group: Group) -> crypto.AppliedOp:
    """Sign every author chain's head as this leader sees it (leaders)."""
    _fresh(group)
    _require_leader(group, "sign checkpoints")
    return append_checkpoint(group)


def set_policy(
    group: Group,
    *,
    history: History | None = None,
    notes: Notes | None = None,
    rotate_each_meeting: bool | None = None,
) -> crypto.Policy:
    """Change the group policy for keys created from now on (leaders); the new policy.

    Switching history from `from-join` to `full` also rotates the key after the
    policy op, so `full` starts with a fresh epoch right away. The protocol never
    links back to an epoch created under `from-join` (GroupState.backlink_required),
    so entries sealed under the `from-join` promise stay out of newcomers' reach
    either way.
    """
    if history not in (None, "full", "from-join"):
        raise E.UsageError(f"unknown history policy {history!r}", hint="use full or from-join")
    if notes not in (None, "all", "leaders"):
        raise E.UsageError(f"unknown notes policy {notes!r}", hint="use all or leaders")
    _fresh(group)
    _require_leader(group, "change the group policy")
    p = group.state.policy
    new = crypto.Policy(
        history if history is not None else p.history,
        notes if notes is not None else p.notes,
        rotate_each_meeting if rotate_each_meeting is not None else p.rotate_each_meeting,
    )
    if new == p:
        return p
    _append_policy(
        group, history=new.history, notes=new.notes, rotate_each_meeting=new.rotate_each_meeting
    )
    if p.history == "from-join" and new.history == "full":
        _append_rotate(group)
    return group.state.policy


# --- the ops themselves ---------------------------------------------------------------------


MAX_NAMES = 100
"""Names one attested-names blob may hold (the protocol's MAX_BATCH)."""


def _roster_names(c: OpContext, joining: int) -> list[tuple[bytes, str]]:
    """Names of current members this leader can read, re-attested in an add (protocol §6.4),
    so a newcomer under from-join sees names, not ids; leaders first, within the blob's cap."""
    try:
        names = c.keyring.names(c.state)
    except crypto.CouldNotOpen:
        return []
    active = sorted(c.state.active_members(), key=lambda m: (m.role != "leader", m.joined_seq))
    return [(m.id, names[m.id]) for m in active if m.id in names][: MAX_NAMES - joining]


def _append_rotate(group: Group) -> crypto.AppliedOp:
    """A fresh epoch key for every active device (a leader; anyone while one is pending)."""
    return append_op(
        group, lambda c: crypto.build_rotate(c.state, c.keyring, c.device, time=c.time)
    )


def append_checkpoint(group: Group) -> crypto.AppliedOp:
    """Sign every author chain's head as this leader sees it (the meeting code's basis)."""
    return append_op(
        group, lambda c: crypto.build_checkpoint(c.state, c.device, c.heads, time=c.time)
    )


def _append_set_role(group: Group, member: str, role: Role) -> crypto.AppliedOp:
    """Promote to leader or demote to member (leaders)."""
    target = bytes.fromhex(group.member(member).id)
    return append_op(
        group,
        lambda c: crypto.build_set_role(c.state, c.device, target, role, c.heads, time=c.time),
    )


def _append_policy(
    group: Group,
    *,
    history: History | None = None,
    notes: Notes | None = None,
    rotate_each_meeting: bool | None = None,
) -> crypto.AppliedOp:
    """Change the group policy for epochs created from now on (leaders)."""

    def build(c: OpContext) -> crypto.PendingOp:
        p = c.state.policy
        policy = crypto.Policy(
            history if history is not None else p.history,
            notes if notes is not None else p.notes,
            rotate_each_meeting if rotate_each_meeting is not None else p.rotate_each_meeting,
        )
        return crypto.build_policy(c.state, c.device, policy, c.heads, time=c.time)

    return append_op(group, build)


def _append_remove(group: Group, member: str) -> crypto.AppliedOp:
    """Remove a member and rotate the key in one signed op, recording their final heads."""
    target = bytes.fromhex(group.member(member).id)
    return append_op(
        group,
        lambda c: crypto.build_remove(c.state, c.keyring, c.device, target, c.heads, time=c.time),
    )


def _append_leave(group: Group) -> crypto.AppliedOp:
    """Leave the group (group-signed); the remaining members rotate before writing."""
    return append_op(
        group, lambda c: crypto.build_leave(c.state, c.device, c.member, c.heads, time=c.time)
    )


def _append_invite(
    group: Group, *, role: Role = "member", expires_in: int = 7 * 86400
) -> crypto.InviteSecret:
    """Publish a signed invite (leaders); the returned secret's `.code` goes out of band.

    The secret is also kept, sealed, in the local store, so this leader's client can
    check the MAC of the join request that answers it.
    """
    made: list[crypto.InviteSecret] = []

    def build(c: OpContext) -> crypto.PendingOp:
        op, secret = crypto.build_invite(
            c.state,
            c.device,
            role=role,
            expires=c.time + expires_in,
            server=group.server,
            time=c.time,
        )
        made.append(secret)
        return op

    append_op(group, build)
    secret = made[-1]
    group._store.add_invite(group._gid, secret.invite_id, secret.secret)
    return secret


def _checked_requests(group: Group, *, refused: list[str] | None = None) -> list[JoinRequest]:
    """Pending join requests, each checked against its invite (leaders).

    A request whose invite expired unused is checked as of the expiry (it was answerable
    then) and kept, so `pending_requests` can report it as expired rather than hide it.
    Requests that fail a check are left out; pass a list as `refused` to learn why.
    """
    group.sync(send=False)
    state = group._load().state
    now = group._account.now()
    out = []
    for item in group._api().join_requests(group._gid):
        try:
            invite = state.invites.get(crypto.decode_join_request(item.request).request.invite_id)
            at = now if invite is None else min(now, invite.expires)
            sjr = crypto.verify_join_request(state, item.request, now=at)
        except crypto.InviteError as e:
            if refused is not None:
                refused.append(str(e))
            continue  # not answerable: the server should not have listed it
        req = sjr.request
        inv = state.invites[req.invite_id]
        secret = group._store.invite_secret(group._gid, req.invite_id)
        mac_ok = (
            None
            if secret is None
            else crypto.InviteSecret(secret, group._gid, group.server).check_mac(req)
        )
        if mac_ok is False:
            if refused is not None:
                refused.append("join request does not carry the MAC of the invite's code")
            continue  # minted without the invite secret: refused
        out.append(
            JoinRequest(
                id=req.invite_id.hex(),
                member=crypto.member_id(req.card.cert.member_key).hex(),
                fingerprint=crypto.fingerprint(req.card.cert.member_key),
                role=inv.role,
                mac_ok=mac_ok,
                raw=item.request,
            )
        )
    return out


def _append_add(
    group: Group, request: JoinRequest, *, name: str, fingerprint: str
) -> crypto.AppliedOp:
    """Add the member behind `request` under the attested `name` (leaders).

    `fingerprint` is what the invitee read aloud; a mismatch refuses and changes nothing.
    """
    if not crypto.fingerprints_match(request.fingerprint, fingerprint):
        raise E.UsageError(
            "the fingerprint does not match the join request: nothing was changed",
            hint="ask the invitee to read `chatham whoami` aloud again; "
            "a mismatch can mean someone swapped the request",
        )
    try:
        name = crypto.check_name(name)
    except ValueError as e:
        raise E.UsageError(str(e), hint="choose the name the group knows them by") from None
    sjr = crypto.decode_join_request(request.raw)
    card, invite_id = sjr.request.card, sjr.request.invite_id
    return append_op(
        group,
        lambda c: crypto.build_add(
            c.state,
            c.keyring,
            c.device,
            [(card, invite_id, name)],
            roster=_roster_names(c, 1),
            group_name=_group_name(group, c),
            time=c.time,
        ),
    )


def _group_name(group: Group, c: OpContext) -> str | None:
    """The group's name to re-attest in an add: the one the log attests, else what this
    leader's home calls it (a group founded without one), if it is a name at all."""
    from ..engine.group import placeholder_name

    name = c.keyring.group_name(c.state) or group.name
    if name == placeholder_name(group.id_bytes):
        return None
    try:
        return crypto.check_group_name(name)
    except ValueError:
        return None
