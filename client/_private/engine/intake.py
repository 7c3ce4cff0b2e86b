"""Taking in entries: verify each record the server sends, store what verifies, quarantine the
rest, so that no single record, from a member or the server, stops a group's sync.

Each record is checked in order: its encoding and its label, the public checks against
the verified log (signature, author, epoch, the log head it claims, the heads pinned for
its chain, the checkpoint), its place in its author's chain, and, for a stub, the entry
that retracted it. An entry that retracts others is applied to them once it verifies.

A record that fails *waits* when what it needs may still come: its chain predecessor,
the entry that retracted it, a log op the server has not shown, or the rest of a
departed device's chain (whose entries are kept only once the chain reaches the final
head the departure recorded). Any other failure is *quarantined*. Both are alarms
(`alarms.py`), kept in the store with the record as it came, tried again on every sync,
and dropped when the record verifies. Nothing unverified is stored as verified.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from chatham import crypto

from ... import errors as E
from ..local.store import EntryRow
from ..membership.roster import display
from ..membership.values import Announcement
from .alarms import AlarmRecord, item_key, record_of
from .checks import entry_error

if TYPE_CHECKING:
    from .api import EntryItem
    from .group import Group
    from .snapshot import Snapshot


class _Wait(Exception):
    """The record cannot be judged yet; it waits for a predecessor, an entry or a log op."""

    def __init__(
        self,
        err: E.VerificationError,
        *,
        pred: tuple[bytes, int] | None = None,
        entry: bytes | None = None,
    ) -> None:
        super().__init__(err.message)
        self.err = err
        self.pred = pred
        self.entry = entry


class _Held:
    """A departed device's entries, in chain order, kept back until the chain reaches the
    final head its departure recorded: only then is any of the segment stored."""

    def __init__(self, tracker: crypto.ChainTracker, device: bytes) -> None:
        self.rows: list[tuple[EntryRow, crypto.EntryHeader, str]] = []
        self._chain = crypto.ChainTracker()
        # The whole stored chain, so that a held record that equivocates with a stored one
        # is caught here, not by the store's constraints when the segment is committed.
        for seq, link in tracker.links.get(device, {}).items():
            self._chain.load(device, seq, link, tracker.clocks[device][seq])

    def check(self, header: crypto.EntryHeader, link: bytes) -> bool:
        return self._chain.check(header, link)

    def add(self, row: EntryRow, header: crypto.EntryHeader, key: str) -> None:
        self._chain.add(header, row.link)
        self.rows.append((row, header, key))


@dataclass
class Intake:
    """One sync's worth of taking in: what verified, what waits, what is quarantined."""

    group: Group
    snap: Snapshot
    now: int
    rows: list[EntryRow] = field(default_factory=list)
    updates: dict[bytes, EntryRow] = field(default_factory=dict)
    alarms: dict[str, AlarmRecord] = field(default_factory=dict)
    """Every alarm kept for the group after this intake (new, still standing, or waiting)."""
    dropped: set[str] = field(default_factory=set)
    announcements: list[Announcement] = field(default_factory=list)
    new: int = 0
    retracted: int = 0
    _taken: dict[bytes, EntryRow] = field(default_factory=dict)
    _by_pred: dict[tuple[bytes, int], list[str]] = field(default_factory=dict)
    _by_entry: dict[bytes, list[str]] = field(default_factory=dict)
    _held: dict[bytes, _Held] = field(default_factory=dict)
    _retry: list[str] = field(default_factory=list)
    kept_before: frozenset[str] = frozenset()
    """Alarms kept from earlier syncs (an alarm is rechecked only once it has been shown)."""

    def start(self, kept: dict[str, AlarmRecord]) -> None:
        """Begin with the alarms kept from earlier syncs; records among them are tried again."""
        self.alarms = dict(kept)
        self.kept_before = frozenset(kept)
        retry = sorted(
            ((k, r) for k, r in kept.items() if r.entry_id is not None),
            key=lambda kr: kr[1].cursor,
        )
        for key, rec in retry:
            if key.startswith(DELETION):
                self._rejudge(key, rec)
            else:
                self._try(key, _item_of(rec), rec.since)
            self._drain()

    def resolve(self, key: str) -> None:
        """Drop an alarm whose record the server no longer serves."""
        if self.alarms.pop(key, None) is not None:
            self.dropped.add(key)

    @property
    def size(self) -> int:
        return len(self.rows) + len(self.updates)

    # --- taking one record ----------------------------------------------------------------------

    def take(self, item: EntryItem) -> None:
        data = item.entry if item.entry is not None else item.stub
        key = item_key(item.entry_id, data, item.retracted_by)
        kept = self.alarms.get(key)
        self._try(key, item, kept.since if kept is not None else self.now)
        self._drain()

    def _drain(self) -> None:
        """Try again every record that waited for one just taken (iteratively: a chain that
        arrives backwards releases one record at a time, however long it is)."""
        while self._retry:
            key = self._retry.pop()
            rec = self.alarms.get(key)
            if rec is None or rec.entry_id is None:
                continue
            if key.startswith(DELETION):
                self._rejudge(key, rec)
            else:
                self._try(key, _item_of(rec), rec.since)

    def _try(self, key: str, item: EntryItem, since: int) -> None:
        try:
            held = self._check(key, item)
        except _Wait as w:
            self._keep(key, item, w.err, waiting=True, since=since)
            if w.pred is not None:
                self._by_pred.setdefault(w.pred, []).append(key)
            if w.entry is not None:
                self._by_entry.setdefault(w.entry, []).append(key)
            return
        except E.VerificationError as e:
            self._keep(key, item, e, waiting=False, since=since)
            return
        if held is not None:
            self._keep(key, item, held, waiting=True, since=since)
            return
        if key in self.alarms:
            del self.alarms[key]
            self.dropped.add(key)

    def _keep(
        self, key: str, item: EntryItem, err: E.VerificationError, *, waiting: bool, since: int
    ) -> None:
        self.alarms[key] = record_of(
            err,
            waiting=waiting,
            since=since,
            cursor=item.cursor,
            entry_id=item.entry_id,
            entry=item.entry,
            stub=item.stub,
            retracted_by=item.retracted_by,
        )
        self.dropped.discard(key)

    def _check(self, key: str, item: EntryItem) -> E.VerificationError | None:
        """Verify and take one record; raise if it fails or must wait, or return the alarm
        it stays under while a departed device's chain is held back."""
        state = self.snap.state
        eid = item.entry_id
        ct: bytes | None = None
        try:
            if item.entry is not None:
                entry = crypto.decode_entry(item.entry)
                ct = entry.ct
                # Checking the stub (header, ciphertext hash, signature) is checking the entry,
                # whose signature covers the ciphertext by hash: hash it once.
                stub = crypto.EntryStub(entry.header, crypto.ct_hash(ct), entry.sig)
            elif item.stub is not None:
                stub = crypto.decode_stub(item.stub)
            else:
                raise E.TamperedEntryError(
                    "neither an entry nor a retraction stub", check="encoding", record=_rec(eid)
                )
        except crypto.EntryError as e:
            raise entry_error(e, eid) from None
        header = stub.header
        if header.entry_id != eid:
            raise E.TamperedEntryError(
                f"the server labels this {'stub' if ct is None else 'entry'} with another id "
                "(swapped)",
                check="entry_id",
                record=_rec(eid),
            )
        try:
            link = crypto.check_entry_public(state, stub)
        except crypto.EntryError as e:
            err = entry_error(e, eid, log_seq=header.log_seq, known_seq=state.seq)
            if e.check == "log_head" and header.log_seq > state.seq:
                raise _Wait(err) from None
            raise err from None
        self._check_checkpoint(header, link)
        known = self._known(eid)
        if known is not None:
            if (known.device, known.seq, known.link) != (header.device, header.seq, link):
                raise E.TamperedEntryError(
                    "another entry already holds this entry's id",
                    check="entry_id",
                    record=_rec(eid),
                )
            self._again(known, header, ct, item)
            return None
        held = self._held.get(header.device)
        try:
            fresh = (
                held.check(header, link)
                if held is not None
                else self.snap.tracker.check(header, link)
            )
        except crypto.ChainError as e:
            err = entry_error(e, eid)
            if e.check == "gap":
                raise _Wait(err, pred=(header.device, header.seq - 1)) from None
            raise err from None
        except crypto.EntryError as e:
            raise entry_error(e, eid) from None
        if not fresh:
            # A repeat of a record held back already (a rescan serves it again): it stays
            # under its waiting alarm, so the record is kept until its chain is whole.
            final = state.devices[header.device].final_head
            return _departed(final.seq, eid) if held is not None and final is not None else None
        retracted_by: bytes | None = None
        if ct is None:
            # The stub is a genuine element of the author's chain (its signature says so);
            # whether its ciphertext may be gone is judged apart, so a deletion that does not
            # verify never holds up the chain after it.
            retracted_by = self._judge_deletion(header, item)
        row = EntryRow(
            eid,
            item.cursor,
            header.device,
            header.seq,
            header.epoch,
            header.log_seq,
            crypto.encode(header),
            ct,
            stub.ct_hash,
            stub.sig,
            link,
            retracted_by,
        )
        return self._accept(row, header, key)

    def _check_checkpoint(self, header: crypto.EntryHeader, link: bytes) -> None:
        """An entry at a position a checkpoint lists must be the one it lists (checked before
        anything is stored)."""
        cp = self.snap.state.checkpoint
        if cp is None:
            return
        for h in cp.heads:
            if h.device == header.device and h.seq == header.seq:
                if h.link != link:
                    raise E.EquivocationError(
                        f"the entry differs from the one the checkpoint at log op {cp.seq} lists",
                        check="equivocation",
                        record=_rec(header.entry_id),
                    )
                return

    def _judge_deletion(self, header: crypto.EntryHeader, item: EntryItem) -> bytes | None:
        """The id of the entry that retracted this stub if that entry is held and may retract
        it; otherwise None, with an alarm (waiting while the retracting entry may come)."""
        by_id = item.retracted_by
        key = DELETION + header.entry_id.hex()
        since = self.alarms[key].since if key in self.alarms else self.now
        rec = dict(cursor=item.cursor, entry_id=header.entry_id, stub=item.stub, retracted_by=by_id)
        if by_id is None:
            err = E.FakeDeletionError(
                "the server shows the entry without its ciphertext and names no retraction",
                check="retraction_missing",
                record=_rec(header.entry_id),
            )
            self.alarms[key] = record_of(err, waiting=False, since=since, **rec)  # type: ignore[arg-type]
            return None
        by = self._known(by_id)
        if by is None:
            err = E.FakeDeletionError(
                "the entry that retracted this one has not arrived yet",
                check="retraction_missing",
                record=_rec(header.entry_id),
            )
            self.alarms[key] = record_of(err, waiting=True, since=since, **rec)  # type: ignore[arg-type]
            self._by_entry.setdefault(by_id, []).append(key)
            return None
        try:
            crypto.check_retraction(self.snap.state, _header(by), header)
        except crypto.EntryError as e:
            err = E.FakeDeletionError(
                f"the server deleted the entry, but the retraction it names is invalid ({e})",
                check=e.check,
                record=_rec(header.entry_id),
            )
            self.alarms[key] = record_of(err, waiting=False, since=since, **rec)  # type: ignore[arg-type]
            return None
        if key in self.alarms:
            del self.alarms[key]
            self.dropped.add(key)
        return by_id

    def _rejudge(self, key: str, rec: AlarmRecord) -> None:
        """A kept deletion alarm, judged again now that more may be known."""
        assert rec.entry_id is not None
        row = self._known(rec.entry_id)
        if rec.stub is None or row is None:
            return
        header = crypto.decode_stub(rec.stub).header
        item = _item_of(rec)
        by_id = self._judge_deletion(header, item)
        if by_id is not None:
            self._apply_deletion(row, by_id, self._known(by_id))

    def _again(
        self, known: EntryRow, header: crypto.EntryHeader, ct: bytes | None, item: EntryItem
    ) -> None:
        """A record already held comes again: a stub for an entry held with its ciphertext is a
        retraction this member has not applied (the local copy stays if it is not valid)."""
        if ct is not None or known.retracted_by is not None:
            return
        by_id = self._judge_deletion(header, item)
        if by_id is not None:
            self._apply_deletion(known, by_id, self._known(by_id))

    def _apply_deletion(self, row: EntryRow, by_id: bytes, by: EntryRow | None) -> None:
        if by is None or row.retracted_by is not None:
            return
        dropped = dataclasses.replace(row, ct=None, retracted_by=by_id)
        if row.entry_id in self._taken and row in self.rows:
            # Taken in this very sync: it counts as an entry that came retracted, as it does
            # when the server has deleted its ciphertext already.
            self.rows[self.rows.index(row)] = dropped
            if row.ct is not None:
                self.new -= 1
                self.retracted += 1
        else:
            self.updates[row.entry_id] = dropped
            if row.ct is not None:
                self.retracted += 1
        self._taken[row.entry_id] = dropped
        self._announce(_header(by), _header(row))

    # --- what verified ---------------------------------------------------------------------------

    def _accept(
        self, row: EntryRow, header: crypto.EntryHeader, key: str
    ) -> E.VerificationError | None:
        dev = self.snap.state.devices[header.device]
        final = dev.final_head
        held = self._held.get(header.device)
        if final is not None and header.seq < final.seq:
            # A departed device: keep its entries back until the chain reaches its final head.
            if held is None:
                held = self._held[header.device] = _Held(self.snap.tracker, header.device)
            held.add(row, header, key)
            return _departed(final.seq, row.entry_id)
        self._held.pop(header.device, None)
        batch = [*(held.rows if held is not None else []), (row, header, key)]
        for r, h, k in batch:
            self.snap.tracker.add(h, r.link)
            self.rows.append(r)
            self._taken[r.entry_id] = r
            if r.ct is not None:
                self.new += 1
            else:
                self.retracted += 1
            if k != key and k in self.alarms:
                del self.alarms[k]
                self.dropped.add(k)
        for r, h, _ in batch:
            if h.retracts:
                self._retracts(r, h)
            self._release(h.device, h.seq, r.entry_id)
        return None

    def _release(self, device: bytes, seq: int, entry_id: bytes) -> None:
        """Records that waited for this one are tried again (see `_drain`)."""
        self._retry += self._by_pred.pop((device, seq), []) + self._by_entry.pop(entry_id, [])

    def _retracts(self, row: EntryRow, header: crypto.EntryHeader) -> None:
        """Apply a verified retracting entry to the entries it names that are held here."""
        for target_id in header.retracts:
            target = self._known(target_id)
            if target is None or target.ct is None:
                continue
            self._drop_ct(target, row.entry_id, header)

    def _drop_ct(self, target: EntryRow, by_id: bytes, by: crypto.EntryHeader) -> None:
        state = self.snap.state
        target_header = _header(target)
        try:
            crypto.check_retraction(state, by, target_header)
        except crypto.EntryError as e:
            err = E.FakeDeletionError(
                f"a retraction of this entry is invalid ({e}); the local copy was kept",
                check=e.check,
                record=_rec(target.entry_id),
            )
            key = f"{DELETION}{target.entry_id.hex()}:{by_id.hex()}"
            self.alarms[key] = record_of(err, waiting=False, since=self.now)
            return
        self._apply_deletion(target, by_id, self._known(by_id))

    def _announce(self, by: crypto.EntryHeader, target: crypto.EntryHeader) -> None:
        state = self.snap.state
        signer = state.member_of_device(by.device)
        author = state.member_of_device(target.device)
        if signer is None or author is None or signer.id == author.id:
            return
        names = self.group._names(self.snap)
        me = self.group._me()
        who = display(signer.id, names, me)
        self.announcements.append(
            Announcement(
                crypto.authority_seq(state, by.device, by.seq, by.log_seq),
                "retract",
                f"{who[:1].upper() + who[1:]} (leader) retracted an entry by "
                f"{display(author.id, names, me)}",
                signer.id.hex(),
                (author.id.hex(),),
            )
        )

    def _known(self, entry_id: bytes) -> EntryRow | None:
        row = self._taken.get(entry_id) or self.updates.get(entry_id)
        if row is not None:
            return row
        return self.group._store.entry(self.group._gid, entry_id)


DELETION = "deletion:"
"""Keys of alarms about a deletion (a stub whose retraction does not verify, or not yet)."""


def _header(row: EntryRow) -> crypto.EntryHeader:
    return crypto.decode(row.header, crypto.EntryHeader, max_size=crypto.MAX_STUB_SIZE)


def _item_of(rec: AlarmRecord) -> EntryItem:
    from .api import EntryItem

    assert rec.entry_id is not None
    return EntryItem(rec.cursor, rec.entry_id, rec.entry, rec.stub, rec.retracted_by)


def _rec(entry_id: bytes) -> str:
    return f"entry {entry_id.hex()}"


def _departed(final_seq: int, entry_id: bytes) -> E.WithheldError:
    """The waiting alarm of a departed device's entry held back for the chain's final head."""
    return E.WithheldError(
        f"entries of a departed member wait for their last entry (number {final_seq})",
        check="departed",
        record=_rec(entry_id),
    )
