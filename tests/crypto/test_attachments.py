"""Attachments: the chunked stream opens only whole, in order, from the right attachment.

A reader that gets any chunk out of place (reordered, dropped, duplicated,
spliced from another attachment, appended after the last) or any flipped bit
must fail with `CouldNotOpen` before the file is moved into place.
"""

from __future__ import annotations

import tracemalloc
from collections.abc import Iterator

import pytest
from chatham.crypto import (
    CHUNK_SIZE,
    AttachmentOpener,
    AttachmentSealer,
    CouldNotOpen,
    labels,
    open_stream,
    seal_stream,
)
from chatham.crypto import _primitives as P

TAG = 16


def seal(kit, data: bytes, *, key: bytes | None = None, aid: bytes | None = None, piece=7919):
    key = key or kit.rand(32)
    aid = aid or kit.rand(16)
    pieces = [data[i : i + piece] for i in range(0, len(data), piece)]
    return key, aid, list(seal_stream(key, aid, pieces))


def open_all(key: bytes, aid: bytes, chunks) -> bytes:
    return b"".join(open_stream(key, aid, chunks))


def assert_refused(key: bytes, aid: bytes, chunks) -> None:
    with pytest.raises(CouldNotOpen) as info:
        b"".join(open_stream(key, aid, chunks))
    assert str(info.value) == "could not open"


