"""Every domain-separation label of protocol v2, in one place.

Each signature, hash, KDF and AEAD context in Chatham uses exactly one of these
constants. A label is never built from user input, and no two contexts share a
label, so a signature or MAC made for one purpose is never valid for another.
Two reuses are deliberate and safe (docs/protocol.md §1.1): H_LOCKBOX hashes a
one-part input (a KEM key inside the lockbox info) and a four-part one (a
lockbox ref), which the framing keeps apart, and the key derived under
KDF_CONFIRM keys two MACs with distinct labels. KDF_KEYSTORE, KDF_DEVICE_SIGN, KDF_DEVICE_KEM and
H_MEETING_CODE are reserved: nothing in v2 uses them.
"""

from __future__ import annotations

from typing import Final

VERSION: Final = 2
SUITE: Final = "chatham/v2:ed25519:mlkem768x25519-hkdfsha256-chacha20poly1305:xchacha20poly1305"

# Hashes (SHA-256 over label ‖ 0x00 ‖ data).
H_MEMBER_ID: Final = b"chatham/v2/member-id"
H_DEVICE_ID: Final = b"chatham/v2/device-id"
H_FINGERPRINT: Final = b"chatham/v2/fingerprint"
H_GROUP_ID: Final = b"chatham/v2/group-id"
H_OP: Final = b"chatham/v2/op"
H_LOCKBOX: Final = b"chatham/v2/lockbox-hash"
H_ENTRY_LINK: Final = b"chatham/v2/entry-link"
H_CIPHERTEXT: Final = b"chatham/v2/ciphertext"
H_ATTACHMENT: Final = b"chatham/v2/attachment-digest"
H_INVITE_ID: Final = b"chatham/v2/invite-id"
H_INVITE_CHECK: Final = b"chatham/v2/invite-checksum"
H_MEETING_CODE: Final = b"chatham/v2/meeting-code"
H_TOKEN: Final = b"chatham/v2/token"
H_LINK_ID: Final = b"chatham/v2/link-id"
H_LINK_CHECK: Final = b"chatham/v2/link-checksum"
H_LINK_VERIFIER: Final = b"chatham/v2/link-verifier"
H_LINK_WORDS: Final = b"chatham/v2/link-words"
H_KIT_CHECK: Final = b"chatham/v2/kit-checksum"

# Signatures (Ed25519 over label ‖ 0x00 ‖ message).
SIG_CARD: Final = b"chatham/v2/sig/member-card"
SIG_OP: Final = b"chatham/v2/sig/op"
SIG_ENTRY: Final = b"chatham/v2/sig/entry"
SIG_JOIN: Final = b"chatham/v2/sig/join-request"
SIG_JOIN_READ: Final = b"chatham/v2/sig/join-read"
SIG_AUTH: Final = b"chatham/v2/sig/auth"

# KDF contexts (HKDF-SHA256 info strings).
KDF_KEYSTORE: Final = b"chatham/v2/kdf/keystore"
KDF_STORE_SEAL: Final = b"chatham/v2/kdf/store-seal"
KDF_STORE_MAC: Final = b"chatham/v2/kdf/store-mac"
KDF_CONFIRM: Final = b"chatham/v2/kdf/key-confirmation"
KDF_BACKLINK: Final = b"chatham/v2/kdf/backlink"
KDF_ENTRY: Final = b"chatham/v2/kdf/entry"
KDF_NAMES: Final = b"chatham/v2/kdf/names"
KDF_ATTACHMENT: Final = b"chatham/v2/kdf/attachment"
KDF_INVITE_JOIN: Final = b"chatham/v2/kdf/invite-join-key"
KDF_INVITE_MAC: Final = b"chatham/v2/kdf/invite-mac-key"
KDF_LINK_AUTH: Final = b"chatham/v2/kdf/link-auth"
KDF_LINK_SEAL: Final = b"chatham/v2/kdf/link-seal"
KDF_KIT_SIGN: Final = b"chatham/v2/kdf/kit-signing-seed"
KDF_KIT_KEM: Final = b"chatham/v2/kdf/kit-kem-seed"
KDF_DEVICE_SIGN: Final = b"chatham/v2/kdf/device-signing-seed"
KDF_DEVICE_KEM: Final = b"chatham/v2/kdf/device-kem-seed"

# MAC and AEAD contexts.
MAC_CONFIRM: Final = b"chatham/v2/mac/key-confirmation"
MAC_COMMIT: Final = b"chatham/v2/mac/key-commitment"
MAC_INVITE: Final = b"chatham/v2/mac/invite"
MAC_STORE_STATE: Final = b"chatham/v2/mac/store-state"
MAC_MEETING: Final = b"chatham/v2/mac/meeting-code"
AEAD_ENTRY: Final = b"chatham/v2/aead/entry"
AEAD_BACKLINK: Final = b"chatham/v2/aead/backlink"
AEAD_NAMES: Final = b"chatham/v2/aead/names"
AEAD_KEYSTORE: Final = b"chatham/v2/aead/keystore"
AEAD_STORE: Final = b"chatham/v2/aead/store"
AEAD_ATTACHMENT: Final = b"chatham/v2/aead/attachment"
HPKE_LOCKBOX: Final = b"chatham/v2/hpke/lockbox"
AEAD_LINK: Final = b"chatham/v2/aead/link"
HPKE_LINK: Final = b"chatham/v2/hpke/link"
HPKE_KIT: Final = b"chatham/v2/hpke/kit-escrow"
