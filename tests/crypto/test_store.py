"""The at-rest recipe for the client's local store: bound to purpose and context, tamper-evident."""

from __future__ import annotations

import os

import pytest
from chatham.crypto import CouldNotOpen, Secrets, StoreKeys


@pytest.fixture
def keys() -> StoreKeys:
    return StoreKeys(*Secrets.generate(created=0).store_keys())


def test_round_trip_and_fresh_nonces(keys: StoreKeys) -> None:
    a = keys.seal(b"epoch-key", b"group 1", b"secret")
    b = keys.seal(b"epoch-key", b"group 1", b"secret")
    assert a != b
    assert keys.open(b"epoch-key", b"group 1", a) == b"secret"
    assert b"secret" not in a


@pytest.mark.parametrize(
    ("purpose", "context"), [(b"queued-write", b"group 1"), (b"epoch-key", b"group 2")]
)
def test_a_value_moved_to_another_purpose_or_row_does_not_open(
    keys: StoreKeys, purpose: bytes, context: bytes
) -> None:
    sealed = keys.seal(b"epoch-key", b"group 1", b"secret")
    with pytest.raises(CouldNotOpen):
        keys.open(purpose, context, sealed)


def test_any_flipped_bit_or_truncation_fails_closed(keys: StoreKeys) -> None:
    sealed = keys.seal(b"p", b"c", b"some secret value")
    for i in range(len(sealed)):
        damaged = sealed[:i] + bytes([sealed[i] ^ 0x01]) + sealed[i + 1 :]
        with pytest.raises(CouldNotOpen):
            keys.open(b"p", b"c", damaged)
    for n in (0, 10, 24, len(sealed) - 1):
        with pytest.raises(CouldNotOpen):
            keys.open(b"p", b"c", sealed[:n])


def test_another_members_store_keys_open_nothing(keys: StoreKeys) -> None:
    other = StoreKeys(*Secrets.generate(created=0).store_keys())
    sealed = keys.seal(b"p", b"c", b"secret")
    with pytest.raises(CouldNotOpen):
        other.open(b"p", b"c", sealed)


def test_macs_detect_edited_state(keys: StoreKeys) -> None:
    tag = keys.mac(b"pinned", b"seq=4", b"head")
    assert keys.check(tag, b"pinned", b"seq=4", b"head")
    assert not keys.check(tag, b"pinned", b"seq=3", b"head")
    assert not keys.check(tag, b"other", b"seq=4", b"head")
    assert not keys.check(os.urandom(32), b"pinned", b"seq=4", b"head")
