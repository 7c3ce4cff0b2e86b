"""The keystore: a round trip, a wrong passphrase, a downgraded or damaged file.

Argon2id at the protocol floor costs ~0.4 s, so the file is sealed once per
module and its key derived once; everything that must not run Argon2id is
checked with Argon2id replaced by a tripwire.
"""

from __future__ import annotations

import time

import msgspec
import pytest
from chatham.crypto import (
    KeystoreError,
    Secrets,
    WeakKeystoreParameters,
    WrongPassphrase,
    encode,
    keystore_key,
    open_keystore,
    open_keystore_with_key,
    parse_keystore,
    seal_keystore,
)
from chatham.crypto._keystore import MEMLIMIT_FLOOR, OPSLIMIT_FLOOR
from chatham.crypto._records import KeystoreFile

PASSPHRASE = "correct horse battery staple"


@pytest.fixture(scope="module")
def sealed(module_kit):
    """(secrets, file, key): one seal and one Argon2id run for the whole module."""
    secrets = Secrets.generate(created=module_kit.T0, rand=module_kit.rand)
    data = seal_keystore(secrets, PASSPHRASE, rand=module_kit.rand)
    return secrets, data, keystore_key(data, PASSPHRASE)


def same_secrets(a: Secrets, b: Secrets) -> bool:
    return (
        a.member.seed == b.member.seed
        and a.device.seed == b.device.seed
        and a.device.kem_seed == b.device.kem_seed
        and a.store_secret == b.store_secret
        and a.created == b.created
    )


def test_round_trip(sealed):
    secrets, data, key = sealed
    opened = open_keystore(data, PASSPHRASE)
    assert same_secrets(opened, secrets)
    assert opened.member.id == secrets.member.id
    assert opened.device.kem_public == secrets.device.kem_public
    assert same_secrets(open_keystore_with_key(data, key), secrets)
    f = parse_keystore(data)
    assert (f.opslimit, f.memlimit) == (OPSLIMIT_FLOOR, MEMLIMIT_FLOOR)
    assert secrets.member.seed not in data
    assert secrets.store_secret not in data


def test_wrong_passphrase(sealed):
    _, data, _ = sealed
    with pytest.raises(WrongPassphrase):
        open_keystore(data, PASSPHRASE + " ")


def _rewrite(data: bytes, **changes) -> bytes:
    f = parse_keystore(data)
    return encode(msgspec.structs.replace(f, **changes))


