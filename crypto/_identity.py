"""Identity: member keys, device keys, member cards, ids and spoken fingerprints."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from importlib import resources

from cryptography.hazmat.primitives import hpke

from . import _labels as L
from . import _primitives as P
from ._encoding import decode, encode
from ._errors import EncodingError, SignatureError
from ._records import DeviceCert, MemberCard


@cache
def wordlist() -> tuple[str, ...]:
    """The BIP-39 English list: 2048 words, 11 bits each, unique in their first four letters."""
    text = resources.files("chatham.crypto").joinpath("wordlist_bip39_english.txt").read_text()
    words = tuple(w.strip() for w in text.split())
    assert len(words) == 2048
    return words


def bits_to_words(data: bytes, n_words: int) -> str:
    """The first 11·n_words bits of data, as words separated by single spaces."""
    value = int.from_bytes(data, "big")
    total = len(data) * 8
    words = wordlist()
    out = []
    for i in range(n_words):
        shift = total - 11 * (i + 1)
        out.append(words[(value >> shift) & 0x7FF])
    return " ".join(out)


def normalize_words(text: str) -> str:
    """Case and whitespace are not significant when a person types words back."""
    return re.sub(r"[\s\-_]+", "", text).lower()


def member_id(member_key: bytes) -> bytes:
    return P.tagged_hash(L.H_MEMBER_ID, member_key)


def device_id(device_key: bytes) -> bytes:
    return P.tagged_hash(L.H_DEVICE_ID, device_key)


FINGERPRINT_WORDS = 8  # 88 bits


def fingerprint(member_key: bytes) -> str:
    """Eight words (88 bits) that people compare aloud."""
    return bits_to_words(P.tagged_hash(L.H_FINGERPRINT, member_key), FINGERPRINT_WORDS)


def fingerprints_match(expected: str, typed: str) -> bool:
    return P.mac_equal(normalize_words(expected).encode(), normalize_words(typed).encode())


@dataclass(frozen=True)
class MemberKeys:
    """A member's long-term Ed25519 key."""

    seed: bytes = field(repr=False)
    public: bytes
    _sk: bytes = field(repr=False)

    @classmethod
    def from_seed(cls, seed: bytes) -> MemberKeys:
        pk, sk = P.ed25519_seed_to_keys(seed)
        return cls(seed, pk, sk)

    @property
    def id(self) -> bytes:
        return member_id(self.public)

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.public)

    def sign(self, label: bytes, message: bytes) -> bytes:
        return P.sign(self._sk, label, message)


@dataclass(frozen=True)
class DeviceKeys:
    """A device's Ed25519 signing key and hybrid KEM key.

    Every device signature (ops, entries, auth) goes through `sign`, the one
    place to change when v2 moves to per-epoch signing keys for deniability.
    """

    seed: bytes = field(repr=False)
    kem_seed: bytes = field(repr=False)
    public: bytes
    kem_public: bytes
    _sk: bytes = field(repr=False)
    _kem: hpke.MLKEM768X25519PrivateKey = field(repr=False)

    @classmethod
    def from_seeds(cls, seed: bytes, kem_seed: bytes) -> DeviceKeys:
        pk, sk = P.ed25519_seed_to_keys(seed)
        kem, kem_pk = P.kem_keys_from_seed(kem_seed)
        return cls(seed, kem_seed, pk, kem_pk, sk, kem)

    @property
    def id(self) -> bytes:
        return device_id(self.public)

    def sign(self, label: bytes, message: bytes) -> bytes:
        return P.sign(self._sk, label, message)

    def open_lockbox(self, info: bytes, sealed: bytes) -> bytes:
        return P.hpke_open(self._kem, info, sealed)


def make_card(member: MemberKeys, device: DeviceKeys, *, created: int) -> MemberCard:
    cert = DeviceCert(L.VERSION, member.public, device.public, device.kem_public, created)
    body = encode(cert)
    return MemberCard(cert, member.sign(L.SIG_CARD, body), device.sign(L.SIG_CARD, body))


def verify_card(card: MemberCard) -> None:
    """Both signatures, both keys valid points, KEM key parses; raises SignatureError."""
    body = encode(card.cert)
    P.verify(card.cert.member_key, L.SIG_CARD, body, card.member_sig)
    P.verify(card.cert.device_key, L.SIG_CARD, body, card.device_sig)
    try:
        P.kem_public_key(card.cert.kem_key)
    except ValueError as e:
        raise SignatureError("member card has an invalid KEM key") from e


def card_member_id(card: MemberCard) -> bytes:
    return member_id(card.cert.member_key)


def card_device_id(card: MemberCard) -> bytes:
    return device_id(card.cert.device_key)


def encode_card(card: MemberCard) -> bytes:
    return encode(card)


def decode_card(data: bytes) -> MemberCard:
    card = decode(data, MemberCard, max_size=4096)
    try:
        verify_card(card)
    except SignatureError as e:
        raise EncodingError(f"member card does not verify: {e}") from e
    return card
