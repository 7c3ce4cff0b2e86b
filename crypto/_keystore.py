"""The keystore: a member's private keys sealed under Argon2id(passphrase).

The decoder enforces a cost floor before it runs Argon2id: a file whose
parameters were lowered is refused, not opened.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from . import _labels as L
from . import _primitives as P
from ._encoding import decode, encode
from ._errors import (
    CouldNotOpen,
    EncodingError,
    KeystoreError,
    WeakKeystoreParameters,
    WrongPassphrase,
)
from ._identity import DeviceKeys, MemberKeys
from ._records import KeystoreFile, KeystoreSecrets

OPSLIMIT_FLOOR = P.ARGON2_OPSLIMIT_MODERATE
MEMLIMIT_FLOOR = P.ARGON2_MEMLIMIT_MODERATE
# A ceiling too, so a crafted file cannot make unlocking run or allocate without bound.
OPSLIMIT_CEILING = 64
MEMLIMIT_CEILING = 4 << 30


@dataclass(frozen=True)
class Secrets:
    """A member's unlocked private keys (`member` is None on a device whose link is not
    complete yet: it has its own keys and waits for the member key, §5.4)."""

    member: MemberKeys | None
    device: DeviceKeys
    store_secret: bytes = field(repr=False)
    created: int

    @classmethod
    def generate(cls, *, created: int, rand: P.Random = P.random_bytes) -> Secrets:
        return cls(
            MemberKeys.from_seed(rand(32)),
            DeviceKeys.from_seeds(rand(32), rand(96)),
            rand(32),
            created,
        )

    def store_keys(self) -> tuple[bytes, bytes]:
        """(seal key, MAC key) for the local store."""
        return (
            P.hkdf(self.store_secret, salt=b"", info=L.KDF_STORE_SEAL),
            P.hkdf(self.store_secret, salt=b"", info=L.KDF_STORE_MAC),
        )


def _body(secrets: Secrets) -> bytes:
    member = None if secrets.member is None else secrets.member.seed
    d = secrets.device
    return encode(
        KeystoreSecrets(
            L.VERSION, member, d.seed, d.kem_seed, secrets.store_secret, secrets.created
        )
    )


def _ad(f: KeystoreFile) -> bytes:
    nums = (f.v, f.opslimit, f.memlimit)
    return P.frame((L.AEAD_KEYSTORE, *(n.to_bytes(8, "big") for n in nums), f.salt))


def seal_keystore(
    secrets: Secrets,
    passphrase: str,
    *,
    opslimit: int = OPSLIMIT_FLOOR,
    memlimit: int = MEMLIMIT_FLOOR,
    rand: P.Random = P.random_bytes,
) -> bytes:
    if opslimit < OPSLIMIT_FLOOR or memlimit < MEMLIMIT_FLOOR:
        raise WeakKeystoreParameters("keystore parameters below the protocol floor")
    if opslimit > OPSLIMIT_CEILING or memlimit > MEMLIMIT_CEILING:
        raise KeystoreError("keystore parameters above the protocol ceiling")
    if not passphrase:
        raise KeystoreError("the passphrase must not be empty")
    salt, nonce = rand(16), rand(24)
    shell = KeystoreFile(L.VERSION, opslimit, memlimit, salt, nonce, b"")
    key = P.argon2id(passphrase.encode(), salt, opslimit=opslimit, memlimit=memlimit)
    body = _body(secrets)
    ct = P.xchacha_seal(key, nonce, body, _ad(shell))
    return encode(KeystoreFile(L.VERSION, opslimit, memlimit, salt, nonce, ct))


def reseal_keystore(
    data: bytes, key: bytes, secrets: Secrets, *, rand: P.Random = P.random_bytes
) -> bytes:
    """The same keystore (salt, cost, so the same passphrase and key) holding `secrets`:
    how a linked device stores the member key it was handed (§5.4). `key` must open `data`."""
    f = parse_keystore(data)
    open_keystore_with_key(data, key)  # WrongPassphrase unless the key is this file's
    body = _body(secrets)
    nonce = rand(24)
    shell = KeystoreFile(L.VERSION, f.opslimit, f.memlimit, f.salt, nonce, b"")
    ct = P.xchacha_seal(key, nonce, body, _ad(shell))
    return encode(KeystoreFile(L.VERSION, f.opslimit, f.memlimit, f.salt, nonce, ct))


def parse_keystore(data: bytes) -> KeystoreFile:
    """Decode a keystore file and enforce the cost floor (before any Argon2id run)."""
    try:
        f = decode(data, KeystoreFile, max_size=8192)
    except EncodingError as e:
        raise KeystoreError(f"not a Chatham keystore: {e}") from None
    if f.opslimit < OPSLIMIT_FLOOR or f.memlimit < MEMLIMIT_FLOOR:
        raise WeakKeystoreParameters(
            "keystore key-derivation cost is below the floor: refusing a downgraded file"
        )
    if f.opslimit > OPSLIMIT_CEILING or f.memlimit > MEMLIMIT_CEILING:
        raise KeystoreError("keystore key-derivation cost is above the ceiling: refusing it")
    return f


def keystore_key(data: bytes, passphrase: str) -> bytes:
    """Run Argon2id for this file; the result can open it without the passphrase."""
    f = parse_keystore(data)
    return P.argon2id(passphrase.encode(), f.salt, opslimit=f.opslimit, memlimit=f.memlimit)


def open_keystore_with_key(data: bytes, key: bytes) -> Secrets:
    f = parse_keystore(data)
    try:
        body = P.xchacha_open(key, f.nonce, f.ct, _ad(f))
        s = decode(body, KeystoreSecrets, max_size=1024)
    except (CouldNotOpen, EncodingError):
        raise WrongPassphrase("wrong passphrase (or a damaged keystore)") from None
    return Secrets(
        None if s.member_seed is None else MemberKeys.from_seed(s.member_seed),
        DeviceKeys.from_seeds(s.device_seed, s.kem_seed),
        s.store_secret,
        s.created,
    )


def open_keystore(data: bytes, passphrase: str) -> Secrets:
    return open_keystore_with_key(data, keystore_key(data, passphrase))
