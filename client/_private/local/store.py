"""The local store: ciphertexts and verified state, in one SQLite file per member home.

What is on disk, and why it is safe there:

- `ops`: the verified group log, verbatim. Signed; replayed on every open.
- `entries`: verified entries, verbatim (header, ciphertext, signature) or, after a
  signed retraction, the stub without ciphertext. Each row carries a MAC under the
  store MAC key, so an edited row is detected before it is used.
- `epoch_keys`, `outbox`, `unsent` (writes that may not be sent, kept for their author
  to read back), `invites`, the group's display name, the member's own name,
  unsent drafts (`meta`, `draft …`): sealed under the store seal key
  (XChaCha20-Poly1305). Queued writes stay plaintext only in memory until they are
  sealed under the newest epoch at send time.
- `groups.pinned`: the pinned state (log head, entry cursor, per-device chain heads,
  entry count, epochs held), MAC'd: a rollback or edit of the store is detected.

Plaintext never reaches this file. SQLite runs in WAL mode with `synchronous=FULL`
(a committed sync page survives a crash or power loss) and `secure_delete` (a
retracted ciphertext is overwritten, not just unlinked).

Writers take the write lock first (`BEGIN IMMEDIATE`) and then compare the group's
`version` with the one they loaded, so two processes syncing one home at once
never interleave pinned states: the loser reloads and retries.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import msgspec

from ... import errors as E
from ...errors import StoreTampered
from ..engine.alarms import AlarmRecord
from .vault import Vault

SCHEMA_VERSION: Final = 2

_SIGNED_LOCKBOXES = """CREATE TABLE IF NOT EXISTS signed_lockboxes (
    group_id BLOB NOT NULL,
    epoch INTEGER NOT NULL,
    device BLOB NOT NULL,
    lockbox BLOB NOT NULL,
    PRIMARY KEY (group_id, epoch, device)
)"""

_UNSENT = """CREATE TABLE IF NOT EXISTS unsent (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    group_id BLOB NOT NULL,
    entry_id BLOB NOT NULL UNIQUE,
    sealed BLOB NOT NULL,
    added INTEGER NOT NULL,
    refused INTEGER NOT NULL
)"""

_LATER_TABLES: Final = {"signed_lockboxes": _SIGNED_LOCKBOXES, "unsent": _UNSENT}
"""Tables added within schema 2: a store made before one of them lacks it, and gets it."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS groups (
    group_id BLOB PRIMARY KEY,
    server TEXT NOT NULL,
    name BLOB NOT NULL,
    status TEXT NOT NULL,
    invite BLOB,
    pinned BLOB NOT NULL,
    pinned_mac BLOB NOT NULL,
    version INTEGER NOT NULL,
    added INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS ops (
    group_id BLOB NOT NULL,
    seq INTEGER NOT NULL,
    op BLOB NOT NULL,
    PRIMARY KEY (group_id, seq)
);
CREATE TABLE IF NOT EXISTS lockboxes (
    group_id BLOB NOT NULL,
    epoch INTEGER NOT NULL,
    lockbox BLOB NOT NULL,
    PRIMARY KEY (group_id, epoch)
);
CREATE TABLE IF NOT EXISTS epoch_keys (
    group_id BLOB NOT NULL,
    epoch INTEGER NOT NULL,
    sealed BLOB NOT NULL,
    PRIMARY KEY (group_id, epoch)
);
CREATE TABLE IF NOT EXISTS entries (
    group_id BLOB NOT NULL,
    entry_id BLOB NOT NULL,
    cursor INTEGER NOT NULL,
    device BLOB NOT NULL,
    seq INTEGER NOT NULL,
    epoch INTEGER NOT NULL,
    log_seq INTEGER NOT NULL,
    header BLOB NOT NULL,
    ct BLOB,
    ct_hash BLOB NOT NULL,
    sig BLOB NOT NULL,
    link BLOB NOT NULL,
    retracted_by BLOB,
    mac BLOB NOT NULL,
    PRIMARY KEY (group_id, entry_id),
    UNIQUE (group_id, device, seq)
);
CREATE TABLE IF NOT EXISTS alarms (
    group_id BLOB NOT NULL,
    key TEXT NOT NULL,
    record BLOB NOT NULL,
    mac BLOB NOT NULL,
    PRIMARY KEY (group_id, key)
);
CREATE INDEX IF NOT EXISTS entries_by_cursor ON entries (group_id, cursor);
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    group_id BLOB NOT NULL,
    entry_id BLOB NOT NULL UNIQUE,
    sealed BLOB NOT NULL,
    added INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS invites (
    group_id BLOB NOT NULL,
    invite_id BLOB NOT NULL,
    sealed BLOB NOT NULL,
    PRIMARY KEY (group_id, invite_id)
);
"""

# Purposes for sealing and MACs (each value sealed or MAC'd names what it is, and for which
# group, so a value cannot be moved from one slot to another).
SEAL_EPOCH_KEY: Final = b"epoch-key"
SEAL_OUTBOX: Final = b"outbox"
SEAL_UNSENT: Final = b"unsent"
SEAL_GROUP_NAME: Final = b"group-name"
SEAL_INVITE: Final = b"invite"
SEAL_JOIN: Final = b"join"
SEAL_PROFILE: Final = b"profile"
SEAL_TOKEN: Final = b"token"
SEAL_SERVER: Final = b"server"
SEAL_DRAFT: Final = b"draft"
MAC_PINNED: Final = b"pinned"
MAC_ENTRY: Final = b"entry"
MAC_ALARM: Final = b"alarm"


class Pinned(msgspec.Struct, array_like=True, frozen=True):
    """The verified high-water marks of one group; MAC'd in the store."""

    v: int = 1
    log_seq: int = -1
    log_head: bytes = bytes(32)
    cursor: int = 0
    entries: int = 0
    heads: list[tuple[bytes, int, bytes]] = msgspec.field(default_factory=list)
    epochs: list[int] = msgspec.field(default_factory=list)
    alarms: int = 0
    """Alarms kept for the group: a deleted one is a store edit, not a resolved problem."""


