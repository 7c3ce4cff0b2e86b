"""Sealing and MACs for data at rest in the local store.

The store keys come from the keystore (`Secrets.store_keys()`, docs/protocol.md
§4): one key seals secrets at rest (epoch keys, queued writes, invite secrets,
the group's display name), the other authenticates the pinned state and every
stored record, so a copied data directory reads nothing without the passphrase
and an edited one is detected.

The sealing itself is chatham.crypto's `StoreKeys` recipe; this module only
turns its opaque failure into the store's own error.
"""

from __future__ import annotations

from chatham.crypto import CouldNotOpen, StoreKeys, random_bytes

from ...errors import StoreTampered


class Vault(StoreKeys):
    """The store's seal and MAC keys; a value that does not open is StoreTampered."""

    def open(self, purpose: bytes, context: bytes, sealed: bytes) -> bytes:
        try:
            return super().open(purpose, context, sealed)
        except CouldNotOpen:
            raise StoreTampered("a sealed value in the local store does not open") from None


__all__ = ["Vault", "random_bytes"]
