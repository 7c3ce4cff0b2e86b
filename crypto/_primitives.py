"""The primitive layer: every call into PyNaCl and pyca/cryptography goes through here.

This is the hazmat boundary of Chatham. Modules above it never pick an
algorithm, a nonce size or a library; they call these functions with a label
from `_labels`. External test vectors (Wycheproof, CCTV, RFC 9180) are run
through exactly these functions, so what is tested is what ships.
"""

from __future__ import annotations

import functools
import hashlib
import hmac as _hmac
import os
import struct
from collections.abc import Callable
from typing import Final

import nacl.bindings as sodium
import nacl.exceptions
import nacl.pwhash
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, hpke
from cryptography.hazmat.primitives.asymmetric import mlkem, x25519
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from ._errors import CouldNotOpen, SignatureError

Random = Callable[[int], bytes]
"""A source of random bytes; tests pass a seeded one so vectors are reproducible."""

HASH_LEN: Final = 32
KEY_LEN: Final = 32
SIG_LEN: Final = 64
ED25519_PK_LEN: Final = 32
XNONCE_LEN: Final = 24
TAG_LEN: Final = 16
KEM_SEED_LEN: Final = 96  # ML-KEM-768 seed (64) ‖ X25519 private scalar (32)
KEM_PK_LEN: Final = 1184 + 32  # ML-KEM-768 encapsulation key ‖ X25519 public key
KEM_ENC_LEN: Final = 1088 + 32

_HPKE = hpke.Suite(hpke.KEM.MLKEM768_X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.CHACHA20_POLY1305)


def random_bytes(n: int) -> bytes:
    """Bytes from the operating system's CSPRNG."""
    return os.urandom(n)


def frame(parts: tuple[bytes, ...]) -> bytes:
    # Length-prefix every part so that no two distinct part lists hash alike.
    return b"".join(struct.pack(">I", len(p)) + p for p in parts)


def tagged_hash(label: bytes, *parts: bytes) -> bytes:
    """SHA-256(label ‖ 0x00 ‖ len(p1) ‖ p1 ‖ …), 32 bytes."""
    return hashlib.sha256(label + b"\x00" + frame(parts)).digest()


def hkdf(ikm: bytes, *, salt: bytes, info: bytes, length: int = KEY_LEN) -> bytes:
    """HKDF-SHA256 (RFC 5869)."""
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=salt, info=info).derive(ikm)


def mac(key: bytes, label: bytes, *parts: bytes) -> bytes:
    """HMAC-SHA256 over label ‖ 0x00 ‖ framed parts."""
    return _hmac.new(key, label + b"\x00" + frame(parts), hashlib.sha256).digest()


def mac_equal(a: bytes, b: bytes) -> bool:
    """Constant-time comparison."""
    return _hmac.compare_digest(a, b)


# --- Ed25519: one strict verifier ------------------------------------------------------------


def ed25519_seed_to_keys(seed: bytes) -> tuple[bytes, bytes]:
    """Return (public key, libsodium secret key) for a 32-byte seed."""
    if len(seed) != 32:
        raise ValueError("an Ed25519 seed is 32 bytes")
    pk, sk = sodium.crypto_sign_seed_keypair(seed)
    return bytes(pk), bytes(sk)


MIXED_ORDER_POINT: Final = bytes.fromhex("95" + "99" * 31)
"""The base point plus the point of order 2, (0, -1): on the curve, canonical, but not in the
prime-order subgroup. libsodium without the fix of December 2025 (commit ad3004e; PyNaCl
before 1.6.2 bundles such a libsodium) accepts it as a valid point (CVE-2025-69277), and with
it Ed25519 keys with a small-order component, which protocol §2 says MUST be refused."""


class UnsafeLibsodium(ImportError):
    """The libsodium under PyNaCl fails the import-time self-test: nothing may use it."""

    hint = (
        "install PyNaCl 1.6.2 or later with its bundled libsodium "
        "(or build it against a libsodium with the December 2025 fix)"
    )


def self_test(is_valid_point: Callable[[bytes], object]) -> None:
    """Refuse a libsodium whose point check accepts a key outside the prime-order subgroup.

    PyNaCl can be built against a system libsodium (SODIUM_INSTALL=system), so a version
    floor on PyNaCl is not enough: the check that refuses such keys is tried once, here,
    and the package does not load (fails closed) when it lets the known bad point through.
    """
    if is_valid_point(MIXED_ORDER_POINT):
        raise UnsafeLibsodium(
            "chatham cannot run safely: the libsodium under PyNaCl accepts Ed25519 keys with "
            "a small-order component (CVE-2025-69277)"
        )


self_test(sodium.crypto_core_ed25519_is_valid_point)


@functools.lru_cache(maxsize=4096)
def _valid_point(pk: bytes) -> bool:
    # A pure function of the key bytes: every entry by one device re-checks the same
    # key, and the subgroup check costs as much as the signature check itself.
    return bool(sodium.crypto_core_ed25519_is_valid_point(pk))


def check_ed25519_public_key(pk: bytes) -> None:
    """Refuse a public key that is malformed, non-canonical, of small order or off the subgroup.

    `cryptography`'s Ed25519 accepts the identity point with a trivial signature, so
    it is never used for verification; libsodium's checks are the policy, pinned by
    the CCTV edge-case vectors in tests/vectors.
    """
    if not isinstance(pk, bytes) or len(pk) != ED25519_PK_LEN or not _valid_point(pk):
        raise SignatureError("invalid Ed25519 public key")


def sign(secret_key: bytes, label: bytes, message: bytes) -> bytes:
    """Ed25519 signature over label ‖ 0x00 ‖ message."""
    return bytes(sodium.crypto_sign(label + b"\x00" + message, secret_key)[:SIG_LEN])


