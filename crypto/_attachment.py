"""Attachments: a chunked streaming AEAD (STREAM with a last-chunk flag), constant memory.

Chunk i is sealed with nonce u88(i) ‖ last under a key derived from the
attachment's random key and id, so reordering, truncation, duplication and
splicing between attachments all fail to open. The sealed stream's digest (its
chunks in order, then their count) goes into the signed entry that references the
file: anyone else holding the key (a leader, or a member with a hostile server) who
uploads other bytes under the same id and key is caught before a byte is saved.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator

from . import _labels as L
from . import _primitives as P
from ._errors import CouldNotOpen

CHUNK_SIZE = 64 * 1024
SEALED_CHUNK_SIZE = CHUNK_SIZE + P.TAG_LEN
_MAX_CHUNKS = 1 << 40


def _key(key: bytes, attachment_id: bytes) -> bytes:
    return P.hkdf(key, salt=attachment_id, info=L.KDF_ATTACHMENT)


def _nonce(index: int, last: bool) -> bytes:
    return index.to_bytes(11, "big") + (b"\x01" if last else b"\x00")


def _ad(attachment_id: bytes) -> bytes:
    return P.frame((L.AEAD_ATTACHMENT, attachment_id))


class _Digest:
    """H_ATTACHMENT ‖ 0x00 ‖ (u32(len(chunk)) ‖ chunk)… ‖ u64(count), hashed with SHA-256."""

    def __init__(self) -> None:
        self._h = hashlib.sha256(L.H_ATTACHMENT + b"\x00")
        self._n = 0

    def add(self, sealed: bytes) -> None:
        self._h.update(len(sealed).to_bytes(4, "big") + sealed)
        self._n += 1

    def value(self) -> bytes:
        h = self._h.copy()
        h.update(self._n.to_bytes(8, "big"))
        return h.digest()


class AttachmentSealer:
    """Feed plaintext in pieces of any size; get sealed chunks of exactly CHUNK_SIZE + 16."""

    def __init__(self, key: bytes, attachment_id: bytes) -> None:
        self._k = _key(key, attachment_id)
        self._ad = _ad(attachment_id)
        self._buf = bytearray()
        self._index = 0
        self._done = False
        self._digest = _Digest()

    def _seal(self, chunk: bytes, last: bool) -> bytes:
        out = P.chacha_seal(self._k, _nonce(self._index, last), chunk, self._ad)
        self._index += 1
        self._digest.add(out)
        return out

    @property
    def digest(self) -> bytes:
        """The sealed stream's digest, once `finish` has sealed the last chunk (§10)."""
        if not self._done:
            raise ValueError("the attachment is not finished")
        return self._digest.value()

    def update(self, data: bytes) -> list[bytes]:
        if self._done:
            raise ValueError("attachment already finished")
        self._buf += data
        out = []
        # Keep at least one byte back: the final chunk must carry the last flag.
        while len(self._buf) > CHUNK_SIZE:
            out.append(self._seal(bytes(self._buf[:CHUNK_SIZE]), False))
            del self._buf[:CHUNK_SIZE]
        return out

    def finish(self) -> bytes:
        if self._done:
            raise ValueError("attachment already finished")
        self._done = True
        last = self._seal(bytes(self._buf), True)
        self._buf.clear()
        return last


class AttachmentOpener:
    """Open sealed chunks in order; `finish` fails unless the last chunk was seen."""

    def __init__(self, key: bytes, attachment_id: bytes, digest: bytes | None = None) -> None:
        self._k = _key(key, attachment_id)
        self._ad = _ad(attachment_id)
        self._index = 0
        self._done = False
        self._expected = digest
        self._digest = _Digest()

    def open_chunk(self, sealed: bytes) -> bytes:
        if self._done or self._index >= _MAX_CHUNKS or len(sealed) > SEALED_CHUNK_SIZE:
            raise CouldNotOpen
        self._digest.add(sealed)
        try:
            pt = P.chacha_open(self._k, _nonce(self._index, False), sealed, self._ad)
            if len(pt) != CHUNK_SIZE:
                raise CouldNotOpen
        except CouldNotOpen:
            pt = P.chacha_open(self._k, _nonce(self._index, True), sealed, self._ad)
            if not pt and self._index > 0:
                raise CouldNotOpen from None  # an empty last chunk only for an empty file
            self._done = True
        self._index += 1
        return pt

    def finish(self) -> None:
        if not self._done:
            raise CouldNotOpen  # truncated: the stream ended without its last chunk
        if self._expected is not None and not P.mac_equal(self._digest.value(), self._expected):
            raise CouldNotOpen  # other bytes than the ones the signed entry committed to

    @property
    def done(self) -> bool:
        return self._done


def seal_stream(key: bytes, attachment_id: bytes, pieces: Iterable[bytes]) -> Iterator[bytes]:
    s = AttachmentSealer(key, attachment_id)
    for piece in pieces:
        yield from s.update(piece)
    yield s.finish()


def open_stream(
    key: bytes, attachment_id: bytes, chunks: Iterable[bytes], digest: bytes | None = None
) -> Iterator[bytes]:
    """Yields plaintext per chunk; raises CouldNotOpen on any tampering or truncation, and on
    a stream other than the one `digest` commits to.

    Callers writing to a file must write to a temporary name and move it into
    place only after this iterator finishes without error.
    """
    o = AttachmentOpener(key, attachment_id, digest)
    for c in chunks:
        yield o.open_chunk(c)
    o.finish()
