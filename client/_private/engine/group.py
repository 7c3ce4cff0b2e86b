"""`Group`: one group as a member holds it, the one path to everything a member does with it.

It loads the verified state from the local store (checking it against its MACs and
pinned heads) and reads entries offline; every other job is one module's: syncing
(`sync.py`), writing (`outbox.py`), the log (`ops.py`), verification (`verify.py`),
the change stream (`changes.py`), membership (`membership/workflows.py`) and the
journal (`journal/service.py`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import hmac
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING

import msgspec
from chatham import crypto

from ... import errors as E
from ..local.store import EntryRow, GroupRow, Store
from ..membership import workflows
from ..membership.exposure import exposure
from ..membership.roster import members, told_apart
from ..membership.values import (
    Approval,
    Exposure,
    History,
    InviteInfo,
    Member,
    Notes,
    PendingRequest,
    Removal,
    Role,
    RosterEntry,
)
from ..membership.workflows import DEFAULT_INVITE_SECONDS, Ask
from . import move as moving
from . import outbox, uploads
from .alarms import Alarm
from .changes import changes
from .freshness import Freshness, freshness, require_fresh
from .heal import HealReport
from .heal import heal as heal_group
from .ops import RETRIES, OpBuilder, append_op
from .results import EntryRef, OpenedEntry, SyncReport, Unsent, Upload, VerifyReport
from .snapshot import Snapshot
from .sync import Progress, alarms, sync_once
from .verify import verify

if TYPE_CHECKING:
    from datetime import tzinfo

    from ..account import Account
    from ..journal.service import Journal
    from .api import ChainHeadItem, ServerApi


QUICK_SYNC = 4.0
"""Seconds a read waits for the server before showing the local copy instead."""


class Group:
    """One group in a member's home. Get it from `Account.group()` or `Account.groups()`."""

    def __init__(self, account: Account, row: GroupRow) -> None:
        self._account = account
        self._gid = row.group_id
        self.server: str = row.server
        self._name = row.name
        self._snap: Snapshot | None = None
        self._server_cursor: int | None = None
        """The server's entry cursor, as its last log page said (sync.py)."""
        self._server_heads: list[ChainHeadItem] | None = None
        """Every chain head the server holds, as its last log page said (rollback.py)."""

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
        """Call the group something else in this home (the group's own name is unchanged)."""
        name = _check_group_name(name)
        self._store.rename_group(self._gid, name)
        self._name = name

    # --- drafts ----------------------------------------------------------------------------------

    def draft(self, key: str) -> dict[str, str] | None:
        """What the member typed into a form (`key` names it, e.g. "issue-new") and has not
        posted yet, as `keep_draft` kept it; None when there is none. Drafts are sealed in
        this home's store, so they survive a restart and read as nothing without the
        passphrase."""
        blob = self._store.draft(self._gid, _draft_key(key))
        if blob is None:
            return None
        try:
            fields = _draft_decoder.decode(blob)
        except msgspec.DecodeError:
            return None
        return fields

    def keep_draft(self, key: str, fields: Mapping[str, str]) -> None:
        """Keep (replace) the draft `key`: at most 40 fields of up to 200,000 characters."""
        key = _draft_key(key)
        if len(fields) > DRAFT_FIELDS or any(
            len(k) > 64 or len(v) > DRAFT_CHARS for k, v in fields.items()
        ):
            raise E.UsageError(
                f"a draft holds at most {DRAFT_FIELDS} fields of {DRAFT_CHARS:,} characters",
                hint="nothing was kept; shorten the text",
            )
        self._store.set_draft(self._gid, key, msgspec.json.encode(dict(fields)))

    def drop_draft(self, key: str) -> None:
        """Forget the draft `key` (after its post succeeded, or when the member throws it away)."""
        self._store.set_draft(self._gid, _draft_key(key), None)

    def attested_name(self) -> str | None:
        """The group's name as its leaders attested it (sealed in the log, protocol §6.4), if
        this member can read it; `name` is what this home calls it."""
        snap = self._load()
        return snap.keyring.group_name(snap.state)

    def _adopt_attested_name(self) -> None:
        """A joiner who gave no name of their own takes the group's name once they can read it."""
        self._load()  # refreshes this object's copy of the local name
        if self._name == placeholder_name(self._gid):
            attested = self.attested_name()
            if attested is not None:
                self.rename(attested)

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
    def unsent_count(self) -> int:
        """Writes the server refused for good, kept here until discarded (`unsent`)."""
        return self._store.unsent_count(self._gid)

    def unsent(self) -> list[Unsent]:
        """Writes the server refused for good (their author lost the power they need before
        they went out), oldest refusal first. Each is kept sealed in this home, never sent
        again, and shown as the item it was, in plain text, until `discard_unsent`."""
        from ..journal.kept import written_fields

        out = []
        for row in self._store.unsent(self._gid):
            kind, fields = written_fields(row.body)
            out.append(Unsent(row.entry_id.hex(), kind, fields, row.reason, row.added, row.refused))
        return out

    def find_unsent(self, ref: str) -> Unsent:
        """The kept unsent write with this id, or a unique prefix of it."""
        ref = ref.strip().lower()
        found = [u for u in self.unsent() if ref and u.id.startswith(ref)]
        if not found:
            raise E.NotFound(
                f"no unsent write {ref[:32]} in this group", hint="`chatham unsent` lists them"
            )
        if len(found) > 1:
            raise E.NotFound(f"{ref} names more than one unsent write", hint="give more of its id")
        return found[0]

    def discard_unsent(self, ref: str) -> None:
        """Forget a kept unsent write (its id or a unique prefix of it), once copied: it is
        overwritten on disk and cannot be brought back."""
        kept = self.find_unsent(ref)
        self._store.discard_unsent(self._gid, bytes.fromhex(kept.id))

    @property
    def _store(self) -> Store:
        return self._account._store

    def _api(self) -> ServerApi:
        return self._account._api(self.server)

    def _me(self) -> bytes:
        return self._account._member.id

    def _device(self) -> crypto.DeviceKeys:
        return self._account._secrets.device

    # --- loading --------------------------------------------------------------------------------

    def _load(self) -> Snapshot:
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
        for device, seq, link, log_seq in self._store.links(self._gid):
            tracker.load(device, seq, link, log_seq)
            count += 1
        heads = [(h.device, h.seq, h.link) for h in tracker.heads()]
        contiguous = all(len(chain) == max(chain) for chain in tracker.links.values())
        if count != pinned.entries or heads != pinned.heads or not contiguous:
            raise E.StoreTampered(f"{tag}: the stored entries do not match the pinned chains")
        if len(self._store.alarms(self._gid)) != pinned.alarms:
            raise E.StoreTampered(f"{tag}: the stored alarms do not match the pinned state")
        self._snap = Snapshot(
            row.version, pinned, state, crypto.Keyring(dict(keys)), tracker, row.status, log
        )
        self.server, self._name = row.server, row.name
        return self._snap

    def _status_of(self, state: crypto.GroupState, current: str) -> str:
        m = state.members.get(self._me())
        if m is None:
            return "joining" if current == "joining" else current
        # Per device: a member added again is back on another device, not on this one.
        d = state.devices.get(self._device().id)
        status = d.departed_as if d is not None and d.departed_as is not None else m.status
        return {"active": "member", "removed": "removed", "left": "left"}[status]

    def _names(self, snap: Snapshot | None = None) -> dict[bytes, str]:
        snap = snap or self._load()
        try:
            return told_apart(snap.keyring.names(snap.state))
        except crypto.CouldNotOpen:
            raise E.CouldNotOpen() from None

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
                readable=held and not retracted and epoch in keys,
            )
            for eid, cursor, device, seq, epoch, retracted, held in self._store.entry_index(
                self._gid
            )
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
                f"entry {row.entry_id.hex()} was written before you joined, under a key "
                "newcomers do not get",
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
            authority_seq=crypto.authority_seq(
                self._load().state, row.device, row.seq, header.log_seq
            ),
            cursor=row.cursor,
            body=body,
        )

    # --- syncing and writing (sync.py, outbox.py) ----------------------------------------------

    def sync(self, *, progress: Progress | None = None, send: bool = True) -> SyncReport:
        """Fetch, verify and store what is new; then send queued writes (unless send=False).

        Raises a `VerificationError` subclass naming the check and the record when the
        server's data fails verification; what was verified before it stays stored.
        """
        for _ in range(5):
            try:
                report = sync_once(self, progress, send)
                report = moving.follow(self, report, lambda: sync_once(self, progress, send))
                self._adopt_attested_name()
                if send and self._load().status == "member":
                    uploads.clean_up(self)
                    uploads.name_sent(self, uploads.queued_ids(self))
                now = self._account.now()
                self._store.set_meta(_synced_key(self._gid), now.to_bytes(8, "big"))
                return dataclasses.replace(report, unsent=self.unsent_count)
            except E.StaleLocal:
                self._snap = None
            except BaseException:
                # Anything half-applied in memory is dropped; the store holds only what committed.
                self._snap = None
                raise
        raise E.StaleLocal(
            "another chatham process kept changing this group while syncing",
            hint="wait for the other process to finish, then sync again",
        )

    def heal(self, *, registration_token: str | None = None) -> HealReport:
        """Give the server back what this device verified beyond the server's state: after a
        restore from an older backup, or to a server that lost (or never had) the group.

        The server's state must be a prefix of this copy (its log head an op verified here,
        every chain head it holds an entry verified here); otherwise a `ForkError` is raised
        and nothing is sent. The server checks everything as it checks any write (protocol
        §14.2). Syncs before (to see where the server is) and after (to verify the result).
        `registration_token` is for a server with closed registration that no longer holds
        the group (it is created again).
        """
        with contextlib.suppress(E.NotAMember):  # a server that lost the group says so
            self.sync(send=False)
        report = heal_group(self, registration_token=registration_token)
        return dataclasses.replace(report, alarms=self.sync().alarms)

    def use_server(
        self, url: str, *, give_copy: bool = False, registration_token: str | None = None
    ) -> HealReport | None:
        """Point this copy of the group at the server at `url` (the group's new server, told
        out of band by a leader, or the same address rebuilt from nothing).

        Accepted only if that server's log agrees with the one verified here wherever both
        reach; another log (a stranger's server, a fork) is a `ForkError` and nothing is
        stored. A server holding nothing of the group is refused unless `give_copy`: then
        it is given this copy (as `heal`), which is how a member restores a server that lost
        its database. Syncs with it afterwards; returns the heal's report, if one ran.
        """
        report = moving.use_server(
            self, url, give_copy=give_copy, registration_token=registration_token
        )
        synced = self.sync()
        if report is not None:
            report = dataclasses.replace(report, alarms=synced.alarms)
        return report

    def move(self, url: str, *, registration_token: str | None = None) -> HealReport:
        """A leader moves the group to the server at `url`: a signed `move` op recording it
        goes to the old server (if it still answers), then this device's verified copy (every
        op, the lockboxes it holds, every entry) is published to the new one, and this copy
        of the group uses it from now on. Members' clients follow on their next sync with
        the old server; members whose old server is gone use `use_server(url)`."""
        from .api import normalize_url

        snap = self._load()
        if snap.status != "member" or not snap.state.is_leader_device(self._device().id):
            raise E.NotAllowed(
                "only a leader moves the group to another server",
                hint="ask a leader; to follow a move, use `chatham group server URL`",
            )
        target = normalize_url(url)
        try:
            self.sync()
        except (E.ServerError, E.NotAMember):
            pass  # the old server is gone for good: members are told out of band
        else:
            if target != self.server and self._load().state.server != target:
                self.append_op(lambda c: crypto.build_move(c.state, c.device, target, time=c.time))
        report = self.use_server(target, give_copy=True, registration_token=registration_token)
        assert report is not None
        return report

    def refresh(self, *, timeout: float = QUICK_SYNC) -> SyncReport | None:
        """Sync before a read, if the server answers within `timeout` seconds per request;
        None when it is out of reach, and the local copy (of `last_synced`) is what there is.

        A failed check raises as in `sync`: a read never shows what did not verify."""
        with self._api().quick(timeout):
            try:
                return self.sync()
            except E.Unreachable:
                return None

    def uploads(self) -> list[Upload]:
        """Every attachment the server holds for the group, with its uploader, for leaders: to
        find what fills the group's space (delete one with `delete_upload`)."""
        if self._load().status != "member":
            raise E.NotAMember()
        snap = self._load()
        names = self._names(snap)
        api, found, after = self._api(), [], None
        while True:
            page = api.list_attachments(self.id_bytes, after)
            for a in page.attachments:
                device = snap.state.devices.get(a.uploader)
                member = device.member if device is not None else None
                who = names.get(member, member.hex()) if member is not None else a.uploader.hex()
                found.append(
                    Upload(a.attachment_id.hex(), who, a.chunks, a.size, a.entry_id is not None)
                )
            if not page.more or not page.attachments:
                return found
            after = page.attachments[-1].attachment_id

    def delete_upload(self, upload: str) -> int:
        """Delete an attachment's chunks from the server (its uploader, or a leader); the bytes
        of the group's space it frees. The entry that refers to it, if any, stays."""
        try:
            blob = bytes.fromhex(upload)
        except ValueError:
            blob = b""
        if len(blob) != 16:
            raise E.UsageError(
                f"{upload!r} is not an attachment id",
                hint="copy an id from `chatham attachment list`",
            )
        return self._api().delete_attachment(self.id_bytes, blob).size

    @property
    def stopped_uploads(self) -> list[str]:
        """Attachment ids (hex) of uploads that stopped halfway: their chunks are deleted from
        the server at the next sync that reaches it (attachments are never queued)."""
        return [b.hex() for b in uploads.stopped(self)]

    @property
    def last_synced(self) -> int | None:
        """When this home last synced the group (Unix seconds), or None if it never did."""
        raw = self._store.get_meta(_synced_key(self._gid))
        return None if raw is None else int.from_bytes(raw, "big")

    def freshness(self) -> Freshness:
        """How recently this copy of the group is known to have been current (no network):
        the time of the newest verified log op signed by another device (protocol §9.1)."""
        snap = self._load()
        return freshness(snap.state, snap.log, self._device().id, self._account.now())

    def post(self, body: bytes, *, retracts: Sequence[str] = (), insist: bool = False) -> str:
        """Queue `body` as a new entry and send it now if the server is reachable; its id.

        The body is opaque here (the journal layer encodes it). It is kept sealed under the
        store key until it is sent, and sealed under the newest epoch only at send time, so
        a write made offline never uses a key that a departed member holds.

        `retracts` names entries (ids) this entry withdraws: the server deletes their
        ciphertexts everywhere. Its author may withdraw their own entries, a leader any
        (protocol §7.1); it cannot recall what members already read.

        When this copy of the group has not been confirmed current for `STALE_REFUSE` (a
        server may be hiding a removal), it syncs and, if still that old, raises `StaleView`
        and queues nothing, unless `insist` (§9.1).
        """
        ids = [self._entry_id(r) for r in retracts]
        require_fresh(self, insist)
        return outbox.queue(self, body, ids)

    def _entry_id(self, ref: str) -> bytes:
        """A stored entry's id from its hex form or a unique prefix."""
        return self._find(ref).entry_id

    def meeting_code(self) -> str | None:
        """The words from the latest verified checkpoint (as `verify()` gives), without a replay."""
        snap = self._load()
        return snap.keyring.meeting_code(snap.state)

    def verify(self) -> VerifyReport:
        """Replay the whole stored log and every stored chain from scratch; offline.

        Re-checks every op, re-opens this device's stored lockboxes against their
        commitments and key confirmations, re-checks every entry's signature, header and
        chain position, compares the chains with the latest checkpoint and departures, and
        derives the meeting code. Raises StoreTampered if stored data fails; reports
        withheld or differing chains as problems.
        """
        return verify(self)

    def alarms(self) -> tuple[Alarm, ...]:
        """Every problem syncing found and has not seen resolved, oldest first (offline)."""
        return alarms(self)

    def changes(
        self, *, read_timeout: float = 45.0, until: float | None = None
    ) -> Iterator[tuple[int, int]]:
        """Follow the server's event stream: (entry cursor, log seq) now and on every change.

        The stream carries nothing else (no ids, authors or sizes). It ends when the server
        ends it (token expiry, an hour, or this device leaving the group), or at `until`
        (a `time.monotonic()` deadline, checked on every line and keepalive). A dropped
        connection, or no byte for `read_timeout` seconds, raises `Unreachable`.
        """
        return changes(self, read_timeout=read_timeout, until=until)

    def journal(self, *, tz: tzinfo | None = None, insist: bool = False) -> Journal:
        """This group's journal (issues, meetings, notes, commitments) as this member sees it.
        `insist`: write even when this copy of the group is too old to write safely (`post`)."""
        from ..journal.service import Journal

        return Journal(self, self._account.member_id, tz=tz, insist=insist)

    # --- the group log (ops.py) and membership (membership/workflows.py) -------------------------

    def append_op(
        self, op: crypto.PendingOp | OpBuilder, *, retries: int = RETRIES
    ) -> crypto.AppliedOp:
        """Append a signed op (with its lockboxes) to the group log.

        Pass a builder (`OpContext -> PendingOp`) to have a conflict (another leader
        appended first, or a member posted past the chain heads a remove pins) handled by
        syncing, rebuilding and retrying up to `retries` times (a member posting while being
        removed can make several retries needed; each retry reads the new entries first);
        a ready `PendingOp` is sent once and a conflict raises `Conflict`.
        The op is checked locally first, so a non-leader gets `NotAllowed` without
        a round trip. Returns the applied op once it is verified and stored.
        """
        return append_op(self, op, retries=retries)

    def invite(
        self,
        *,
        role: Role = "member",
        expires_in: int = DEFAULT_INVITE_SECONDS,
        name: str | None = None,
    ) -> crypto.InviteSecret:
        """Publish a signed invite (leaders); hand the returned secret's `.code` over in person.

        `name`, if given, is noted (sealed) in this leader's store and used when approving
        the request that answers the invite; it never leaves this device until the add.
        """
        return workflows.invite(self, role=role, expires_in=expires_in, name=name)

    def invites(self, *, everything: bool = False, sync: bool = True) -> list[InviteInfo]:
        """The group's open invites, newest first (leaders); `everything` adds the used,
        revoked and expired ones. The name noted at `invite` shows on this device only.
        `sync=False` lists them from the copy as last synced, without asking the server
        (for a caller that keeps it current, like the web app's event stream)."""
        return workflows.invites(self, everything=everything, sync=sync)

    def revoke_invite(self, invite: str) -> InviteInfo:
        """Revoke an unused invite by id or unique prefix (leaders): its code stops working."""
        return workflows.revoke_invite(self, invite)

    def join_requests(self, *, refused: list[str] | None = None) -> list[PendingRequest]:
        """Join requests waiting for approval (leaders), each checked against its live invite;
        a request that fails a check is left out and described in `refused`, if given."""
        return workflows.pending_requests(self, refused)

    def approve(
        self,
        request: str | PendingRequest,
        *,
        fingerprint: str | None = None,
        name: str | None = None,
        ask: Ask | None = None,
    ) -> Approval:
        """Add the member behind a join request (its id, a unique prefix, or the request).

        `fingerprint` is what the invitee read aloud; a mismatch refuses and changes
        nothing. `name` (or the name noted at `invite`) is the name the add op attests.
        What is not given is asked for with `ask`, once the request is known to be pending.
        """
        ref = request if isinstance(request, str) else request.id
        return workflows.approve(self, ref, fingerprint=fingerprint, name=name, ask=ask)

    def roster(self) -> list[RosterEntry]:
        """Every member the verified log knows (active first), with what this device verified."""
        return workflows.roster(self)

    def verify_member(
        self, member: str, fingerprint: str | None = None, *, ask: Ask | None = None
    ) -> RosterEntry:
        """Record that `member`'s fingerprint was compared aloud; a mismatch records nothing."""
        return workflows.verify_member(self, member, fingerprint, ask=ask)

    def removable(self, member: str) -> Member:
        """The active member `member`, after every check a removal must pass (syncs first)."""
        return workflows.removable(self, member)

    def remove(self, member: str) -> Removal:
        """Remove a member and rotate the key in one signed op, recording their final heads."""
        return workflows.remove(self, member)

    def remove_device(self, device: str) -> crypto.AppliedOp:
        """Remove one device (an id or a unique prefix of 8+ digits) and rotate past it: one
        of your other devices, or (leaders) a device of a member who lost it. A member's last
        device goes only with the member (`remove`, `leave`)."""
        return workflows.remove_device(self, device)

    def leave(self) -> crypto.AppliedOp:
        """Leave the group (self-signed); the remaining members rotate before writing."""
        return workflows.leave(self)

    def set_role(self, member: str, role: Role) -> Member:
        """Promote to leader or demote to member (leaders); a leader may step down."""
        return workflows.set_role(self, member, role)

    def rotate(self) -> crypto.AppliedOp:
        """A fresh group key for every active device (leaders; anyone while one is pending)."""
        return workflows.rotate(self)

    def checkpoint(self) -> crypto.AppliedOp:
        """Sign every author chain's head as this leader sees it (the meeting code's basis)."""
        return workflows.checkpoint(self)

    def set_policy(
        self,
        *,
        history: History | None = None,
        notes: Notes | None = None,
        rotate_each_meeting: bool | None = None,
    ) -> crypto.Policy:
        """Change the group policy for keys created from now on (leaders); the new policy."""
        return workflows.set_policy(
            self, history=history, notes=notes, rotate_each_meeting=rotate_each_meeting
        )

    def exposure(self, member: str) -> Exposure:
        """What `member` could have read: the epochs whose key they held, and the entries
        sealed under them that this device holds (offline)."""
        return exposure(self, member)


DRAFT_FIELDS = 40
DRAFT_CHARS = 200_000
_DRAFT_KEY = re.compile(r"[a-z0-9][a-z0-9:-]{0,63}")
_draft_decoder = msgspec.json.Decoder(dict[str, str])


def _draft_key(key: str) -> str:
    if not _DRAFT_KEY.fullmatch(key):
        raise E.UsageError("no such draft", hint="a draft's name is lowercase letters and digits")
    return key


def _check_group_name(name: str) -> str:
    try:
        return crypto.check_group_name(name)
    except ValueError as e:
        raise E.UsageError(str(e), hint="choose the name the group knows itself by") from None


def _synced_key(gid: bytes) -> str:
    return f"synced/{gid.hex()}"


def placeholder_name(gid: bytes) -> str:
    """What a joiner's home calls a group until the group's own name can be read."""
    return f"group {gid.hex()[:8]}"
