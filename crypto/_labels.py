"""Every domain-separation label of protocol v1, in one place.

Each signature, hash, KDF and AEAD context in Chatham uses exactly one of these
constants. A label is never built from user input, and no two contexts share a
label, so a signature or MAC made for one purpose is never valid for another.
Two reuses are deliberate and safe (docs/protocol.md §1.1): H_LOCKBOX hashes a
one-part input (a KEM key inside the lockbox info) and a four-part one (a
lockbox ref), which the framing keeps apart, and the key derived under
KDF_CONFIRM keys two MACs with distinct labels. KDF_KEYSTORE, KDF_DEVICE_SIGN, KDF_DEVICE_KEM and
H_MEETING_CODE are reserved: nothing in v1 uses them.
"""

from __future__ import annotations

from typing import Final

VERSION: Final = 1
SUITE: Final = "chatham/v1:ed25519:mlkem768x25519-hkdfsha256-chacha20poly1305:xchacha20poly1305"

# Hashes (SHA-256 over label ‖ 0x00 ‖ data).
H_MEMBER_ID: Final = b"chatham/v1/member-id"
H_DEVICE_ID: Final = b"chatham/v1/device-id"
H_FINGERPRINT: Final = b"chatham/v1/fingerprint"
H_GROUP_ID: Final = b"chatham/v1/group-id"
H_OP: Final = b"chatham/v1/op"
H_LOCKBOX: Final = b"chatham/v1/lockbox-hash"
H_ENTRY_LINK: Final = b"chatham/v1/entry-link"
H_CIPHERTEXT: Final = b"chatham/v1/ciphertext"
H_ATTACHMENT: Final = b"chatham/v1/attachment-digest"
H_INVITE_ID: Final = b"chatham/v1/invite-id"
H_INVITE_CHECK: Final = b"chatham/v1/invite-checksum"
H_MEETING_CODE: Final = b"chatham/v1/meeting-code"
H_TOKEN: Final = b"chatham/v1/token"

# Signatures (Ed25519 over label ‖ 0x00 ‖ message).
SIG_CARD: Final = b"chatham/v1/sig/member-card"
SIG_OP: Final = b"chatham/v1/sig/op"
SIG_ENTRY: Final = b"chatham/v1/sig/entry"
SIG_JOIN: Final = b"chatham/v1/sig/join-request"
SIG_JOIN_READ: Final = b"chatham/v1/sig/join-read"
SIG_AUTH: Final = b"chatham/v1/sig/auth"

# KDF contexts (HKDF-SHA256 info strings).
KDF_KEYSTORE: Final = b"chatham/v1/kdf/keystore"
KDF_STORE_SEAL: Final = b"chatham/v1/kdf/store-seal"
KDF_STORE_MAC: Final = b"chatham/v1/kdf/store-mac"
KDF_CONFIRM: Final = b"chatham/v1/kdf/key-confirmation"
KDF_BACKLINK: Final = b"chatham/v1/kdf/backlink"
KDF_ENTRY: Final = b"chatham/v1/kdf/entry"
KDF_NAMES: Final = b"chatham/v1/kdf/names"
KDF_ATTACHMENT: Final = b"chatham/v1/kdf/attachment"
KDF_INVITE_JOIN: Final = b"chatham/v1/kdf/invite-join-key"
KDF_INVITE_MAC: Final = b"chatham/v1/kdf/invite-mac-key"
KDF_DEVICE_SIGN: Final = b"chatham/v1/kdf/device-signing-seed"
KDF_DEVICE_KEM: Final = b"chatham/v1/kdf/device-kem-seed"

# MAC and AEAD contexts.
MAC_CONFIRM: Final = b"chatham/v1/mac/key-confirmation"
MAC_COMMIT: Final = b"chatham/v1/mac/key-commitment"
MAC_INVITE: Final = b"chatham/v1/mac/invite"
MAC_STORE_STATE: Final = b"chatham/v1/mac/store-state"
MAC_MEETING: Final = b"chatham/v1/mac/meeting-code"
AEAD_ENTRY: Final = b"chatham/v1/aead/entry"
AEAD_BACKLINK: Final = b"chatham/v1/aead/backlink"
AEAD_NAMES: Final = b"chatham/v1/aead/names"
AEAD_KEYSTORE: Final = b"chatham/v1/aead/keystore"
AEAD_STORE: Final = b"chatham/v1/aead/store"
AEAD_ATTACHMENT: Final = b"chatham/v1/aead/attachment"
HPKE_LOCKBOX: Final = b"chatham/v1/hpke/lockbox"
