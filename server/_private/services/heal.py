"""Healing: a member's client gives a server back what it lost of the group (protocol §14.2).

A server restored from an older backup, or one that lost its database, holds a prefix
of the group as members verified it. A member's client sends what its verified copy
holds beyond that prefix: the signed ops, the lockboxes it holds (its own), and the
entries (and retraction stubs) the server lacks. Nothing here is taken on trust:

- the request names the head it extends (`expected_seq`, `expected_head`; -1 when the
  server holds no such group); another head is `stale_head`;
- every op is replayed through the protocol's public verifier on the server's state, as
  an append is; a group the server does not hold is created from its genesis under the
  same registration rules as `POST /v1/groups`, and only by a device that is an active
  member at the healed head;
- a lockbox is stored only if the rotation that committed to it lists its device and it
  hashes to the commitment;
- every entry passes the public checks every member's client makes (signature, author
  active and epoch current at the log head it claims, the heads pinned for its chain, a
  departed device's final head), extends its author's chain as the server holds it, and
  does not claim a log head before the latest checkpoint while lying beyond the head
  that checkpoint lists; a stub must name a held retracting entry that may retract it.

What cannot be healed is refused, never overwritten: an op the server holds at a
position differs (`stale_head`, the client then sees a fork); an entry the server holds
at a chain position differs, or an entry the server holds lies beyond a head one of the
healed ops pins (`not_a_prefix`). Each entry is answered alone, as in a bulk post.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from chatham.crypto import (
    Checkpoint,
    EntryError,
    EntryHeader,
    EntryStub,
    GroupState,
    Invite,
    LogError,
    check_entry_public,
    check_retraction,
    ct_hash,
    decode,
    decode_entry,
    decode_stub,
    lockbox_hash,
    pinned_heads,
)
from sqlalchemy.exc import IntegrityError

from ..errors import ErrorCode, ServiceError, not_a_member
from ..runtime import Runtime
from ..storage import entries as entry_store
from ..storage import groups as store
from ..storage import joins
from ..storage.entries import ChainRow
from ..wire import EntryOutcome, Heal, Healed, HealEntry
from .access import require_active, warm
from .entry_checks import check_chain, check_quota, invalid_entry, row_values
from .groups import (
    OP_CLOCK_SKEW,
    follow_roster,
    invalid_op,
    lost_race,
    require_registration,
    spend_registration,
    stale_head,
)
from .upkeep import schedule_scrub

INSERT_ROWS = 200
"""Rows per INSERT: well under both engines' limit on bound parameters."""


def _not_a_prefix(detail: str) -> ServiceError:
    return ServiceError(ErrorCode.NOT_A_PREFIX, detail)


@dataclass
class _Checked:
    header: EntryHeader
    link: bytes
    values: dict[str, object]
    existing: ChainRow | None
    size: int = 0
    """Bytes of ciphertext it adds (none for a stub, or an entry held already)."""


async def heal(runtime: Runtime, gid: bytes, device: bytes, data: Heal) -> Healed:
    """Check and store what a member's verified copy holds beyond this server's state."""
    settings = runtime.settings
    now = settings.now()
    await warm(runtime, gid)
    if data.expected_seq == -1:
        require_registration(settings, data.registration_token)

    def work(conn: sa.Connection) -> tuple[GroupState, int, Healed]:
        row = store.read_group_row(conn, gid, lock=True)
        if row is None:
            if data.expected_seq != -1:
                raise not_a_member()
            state = GroupState()
        else:
            state = require_active(runtime.states.state_at(conn, row), device)
            if (data.expected_seq, data.expected_head) != (row.seq, row.head):
                raise stale_head(row.seq, row.head)
        new = state.copy()
        applied = []
        for op in data.ops:
            try:
                applied.append(new.apply(op, not_after=now + OP_CLOCK_SKEW))
            except LogError as e:
                raise invalid_op(e) from None
        if row is None:
            if not applied or new.group_id != gid:
                raise not_a_member()
            # Re-creating a group is creating one: an active member at the healed head, under
            # the server's registration rules.
            require_active(new, device)
            spend_registration(conn, settings, data.registration_token, device, now)
            store.insert_group(conn, gid, new.seq, new.head, settings.blurred_now(), device)
        chains = entry_store.chain_rows(conn, gid) if row is not None else {}
        for a in applied:
            _check_pins_against_held(a.op.body, a.seq, chains)
            store.store_op(conn, gid, a.seq, a.hash, a.data, {}, 0)
            if isinstance(a.op.body, Invite):
                joins.add_invite(conn, gid, a.op.body.invite_id)
        dropped = 0
        if row is not None and applied:
            store.move_head(conn, gid, row.seq, new.seq, new.head)
            dropped = follow_roster(runtime, conn, gid, state, new, now)
        _store_lockboxes(conn, gid, new, data)
        results = _store_entries(conn, gid, new, chains, data.entries, settings.group_quota)
        return new, dropped, Healed(new.seq, new.head, results)

    try:
        new, dropped, healed = await runtime.db.write(work)
    except IntegrityError:
        raise await lost_race(runtime, gid) from None
    if data.ops:
        runtime.states.put(new)
    runtime.hub.notify(gid)
    if dropped:
        schedule_scrub(runtime)
    return healed