@pytest.mark.parametrize("size", [0, 1, CHUNK_SIZE - 1, CHUNK_SIZE, CHUNK_SIZE + 1, 3 * CHUNK_SIZE])
def test_round_trip(kit, size):
    data = kit.rand(size)
    key, aid, chunks = seal(kit, data)
    expected_chunks = max(1, -(-size // CHUNK_SIZE))
    assert len(chunks) == expected_chunks
    assert all(len(c) == CHUNK_SIZE + TAG for c in chunks[:-1])
    assert len(chunks[-1]) == size - CHUNK_SIZE * (expected_chunks - 1) + TAG
    assert open_all(key, aid, chunks) == data
    # Feeding the sealer in one piece or byte-odd pieces gives chunks of the same shape.
    _, _, whole = seal(kit, data, key=key, aid=aid, piece=max(1, size))
    assert [len(c) for c in whole] == [len(c) for c in chunks]
    assert whole == chunks  # the stream is deterministic given key and id


def test_opener_reports_done_only_after_the_last_chunk(kit):
    key, aid, chunks = seal(kit, kit.rand(2 * CHUNK_SIZE + 5))
    o = AttachmentOpener(key, aid)
    for c in chunks[:-1]:
        o.open_chunk(c)
        assert not o.done
    o.open_chunk(chunks[-1])
    assert o.done
    o.finish()


def test_reordered_chunks_refused(kit):
    key, aid, chunks = seal(kit, kit.rand(3 * CHUNK_SIZE + 10))
    for i in range(len(chunks) - 1):
        swapped = list(chunks)
        swapped[i], swapped[i + 1] = swapped[i + 1], swapped[i]
        assert_refused(key, aid, swapped)
    assert_refused(key, aid, list(reversed(chunks)))


def test_truncation_refused(kit):
    for size in (CHUNK_SIZE + 1, 2 * CHUNK_SIZE, 3 * CHUNK_SIZE + 10):
        key, aid, chunks = seal(kit, kit.rand(size))
        # Dropping the last chunk: every remaining chunk opens, finish() refuses.
        o = AttachmentOpener(key, aid)
        for c in chunks[:-1]:
            o.open_chunk(c)
        with pytest.raises(CouldNotOpen):
            o.finish()
        assert_refused(key, aid, chunks[:-1])
        assert_refused(key, aid, [])
        # Cutting bytes off the last chunk.
        assert_refused(key, aid, [*chunks[:-1], chunks[-1][:-1]])


def test_an_empty_stream_is_not_an_empty_file(kit):
    key, aid, chunks = seal(kit, b"")
    assert open_all(key, aid, chunks) == b""
    assert_refused(key, aid, [])


def test_duplicated_chunks_refused(kit):
    key, aid, chunks = seal(kit, kit.rand(3 * CHUNK_SIZE + 10))
    for i in range(len(chunks)):
        doubled = [*chunks[: i + 1], chunks[i], *chunks[i + 1 :]]
        assert_refused(key, aid, doubled)


def test_chunk_after_the_last_refused(kit):
    key, aid, chunks = seal(kit, kit.rand(CHUNK_SIZE + 3))
    _, _, more = seal(kit, kit.rand(CHUNK_SIZE + 3), key=key, aid=aid)
    for extra in (chunks[0], chunks[-1], more[-1], b"", b"\x00" * (CHUNK_SIZE + TAG)):
        assert_refused(key, aid, [*chunks, extra])
    o = AttachmentOpener(key, aid)
    for c in chunks:
        o.open_chunk(c)
    with pytest.raises(CouldNotOpen):
        o.open_chunk(chunks[0])


def test_splicing_from_another_attachment_refused(kit):
    key = kit.rand(32)
    data = kit.rand(2 * CHUNK_SIZE + 100)
    _, aid1, one = seal(kit, data, key=key)
    _, aid2, two = seal(kit, data, key=key)  # same key and plaintext, another id
    assert one != two
    for i in range(len(one)):
        mixed = list(one)
        mixed[i] = two[i]
        assert_refused(key, aid1, mixed)
    # Same id under another key.
    _, _, three = seal(kit, data, aid=aid1)
    for i in range(len(one)):
        mixed = list(one)
        mixed[i] = three[i]
        assert_refused(key, aid1, mixed)
    # And the whole stream under the wrong id or key.
    assert_refused(key, aid2, one)
    assert_refused(kit.rand(32), aid1, one)


def test_a_full_last_chunk_cannot_pass_as_a_middle_one_and_vice_versa(kit):
    key, aid, chunks = seal(kit, kit.rand(2 * CHUNK_SIZE))  # two full chunks, the 2nd last
    assert len(chunks) == 2
    assert len(chunks[1]) == CHUNK_SIZE + TAG
    assert_refused(key, aid, [chunks[0]])  # the first alone is not a whole file
    assert_refused(key, aid, [chunks[0], chunks[1], chunks[1]])
    # A sealer that stops at a chunk boundary still marks the last chunk.
    s = AttachmentSealer(key, aid)
    assert s.update(kit.rand(CHUNK_SIZE)) == []
    last = s.finish()
    o = AttachmentOpener(key, aid)
    o.open_chunk(last)
    assert o.done
    with pytest.raises(ValueError, match="finished"):
        s.update(b"x")
    with pytest.raises(ValueError, match="finished"):
        s.finish()


def test_flipped_bits_refused(kit):
    key, aid, chunks = seal(kit, kit.rand(CHUNK_SIZE + 300))
    for ci, chunk in enumerate(chunks):
        for pos in (0, 1, len(chunk) // 2, len(chunk) - TAG - 1, len(chunk) - TAG, len(chunk) - 1):
            for bit in (0, 7):
                bad = bytearray(chunk)
                bad[pos] ^= 1 << bit
                mixed = list(chunks)
                mixed[ci] = bytes(bad)
                assert_refused(key, aid, mixed)


def test_oversized_chunk_refused(kit):
    key, aid, chunks = seal(kit, kit.rand(10))
    assert_refused(key, aid, [chunks[0] + b"\x00" * (CHUNK_SIZE + 1)])


def _generate(total: int, piece: int) -> Iterator[bytes]:
    block = bytes(range(256)) * (piece // 256 + 1)
    sent = 0
    while sent < total:
        n = min(piece, total - sent)
        yield block[:n]
        sent += n


def test_constant_memory_for_a_50_mb_stream(kit):
    total = 50 * 1024 * 1024
    key, aid = kit.rand(32), kit.rand(16)
    tracemalloc.start()
    try:
        n_chunks = 0
        sealed_bytes = 0
        opener = AttachmentOpener(key, aid)
        opened = 0
        for chunk in seal_stream(key, aid, _generate(total, 100_000)):
            n_chunks += 1
            sealed_bytes += len(chunk)
            opened += len(opener.open_chunk(chunk))
        opener.finish()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert opened == total
    assert n_chunks == -(-total // CHUNK_SIZE)
    assert sealed_bytes == total + n_chunks * TAG
    assert peak < 4 * 1024 * 1024, f"peak {peak / 1e6:.1f} MB"


# --- the construction itself (docs/protocol.md §10) -----------------------------------------


def _spec_chunk(key: bytes, aid: bytes, index: int, last: bool, chunk: bytes) -> bytes:
    """Seal12(KDF(k, id, KDF_ATTACHMENT), u88(i) ‖ last, chunk, frame(AEAD_ATTACHMENT, id))."""
    k = P.hkdf(key, salt=aid, info=labels.KDF_ATTACHMENT)
    nonce = index.to_bytes(11, "big") + (b"\x01" if last else b"\x00")
    return P.chacha_seal(k, nonce, chunk, P.frame((labels.AEAD_ATTACHMENT, aid)))


def test_chunks_are_sealed_exactly_as_specified(kit):
    data = kit.rand(2 * CHUNK_SIZE + 17)
    key, aid, chunks = seal(kit, data)
    assert chunks == [
        _spec_chunk(key, aid, 0, False, data[:CHUNK_SIZE]),
        _spec_chunk(key, aid, 1, False, data[CHUNK_SIZE : 2 * CHUNK_SIZE]),
        _spec_chunk(key, aid, 2, True, data[2 * CHUNK_SIZE :]),
    ]


def test_only_the_one_canonical_stream_opens(kit):
    """Streams a key holder could build by hand that the sealer never makes are refused."""
    key, aid = kit.rand(32), kit.rand(16)
    full = kit.rand(CHUNK_SIZE)
    # An empty last chunk after a full one (the sealer would mark the full one last).
    assert_refused(
        key, aid, [_spec_chunk(key, aid, 0, False, full), _spec_chunk(key, aid, 1, True, b"")]
    )
    # A short chunk not marked last, then a last one.
    short = [_spec_chunk(key, aid, 0, False, full[:100]), _spec_chunk(key, aid, 1, True, b"x")]
    assert_refused(key, aid, short)
    # A valid chunk at the next position after the last: the stream is over.
    done = [_spec_chunk(key, aid, 0, True, b"end")]
    for last in (False, True):
        assert_refused(
            key, aid, [*done, _spec_chunk(key, aid, 1, last, full if not last else b"more")]
        )
    # The canonical encodings of the same plaintexts do open.
    assert open_all(key, aid, done) == b"end"
    assert open_all(key, aid, [_spec_chunk(key, aid, 0, True, full)]) == full


def test_the_digest_commits_to_the_sealed_stream(kit):
    key, aid = kit.rand(32), kit.rand(16)
    data = bytes(range(256)) * 600
    sealer = AttachmentSealer(key, aid)
    chunks = [*sealer.update(data), sealer.finish()]
    digest = sealer.digest
    assert b"".join(open_stream(key, aid, chunks, digest)) == data
    # Someone else holding the key seals other bytes under the same id: every chunk opens,
    # and the stream is still refused at the end, before a caller moves a file into place.
    other = AttachmentSealer(key, aid)
    forged = [*other.update(data[::-1]), other.finish()]
    opener = AttachmentOpener(key, aid, digest)
    for c in forged:
        opener.open_chunk(c)
    with pytest.raises(CouldNotOpen):
        opener.finish()
    # The same chunks, one fewer: the count is in the digest too.
    with pytest.raises(CouldNotOpen):
        list(open_stream(key, aid, chunks[:-1], digest))
    with pytest.raises(ValueError, match="not finished"):
        _ = AttachmentSealer(key, aid).digest