def _sodium_verify(public_key: bytes, message: bytes, signature: bytes) -> None:
    """libsodium's signature check alone, without the key check; only `verify` may call it.

    On its own it accepts keys with a small-order component (see
    docs/ed25519-policy.md), so nothing outside this module uses it.
    """
    if len(public_key) != ED25519_PK_LEN or len(signature) != SIG_LEN:
        raise SignatureError("malformed signature or key")
    try:
        # crypto_sign_open enforces canonical S, refuses small-order A and R and
        # non-canonical A encodings (libsodium >= 1.0.16 policy).
        sodium.crypto_sign_open(signature + message, public_key)
    except (nacl.exceptions.BadSignatureError, nacl.exceptions.ValueError, ValueError) as e:
        raise SignatureError("bad signature") from e


def verify(public_key: bytes, label: bytes, message: bytes, signature: bytes) -> None:
    """Strict Ed25519 verification of a labelled message; raises SignatureError."""
    check_ed25519_public_key(public_key)
    _sodium_verify(public_key, label + b"\x00" + message, signature)


# --- AEADs ------------------------------------------------------------------------------------


def xchacha_seal(key: bytes, nonce: bytes, plaintext: bytes, aad: bytes) -> bytes:
    """XChaCha20-Poly1305 (IETF) seal; returns ciphertext ‖ tag."""
    return bytes(sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(plaintext, aad, nonce, key))


def xchacha_open(key: bytes, nonce: bytes, ciphertext: bytes, aad: bytes) -> bytes:
    """XChaCha20-Poly1305 (IETF) open; any failure is CouldNotOpen."""
    if len(key) != KEY_LEN or len(nonce) != XNONCE_LEN or len(ciphertext) < TAG_LEN:
        raise CouldNotOpen
    try:
        return bytes(sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(ciphertext, aad, nonce, key))
    except (nacl.exceptions.CryptoError, ValueError, TypeError):
        raise CouldNotOpen from None


def chacha_seal(key: bytes, nonce: bytes, plaintext: bytes, aad: bytes) -> bytes:
    """ChaCha20-Poly1305 (RFC 8439) seal, 12-byte nonce; for counter-nonce streams."""
    return ChaCha20Poly1305(key).encrypt(nonce, plaintext, aad)


def chacha_open(key: bytes, nonce: bytes, ciphertext: bytes, aad: bytes) -> bytes:
    """ChaCha20-Poly1305 open; any failure is CouldNotOpen."""
    try:
        return ChaCha20Poly1305(key).decrypt(nonce, ciphertext, aad)
    except (InvalidTag, ValueError):
        raise CouldNotOpen from None


# --- HPKE with the hybrid post-quantum KEM ----------------------------------------------------


def kem_keys_from_seed(seed: bytes) -> tuple[hpke.MLKEM768X25519PrivateKey, bytes]:
    """Build the hybrid KEM private key and its encoded public key from a 96-byte seed."""
    if len(seed) != KEM_SEED_LEN:
        raise ValueError("a KEM seed is 96 bytes")
    m = mlkem.MLKEM768PrivateKey.from_seed_bytes(seed[:64])
    x = x25519.X25519PrivateKey.from_private_bytes(seed[64:])
    pk = m.public_key().public_bytes_raw() + x.public_key().public_bytes_raw()
    return hpke.MLKEM768X25519PrivateKey(m, x), pk


_LOW_ORDER_PROBE = x25519.X25519PrivateKey.from_private_bytes(bytes(range(1, 33)))


def kem_public_key(encoded: bytes) -> hpke.MLKEM768X25519PublicKey:
    """Parse an encoded hybrid public key; raises ValueError when malformed."""
    if len(encoded) != KEM_PK_LEN:
        raise ValueError("a KEM public key is 1216 bytes")
    m = mlkem.MLKEM768PublicKey.from_public_bytes(encoded[:1184])
    x = x25519.X25519PublicKey.from_public_bytes(encoded[1184:])
    # A low-order X25519 half parses but makes every later seal fail: a card
    # carrying one could block rotations, so it is refused here, at parse time.
    _LOW_ORDER_PROBE.exchange(x)  # raises ValueError for low-order points
    return hpke.MLKEM768X25519PublicKey(m, x)


def hpke_seal(public_key: bytes, info: bytes, plaintext: bytes) -> bytes:
    """HPKE base mode, MLKEM768-X25519 / HKDF-SHA256 / ChaCha20-Poly1305; returns enc ‖ ct."""
    return _HPKE.encrypt(plaintext, kem_public_key(public_key), info)


def hpke_open(private_key: hpke.MLKEM768X25519PrivateKey, info: bytes, sealed: bytes) -> bytes:
    """Open an HPKE lockbox; any failure is CouldNotOpen."""
    try:
        return _HPKE.decrypt(sealed, private_key, info)
    except Exception:  # the binding raises several types; all mean the same to callers
        raise CouldNotOpen from None


# --- Argon2id ---------------------------------------------------------------------------------

ARGON2_OPSLIMIT_MODERATE: Final = nacl.pwhash.argon2id.OPSLIMIT_MODERATE
ARGON2_MEMLIMIT_MODERATE: Final = nacl.pwhash.argon2id.MEMLIMIT_MODERATE
ARGON2_SALT_LEN: Final = nacl.pwhash.argon2id.SALTBYTES


def argon2id(passphrase: bytes, salt: bytes, *, opslimit: int, memlimit: int) -> bytes:
    """Argon2id (libsodium), 32-byte output."""
    return bytes(
        nacl.pwhash.argon2id.kdf(KEY_LEN, passphrase, salt, opslimit=opslimit, memlimit=memlimit)
    )