def _check_pins_against_held(
    body: object, seq: int, chains: dict[bytes, dict[int, ChainRow]]
) -> None:
    """An op that pins or lists chain heads must agree with the entries the server holds: at
    the head, the same entry; beyond it, nothing that claims a log head before the op. (What
    the server lacks may come later: the heal brings it, or another member's.)"""
    heads = list(body.heads) if isinstance(body, Checkpoint) else pinned_heads(body)  # type: ignore[arg-type]
    for h in heads:
        chain = chains.get(h.device, {})
        at = chain.get(h.seq)
        if at is not None and at.link != h.link:
            raise _not_a_prefix(
                f"log op {seq} lists another entry {h.seq} of a chain than the one held here"
            )
        if any(s > h.seq and r.log_seq < seq for s, r in chain.items()):
            raise _not_a_prefix(
                f"this server holds entries beyond the head log op {seq} lists for their chain"
            )


def _store_lockboxes(conn: sa.Connection, gid: bytes, state: GroupState, data: Heal) -> None:
    by_seq = {info.seq: (epoch, info.rotation) for epoch, info in state.rotations.items()}
    for lb in data.lockboxes:
        found = by_seq.get(lb.seq)
        if found is None:
            raise ServiceError(ErrorCode.INVALID_LOCKBOXES, f"log op {lb.seq} carries no rotation")
        epoch, rotation = found
        refs = {r.device: r.hash for r in rotation.refs}
        want = refs.get(lb.device)
        if want is None or lockbox_hash(gid, epoch, lb.device, lb.lockbox) != want:
            raise ServiceError(
                ErrorCode.INVALID_LOCKBOXES,
                f"a lockbox does not hash to what log op {lb.seq} committed to",
                field="lockboxes",
            )
        store.add_lockbox(conn, gid, epoch, lb.device, lb.seq, lb.lockbox)


def _store_entries(
    conn: sa.Connection,
    gid: bytes,
    state: GroupState,
    chains: dict[bytes, dict[int, ChainRow]],
    items: list[HealEntry],
    quota: int,
) -> list[EntryOutcome]:
    [(_, _, _, cursor, used, own_quota)] = entry_store.group_rows(1).rows(conn, {"g0": gid})
    if own_quota is not None:
        quota = own_quota  # the operator set this group's own quota
    brought: dict[bytes, EntryStub] = {}
    for item in items:
        if item.entry is None:
            continue
        try:
            stub = _decode(item)[0]
        except ServiceError:
            continue
        brought[stub.header.entry_id] = stub
    outcomes: list[EntryOutcome] = []
    rows: list[dict[str, object]] = []
    added = 0
    retracting: list[EntryHeader] = []
    for item in items:
        try:
            checked = _check(conn, gid, state, chains, brought, item)
            if checked.existing is None:
                check_quota(used + added, checked.size, quota)
        except ServiceError as e:
            outcomes.append(EntryOutcome(error=e.body))
            continue
        hdr = checked.header
        if checked.existing is not None:
            outcomes.append(EntryOutcome(hdr.entry_id, checked.existing.cursor))
            continue
        cursor += 1
        added += checked.size
        rows.append({**checked.values, "cursor": cursor, "link": checked.link})
        chains.setdefault(hdr.device, {})[hdr.seq] = ChainRow(
            checked.link, hdr.log_seq, hdr.entry_id, cursor
        )
        if hdr.retracts:
            retracting.append(hdr)
        outcomes.append(EntryOutcome(hdr.entry_id, cursor))
    for i in range(0, len(rows), INSERT_ROWS):
        part = rows[i : i + INSERT_ROWS]
        params = {f"{name}{j}": value for j, r in enumerate(part) for name, value in r.items()}
        entry_store.insert_entries(len(part)).run(conn, params)
    if rows:
        entry_store.bump_cursors(1).run(conn, {"g0": gid, "c0": cursor, "n0": added})
    for hdr in retracting:
        _apply_retraction(conn, gid, state, hdr)
    return outcomes


