"""A group as one member holds it: verified state, the sync engine, posting, reading, leader ops.

The sync engine trusts nothing the server says. Every op is replayed through
the protocol's verifier, every lockbox is checked against the op's commitment
and key confirmation, every entry's signature, header and chain position is
checked against the verified log, and only then is anything stored. Pinned
state (log head, entry cursor, chain heads) moves only inside the same SQLite
transaction that stores what was verified, page by page, so a sync that is
killed resumes where the last committed page ended, and a sync that finds
something wrong raises a specific `VerificationError` and leaves the store as
it was before the bad record.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hmac
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import msgspec
from chatham import crypto

from ... import errors as E
from ..local.store import EntryRow, GroupRow, Pinned, Store
from ..local.vault import random_bytes
from ..membership.roster import announce, display, members
from ..views import (
    Announcement,
    ChainView,
    EntryRef,
    History,
    JoinRequest,
    Member,
    Notes,
    OpenedEntry,
    Role,
    SyncReport,
    VerifyReport,
)
from .checks import entry_error, log_error

if TYPE_CHECKING:
    import httpx

    from ..account import Account
    from .api import EntryItem, EntryPage, ServerApi

PAGE = 500
COMMIT_ROWS = 2000
"""Verified entries are committed (with the pinned state) at least this often, and at the end."""
MAX_ENTRY_BODY = 1 << 20
"""The protocol's cap on an entry body (docs/protocol.md §7.2)."""
ZERO32 = bytes(32)
MAX_NAMES = 100
"""Names one attested-names blob may hold (the protocol's MAX_BATCH)."""
Progress = Callable[[int, int | None], None]
"""progress(done, total): entries processed so far, and the total when the server said."""


@dataclass
class _Snap:
    """The verified state of one group as loaded from (and kept in step with) the store."""

    version: int
    pinned: Pinned
    state: crypto.GroupState
    keyring: crypto.Keyring
    tracker: crypto.ChainTracker
    status: str
    log: list[crypto.AppliedOp]


@dataclass(frozen=True)
class OpContext:
    """What a builder needs to make the next op (passed to `Group.append_op`)."""

    state: crypto.GroupState
    keyring: crypto.Keyring = field(repr=False)
    device: crypto.DeviceKeys = field(repr=False)
    member: bytes
    heads: list[crypto.ChainHead]
    """This member's view of every author chain (entries the server acknowledged)."""
    time: int


OpBuilder = Callable[[OpContext], crypto.PendingOp]


def _entry_row(item: EntryItem, stub: crypto.EntryStub, link: bytes, ct: bytes | None) -> EntryRow:
    """The row a verified entry is stored as: with its ciphertext, or (`ct` None) as the
    stub of a retracted entry, with the retraction that removed it."""
    h = stub.header
    retraction = None if ct is not None else item.retraction
    return EntryRow(
        item.entry_id,
        item.cursor,
        h.device,
        h.seq,
        h.epoch,
        crypto.encode(h),
        ct,
        stub.ct_hash,
        stub.sig,
        link,
        retraction,
    )


def _rotation_epochs(state: crypto.GroupState, device: bytes) -> list[int]:
    return sorted(
        e
        for e, info in state.rotations.items()
        if any(r.device == device for r in info.rotation.refs)
    )