@pytest.mark.parametrize(
    ("ops", "mem"),
    [
        (OPSLIMIT_FLOOR - 1, MEMLIMIT_FLOOR),
        (OPSLIMIT_FLOOR, MEMLIMIT_FLOOR - 1),
        (1, 8192),
        (0, 0),
        (OPSLIMIT_FLOOR + 10, MEMLIMIT_FLOOR // 2),
    ],
)
def test_downgraded_parameters_refused_before_argon2_runs(sealed, no_argon2, ops, mem):
    _, data, key = sealed
    weak = _rewrite(data, opslimit=ops, memlimit=mem)
    start = time.perf_counter()
    for call in (
        lambda: parse_keystore(weak),
        lambda: keystore_key(weak, PASSPHRASE),
        lambda: open_keystore(weak, PASSPHRASE),
        lambda: open_keystore_with_key(weak, key),  # even holding the right key
    ):
        with pytest.raises(WeakKeystoreParameters):
            call()
    assert time.perf_counter() - start < 0.1
    assert no_argon2 == []


def test_sealing_below_the_floor_or_without_a_passphrase_refused(module_kit, no_argon2):
    secrets = Secrets.generate(created=0, rand=module_kit.rand)
    with pytest.raises(WeakKeystoreParameters):
        seal_keystore(secrets, PASSPHRASE, opslimit=OPSLIMIT_FLOOR - 1)
    with pytest.raises(WeakKeystoreParameters):
        seal_keystore(secrets, PASSPHRASE, memlimit=MEMLIMIT_FLOOR - 1)
    with pytest.raises(KeystoreError):
        seal_keystore(secrets, "")
    assert no_argon2 == []


def test_tampered_file_refused(sealed):
    """Every byte of the file matters: a flip anywhere is refused (never other secrets)."""
    secrets, data, key = sealed
    for i in range(len(data)):
        bad = bytearray(data)
        bad[i] ^= 0x01 << (i % 8)
        try:
            opened = open_keystore_with_key(bytes(bad), key)
        except KeystoreError:
            continue
        pytest.fail(f"flip at byte {i} opened: same secrets? {same_secrets(opened, secrets)}")
    # The passphrase path agrees on a damaged ciphertext (one more Argon2id run).
    bad = bytearray(data)
    bad[-5] ^= 0x80
    with pytest.raises(WrongPassphrase):
        open_keystore(bytes(bad), PASSPHRASE)


def test_salt_nonce_and_parameters_are_authenticated(sealed, module_kit):
    _, data, key = sealed
    f = parse_keystore(data)
    for changes in (
        {"salt": module_kit.rand(16)},
        {"nonce": module_kit.rand(24)},
        {"opslimit": f.opslimit + 1},
        {"memlimit": f.memlimit * 2},
    ):
        with pytest.raises(WrongPassphrase):
            open_keystore_with_key(_rewrite(data, **changes), key)


def test_trailing_truncated_or_foreign_bytes_refused(sealed, no_argon2):
    _, data, key = sealed
    f = parse_keystore(data)
    for bad in (
        data + b"\x00",
        data + data,
        data[:-1],
        b"",
        encode(KeystoreFile(2, f.opslimit, f.memlimit, f.salt, f.nonce, b"")) + b"\xc0",
        msgspec.msgpack.encode([1, f.opslimit, f.memlimit, f.salt, f.nonce, f.ct]),
        msgspec.msgpack.encode([3, f.opslimit, f.memlimit, f.salt, f.nonce, f.ct]),
        msgspec.msgpack.encode([2, f.opslimit, f.memlimit, f.salt, f.nonce]),
        msgspec.msgpack.encode([2, f.opslimit, f.memlimit, f.salt, f.nonce, f.ct, b""]),
        msgspec.msgpack.encode([2, str(f.opslimit), f.memlimit, f.salt, f.nonce, f.ct]),
        b"\x00" * 200,
    ):
        with pytest.raises(KeystoreError) as info:
            open_keystore_with_key(bad, key)
        assert type(info.value) is KeystoreError  # not a keystore at all, before any key use
        with pytest.raises(KeystoreError):
            keystore_key(bad, PASSPHRASE)
    assert no_argon2 == []


def test_another_keystores_ciphertext_refused(sealed, module_kit):
    """Splicing: another file's ciphertext under this file's header does not open."""
    _, data, key = sealed
    other = Secrets.generate(created=0, rand=module_kit.rand)
    other_data = seal_keystore(other, PASSPHRASE, rand=module_kit.rand)
    spliced = _rewrite(data, ct=parse_keystore(other_data).ct)
    with pytest.raises(WrongPassphrase):
        open_keystore_with_key(spliced, key)
    spliced = _rewrite(other_data, ct=parse_keystore(data).ct)
    with pytest.raises(WrongPassphrase):
        open_keystore_with_key(spliced, key)


@pytest.mark.parametrize(("ops", "mem"), [(65, MEMLIMIT_FLOOR), (OPSLIMIT_FLOOR, (4 << 30) + 1)])
def test_inflated_parameters_refused_before_argon2_runs(sealed, no_argon2, ops, mem):
    """A crafted file cannot make unlocking run or allocate without bound."""
    _, data, _ = sealed
    inflated = _rewrite(data, opslimit=ops, memlimit=mem)
    with pytest.raises(KeystoreError, match="ceiling"):
        open_keystore(inflated, PASSPHRASE)
    assert no_argon2 == []
