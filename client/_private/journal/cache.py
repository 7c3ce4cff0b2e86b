"""The opened-entries cache: every readable entry's verified facts and opened body, kept as one
value sealed under the store key and tagged with the stored state it came from.

Opening thousands of entries one by one (a key derivation, a key commitment and an AEAD
each) is most of what a listing would cost. When a sync, post or retraction changes the
stored state, the stored entries are listed without opening them: bodies of entries no
longer readable (retracted) are dropped, only entries not yet in the value are opened,
and the value is replaced. Nothing retracted or unverified is served from it.
"""

from __future__ import annotations

import contextlib
import hashlib
import sqlite3
from typing import TYPE_CHECKING, Final, TypeAlias

import msgspec

from ... import errors as E

if TYPE_CHECKING:
    from ..engine.group import Group


_Row: TypeAlias = tuple[bytes, bytes, bytes, int, int, int, int, bytes]
"""entry id, author member id, device id, chain seq, log seq, epoch, cursor, opened body."""


OPENED_CACHE: Final = "journal-opened"


CACHE_FORMAT: Final = 2


class _Opened(msgspec.Struct, array_like=True):
    v: int
    tag: bytes
    rows: list[_Row]


_cache_encoder = msgspec.msgpack.Encoder()
_cache_decoder = msgspec.msgpack.Decoder(_Opened)


def opened_rows(group: Group) -> list[_Row]:
    """Every readable entry's verified header facts and opened body, in server order."""
    tag = stored_tag(group)
    blob = load_sealed(group, OPENED_CACHE)
    cached: _Opened | None = None
    if blob is not None:
        try:
            cached = _cache_decoder.decode(blob)
        except (msgspec.DecodeError, msgspec.ValidationError):
            cached = None
        if cached is not None and cached.v != CACHE_FORMAT:
            cached = None
    if cached is not None and cached.tag == tag:
        return cached.rows
    rows = _update(group, cached.rows if cached is not None else [])
    with contextlib.suppress(sqlite3.OperationalError):  # another process holds the lock
        save_sealed(group, OPENED_CACHE, _cache_encoder.encode(_Opened(CACHE_FORMAT, tag, rows)))
    return rows


def _update(group: Group, known: list[_Row]) -> list[_Row]:
    """`known` brought up to the store: drop what is no longer readable, open what is new."""
    readable = {bytes.fromhex(ref.id): ref.cursor for ref in group.entry_index() if ref.readable}
    kept = [row for row in known if row[0] in readable]
    have = {row[0] for row in kept}
    missing = [cursor for eid, cursor in readable.items() if eid not in have]
    if missing:
        # Usually a few entries past the newest one held; withheld entries that a
        # rescan delivered later can sit lower, so start from the lowest missing.
        for it in group.entries(after=min(missing) - 1):
            eid = bytes.fromhex(it.id)
            if eid in have:
                continue
            row = (
                eid,
                bytes.fromhex(it.author),
                bytes.fromhex(it.device),
                it.seq,
                it.log_seq,
                it.epoch,
                it.cursor,
                it.body,
            )
            kept.append(row)
    kept.sort(key=lambda row: row[6])
    return kept


# --- sealed values kept per group ---------------------------------------------------------


def stored_tag(group: Group) -> bytes:
    """A digest of what is stored for this group: it changes whenever a sync, a post or a
    retraction changes the stored state, so a layer above can tell its cache is stale."""
    row = group._store.group(group._gid)
    if row is None:
        raise E.NotFound(f"group {group.id[:12]} is no longer in this home")
    state = msgspec.msgpack.encode([row.version, row.status, row.pinned])
    return hashlib.sha256(state).digest()


def save_sealed(group: Group, name: str, data: bytes | None) -> None:
    """Keep `data` in the local store sealed under the store key, bound to this group and
    `name` (None deletes it). Plaintext never reaches the disk."""
    key = f"sealed:{group.id}:{name}"
    if data is None:
        group._store.set_meta(key, None)
        return
    context = group._gid + name.encode()
    group._store.set_meta(key, group._store.vault.seal(b"group-scratch", context, data))


def load_sealed(group: Group, name: str) -> bytes | None:
    """What `save_sealed(name, ...)` kept, or None; StoreTampered if it was edited."""
    sealed = group._store.get_meta(f"sealed:{group.id}:{name}")
    if sealed is None:
        return None
    return group._store.vault.open(b"group-scratch", group._gid + name.encode(), sealed)