class Group:
    """One group in a member's home. Get it from `Account.group()` or `Account.groups()`."""

    def __init__(self, journal: Account, row: GroupRow) -> None:
        self._account = journal
        self._gid = row.group_id
        self.server: str = row.server
        self._name = row.name
        self._snap: _Snap | None = None

    def __repr__(self) -> str:
        return f"Group(id={self.id[:12]}…, server={self.server!r})"

    # --- identity -------------------------------------------------------------------------------

    @property
    def id(self) -> str:
        return self._gid.hex()

    @property
    def id_bytes(self) -> bytes:
        return self._gid

    @property
    def name(self) -> str:
        """The group's display name, kept only in this member's local store (sealed)."""
        return self._name

    def rename(self, name: str) -> None:
        self._store.rename_group(self._gid, _check_group_name(name))
        self._name = name

    @property
    def status(self) -> str:
        """member, joining (waiting for approval), removed or left."""
        return self._load().status

    @property
    def state(self) -> crypto.GroupState:
        """The verified group state (roster, epochs, invites, checkpoint); read-only."""
        return self._load().state

    def log(self) -> list[crypto.AppliedOp]:
        """Every verified op of the group log, oldest first (read-only), e.g. to replay roles."""
        return list(self._load().log)

    def names(self) -> dict[str, str]:
        """Attested display names this member can read: member id → name."""
        return {m.hex(): n for m, n in self._names().items()}

    @property
    def epoch(self) -> int:
        return self._load().state.epoch

    @property
    def queued(self) -> int:
        """Writes waiting in the outbox for the next sync."""
        return self._store.outbox_count(self._gid)

    @property
    def _store(self) -> Store:
        return self._account._store

    def _api(self) -> ServerApi:
        return self._account._api(self.server)

    def _me(self) -> bytes:
        return self._account._secrets.member.id

    def _device(self) -> crypto.DeviceKeys:
        return self._account._secrets.device

    # --- loading --------------------------------------------------------------------------------

    def _load(self) -> _Snap:
        row = self._store.group(self._gid)
        if row is None:
            raise E.NotFound(f"group {self.id[:12]} is no longer in this home")
        if self._snap is not None and self._snap.version == row.version:
            return self._snap
        tag = f"group {self.id[:12]}"
        pinned = row.pinned
        state = crypto.GroupState()
        try:
            log = [state.apply(op) for op in self._store.ops(self._gid)]
        except crypto.LogError as e:
            raise E.StoreTampered(f"{tag}: the stored log does not verify ({e})") from None
        if state.seq != pinned.log_seq or (state.seq >= 0 and state.head != pinned.log_head):
            raise E.StoreTampered(f"{tag}: the stored log does not match the pinned head")
        if state.seq >= 0 and state.group_id != self._gid:
            raise E.StoreTampered(f"{tag}: the stored log belongs to another group")
        keys = self._store.epoch_keys(self._gid)
        if sorted(keys) != sorted(pinned.epochs):
            raise E.StoreTampered(f"{tag}: the stored epoch keys do not match the pinned state")
        tracker = crypto.ChainTracker()
        count = 0
        for device, seq, link in self._store.links(self._gid):
            tracker.links.setdefault(device, {})[seq] = link
            count += 1
        heads = [(h.device, h.seq, h.link) for h in tracker.heads()]
        contiguous = all(len(chain) == max(chain) for chain in tracker.links.values())
        if count != pinned.entries or heads != pinned.heads or not contiguous:
            raise E.StoreTampered(f"{tag}: the stored entries do not match the pinned chains")
        self._snap = _Snap(
            row.version, pinned, state, crypto.Keyring(dict(keys)), tracker, row.status, log
        )
        self.server, self._name = row.server, row.name
        return self._snap

    def _status_of(self, state: crypto.GroupState, current: str) -> str:
        m = state.members.get(self._me())
        if m is None:
            return "joining" if current == "joining" else current
        return {"active": "member", "removed": "removed", "left": "left"}[m.status]

    def _names(self, snap: _Snap | None = None) -> dict[bytes, str]:
        snap = snap or self._load()
        try:
            return snap.keyring.names(snap.state)
        except crypto.CouldNotOpen:
            raise E.CouldNotOpen() from None

    def _context(self) -> OpContext:
        snap = self._load()
        return OpContext(
            snap.state,
            snap.keyring,
            self._device(),
            self._me(),
            snap.tracker.heads(),
            self._account.now(),
        )

    # --- reading (offline) ----------------------------------------------------------------------

    def members(self) -> list[Member]:
        """Every member the verified log knows, active first, with names and fingerprints."""
        snap = self._load()
        return members(snap.state, self._names(snap), self._me())

    def member(self, ref: str) -> Member:
        """A member by id, unique id prefix, or unique name (case and spacing do not matter)."""
        everyone = self.members()
        ref_n = " ".join(ref.split()).lower()
        exact = [m for m in everyone if m.id == ref_n]
        if exact:
            return exact[0]
        by_name = [m for m in everyone if m.name is not None and m.name.lower() == ref_n]
        by_prefix = (
            [m for m in everyone if m.id.startswith(ref_n)]
            if len(ref_n) >= 4 and all(c in "0123456789abcdef" for c in ref_n)
            else []
        )
        found = {m.id: m for m in by_name + by_prefix}
        if not found:
            raise E.NotFound(
                f"no member matches {ref!r}", hint="see `chatham members` for names and ids"
            )
        if len(found) > 1:
            raise E.Ambiguous(f"{ref!r} matches {len(found)} members", hint="give the member id")
        return next(iter(found.values()))

    def entries(self, *, after: int = 0) -> Iterator[OpenedEntry]:
        """Every readable entry held locally, in server order; offline, verified, opened.

        Retracted entries and entries this member holds no key for (sealed before they
        joined under the from-join policy) are skipped; `verify()` counts them. `after`
        skips entries whose cursor is not past it (to open only what a sync added).
        """
        snap = self._load()
        names = self._names(snap)
        authors = {d.id: d.member for d in snap.state.devices.values()}
        keys = snap.keyring.keys
        for row in self._store.iter_entries(self._gid, after=after):
            if row.ct is None or row.epoch not in keys:
                continue
            try:
                yield self._open(row, keys[row.epoch], authors, names)
            except E.CouldNotOpen:
                continue

    def entry_index(self) -> list[EntryRef]:
        """Every stored entry's place, without opening any: id, cursor, author, device, seq,
        epoch, and whether it was retracted or is readable here. A retraction keeps the
        entry's cursor, so compare counts (or this list) to notice one."""
        snap = self._load()
        authors = {d.id: d.member for d in snap.state.devices.values()}
        keys = snap.keyring.keys
        return [
            EntryRef(
                id=eid.hex(),
                cursor=cursor,
                author=authors.get(device, b"").hex(),
                device=device.hex(),
                seq=seq,
                epoch=epoch,
                retracted=retracted,
                readable=not retracted and epoch in keys,
            )
            for eid, cursor, device, seq, epoch, retracted in self._store.entry_index(self._gid)
        ]

    def get(self, entry_id: str) -> OpenedEntry:
        """One entry by id (or unique id prefix); raises NotFound or CouldNotOpen."""
        snap = self._load()
        row = self._find(entry_id)
        if row.ct is None:
            raise E.NotFound(
                f"entry {row.entry_id.hex()} was retracted",
                hint="a retraction deletes the ciphertext everywhere; nothing is left to show",
            )
        if row.epoch not in snap.keyring.keys:
            raise E.CouldNotOpen(
                f"entry {row.entry_id.hex()} was sealed under an epoch this member holds no "
                "key for (written before they joined)",
                hint="under the from-join policy, newcomers read only what is written "
                "after they join",
            )
        authors = {d.id: d.member for d in snap.state.devices.values()}
        return self._open(row, snap.keyring.keys[row.epoch], authors, self._names(snap))

    def _find(self, entry_id: str) -> EntryRow:
        ref = entry_id.strip().lower()
        if not ref or len(ref) > 32 or any(c not in "0123456789abcdef" for c in ref):
            raise E.UsageError(f"not an entry id: {entry_id!r}", hint="ids are hex, like 3f9a0c…")
        ids = self._store.entries_with_prefix(self._gid, ref)
        if not ids:
            raise E.NotFound(f"no entry {ref} in this group", hint="run `chatham sync` first")
        if len(ids) > 1:
            raise E.Ambiguous(f"{ref} matches several entries")
        row = self._store.entry(self._gid, ids[0])
        assert row is not None
        return row

    def _open(
        self,
        row: EntryRow,
        key: bytes,
        authors: dict[bytes, bytes],
        names: dict[bytes, str],
    ) -> OpenedEntry:
        assert row.ct is not None
        try:
            header = crypto.decode(row.header, crypto.EntryHeader, max_size=1024)
            body = crypto.open_entry(crypto.Entry(header, row.ct, row.sig), key)
        except (crypto.CouldNotOpen, crypto.EncodingError):
            # Only now hash the ciphertext (the hot path need not): the row's MAC covers the
            # hash, so a mismatch is an edit of the file, not an entry that does not open.
            if not hmac.compare_digest(crypto.ct_hash(row.ct), row.ct_hash):
                raise E.StoreTampered(
                    f"entry {row.entry_id.hex()}: the stored ciphertext was edited"
                ) from None
            raise E.CouldNotOpen() from None
        author = authors.get(row.device, b"")
        return OpenedEntry(
            id=row.entry_id.hex(),
            author=author.hex(),
            author_name=names.get(author),
            device=row.device.hex(),
            seq=row.seq,
            epoch=row.epoch,
            log_seq=header.log_seq,
            cursor=row.cursor,
            body=body,
        )

    # --- sync -----------------------------------------------------------------------------------

    def sync(self, *, progress: Progress | None = None, send: bool = True) -> SyncReport:
        """Fetch, verify and store what is new; then send queued writes (unless send=False).

        Raises a `VerificationError` subclass naming the check and the record when the
        server's data fails verification; what was verified before it stays stored.
        """
        for _ in range(5):
            try:
                return self._sync(progress, send)
            except E.StaleLocal:
                self._snap = None
            except BaseException:
                # Anything half-applied in memory is dropped; the store holds only what committed.
                self._snap = None
                raise
        raise E.ChathamError(
            "another chatham process kept changing this group while syncing",
            hint="wait for the other process to finish, then sync again",
        )

    def _sync(self, progress: Progress | None, send: bool) -> SyncReport:
        snap = self._load()
        api = self._api()
        before_status = snap.status
        applied = self._pull_log(api, snap)
        snap = self._load()
        names = self._names(snap)
        announcements = announce(applied, snap.state, names, self._me())
        new_entries = retracted = 0
        sent: list[str] = []
        if snap.status == "member":
            new_entries, retracted, extra = self._pull_entries(api, progress)
            announcements += extra
            if any(self._checkpoint_problems(self._load())):
                # Something checkpointed is missing: it may sit behind the cursor (a server
                # that withheld it before). Ask for everything once more before judging.
                more, gone, extra = self._pull_entries(api, None, rescan=True)
                new_entries, retracted = new_entries + more, retracted + gone
                announcements += extra
            self._check_checkpoint()
            if send:
                rotated = self.rotate_if_pending()
                if rotated is not None:
                    announcements += announce([rotated], self._load().state, names, self._me())
                sent = self._flush(api)
        if before_status == "joining" and snap.status == "member":
            announcements.append(
                Announcement(
                    snap.state.seq,
                    "joined",
                    "Your join request was approved: you are now a member of the group",
                    self._me().hex(),
                    (self._me().hex(),),
                )
            )
        return SyncReport(
            group=self.id,
            new_ops=len(applied),
            new_entries=new_entries,
            retracted=retracted,
            sent=tuple(sent),
            queued=self._store.outbox_count(self._gid),
            announcements=tuple(announcements),
            status=self._load().status,
        )

    # --- the log --------------------------------------------------------------------------------

    def _pull_log(self, api: ServerApi, snap: _Snap) -> list[crypto.AppliedOp]:
        """Fetch, verify and store new log ops and this device's new epoch keys."""
        secret = self._store.join_secret(self._gid) if snap.status == "joining" else None
        try:
            state, applied = self._read_log(api, snap)
        except E.Forbidden as e:
            if secret is None or e.code != "not_a_member":
                if e.code == "not_a_member":
                    raise E.NotAMember() from None
                raise
            # Not in the roster yet: read as the invitee, with the invite's join key.
            api.as_invitee(crypto.InviteSecret(secret, self._gid, self.server))
            try:
                state, applied = self._read_log(api, snap)
            except E.Forbidden as e2:
                if e2.code == "invite_not_usable":
                    raise E.NotAMember(
                        "the invite is no longer usable: it was used, revoked or has expired, "
                        "and this device was not added",
                        hint="ask a leader for a new invite",
                    ) from None
                raise
            finally:
                api.as_invitee(None)
        status = self._status_of(state, snap.status)
        keyring, boxes = self._pull_keys(api, snap, state, status)
        if not applied and not boxes and status == snap.status:
            return []
        self._commit_log(snap, state, applied, keyring, boxes, status)
        return applied

    def _read_log(
        self, api: ServerApi, snap: _Snap
    ) -> tuple[crypto.GroupState, list[crypto.AppliedOp]]:
        state = snap.state.copy()
        known_seq, known_head = snap.state.seq, snap.state.head
        # Ask again for the newest op already verified: a fork shows even when nothing is new.
        since = known_seq - 1 if known_seq >= 0 else -1
        applied: list[crypto.AppliedOp] = []
        first = True
        while True:
            page = api.log(self._gid, since)
            if page.group_id != self._gid:
                raise E.BadResponse("the server answered with another group's log")
            ops = page.ops
            if first and known_seq >= 0:
                if not ops or page.seq < known_seq:
                    raise E.RollbackError(
                        f"the server shows a log of {max(page.seq, -1) + 1} ops, older than the "
                        f"{known_seq + 1} already verified",
                        check="rollback",
                        record=f"log op {known_seq}",
                    )
                if not hmac.compare_digest(crypto.op_hash(ops[0]), known_head):
                    raise E.ForkError(
                        "the server's op differs from the one already verified",
                        check="fork",
                        record=f"log op {known_seq}",
                    )
                ops = ops[1:]
            first = False
            for data in ops:
                try:
                    applied.append(state.apply(data))
                except crypto.LogError as e:
                    raise log_error(e) from None
            if not page.more:
                break
            if not page.ops:
                raise E.BadResponse("the server promised more log ops and sent none")
            since = state.seq
        if page.seq > state.seq:
            raise E.WithheldError(
                f"the server says the log reaches op {page.seq} but sent only up to op {state.seq}",
                check="withheld_op",
                record=f"log op {state.seq + 1}",
            )
        if page.seq < state.seq or (state.seq >= 0 and page.head != state.head):
            raise E.BadResponse("the server's log head does not match the ops it sent")
        if self._gid != state.group_id:
            raise E.ForkError("the log's genesis does not hash to this group's id", check="genesis")
        return state, applied

    def _pull_keys(
        self, api: ServerApi, snap: _Snap, state: crypto.GroupState, status: str
    ) -> tuple[crypto.Keyring, dict[int, bytes]]:
        """Open this device's lockbox for every new epoch sealed to it; (keyring, lockboxes)."""
        device = self._device()
        needed = [e for e in _rotation_epochs(state, device.id) if e not in snap.keyring.keys]
        keyring = crypto.Keyring(dict(snap.keyring.keys))
        if not needed:
            return keyring, {}
        try:
            served = {b.epoch: b.lockbox for b in api.lockboxes(self._gid, min(needed) - 1)}
        except E.Forbidden:
            if status == "member":
                raise
            return keyring, {}  # departed: the server serves nothing more, as it should
        boxes: dict[int, bytes] = {}
        for epoch in needed:
            info = state.rotations[epoch]
            sealed = served.get(epoch)
            if sealed is None:
                if status != "member":
                    continue
                raise E.WithheldError(
                    f"the server withheld this device's lockbox for epoch {epoch}",
                    check="lockbox_withheld",
                    record=f"log op {info.seq}",
                )
            try:
                keyring.accept_lockbox(state, device, self._me(), epoch, sealed)
            except crypto.RotationError as e:
                err = log_error(e)
                err.record = f"log op {info.seq}"
                raise err from None
            except crypto.CouldNotOpen:
                raise E.CouldNotOpen() from None
            boxes[epoch] = sealed
        return keyring, boxes

    def _commit_log(
        self,
        snap: _Snap,
        state: crypto.GroupState,
        applied: list[crypto.AppliedOp],
        keyring: crypto.Keyring,
        boxes: dict[int, bytes],
        status: str,
    ) -> None:
        store = self._store
        pinned = msgspec.structs.replace(
            snap.pinned, log_seq=state.seq, log_head=state.head, epochs=sorted(keyring.keys)
        )
        with store.write() as db:
            store.claim(db, self._gid, snap.version)
            if applied:
                store.add_ops(db, self._gid, snap.state.seq + 1, [a.data for a in applied])
            for epoch in sorted(set(keyring.keys) - set(snap.keyring.keys)):
                store.add_epoch_key(db, self._gid, epoch, keyring.keys[epoch], boxes.get(epoch))
            if status == "member":
                store.set_join_secret(db, self._gid, None)
            version = store.pin(db, self._gid, snap.version, pinned, status)
        self._snap = _Snap(
            version, pinned, state, keyring, snap.tracker, status, snap.log + applied
        )

    # --- entries --------------------------------------------------------------------------------

    def _pull_entries(
        self, api: ServerApi, progress: Progress | None, *, rescan: bool = False
    ) -> tuple[int, int, list[Announcement]]:
        """Fetch entries after the pinned cursor (or, with rescan, all of them again)."""
        snap = self._load()
        cursor = 0 if rescan else snap.pinned.cursor
        total: int | None = None
        if progress is not None:
            try:
                total = max(0, api.group_info(self._gid).entry_cursor - snap.pinned.cursor)
            except E.ServerError:
                total = None
            progress(0, total)
        done = new = retracted = 0
        announcements: list[Announcement] = []
        # While one page is verified and stored, the next is already on its way: the server's
        # and the network's time overlaps the client's (signature checks release the GIL).
        # Verified rows wait in memory for at most COMMIT_ROWS, then go to disk in one
        # transaction with the pinned state: fewer fsyncs, and a crash loses only those.
        rows: list[EntryRow] = []
        updates: list[EntryRow] = []
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="chatham-fetch") as fetcher:
            ahead: Future[EntryPage] = fetcher.submit(api.entries, self._gid, cursor, PAGE)
            while True:
                page = ahead.result()
                last = page.entries[-1].cursor if page.entries else cursor
                if page.cursor < last:
                    raise E.BadResponse("the server's page cursor is behind its entries")
                if page.more and not page.entries:
                    raise E.BadResponse("the server promised more entries and sent none")
                if page.more:
                    ahead = fetcher.submit(api.entries, self._gid, page.cursor, PAGE)
                snap = self._load()
                prev = cursor
                for item in page.entries:
                    if item.cursor <= prev:
                        raise E.BadResponse("the server sent entries out of order")
                    prev = item.cursor
                    self._verify_item(snap, item, rows, updates, announcements)
                cursor = page.cursor
                done += len(page.entries)
                if len(rows) + len(updates) >= COMMIT_ROWS or not page.more:
                    if rows or updates or cursor > snap.pinned.cursor:
                        self._commit_entries(snap, rows, updates, cursor)
                    new += sum(1 for r in rows if r.ct is not None)
                    retracted += len(updates) + sum(1 for r in rows if r.ct is None)
                    rows, updates = [], []
                if progress is not None:
                    progress(done, total)
                if not page.more:
                    return new, retracted, announcements

    def _verify_item(
        self,
        snap: _Snap,
        item: EntryItem,
        rows: list[EntryRow],
        updates: list[EntryRow],
        announcements: list[Announcement],
    ) -> None:
        state, tracker = snap.state, snap.tracker
        eid = item.entry_id
        ct: bytes | None = None
        try:
            if item.entry is not None:
                entry = crypto.decode_entry(item.entry)
                ct = entry.ct
                # Hash the ciphertext once: checking the stub (header, this hash, signature) is
                # the same check as checking the entry, whose signature covers it by hash.
                stub = crypto.EntryStub(entry.header, crypto.ct_hash(ct), entry.sig)
            elif item.stub is not None:
                stub = crypto.decode_stub(item.stub)
            else:
                raise E.BadResponse(f"entry {eid.hex()}: neither an entry nor a retraction stub")
        except crypto.EntryError as e:
            raise entry_error(e, eid) from None
        header = stub.header
        if header.entry_id != eid:
            raise E.TamperedEntryError(
                f"the server labels this {'stub' if ct is None else 'entry'} with another id "
                "(swapped)",
                check="entry_id",
                record=f"entry {eid.hex()}",
            )
        link = self._check_public(state, stub)
        if ct is not None:
            if self._track(tracker, header, link):
                rows.append(_entry_row(item, stub, link, ct))
            return
        if item.retraction is None:
            raise E.FakeDeletionError(check="retraction_missing", record=f"entry {eid.hex()}")
        try:
            signed = crypto.verify_retraction(
                state, item.retraction, header.device, entry_log_seq=header.log_seq
            )
        except crypto.EntryError as e:
            raise E.FakeDeletionError(
                f"the server claims the entry was retracted, but the retraction is invalid ({e})",
                check=e.check,
                record=f"entry {eid.hex()}",
            ) from None
        if signed.retraction.entry_id != eid:
            raise E.FakeDeletionError(
                "the retraction names another entry", check="entry_id", record=f"entry {eid.hex()}"
            )
        if self._track(tracker, header, link):
            rows.append(_entry_row(item, stub, link, None))
            return
        known = next((r for r in rows if r.entry_id == eid), None) or self._store.entry(
            self._gid, eid
        )
        if known is None or known.retraction is not None:
            return
        retracted = dataclasses.replace(known, ct=None, retraction=item.retraction)
        if known in rows:
            rows[rows.index(known)] = retracted
            return
        updates.append(retracted)
        signer = state.member_of_device(signed.retraction.signer)
        author = state.member_of_device(header.device)
        if signer is not None and author is not None and signer.id != author.id:
            names = self._names(snap)
            who = display(signer.id, names, self._me())
            announcements.append(
                Announcement(
                    signed.retraction.log_seq,
                    "retract",
                    f"{who[:1].upper() + who[1:]} (leader) retracted an entry by "
                    f"{display(author.id, names, self._me())}",
                    signer.id.hex(),
                    (author.id.hex(),),
                )
            )

    @staticmethod
    def _check_public(state: crypto.GroupState, item: crypto.Entry | crypto.EntryStub) -> bytes:
        try:
            return crypto.check_entry_public(state, item)
        except crypto.EntryError as e:
            raise entry_error(
                e, item.header.entry_id, log_seq=item.header.log_seq, known_seq=state.seq
            ) from None

    @staticmethod
    def _track(tracker: crypto.ChainTracker, header: crypto.EntryHeader, link: bytes) -> bool:
        try:
            new = tracker.check(header, link)
        except crypto.EntryError as e:
            raise entry_error(e, header.entry_id) from None
        if new:
            tracker.add(header, link)
        return new

    def _commit_entries(
        self, snap: _Snap, rows: list[EntryRow], updates: list[EntryRow], cursor: int
    ) -> None:
        store = self._store
        pinned = msgspec.structs.replace(
            snap.pinned,
            cursor=max(cursor, snap.pinned.cursor),
            entries=snap.pinned.entries + len(rows),
            heads=[(h.device, h.seq, h.link) for h in snap.tracker.heads()],
        )
        with store.write() as db:
            store.claim(db, self._gid, snap.version)
            store.add_entries(db, self._gid, rows)
            for r in updates:
                store.update_entry(db, self._gid, r)
            version = store.pin(db, self._gid, snap.version, pinned)
        snap.version, snap.pinned = version, pinned

    def _check_checkpoint(self) -> None:
        """Every chain head a leader checkpointed (or recorded at a departure) must be here."""
        snap = self._load()
        withheld, differ = self._checkpoint_problems(snap)
        if differ:
            raise E.EquivocationError(
                "; ".join(differ), check="checkpoint", record=_cp_record(snap.state)
            )
        if withheld:
            raise E.WithheldError(
                "; ".join(withheld), check="checkpoint", record=_cp_record(snap.state)
            )

    def _checkpoint_problems(self, snap: _Snap) -> tuple[list[str], list[str]]:
        state, tracker = snap.state, snap.tracker
        names: dict[bytes, str] | None = None
        expected: list[tuple[crypto.ChainHead, str]] = []
        if state.checkpoint is not None:
            cp = state.checkpoint
            expected += [(h, f"the checkpoint at log op {cp.seq}") for h in cp.heads]
        for d in state.devices.values():
            if d.final_head is not None:
                expected.append((d.final_head, "the departure op"))
        withheld: list[str] = []
        differ: list[str] = []
        for head, source in expected:
            chain = tracker.links.get(head.device, {})
            mine = max(chain) if chain else 0
            if head.seq <= mine and (
                head.seq == 0 or hmac.compare_digest(chain[head.seq], head.link)
            ):
                continue
            if names is None:
                names = self._names(snap)  # only to word a problem: opening names costs
            m = state.member_of_device(head.device)
            who = display(m.id, names, self._me()) if m else head.device.hex()[:12]
            if head.seq > mine:
                withheld.append(
                    f"{source} lists {head.seq} entries by {who}, "
                    f"but the server delivered only {mine} (withheld)"
                )
            else:
                differ.append(f"entry {head.seq} by {who} differs from {source}")
        return withheld, differ

    # --- writing --------------------------------------------------------------------------------

    def post(self, body: bytes) -> str:
        """Queue `body` as a new entry and send it now if the server is reachable; its id.

        The body is opaque here (the journal layer encodes it). It is kept sealed under the
        store key until it is sent, and sealed under the newest epoch only at send time, so
        a write made offline never uses a key that a departed member holds.
        """
        if not isinstance(body, bytes):
            raise TypeError("an entry body is bytes")
        if len(body) > MAX_ENTRY_BODY:
            raise E.UsageError(
                f"an entry is at most {MAX_ENTRY_BODY} bytes",
                hint="attach large content as a file instead",
            )
        snap = self._load()
        if snap.status != "member":
            raise E.NotAMember()
        entry_id = random_bytes(16)
        self._store.queue(self._gid, entry_id, body, self._account.now())
        with contextlib.suppress(E.Unreachable):  # queued; the next sync sends it
            self.sync()
        return entry_id.hex()

    def _flush(self, api: ServerApi) -> list[str]:
        sent: list[str] = []
        for entry_id, body in self._store.outbox(self._gid):
            for attempt in range(4):
                if self._store.entry(self._gid, entry_id) is not None:
                    # It reached the server before (e.g. the client died before unqueueing).
                    with self._store.write() as db:
                        self._store.unqueue(db, entry_id)
                    sent.append(entry_id.hex())
                    break
                self.rotate_if_pending()
                sealed = self._seal(entry_id, body)
                try:
                    posted = api.post_entry(self._gid, sealed.data)
                except E.Conflict as e:
                    if attempt == 3 or e.code not in (
                        "stale_epoch",
                        "rotation_pending",
                        "chain_gap",
                        "duplicate_entry",
                    ):
                        raise
                    self._sync(None, send=False)  # the log or a chain moved: catch up, reseal
                    continue
                self._store_own(sealed, posted.cursor, entry_id)
                sent.append(entry_id.hex())
                break
        return sent

    def _seal(self, entry_id: bytes, body: bytes) -> crypto.SealedEntry:
        snap = self._load()
        state = snap.state
        if state.pending_rotation:
            raise E.RotationPending()
        if state.epoch not in snap.keyring.keys:
            raise E.CouldNotOpen(
                "this device does not hold the current epoch key", hint="run `chatham sync`"
            )
        device = self._device()
        head = snap.tracker.head(device.id)
        sealed = crypto.seal_entry(
            device=device,
            epoch_key=snap.keyring.keys[state.epoch],
            group=self._gid,
            epoch=state.epoch,
            seq=head.seq + 1 if head else 1,
            prev=head.link if head else ZERO32,
            log_seq=state.seq,
            log_head=state.head,
            body=body,
            entry_id=entry_id,
        )
        return sealed

    def _store_own(self, sealed: crypto.SealedEntry, cursor: int, entry_id: bytes) -> None:
        snap = self._load()
        entry = sealed.entry
        link = self._check_public(snap.state, entry)
        header = entry.header
        self._track(snap.tracker, header, link)
        row = EntryRow(
            entry_id,
            cursor,
            header.device,
            header.seq,
            header.epoch,
            crypto.encode(header),
            entry.ct,
            crypto.ct_hash(entry.ct),
            entry.sig,
            link,
            None,
        )
        pinned = msgspec.structs.replace(
            snap.pinned,
            entries=snap.pinned.entries + 1,
            heads=[(h.device, h.seq, h.link) for h in snap.tracker.heads()],
        )
        store = self._store
        try:
            with store.write() as db:
                store.claim(db, self._gid, snap.version)
                store.add_entries(db, self._gid, [row])
                store.unqueue(db, entry_id)
                version = store.pin(db, self._gid, snap.version, pinned)
        except BaseException:
            self._snap = None
            raise
        snap.version, snap.pinned = version, pinned

    def retract(self, entry_id: str) -> None:
        """Delete an entry's ciphertext on the server and here, with a signed retraction.

        The author or a leader may retract. It cannot recall what members already read.
        """
        row = self._find(entry_id)
        if row.retraction is not None:
            return
        self.sync(send=False)
        snap = self._load()
        me = self._device().id
        if row.device != me and not snap.state.is_leader_device(me):
            raise E.NotAllowed(
                "only the author or a leader may retract an entry",
                hint="ask the author or a leader",
            )
        signed = crypto.sign_retraction(
            self._device(), self._gid, row.entry_id, snap.state.seq, time=self._account.now()
        )
        self._api().retract(self._gid, row.entry_id, signed)
        self.sync(send=False)

    # --- attachments: sealed chunks the journal layer makes and references ---------------------

    def put_attachment_chunk(self, attachment_id: bytes, index: int, sealed: bytes) -> None:
        """Upload one sealed chunk (write-once; the first chunk claims the id for this device)."""
        if self._load().status != "member":
            raise E.NotAMember()
        self._api().put_chunk(self._gid, attachment_id, index, sealed)

    def attachment_chunk(self, attachment_id: bytes, index: int) -> bytes:
        """Download one sealed chunk as the server holds it (open it with AttachmentOpener)."""
        return self._api().get_chunk(self._gid, attachment_id, index)

    def delete_attachment(self, attachment_id: bytes) -> None:
        """Delete an attachment's chunks on the server (its uploader or a leader)."""
        self._api().delete_attachment(self._gid, attachment_id)

    # --- sealed scratch values for the layers above (the journal view's cache) -------------------

    def stored_tag(self) -> bytes:
        """A digest of what is stored for this group: it changes whenever a sync, a post or a
        retraction changes the stored state, so a layer above can tell its cache is stale."""
        row = self._store.group(self._gid)
        if row is None:
            raise E.NotFound(f"group {self.id[:12]} is no longer in this home")
        import hashlib

        state = msgspec.msgpack.encode([row.version, row.status, row.pinned])
        return hashlib.sha256(state).digest()

    def save_sealed(self, name: str, data: bytes | None) -> None:
        """Keep `data` in the local store sealed under the store key, bound to this group and
        `name` (None deletes it). Plaintext never reaches the disk."""
        key = f"sealed:{self.id}:{name}"
        if data is None:
            self._store.set_meta(key, None)
            return
        context = self._gid + name.encode()
        self._store.set_meta(key, self._store.vault.seal(b"group-scratch", context, data))

    def load_sealed(self, name: str) -> bytes | None:
        """What `save_sealed(name, ...)` kept, or None; StoreTampered if it was edited."""
        sealed = self._store.get_meta(f"sealed:{self.id}:{name}")
        if sealed is None:
            return None
        return self._store.vault.open(b"group-scratch", self._gid + name.encode(), sealed)

    # --- meeting code and change notifications ---------------------------------------------------

    def meeting_code(self) -> str | None:
        """The words from the latest verified checkpoint (as `verify()` gives), without a replay."""
        snap = self._load()
        return snap.keyring.meeting_code(snap.state)

    def changes(
        self, *, read_timeout: float = 45.0, until: float | None = None
    ) -> Iterator[tuple[int, int]]:
        """Follow the server's event stream: (entry cursor, log seq) now and on every change.

        The stream carries nothing else (no ids, authors or sizes). It ends when the server
        ends it (token expiry, an hour, or this device leaving the group), or at `until`
        (a `time.monotonic()` deadline, checked on every line and keepalive). A dropped
        connection, or no byte for `read_timeout` seconds, raises `Unreachable`.
        """
        import json
        import time

        import httpx

        def left() -> float:
            return read_timeout if until is None else min(read_timeout, until - time.monotonic())

        if left() <= 0:
            return
        resp = self._api().events(self._gid, read_timeout=left())
        invalid = "the server's event stream is not valid"
        try:
            event = ""
            for line in _event_lines(resp, until):
                if line.startswith("event:"):
                    event = line[6:].strip()
                elif line.startswith("data:") and event == "changed":
                    try:
                        data = json.loads(line[5:])
                        position = (int(data["cursor"]), int(data["seq"]))
                    except (ValueError, KeyError, TypeError, RecursionError, OverflowError):
                        raise E.BadResponse(invalid) from None
                    yield position
                elif not line:
                    event = ""
        except (UnicodeDecodeError, httpx.DecodingError):
            raise E.BadResponse(invalid) from None
        except httpx.TransportError as e:
            if until is not None and time.monotonic() >= until:
                return
            raise E.Unreachable(
                f"lost the event stream from {self.server} ({type(e).__name__})"
            ) from None
        finally:
            resp.close()

    # --- the log: generic append with conflict handling ------------------------------------------

    def append_op(self, op: crypto.PendingOp | OpBuilder, *, retries: int = 3) -> crypto.AppliedOp:
        """Append a signed op (with its lockboxes) to the group log.

        Pass a builder (`OpContext -> PendingOp`) to have a conflict (another leader
        appended first) handled by syncing, rebuilding and retrying up to `retries`
        times; a ready `PendingOp` is sent once and a conflict raises `Conflict`.
        The op is checked locally first, so a non-leader gets `NotAllowed` without
        a round trip. Returns the applied op once it is verified and stored.
        """
        api = self._api()
        for attempt in range(retries + 1):
            self.sync(send=False)
            snap = self._load()
            if snap.status != "member":
                raise E.NotAMember()
            try:
                pending = op if isinstance(op, crypto.PendingOp) else op(self._context())
            except crypto.LogError as e:
                raise E.NotAllowed(str(e)) from None
            except ValueError as e:
                raise E.UsageError(str(e)) from None
            state = snap.state.copy()
            try:
                applied = state.apply(pending.op)
            except crypto.ForkError:
                raise E.Conflict(
                    "the op was built on an older log head", code="stale_head"
                ) from None
            except crypto.LogError as e:
                raise E.NotAllowed(_plain(e)) from None
            try:
                api.append(
                    self._gid, snap.state.seq, snap.state.head, pending.op, pending.lockboxes
                )
            except E.Conflict as e:
                if e.code == "stale_head" and callable(op) and attempt < retries:
                    continue
                raise
            keyring = crypto.Keyring(dict(snap.keyring.keys))
            boxes: dict[int, bytes] = {}
            mine = pending.lockboxes.get(self._device().id)
            if pending.epoch is not None and mine is not None:
                keyring.accept_lockbox(state, self._device(), self._me(), pending.epoch, mine)
                boxes[pending.epoch] = mine
            self._commit_log(
                snap, state, [applied], keyring, boxes, self._status_of(state, snap.status)
            )
            return applied
        raise AssertionError("unreachable")  # pragma: no cover

    # --- leader and member ops (protocol plumbing; docs/membership.md for the workflows) ------

    def rotate(self) -> crypto.AppliedOp:
        """A fresh epoch key for every active device (a leader; anyone while one is pending)."""
        return self.append_op(
            lambda c: crypto.build_rotate(c.state, c.keyring, c.device, time=c.time)
        )

    def rotate_if_pending(self) -> crypto.AppliedOp | None:
        """Perform the rotation a leave left pending (any active member may); None if none is.

        Sync and send call it, so no client seals under a key a departed member holds.
        When another member rotates first, the retry finds nothing pending and stops.
        """
        if self._load().status != "member" or not self._load().state.pending_rotation:
            return None

        def build(c: OpContext) -> crypto.PendingOp:
            if not c.state.pending_rotation:
                raise crypto.LogError("another member performed the rotation", check="rotation")
            return crypto.build_rotate(c.state, c.keyring, c.device, time=c.time)

        try:
            return self.append_op(build)
        except E.NotAllowed:
            if self._load().state.pending_rotation:
                raise
            return None

    def checkpoint(self) -> crypto.AppliedOp:
        """Sign every author chain's head as this leader sees it (the meeting code's basis)."""
        return self.append_op(
            lambda c: crypto.build_checkpoint(c.state, c.device, c.heads, time=c.time)
        )

    def set_role(self, member: str, role: Role) -> crypto.AppliedOp:
        """Promote to leader or demote to member (leaders)."""
        target = bytes.fromhex(self.member(member).id)
        return self.append_op(
            lambda c: crypto.build_set_role(c.state, c.device, target, role, time=c.time)
        )

    def set_policy(
        self,
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
            return crypto.build_policy(c.state, c.device, policy, time=c.time)

        return self.append_op(build)

    def remove(self, member: str) -> crypto.AppliedOp:
        """Remove a member and rotate the key in one signed op, recording their final heads."""
        target = bytes.fromhex(self.member(member).id)
        return self.append_op(
            lambda c: crypto.build_remove(
                c.state, c.keyring, c.device, target, c.heads, time=c.time
            )
        )

    def leave(self) -> crypto.AppliedOp:
        """Leave the group (self-signed); the remaining members rotate before writing."""
        return self.append_op(
            lambda c: crypto.build_leave(c.state, c.device, c.member, c.heads, time=c.time)
        )

    def invite(self, *, role: Role = "member", expires_in: int = 7 * 86400) -> crypto.InviteSecret:
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
                server=self.server,
                time=c.time,
            )
            made.append(secret)
            return op

        self.append_op(build)
        secret = made[-1]
        self._store.add_invite(self._gid, secret.invite_id, secret.secret)
        return secret

    def join_requests(self, *, refused: list[str] | None = None) -> list[JoinRequest]:
        """Pending join requests, each checked against its live invite (leaders).

        Requests that fail a check are left out; pass a list as `refused` to learn why.
        """
        self.sync(send=False)
        state = self._load().state
        out = []
        for item in self._api().join_requests(self._gid):
            try:
                sjr = crypto.verify_join_request(state, item.request, now=self._account.now())
            except crypto.InviteError as e:
                if refused is not None:
                    refused.append(str(e))
                continue  # not answerable: the server should not have listed it
            req = sjr.request
            inv = state.invites[req.invite_id]
            secret = self._store.invite_secret(self._gid, req.invite_id)
            mac_ok = (
                None
                if secret is None
                else crypto.InviteSecret(secret, self._gid, self.server).check_mac(req)
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

    def approve(self, request: JoinRequest, *, name: str, fingerprint: str) -> crypto.AppliedOp:
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
        return self.append_op(
            lambda c: crypto.build_add(
                c.state,
                c.keyring,
                c.device,
                [(card, invite_id, name)],
                roster=_roster_names(c, 1),
                time=c.time,
            )
        )

    # --- verification ---------------------------------------------------------------------------

    def verify(self) -> VerifyReport:
        """Replay the whole stored log and every stored chain from scratch; offline.

        Re-checks every op, re-opens this device's stored lockboxes against their
        commitments and key confirmations, re-checks every entry's signature, header and
        chain position, compares the chains with the latest checkpoint and departures, and
        derives the meeting code. Raises StoreTampered if stored data fails; reports
        withheld or differing chains as problems.
        """
        snap = self._load()
        tag = f"group {self.id[:12]}"
        try:
            state = crypto.replay(self._store.ops(self._gid))
        except crypto.LogError as e:
            raise E.StoreTampered(f"{tag}: the stored log does not verify ({e})") from None
        keyring = crypto.Keyring()
        device = self._device()
        for epoch, box in sorted(self._store.lockboxes(self._gid).items()):
            try:
                keyring.accept_lockbox(state, device, self._me(), epoch, box)
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
        rows = sorted(self._store.iter_entries(self._gid), key=lambda r: (r.device, r.seq))
        entries = retracted = unreadable = 0
        for row in rows:
            header = crypto.decode(row.header, crypto.EntryHeader, max_size=1024)
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
                if row.retraction is not None:
                    crypto.verify_retraction(
                        state, row.retraction, header.device, entry_log_seq=header.log_seq
                    )
            except crypto.EntryError as e:
                raise E.StoreTampered(
                    f"{tag}: stored entry {row.entry_id.hex()} fails: {e}"
                ) from None
            if isinstance(item, crypto.Entry):
                try:
                    crypto.open_entry(item, keyring.key(header.epoch))
                except crypto.CouldNotOpen:
                    unreadable += 1
        check_snap = _Snap(
            snap.version, snap.pinned, state, keyring, tracker, snap.status, snap.log
        )
        withheld, differ = self._checkpoint_problems(check_snap)
        problems = differ + withheld
        names = self._names(check_snap)
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
            group=self.id,
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
        )


