"""Sealing and MACs for data at rest in the local store.

The store keys come from the keystore (`Secrets.store_keys()`, docs/protocol.md
§4): one key seals secrets at rest (epoch keys, queued writes, invite secrets,
the group's display name), the other authenticates the pinned state and every
stored record, so a copied data directory reads nothing without the passphrase
and an edited one is detected.

chatham.crypto exposes no recipe for local sealing, so this module is the one
place in the client that reaches below its public API, to the primitive layer;
it uses only the store labels reserved for it (`AEAD_STORE`, `MAC_STORE_STATE`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from chatham.crypto import _primitives as P
from chatham.crypto import labels as L

from ..errors import StoreTampered


@dataclass(frozen=True)
class Vault:
    """The store's seal and MAC keys, with the only operations that use them."""

    seal_key: bytes = field(repr=False)
    mac_key: bytes = field(repr=False)

    def seal(self, purpose: bytes, context: bytes, plaintext: bytes) -> bytes:
        """XChaCha20-Poly1305 under the store key; a random 24-byte nonce is safe to draw."""
        nonce = P.random_bytes(P.XNONCE_LEN)
        return nonce + P.xchacha_seal(
            self.seal_key, nonce, plaintext, P.frame((L.AEAD_STORE, purpose, context))
        )

    def open(self, purpose: bytes, context: bytes, sealed: bytes) -> bytes:
        """Open a value sealed by `seal` for the same purpose and context, or StoreTampered."""
        try:
            return P.xchacha_open(
                self.seal_key,
                sealed[: P.XNONCE_LEN],
                sealed[P.XNONCE_LEN :],
                P.frame((L.AEAD_STORE, purpose, context)),
            )
        except Exception:
            raise StoreTampered("a sealed value in the local store does not open") from None

    def mac(self, purpose: bytes, *parts: bytes) -> bytes:
        return P.mac(self.mac_key, L.MAC_STORE_STATE, purpose, *parts)

    def check(self, tag: bytes, purpose: bytes, *parts: bytes) -> bool:
        return P.mac_equal(tag, self.mac(purpose, *parts))


def random_bytes(n: int) -> bytes:
    return P.random_bytes(n)
