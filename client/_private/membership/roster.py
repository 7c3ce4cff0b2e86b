"""The roster as members see it, and leader actions told in plain words."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping

from chatham import crypto
from chatham.crypto import (
    Add,
    AddDevice,
    Checkpoint,
    Genesis,
    Invite,
    Leave,
    Move,
    Remove,
    RemoveDevice,
    RevokeInvite,
    Rotate,
    SetPolicy,
    SetRole,
)

from .values import Announcement, Member


def told_apart(names: Mapping[bytes, str]) -> dict[bytes, str]:
    """Names as members see them: two members whose names look alike (case, accents, letters
    of other scripts that look Latin) each get their id's start, `Sam (1a2b3c4d)`, so no
    member can pass for another."""
    alike: dict[str, list[bytes]] = {}
    for member, name in names.items():
        alike.setdefault(crypto.name_skeleton(name), []).append(member)
    out = dict(names)
    for members_ in alike.values():
        if len(members_) > 1:
            for member in members_:
                out[member] = f"{names[member]} ({member.hex()[:8]})"
    return out


def display(member: bytes, names: Mapping[bytes, str], me: bytes) -> str:
    if member == me:
        return "you"
    name = names.get(member)
    return name if name is not None else f"member {member.hex()[:8]}"


def members(state: crypto.GroupState, names: Mapping[bytes, str], me: bytes) -> list[Member]:
    out = []
    for m in state.members.values():
        out.append(
            Member(
                id=m.id.hex(),
                name=names.get(m.id),
                role=m.role,
                status=m.status,
                fingerprint=crypto.fingerprint(m.key),
                joined_epoch=m.joined_epoch,
                joined_seq=m.joined_seq,
                # The devices in use now (for a departed member, those they left with): a
                # device removed on its own (remove-device) is no longer theirs to show.
                devices=tuple(
                    d.hex()
                    for d in m.devices
                    if state.devices[d].departed_seq in (None, m.departed_seq)
                ),
                is_me=m.id == me,
            )
        )
    out.sort(key=lambda m: (m.status != "active", m.joined_seq, m.id))
    return out


def _date(ts: int) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(ts))


def announce(
    applied: Iterable[crypto.AppliedOp],
    after: crypto.GroupState,
    names: Mapping[bytes, str],
    me: bytes,
) -> list[Announcement]:
    """One sentence per op, naming who did what to whom."""
    out = []
    for a in applied:
        body = a.op.body
        actor = a.signer_member
        who = display(actor, names, me)
        who_cap = who[:1].upper() + who[1:]
        subjects: tuple[bytes, ...] = ()
        if isinstance(body, Genesis):
            kind, text = "genesis", f"{who_cap} founded the group"
        elif isinstance(body, Rotate):
            kind = "rotate"
            text = f"{who_cap} gave the group a fresh key"
        elif isinstance(body, Invite):
            kind = "invite"
            text = (
                f"{who_cap} issued an invite for a new {body.role} "
                f"(valid until {_date(body.expires)})"
            )
        elif isinstance(body, RevokeInvite):
            kind, text = "revoke-invite", f"{who_cap} revoked an invite"
        elif isinstance(body, Add):
            kind = "add"
            subjects = tuple(crypto.member_id(nm.card.cert.member_key) for nm in body.members)
            added = ", ".join(
                f"{display(s, names, me)} ({crypto.fingerprint(nm.card.cert.member_key)})"
                for s, nm in zip(subjects, body.members, strict=True)
            )
            roles = {after.members[s].role for s in subjects if s in after.members}
            role = roles.pop() if len(roles) == 1 else "member"
            text = f"{who_cap} added {added} as {role}{'s' if len(subjects) > 1 else ''}"
        elif isinstance(body, Remove):
            kind = "remove"
            subjects = (body.member,)
            if body.member == me:
                text = (
                    f"{who_cap} removed you from the group. What you already have stays readable "
                    "here; nothing written from now on will reach you"
                )
            else:
                text = (
                    f"{who_cap} removed {display(body.member, names, me)}; the group has a "
                    "fresh key, so nothing written from now on reaches them"
                )
        elif isinstance(body, Leave):
            kind = "leave"
            subjects = (actor,)
            verb = "have" if actor == me else "has"
            text = (
                f"{who_cap} {verb} left the group; the group gets a fresh key before anything "
                "new is written"
            )
        elif isinstance(body, AddDevice):
            kind = "add-device"
            subjects = (actor,)
            text = f"{who_cap} added a device"
        elif isinstance(body, RemoveDevice):
            kind = "remove-device"
            owner = after.devices[body.device].member if body.device in after.devices else actor
            subjects = (owner,)
            if owner == me:
                whose = "one of your devices"
            elif owner == actor:
                whose = "a device"
            else:
                whose = f"a device of {display(owner, names, me)}"
            text = (
                f"{who_cap} removed {whose}; the group has a fresh key, so nothing written "
                "from now on reaches it"
            )
        elif isinstance(body, SetRole):
            kind = "set-role"
            subjects = (body.member,)
            target = display(body.member, names, me)
            if body.role == "leader":
                text = f"{who_cap} made {target} a leader"
            elif body.member == actor:
                text = f"{who_cap} stepped down as leader"
            else:
                text = f"{who_cap} made {target} a member (no longer a leader)"
        elif isinstance(body, SetPolicy):
            kind = "policy"
            p = body.policy
            history = (
                "everything shared before they joined"
                if p.history == "full"
                else "only what is written after they join"
            )
            notes = "any member" if p.notes == "all" else "leaders only"
            rot = "yes" if p.rotate_each_meeting else "no"
            text = (
                f"{who_cap} changed the group policy: new members read {history}; "
                f"meeting notes by {notes}; a fresh key at each meeting: {rot}"
            )
        elif isinstance(body, Move):
            kind = "move"
            text = f"{who_cap} moved the group to the server at {body.server}"
        else:
            assert isinstance(body, Checkpoint)
            kind = "checkpoint"
            text = f"{who_cap} confirmed everyone's entries so far (the meeting code)"
        detail = f"log op {a.seq}"
        rotation = getattr(body, "rotation", None)
        if isinstance(rotation, crypto.Rotation):
            detail += f"; epoch {rotation.epoch}"
        if isinstance(body, Checkpoint):
            detail += f"; checkpoint of {len(body.heads)} author chains"
        out.append(
            Announcement(a.seq, kind, text, actor.hex(), tuple(s.hex() for s in subjects), detail)
        )
    return out
