"""Sealing and authenticating a member's data at rest (the client's local store).

The two keys come from the keystore (`Secrets.store_keys()`, docs/protocol.md
§4): one seals secrets at rest (epoch keys, queued writes, invite secrets), the
other MACs the pinned state and every stored record, so a copied data directory
reads nothing without the passphrase and an edited one is detected. Every value
is bound to a purpose and a context, so a sealed value cannot be moved from one
row or role to another.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from . import _labels as L
from . import _primitives as P
from ._errors import CouldNotOpen


@dataclass(frozen=True)
class StoreKeys:
    """The local store's seal and MAC keys, with the only operations that use them."""

    seal_key: bytes = field(repr=False)
    mac_key: bytes = field(repr=False)

    def seal(
        self, purpose: bytes, context: bytes, plaintext: bytes, rand: P.Random = P.random_bytes
    ) -> bytes:
        """XChaCha20-Poly1305 under the store key; a random 24-byte nonce is safe to draw."""
        nonce = rand(P.XNONCE_LEN)
        ad = P.frame((L.AEAD_STORE, purpose, context))
        return nonce + P.xchacha_seal(self.seal_key, nonce, plaintext, ad)

    def open(self, purpose: bytes, context: bytes, sealed: bytes) -> bytes:
        """Open a value sealed for the same purpose and context; otherwise CouldNotOpen."""
        ad = P.frame((L.AEAD_STORE, purpose, context))
        return P.xchacha_open(self.seal_key, sealed[: P.XNONCE_LEN], sealed[P.XNONCE_LEN :], ad)

    def mac(self, purpose: bytes, *parts: bytes) -> bytes:
        return P.mac(self.mac_key, L.MAC_STORE_STATE, purpose, *parts)

    def check(self, tag: bytes, purpose: bytes, *parts: bytes) -> bool:
        return P.mac_equal(tag, self.mac(purpose, *parts))


__all__ = ["CouldNotOpen", "StoreKeys"]