_pinned_encoder = msgspec.msgpack.Encoder()
_pinned_decoder = msgspec.msgpack.Decoder(Pinned)
_alarm_encoder = msgspec.msgpack.Encoder()
_alarm_decoder = msgspec.msgpack.Decoder(AlarmRecord)


class _Queued(msgspec.Struct, array_like=True, frozen=True):
    """A queued write, sealed at rest: its body and the entries it retracts."""

    body: bytes
    retracts: list[bytes]


_outbox_encoder = msgspec.msgpack.Encoder()
_outbox_decoder = msgspec.msgpack.Decoder(_Queued)


class _Refused(msgspec.Struct, array_like=True, frozen=True):
    """A write the server refused for good, sealed at rest: what was queued, and why."""

    body: bytes
    retracts: list[bytes]
    reason: str


_unsent_encoder = msgspec.msgpack.Encoder()
_unsent_decoder = msgspec.msgpack.Decoder(_Refused)


@dataclass(frozen=True)
class UnsentRow:
    """A write kept after the server refused it for good (opened)."""

    entry_id: bytes
    body: bytes
    retracts: list[bytes]
    reason: str
    added: int
    """When it was queued (seconds)."""
    refused: int
    """When the server refused it (seconds)."""


def _u64(n: int) -> bytes:
    return n.to_bytes(8, "big", signed=True)


@dataclass(frozen=True)
class EntryRow:
    """One stored entry (or stub, when `ct` is None after a retraction)."""

    entry_id: bytes
    cursor: int
    device: bytes
    seq: int
    epoch: int
    log_seq: int
    header: bytes
    ct: bytes | None
    ct_hash: bytes
    sig: bytes
    link: bytes
    retracted_by: bytes | None
    """The id of the entry that retracted this one (its ciphertext is then gone)."""


@dataclass(frozen=True)
class GroupRow:
    group_id: bytes
    server: str
    name: str
    status: str
    version: int
    pinned: Pinned


def _entry_mac_parts(group: bytes, r: EntryRow) -> tuple[bytes, ...]:
    """Every column of the row but the ciphertext, which `ct_hash` covers (checked on open),
    and whether the ciphertext is there at all (an offline edit must not hide an entry)."""
    return (
        MAC_ENTRY,
        group,
        b"\x00" if r.ct is None else b"\x01",
        r.entry_id,
        _u64(r.cursor),
        r.device,
        _u64(r.seq),
        _u64(r.epoch),
        _u64(r.log_seq),
        r.header,
        r.ct_hash,
        r.sig,
        r.link,
        r.retracted_by or b"",
    )