def _decode(item: HealEntry) -> tuple[EntryStub, bytes | None]:
    try:
        if item.entry is not None and item.stub is None:
            entry = decode_entry(item.entry)
            return EntryStub(entry.header, ct_hash(entry.ct), entry.sig), entry.ct
        if item.stub is not None and item.entry is None and item.retracted_by is not None:
            return decode_stub(item.stub), None
    except EntryError as e:
        raise invalid_entry(e) from None
    raise ServiceError(
        ErrorCode.INVALID_REQUEST,
        "an entry, or a stub with the entry that retracted it",
        field="entries",
    )


def _check(
    conn: sa.Connection,
    gid: bytes,
    state: GroupState,
    chains: dict[bytes, dict[int, ChainRow]],
    brought: dict[bytes, EntryStub],
    item: HealEntry,
) -> _Checked:
    stub, ct = _decode(item)
    hdr = stub.header
    if hdr.group != gid:
        raise ServiceError(ErrorCode.INVALID_ENTRY, "the entry names another group", check="group")
    try:
        link = check_entry_public(state, stub)
    except EntryError as e:
        raise invalid_entry(e) from None
    cp = state.checkpoint
    if cp is not None and hdr.log_seq < cp.seq:
        listed = next((h.seq for h in cp.heads if h.device == hdr.device), 0)
        if hdr.seq > listed:
            raise ServiceError(
                ErrorCode.INVALID_ENTRY,
                f"the entry claims a log head before the checkpoint at log op {cp.seq}, which "
                "does not list it",
                check="log_head",
            )
    chain = chains.get(hdr.device, {})
    held = chain.get(hdr.seq)
    if held is not None:
        if held.link != link or held.entry_id != hdr.entry_id:
            raise _not_a_prefix(
                "this server holds another entry at this place in its author's chain"
            )
        return _Checked(hdr, link, {}, held)
    before = chain.get(hdr.seq - 1)
    check_chain(hdr, None if before is None else (before.link, before.log_seq))
    if ct is None:
        assert item.retracted_by is not None
        _check_stub(conn, gid, state, brought, hdr, item.retracted_by)
    values = row_values(gid, stub, ct, item.retracted_by if ct is None else None)
    return _Checked(hdr, link, values, None, len(ct or b""))


def _check_stub(
    conn: sa.Connection,
    gid: bytes,
    state: GroupState,
    brought: dict[bytes, EntryStub],
    target: EntryHeader,
    by_id: bytes,
) -> None:
    """A stub comes back only with a retracting entry (brought along, signed, or held) that
    may withdraw it: otherwise a healer could put a stub where members hold the entry."""
    by: EntryHeader | None = None
    signed = brought.get(by_id)
    if signed is not None:
        try:
            check_entry_public(state, signed)
        except EntryError as e:
            raise invalid_entry(e) from None
        by = signed.header
    else:
        found = entry_store.retraction_targets(conn, gid, [by_id])
        if found:
            by = decode(found[0][2], EntryHeader, max_size=4096)
    if by is None:
        raise ServiceError(
            ErrorCode.INVALID_ENTRY,
            "a retracted entry comes back only with the entry that retracted it",
            check="retracts",
        )
    try:
        check_retraction(state, by, target)
    except EntryError as e:
        raise invalid_entry(e) from None


def _apply_retraction(conn: sa.Connection, gid: bytes, state: GroupState, by: EntryHeader) -> None:
    """A retracting entry brought back deletes the ciphertexts of the entries it withdraws
    that the server still holds whole (the restore lost the retraction, not its targets)."""
    delete: list[bytes] = []
    freed = 0
    for entry_id, _, header, size, retracted_by in entry_store.retraction_targets(
        conn, gid, list(by.retracts)
    ):
        if retracted_by is not None or not size:
            continue
        try:
            check_retraction(state, by, decode(header, EntryHeader, max_size=4096))
        except EntryError:
            continue  # not a valid retraction of it: the entry stays (as at a post)
        delete.append(entry_id)
        freed += size
    entry_store.retract(conn, gid, delete, by.entry_id, freed)
