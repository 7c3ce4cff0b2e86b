"""Epoch keys: rotations, lockboxes, key confirmation, back-links and attested names."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from . import _labels as L
from . import _primitives as P
from ._encoding import decode, encode
from ._errors import CouldNotOpen, RotationError
from ._identity import DeviceKeys
from ._records import LockboxRef, NameList, Rotation


def _u(n: int) -> bytes:
    return n.to_bytes(8, "big")


def lockbox_info(
    group: bytes, epoch: int, prev: bytes, member: bytes, device: bytes, kem_key: bytes
) -> bytes:
    """HPKE info: binds group, epoch, the op's prev hash, the member and the recipient key."""
    return P.frame(
        (
            L.HPKE_LOCKBOX,
            group,
            _u(epoch),
            prev,
            member,
            device,
            P.tagged_hash(L.H_LOCKBOX, kem_key),
        )
    )


def lockbox_hash(group: bytes, epoch: int, device: bytes, sealed: bytes) -> bytes:
    return P.tagged_hash(L.H_LOCKBOX, group, _u(epoch), device, sealed)


def key_confirmation(key: bytes, group: bytes, epoch: int, prev: bytes) -> bytes:
    k = P.hkdf(key, salt=b"", info=L.KDF_CONFIRM)
    return P.mac(k, L.MAC_CONFIRM, group, _u(epoch), prev)


def seal_backlink(
    new_key: bytes, old_key: bytes, group: bytes, epoch: int, rand: P.Random
) -> bytes:
    k = P.hkdf(new_key, salt=b"", info=L.KDF_BACKLINK)
    nonce = rand(P.XNONCE_LEN)
    ad = P.frame((L.AEAD_BACKLINK, group, _u(epoch), _u(epoch - 1)))
    return nonce + P.xchacha_seal(k, nonce, old_key, ad)


def open_backlink(new_key: bytes, backlink: bytes, group: bytes, epoch: int) -> bytes:
    k = P.hkdf(new_key, salt=b"", info=L.KDF_BACKLINK)
    ad = P.frame((L.AEAD_BACKLINK, group, _u(epoch), _u(epoch - 1)))
    return P.xchacha_open(k, backlink[: P.XNONCE_LEN], backlink[P.XNONCE_LEN :], ad)


def _names_ad(group: bytes, epoch: int, prev: bytes) -> bytes:
    return P.frame((L.AEAD_NAMES, group, _u(epoch), prev))


def seal_names(
    key: bytes,
    group: bytes,
    epoch: int,
    prev: bytes,
    names: Sequence[tuple[bytes, str]],
    rand: P.Random,
    *,
    group_name: str | None = None,
) -> bytes:
    """Members' names (and the group's name, when given) sealed under the epoch key (§6.4)."""
    k = P.hkdf(key, salt=b"", info=L.KDF_NAMES)
    nonce = rand(P.XNONCE_LEN)
    body = encode(NameList(sorted(names), group_name))
    return nonce + P.xchacha_seal(k, nonce, body, _names_ad(group, epoch, prev))


def open_names(key: bytes, group: bytes, epoch: int, prev: bytes, blob: bytes) -> NameList:
    k = P.hkdf(key, salt=b"", info=L.KDF_NAMES)
    body = P.xchacha_open(
        k, blob[: P.XNONCE_LEN], blob[P.XNONCE_LEN :], _names_ad(group, epoch, prev)
    )
    try:
        return decode(body, NameList, max_size=len(body))
    except Exception:
        raise CouldNotOpen from None


@dataclass(frozen=True)
class Recipient:
    """A device that gets a lockbox."""

    member: bytes
    device: bytes
    kem_key: bytes


@dataclass(frozen=True)
class BuiltRotation:
    rotation: Rotation
    key: bytes = field(repr=False)
    lockboxes: dict[bytes, bytes] = field(repr=False)


def build_rotation(
    group: bytes,
    epoch: int,
    prev: bytes,
    recipients: Iterable[Recipient],
    *,
    old_key: bytes | None,
    rand: P.Random = P.random_bytes,
) -> BuiltRotation:
    """A fresh epoch key sealed to every recipient; a back-link when old_key is given."""
    key = rand(P.KEY_LEN)
    lockboxes: dict[bytes, bytes] = {}
    refs = []
    for r in sorted(recipients, key=lambda r: r.device):
        info = lockbox_info(group, epoch, prev, r.member, r.device, r.kem_key)
        sealed = P.hpke_seal(r.kem_key, info, key)
        lockboxes[r.device] = sealed
        refs.append(LockboxRef(r.device, lockbox_hash(group, epoch, r.device, sealed)))
    backlink = None if old_key is None else seal_backlink(key, old_key, group, epoch, rand)
    confirm = key_confirmation(key, group, epoch, prev)
    return BuiltRotation(Rotation(epoch, refs, confirm, backlink), key, lockboxes)


def open_lockbox(
    device: DeviceKeys,
    member: bytes,
    group: bytes,
    rotation: Rotation,
    prev: bytes,
    sealed: bytes,
) -> bytes:
    """Open this device's lockbox and check it against the op's commitments.

    A lockbox that does not match its committed hash is refused before the key
    is used; a key that does not reproduce the confirmation is key substitution.
    """
    me = device.id  # computed once: a rotation may hold thousands of refs
    ref = next((r for r in rotation.refs if r.device == me), None)
    if ref is None:
        raise RotationError("this device has no lockbox in the rotation", check="lockbox_missing")
    if not P.mac_equal(ref.hash, lockbox_hash(group, rotation.epoch, me, sealed)):
        raise RotationError("lockbox does not match its commitment", check="lockbox_hash")
    info = lockbox_info(group, rotation.epoch, prev, member, me, device.kem_public)
    key = device.open_lockbox(info, sealed)
    if len(key) != P.KEY_LEN or not P.mac_equal(
        key_confirmation(key, group, rotation.epoch, prev), rotation.confirm
    ):
        raise CouldNotOpen
    return key