def entry_mac(vault: Vault, group: bytes, r: EntryRow) -> bytes:
    return vault.mac(*_entry_mac_parts(group, r))


class Store:
    """The SQLite store of one member home. Not thread-safe; one per process is plenty."""

    def __init__(self, path: Path, vault: Vault) -> None:
        self.path = path
        self.vault = vault
        new = not path.exists()
        if new:
            # Create the file 0600 before SQLite does (it would honour the umask).
            path.touch(mode=0o600, exist_ok=True)
        self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.execute("PRAGMA secure_delete=ON")
        self.db.execute("PRAGMA foreign_keys=ON")
        self.db.execute("PRAGMA busy_timeout=10000")
        if self._schema() is None:
            with self.write():
                for stmt in _SCHEMA.split(";"):
                    if stmt.strip():
                        self.db.execute(stmt)
                if self._schema() is None:
                    self.db.execute(
                        "INSERT INTO meta (key, value) VALUES ('schema', ?)", (SCHEMA_VERSION,)
                    )
        # Tables added within this schema version, made on every open (a new file and an
        # older one alike). signed_lockboxes: lockboxes this device sealed (not secret: each
        # opens only for its device, and the op commits to it), kept to heal a server (§14.2).
        # unsent: writes the server refused for good, sealed as the outbox seals them.
        have = {
            str(r[0]) for r in self.db.execute("SELECT name FROM sqlite_master WHERE type='table'")
        }
        missing = [ddl for name, ddl in _LATER_TABLES.items() if name not in have]
        if missing:
            with self.write():
                for ddl in missing:
                    self.db.execute(ddl)
        version = self._schema()
        if version != SCHEMA_VERSION:
            raise StoreTampered(
                f"the local store has schema version {version}, this client knows {SCHEMA_VERSION}",
                hint="upgrade chatham, or use a new CHATHAM_HOME",
            )

    def _schema(self) -> int | None:
        """The store's schema version, or None for a new file (read-only: no write lock)."""
        try:
            row = self.db.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
        except sqlite3.OperationalError:
            return None
        return None if row is None else int(row[0])

    def close(self) -> None:
        self.db.close()

    @contextlib.contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, holding SQLite's write lock from the start."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        else:
            self.db.execute("COMMIT")

    # --- meta -----------------------------------------------------------------------------------

    def get_meta(self, key: str) -> bytes | None:
        row = self.db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return None if row is None else bytes(row[0])

    def set_meta(self, key: str, value: bytes | None) -> None:
        with self.write() as db:
            if value is None:
                db.execute("DELETE FROM meta WHERE key=?", (key,))
            else:
                db.execute(
                    "INSERT INTO meta (key, value) VALUES (?, ?) "
                    "ON CONFLICT (key) DO UPDATE SET value=excluded.value",
                    (key, value),
                )

    def set_profile_name(self, name: str) -> None:
        self.set_meta("profile", self.vault.seal(SEAL_PROFILE, b"", name.encode()))

    def server_token(self, url: str) -> tuple[str, float] | None:
        """This device's bearer token for a server, kept sealed between commands."""
        blob = self.get_meta(f"token {url}")
        if blob is None:
            return None
        token, _, expires = self.vault.open(SEAL_TOKEN, url.encode(), blob).decode().partition(" ")
        try:
            return token, float(expires)
        except ValueError:  # not what set_server_token wrote: log in again
            return None

    def set_server_token(self, url: str, token: tuple[str, float] | None) -> None:
        """Save (or forget) a token."""
        sealed = None
        if token is not None:
            sealed = self.vault.seal(SEAL_TOKEN, url.encode(), f"{token[0]} {token[1]}".encode())
        self._set_meta_aside(f"token {url}", sealed)

    def server_pins(self) -> dict[str, bytes]:
        """The identity each server URL showed when this device first logged in there."""
        rows = self.db.execute(
            "SELECT key, value FROM meta WHERE key >= 'server ' AND key < 'server!'"
        ).fetchall()
        pins = {}
        for key, blob in rows:
            url = str(key).removeprefix("server ")
            pins[url] = self.vault.open(SEAL_SERVER, url.encode(), bytes(blob))
        return pins

    def pin_server(self, url: str, server_id: bytes | None) -> None:
        """Pin (or forget) the identity of the server at `url`."""
        sealed = (
            None if server_id is None else self.vault.seal(SEAL_SERVER, url.encode(), server_id)
        )
        self._set_meta_aside(f"server {url}", sealed)

    def _set_meta_aside(self, key: str, value: bytes | None) -> None:
        """Set a meta value on a connection of its own: a login may happen on the sync's fetch
        thread while the main thread holds a transaction open."""
        db = sqlite3.connect(self.path, isolation_level=None, timeout=10)
        try:
            if value is None:
                db.execute("DELETE FROM meta WHERE key=?", (key,))
            else:
                db.execute(
                    "INSERT INTO meta (key, value) VALUES (?, ?) "
                    "ON CONFLICT (key) DO UPDATE SET value=excluded.value",
                    (key, value),
                )
        finally:
            db.close()

    def profile_name(self) -> str | None:
        blob = self.get_meta("profile")
        return None if blob is None else self.vault.open(SEAL_PROFILE, b"", blob).decode()

    # --- groups ---------------------------------------------------------------------------------

    def _pinned_blob(self, group: bytes, pinned: Pinned) -> tuple[bytes, bytes]:
        blob = _pinned_encoder.encode(pinned)
        return blob, self.vault.mac(MAC_PINNED, group, blob)

    def add_group(self, group: bytes, server: str, name: str, status: str, added: int) -> None:
        with self.write() as db:
            self.insert_group(db, group, server, name, status, added)

    def insert_group(
        self, db: sqlite3.Connection, group: bytes, server: str, name: str, status: str, added: int
    ) -> None:
        """Inside a write: a new group row (version 0, nothing pinned yet); StaleLocal when
        another process added the group meanwhile."""
        blob, mac = self._pinned_blob(group, Pinned())
        if db.execute("SELECT 1 FROM groups WHERE group_id=?", (group,)).fetchone() is not None:
            raise E.StaleLocal
        db.execute(
            "INSERT INTO groups (group_id, server, name, status, invite, pinned, pinned_mac, "
            "version, added) VALUES (?, ?, ?, ?, NULL, ?, ?, 0, ?)",
            (
                group,
                server,
                self.vault.seal(SEAL_GROUP_NAME, group, name.encode()),
                status,
                blob,
                mac,
                added,
            ),
        )

    def groups(self) -> list[GroupRow]:
        rows = self.db.execute(
            "SELECT group_id, server, name, status, version, pinned, pinned_mac FROM groups "
            "ORDER BY added, rowid"
        ).fetchall()
        return [self._group_row(r) for r in rows]

    def group(self, group: bytes) -> GroupRow | None:
        r = self.db.execute(
            "SELECT group_id, server, name, status, version, pinned, pinned_mac FROM groups "
            "WHERE group_id=?",
            (group,),
        ).fetchone()
        return None if r is None else self._group_row(r)

    def _group_row(self, r: Any) -> GroupRow:
        gid = bytes(r[0])
        if not self.vault.check(bytes(r[6]), MAC_PINNED, gid, bytes(r[5])):
            raise StoreTampered(f"group {gid.hex()[:12]}: the pinned state's MAC does not match")
        try:
            pinned = _pinned_decoder.decode(bytes(r[5]))
        except (msgspec.DecodeError, msgspec.ValidationError):
            raise StoreTampered(f"group {gid.hex()[:12]}: the pinned state is unreadable") from None
        name = self.vault.open(SEAL_GROUP_NAME, gid, bytes(r[2])).decode()
        return GroupRow(gid, str(r[1]), name, str(r[3]), int(r[4]), pinned)

    def rename_group(self, group: bytes, name: str) -> None:
        with self.write() as db:
            db.execute(
                "UPDATE groups SET name=? WHERE group_id=?",
                (self.vault.seal(SEAL_GROUP_NAME, group, name.encode()), group),
            )

    @staticmethod
    def set_group_server(db: sqlite3.Connection, group: bytes, server: str) -> None:
        """The group's server from now on (a move: engine/move.py checked its log)."""
        db.execute("UPDATE groups SET server=? WHERE group_id=?", (server, group))

    def set_join_secret(self, db: sqlite3.Connection, group: bytes, secret: bytes | None) -> None:
        sealed = None if secret is None else self.vault.seal(SEAL_JOIN, group, secret)
        db.execute("UPDATE groups SET invite=? WHERE group_id=?", (sealed, group))

    def join_secret(self, group: bytes) -> bytes | None:
        row = self.db.execute("SELECT invite FROM groups WHERE group_id=?", (group,)).fetchone()
        if row is None or row[0] is None:
            return None
        return self.vault.open(SEAL_JOIN, group, bytes(row[0]))

    def claim(self, db: sqlite3.Connection, group: bytes, version: int) -> None:
        """Inside a write: fail with StaleLocal when another process moved the group on."""
        row = db.execute("SELECT version FROM groups WHERE group_id=?", (group,)).fetchone()
        if row is None or int(row[0]) != version:
            raise E.StaleLocal

    def pin(
        self,
        db: sqlite3.Connection,
        group: bytes,
        version: int,
        pinned: Pinned,
        status: str | None = None,
    ) -> int:
        """Inside a write: store the new pinned state (and status); returns the new version."""
        blob, mac = self._pinned_blob(group, pinned)
        cur = db.execute(
            "UPDATE groups SET pinned=?, pinned_mac=?, version=version+1, "
            "status=COALESCE(?, status) WHERE group_id=? AND version=?",
            (blob, mac, status, group, version),
        )
        if cur.rowcount != 1:
            raise E.StaleLocal
        return version + 1

    # --- log ------------------------------------------------------------------------------------

    def ops(self, group: bytes) -> list[bytes]:
        return [
            bytes(r[0])
            for r in self.db.execute(
                "SELECT op FROM ops WHERE group_id=? ORDER BY seq", (group,)
            ).fetchall()
        ]

    @staticmethod
    def add_ops(db: sqlite3.Connection, group: bytes, first_seq: int, ops: Sequence[bytes]) -> None:
        db.executemany(
            "INSERT INTO ops (group_id, seq, op) VALUES (?, ?, ?)",
            [(group, first_seq + i, op) for i, op in enumerate(ops)],
        )

    def add_epoch_key(
        self, db: sqlite3.Connection, group: bytes, epoch: int, key: bytes, lockbox: bytes | None
    ) -> None:
        sealed = self.vault.seal(SEAL_EPOCH_KEY, group + _u64(epoch), key)
        db.execute(
            "INSERT OR REPLACE INTO epoch_keys (group_id, epoch, sealed) VALUES (?, ?, ?)",
            (group, epoch, sealed),
        )
        if lockbox is not None:
            db.execute(
                "INSERT OR REPLACE INTO lockboxes (group_id, epoch, lockbox) VALUES (?, ?, ?)",
                (group, epoch, lockbox),
            )

    def epoch_keys(self, group: bytes) -> dict[int, bytes]:
        out = {}
        for epoch, sealed in self.db.execute(
            "SELECT epoch, sealed FROM epoch_keys WHERE group_id=?", (group,)
        ).fetchall():
            out[int(epoch)] = self.vault.open(
                SEAL_EPOCH_KEY, group + _u64(int(epoch)), bytes(sealed)
            )
        return out

    def keep_signed_lockboxes(self, group: bytes, epoch: int, boxes: Mapping[bytes, bytes]) -> None:
        """Keep every lockbox of a rotation this device signed: a server that loses them can
        have them back (docs/protocol.md §14.2)."""
        with self.write() as db:
            db.executemany(
                "INSERT OR IGNORE INTO signed_lockboxes (group_id, epoch, device, lockbox) "
                "VALUES (?, ?, ?, ?)",
                [(group, epoch, d, b) for d, b in sorted(boxes.items())],
            )

    def signed_lockboxes(self, group: bytes) -> list[tuple[int, bytes, bytes]]:
        """(epoch, device, lockbox) of every rotation this device signed."""
        return [
            (int(e), bytes(d), bytes(b))
            for e, d, b in self.db.execute(
                "SELECT epoch, device, lockbox FROM signed_lockboxes WHERE group_id=? "
                "ORDER BY epoch, device",
                (group,),
            ).fetchall()
        ]

    def lockboxes(self, group: bytes) -> dict[int, bytes]:
        return {
            int(e): bytes(b)
            for e, b in self.db.execute(
                "SELECT epoch, lockbox FROM lockboxes WHERE group_id=?", (group,)
            ).fetchall()
        }

    # --- entries --------------------------------------------------------------------------------

    _ENTRY_COLS = (
        "entry_id, cursor, device, seq, epoch, log_seq, header, ct, ct_hash, sig, link, "
        "retracted_by"
    )

    def add_entries(self, db: sqlite3.Connection, group: bytes, rows: Sequence[EntryRow]) -> None:
        db.executemany(
            f"INSERT INTO entries (group_id, {self._ENTRY_COLS}, mac) "  # noqa: S608
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    group,
                    r.entry_id,
                    r.cursor,
                    r.device,
                    r.seq,
                    r.epoch,
                    r.log_seq,
                    r.header,
                    r.ct,
                    r.ct_hash,
                    r.sig,
                    r.link,
                    r.retracted_by,
                    entry_mac(self.vault, group, r),
                )
                for r in rows
            ],
        )

    def update_entry(self, db: sqlite3.Connection, group: bytes, r: EntryRow) -> None:
        """Rewrite a row's mutable parts (a retraction: the ciphertext dropped, by whom)."""
        db.execute(
            "UPDATE entries SET cursor=?, ct=?, retracted_by=?, mac=? "
            "WHERE group_id=? AND entry_id=?",
            (r.cursor, r.ct, r.retracted_by, entry_mac(self.vault, group, r), group, r.entry_id),
        )

    def _row(self, group: bytes, r: Any) -> EntryRow:
        row = EntryRow(
            bytes(r[0]),
            int(r[1]),
            bytes(r[2]),
            int(r[3]),
            int(r[4]),
            int(r[5]),
            bytes(r[6]),
            None if r[7] is None else bytes(r[7]),
            bytes(r[8]),
            bytes(r[9]),
            bytes(r[10]),
            None if r[11] is None else bytes(r[11]),
        )
        if not self.vault.check(bytes(r[12]), *_entry_mac_parts(group, row)):
            raise StoreTampered(f"entry {row.entry_id.hex()}: the stored record was edited")
        return row

    def entry(self, group: bytes, entry_id: bytes) -> EntryRow | None:
        r = self.db.execute(
            f"SELECT {self._ENTRY_COLS}, mac FROM entries "  # noqa: S608
            "WHERE group_id=? AND entry_id=?",
            (group, entry_id),
        ).fetchone()
        return None if r is None else self._row(group, r)

    def entries_with_prefix(self, group: bytes, prefix: str) -> list[bytes]:
        lo = bytes.fromhex(prefix + "0" * (32 - len(prefix)))
        hi = bytes.fromhex(prefix + "f" * (32 - len(prefix)))
        return [
            bytes(r[0])
            for r in self.db.execute(
                "SELECT entry_id FROM entries WHERE group_id=? AND entry_id BETWEEN ? AND ? "
                "LIMIT 2",
                (group, lo, hi),
            ).fetchall()
        ]

    def iter_entries(self, group: bytes, *, after: int = -1) -> Iterator[EntryRow]:
        cur = self.db.execute(
            f"SELECT {self._ENTRY_COLS}, mac FROM entries "  # noqa: S608
            "WHERE group_id=? AND cursor>? ORDER BY cursor",
            (group, after),
        )
        while batch := cur.fetchmany(512):
            for r in batch:
                yield self._row(group, r)

    def entry_index(self, group: bytes) -> list[tuple[bytes, int, bytes, int, int, bool, bool]]:
        """(entry id, cursor, device, seq, epoch, retracted, ciphertext held) of every stored
        entry, in order. A stub the server deleted without a valid retraction is neither
        retracted nor held.

        Read without the row MACs: each row is checked when it is opened."""
        return [
            (bytes(e), int(c), bytes(d), int(s), int(ep), bool(r), bool(h))
            for e, c, d, s, ep, r, h in self.db.execute(
                "SELECT entry_id, cursor, device, seq, epoch, retracted_by IS NOT NULL, "
                "ct IS NOT NULL FROM entries WHERE group_id=? ORDER BY cursor",
                (group,),
            ).fetchall()
        ]

    def links(self, group: bytes) -> list[tuple[bytes, int, bytes, int]]:
        """(device, seq, link, log seq) of every stored entry: the chains, without ciphertexts."""
        return [
            (bytes(d), int(s), bytes(k), int(ls))
            for d, s, k, ls in self.db.execute(
                "SELECT device, seq, link, log_seq FROM entries WHERE group_id=?", (group,)
            ).fetchall()
        ]

    def entry_count(self, db: sqlite3.Connection, group: bytes) -> int:
        return int(
            db.execute("SELECT COUNT(*) FROM entries WHERE group_id=?", (group,)).fetchone()[0]
        )

    # --- alarms ---------------------------------------------------------------------------------

    def alarms(self, group: bytes) -> dict[str, AlarmRecord]:
        """Every alarm kept for the group, by key; StoreTampered if one was edited."""
        out = {}
        for key, record, mac in self.db.execute(
            "SELECT key, record, mac FROM alarms WHERE group_id=? ORDER BY key", (group,)
        ).fetchall():
            blob = bytes(record)
            if not self.vault.check(bytes(mac), MAC_ALARM, group, key.encode(), blob):
                raise StoreTampered("an alarm in the local store was edited")
            out[str(key)] = _alarm_decoder.decode(blob)
        return out

    def put_alarm(self, db: sqlite3.Connection, group: bytes, key: str, rec: AlarmRecord) -> None:
        blob = _alarm_encoder.encode(rec)
        db.execute(
            "INSERT OR REPLACE INTO alarms (group_id, key, record, mac) VALUES (?, ?, ?, ?)",
            (group, key, blob, self.vault.mac(MAC_ALARM, group, key.encode(), blob)),
        )

    @staticmethod
    def drop_alarm(db: sqlite3.Connection, group: bytes, key: str) -> None:
        db.execute("DELETE FROM alarms WHERE group_id=? AND key=?", (group, key))

    @staticmethod
    def alarm_count(db: sqlite3.Connection, group: bytes) -> int:
        return int(
            db.execute("SELECT COUNT(*) FROM alarms WHERE group_id=?", (group,)).fetchone()[0]
        )

    # --- outbox ---------------------------------------------------------------------------------

    def queue(
        self, group: bytes, entry_id: bytes, body: bytes, added: int, retracts: Sequence[bytes] = ()
    ) -> None:
        queued = _outbox_encoder.encode(_Queued(body, list(retracts)))
        sealed = self.vault.seal(SEAL_OUTBOX, group + entry_id, queued)
        with self.write() as db:
            db.execute(
                "INSERT INTO outbox (group_id, entry_id, sealed, added) VALUES (?, ?, ?, ?)",
                (group, entry_id, sealed, added),
            )

    def outbox(self, group: bytes) -> list[tuple[bytes, bytes, list[bytes]]]:
        """Queued writes, oldest first: (entry id, plaintext body, entries it retracts)."""
        out = []
        for eid, sealed in self.db.execute(
            "SELECT entry_id, sealed FROM outbox WHERE group_id=? ORDER BY id", (group,)
        ).fetchall():
            queued = self._open_queued(group, bytes(eid), bytes(sealed))
            out.append((bytes(eid), queued.body, queued.retracts))
        return out

    def _open_queued(self, group: bytes, entry_id: bytes, sealed: bytes) -> _Queued:
        blob = self.vault.open(SEAL_OUTBOX, group + entry_id, sealed)
        try:
            return _outbox_decoder.decode(blob)
        except (msgspec.DecodeError, msgspec.ValidationError):
            raise StoreTampered("a queued write in the local store does not decode") from None

    def outbox_count(self, group: bytes) -> int:
        return int(
            self.db.execute("SELECT COUNT(*) FROM outbox WHERE group_id=?", (group,)).fetchone()[0]
        )

    @staticmethod
    def unqueue(db: sqlite3.Connection, entry_id: bytes) -> None:
        db.execute("DELETE FROM outbox WHERE entry_id=?", (entry_id,))

    # --- unsent: writes the server refused for good ----------------------------------------------

    def set_aside(
        self, db: sqlite3.Connection, group: bytes, entry_id: bytes, reason: str, at: int
    ) -> None:
        """Inside a write: move a queued write out of the outbox into `unsent`, with why it
        may not be sent and the time, so it is never sent again and its text stays here."""
        row = db.execute(
            "SELECT sealed, added FROM outbox WHERE group_id=? AND entry_id=?", (group, entry_id)
        ).fetchone()
        if row is None:
            return
        queued = self._open_queued(group, entry_id, bytes(row[0]))
        kept = _unsent_encoder.encode(_Refused(queued.body, queued.retracts, reason))
        # Its own purpose: a store edit cannot move it back into the outbox to be sent.
        sealed = self.vault.seal(SEAL_UNSENT, group + entry_id + _u64(at), kept)
        db.execute(
            "INSERT INTO unsent (group_id, entry_id, sealed, added, refused) "
            "VALUES (?, ?, ?, ?, ?)",
            (group, entry_id, sealed, int(row[1]), at),
        )
        db.execute("DELETE FROM outbox WHERE group_id=? AND entry_id=?", (group, entry_id))

    def unsent(self, group: bytes) -> list[UnsentRow]:
        """Writes the server refused for good, oldest refusal first."""
        out = []
        for eid, sealed, added, refused in self.db.execute(
            "SELECT entry_id, sealed, added, refused FROM unsent WHERE group_id=? ORDER BY id",
            (group,),
        ).fetchall():
            entry_id, at = bytes(eid), int(refused)
            blob = self.vault.open(SEAL_UNSENT, group + entry_id + _u64(at), bytes(sealed))
            try:
                kept = _unsent_decoder.decode(blob)
            except (msgspec.DecodeError, msgspec.ValidationError):
                raise StoreTampered("a kept unsent write in the store does not decode") from None
            out.append(UnsentRow(entry_id, kept.body, kept.retracts, kept.reason, int(added), at))
        return out

    def unsent_count(self, group: bytes) -> int:
        return int(
            self.db.execute("SELECT COUNT(*) FROM unsent WHERE group_id=?", (group,)).fetchone()[0]
        )

    def discard_unsent(self, group: bytes, entry_id: bytes) -> bool:
        """Forget a kept write (overwritten on disk: `secure_delete`); whether it was there."""
        with self.write() as db:
            cur = db.execute(
                "DELETE FROM unsent WHERE group_id=? AND entry_id=?", (group, entry_id)
            )
        return cur.rowcount == 1

    # --- invites (leader side) ------------------------------------------------------------------

    def add_invite(self, group: bytes, invite_id: bytes, secret: bytes) -> None:
        with self.write() as db:
            db.execute(
                "INSERT OR REPLACE INTO invites (group_id, invite_id, sealed) VALUES (?, ?, ?)",
                (group, invite_id, self.vault.seal(SEAL_INVITE, group + invite_id, secret)),
            )

    def invite_secret(self, group: bytes, invite_id: bytes) -> bytes | None:
        row = self.db.execute(
            "SELECT sealed FROM invites WHERE group_id=? AND invite_id=?", (group, invite_id)
        ).fetchone()
        if row is None:
            return None
        return self.vault.open(SEAL_INVITE, group + invite_id, bytes(row[0]))

    # --- drafts -----------------------------------------------------------------------------

    @staticmethod
    def _draft_key(group: bytes, key: str) -> str:
        return f"draft {group.hex()} {key}"

    def draft(self, group: bytes, key: str) -> bytes | None:
        """A draft kept for `group` under `key` (opened), or None."""
        blob = self.get_meta(self._draft_key(group, key))
        if blob is None:
            return None
        return self.vault.open(SEAL_DRAFT, group + key.encode(), blob)

    def set_draft(self, group: bytes, key: str, value: bytes | None) -> None:
        """Keep (sealed) or forget a draft; forgetting overwrites it (`secure_delete`)."""
        sealed = None if value is None else self.vault.seal(SEAL_DRAFT, group + key.encode(), value)
        self.set_meta(self._draft_key(group, key), sealed)