def _roster_names(c: OpContext, joining: int) -> list[tuple[bytes, str]]:
    """Names of current members this leader can read, re-attested in an add (protocol §6.4),
    so a newcomer under from-join sees names, not ids; leaders first, within the blob's cap."""
    try:
        names = c.keyring.names(c.state)
    except crypto.CouldNotOpen:
        return []
    active = sorted(c.state.active_members(), key=lambda m: (m.role != "leader", m.joined_seq))
    return [(m.id, names[m.id]) for m in active if m.id in names][: MAX_NAMES - joining]


def _cp_record(state: crypto.GroupState) -> str | None:
    return None if state.checkpoint is None else f"log op {state.checkpoint.seq}"


def _plain(e: crypto.LogError) -> str:
    message = str(e)
    if e.seq is not None and message.startswith(f"log op {e.seq}: "):
        message = message[len(f"log op {e.seq}: ") :]
    return message


def _check_group_name(name: str) -> str:
    name = " ".join(name.split())
    if not 1 <= len(name) <= 100 or not name.isprintable():
        raise E.UsageError("a group name is 1 to 100 printable characters")
    return name


MAX_EVENT_LINE = 4096
"""No line of the event stream is longer; a longer one is not the protocol."""


def _event_lines(resp: httpx.Response, until: float | None) -> Iterator[str]:
    """The lines of an event stream, decoded as UTF-8 (what the format says, whatever charset
    the server names), each at most `MAX_EVENT_LINE` bytes; ends at `until`, checked on every
    chunk that arrives (keepalives included). Invalid UTF-8 raises UnicodeDecodeError."""
    import time

    pending = b""
    for chunk in resp.iter_bytes():
        pending += chunk
        *lines, pending = pending.split(b"\n")
        for raw in lines:
            if len(raw) > MAX_EVENT_LINE:
                raise E.BadResponse("the server's event stream is not valid")
            yield raw.rstrip(b"\r").decode("utf-8")
        if len(pending) > MAX_EVENT_LINE:
            raise E.BadResponse("the server's event stream is not valid")
        if until is not None and time.monotonic() >= until:
            return
