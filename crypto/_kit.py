"""Recovery kits (docs/protocol.md §5.5): a paper device.

A kit is 128 random bits written as 15 BIP-39 words (165 bits: the secret and a 37-bit
checksum). The words derive a device's signing and KEM keys; that device is added to
every group like any other of the member's devices (`add-device`), so it receives a
lockbox in every later rotation, and the server keeps one opaque **escrow** for it,
HPKE-sealed to its KEM key: the member key seed and the epoch keys held when the kit was
made. Only the kit's device can log in to fetch it. With the words, a new machine logs in
as the kit's device, opens the escrow and its lockboxes, and the kit's device signs an
`add-device` for the new machine. Removing the kit's device revokes the kit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from . import _labels as L
from . import _primitives as P
from ._encoding import decode, encode
from ._errors import EncodingError, KitError
from ._identity import DeviceKeys, MemberKeys, device_id, wordlist
from ._records import KitEscrow, LinkGroup

KIT_SECRET_BYTES: Final = 16
KIT_WORDS: Final = 15
KIT_CHECK_BITS: Final = KIT_WORDS * 11 - KIT_SECRET_BYTES * 8  # 37
MAX_ESCROW: Final = 4 << 20


def _check(secret: bytes) -> int:
    digest = P.tagged_hash(L.H_KIT_CHECK, secret)
    return int.from_bytes(digest[:8], "big") >> (64 - KIT_CHECK_BITS)


def _fits(indexes: list[int]) -> bytes | None:
    n = 0
    for i in indexes:
        n = n << 11 | i
    secret = (n >> KIT_CHECK_BITS).to_bytes(KIT_SECRET_BYTES, "big")
    return secret if n & ((1 << KIT_CHECK_BITS) - 1) == _check(secret) else None


@dataclass(frozen=True)
class RecoveryKit:
    """A kit's secret, and the device it stands for."""

    secret: bytes = field(repr=False)

    @classmethod
    def generate(cls, rand: P.Random = P.random_bytes) -> RecoveryKit:
        return cls(rand(KIT_SECRET_BYTES))

    @property
    def words(self) -> str:
        n = int.from_bytes(self.secret, "big") << KIT_CHECK_BITS | _check(self.secret)
        words = wordlist()
        return " ".join(words[(n >> (11 * (KIT_WORDS - 1 - i))) & 0x7FF] for i in range(KIT_WORDS))

    @classmethod
    def parse(cls, text: str) -> RecoveryKit:
        """Read typed words (any case and spacing); a wrong word is named when the checksum
        can tell which (`KitError.word`, counting from 1)."""
        typed = text.lower().split()
        if len(typed) != KIT_WORDS:
            raise KitError(f"a recovery kit has {KIT_WORDS} words; this has {len(typed)}")
        index = {w: i for i, w in enumerate(wordlist())}
        by_prefix = {w[:4]: i for w, i in index.items()}  # BIP-39 words differ in 4 letters
        found: list[int] = []
        for pos, w in enumerate(typed, 1):
            i = index.get(w, by_prefix.get(w[:4]) if len(w) >= 4 else None)
            if i is None:
                raise KitError(f"word {pos} ({w!r}) is not a recovery kit word", word=pos)
            found.append(i)
        secret = _fits(found)
        if secret is not None:
            return cls(secret)
        # One wrong word: the checksum fits for exactly one replacement at exactly one place.
        places = {
            pos
            for pos in range(KIT_WORDS)
            for alt in range(2048)
            if alt != found[pos] and _fits([*found[:pos], alt, *found[pos + 1 :]]) is not None
        }
        if len(places) == 1:
            pos = places.pop() + 1
            raise KitError(
                f"word {pos} ({typed[pos - 1]!r}) is wrong: the kit's checksum fits only if it "
                "changes",
                word=pos,
            )
        raise KitError("the words do not check: more than one of them is wrong")

    def device(self) -> DeviceKeys:
        """The kit's device: its keys derive from the secret alone."""
        sign = P.hkdf(self.secret, salt=b"", info=L.KDF_KIT_SIGN)
        kem = P.hkdf(self.secret, salt=b"", info=L.KDF_KIT_KEM, length=96)
        return DeviceKeys.from_seeds(sign, kem)


def _info(kem_device: bytes) -> bytes:
    return P.frame((L.HPKE_KIT, kem_device))


def seal_escrow(
    kit_device: DeviceKeys | bytes,
    kem_public: bytes,
    member: MemberKeys,
    groups: list[LinkGroup],
    *,
    created: int,
) -> bytes:
    """The escrow for a kit's device (by its signing public key and KEM public key)."""
    dev = kit_device.public if isinstance(kit_device, DeviceKeys) else kit_device
    body = encode(KitEscrow(L.VERSION, member.seed, groups, created))
    return P.hpke_seal(kem_public, _info(device_id(dev)), body)


def open_escrow(kit: DeviceKeys, sealed: bytes) -> tuple[KitEscrow, MemberKeys]:
    """Open the escrow as the kit's device (CouldNotOpen, or KitError if it does not decode)."""
    body = kit.open_lockbox(_info(kit.id), sealed)
    try:
        escrow = decode(body, KitEscrow, max_size=MAX_ESCROW)
    except EncodingError as e:
        raise KitError(f"the escrow does not decode: {e}") from None
    return escrow, MemberKeys.from_seed(escrow.member_seed)


__all__ = ["KIT_WORDS", "RecoveryKit", "open_escrow", "seal_escrow"]
