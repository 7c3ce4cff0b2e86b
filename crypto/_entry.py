"""Entries: padded, key-committed, sealed under a per-entry key and signed by the device.

Public checks (encoding, signature, header against the verified log, chain
position) raise specific `EntryError`s. Once the epoch key is used, every
failure is the single opaque `CouldNotOpen`, and no partial plaintext escapes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from . import _labels as L
from . import _primitives as P
from ._encoding import decode, encode
from ._errors import (
    ChainError,
    CouldNotOpen,
    EncodingError,
    EntryError,
    EquivocationError,
    SignatureError,
)
from ._log import ZERO32, DeviceSigner, GroupState
from ._records import (
    MAX_ENTRY_BODY,
    MAX_ENTRY_SIZE,
    ChainHead,
    Entry,
    EntryHeader,
    EntryStub,
    Retraction,
    SignedRetraction,
)

PAD_FLOOR = 1024


def padme(length: int) -> int:
    """Padmé (Nikitin et al. 2019) in integer arithmetic: leaks O(log log L) bits of L."""
    if length < 2:
        return length
    e = length.bit_length() - 1  # ⌊log2 L⌋
    s = e.bit_length()  # ⌊log2 E⌋ + 1
    z = e - s
    mask = (1 << z) - 1
    return (length + mask) & ~mask


def padded_length(body_len: int) -> int:
    return max(PAD_FLOOR, padme(4 + body_len))


def pad(body: bytes) -> bytes:
    if len(body) > MAX_ENTRY_BODY:
        raise ValueError(f"entry body is larger than {MAX_ENTRY_BODY} bytes")
    n = padded_length(len(body))
    return len(body).to_bytes(4, "big") + body + bytes(n - 4 - len(body))


def unpad(padded: bytes) -> bytes:
    if len(padded) < 4:
        raise CouldNotOpen
    n = int.from_bytes(padded[:4], "big")
    if n > MAX_ENTRY_BODY or 4 + n > len(padded) or len(padded) != padded_length(n):
        raise CouldNotOpen
    if any(padded[4 + n :]):
        raise CouldNotOpen
    return padded[4 : 4 + n]


def _u(n: int) -> bytes:
    return n.to_bytes(8, "big")


def ct_hash(ct: bytes) -> bytes:
    return P.tagged_hash(L.H_CIPHERTEXT, ct)


def link_hash(header: EntryHeader, cthash: bytes) -> bytes:
    """The chain link of an entry: covers the header and the ciphertext by hash."""
    return _link(encode(header), cthash)


def _link(encoded_header: bytes, cthash: bytes) -> bytes:
    return P.tagged_hash(L.H_ENTRY_LINK, encoded_header, cthash)


def _entry_keys(epoch_key: bytes, header: EntryHeader) -> tuple[bytes, bytes]:
    okm = P.hkdf(
        epoch_key,
        salt=header.entry_id,
        info=P.frame((L.KDF_ENTRY, header.group, _u(header.epoch), header.device)),
        length=64,
    )
    return okm[:32], okm[32:]


def _signed_message(encoded_header: bytes, cthash: bytes) -> bytes:
    return P.frame((encoded_header, cthash))


@dataclass(frozen=True)
class SealedEntry:
    """An entry ready to post, with its chain link."""

    entry: Entry
    data: bytes
    link: bytes


def seal_entry(
    *,
    device: DeviceSigner,
    epoch_key: bytes,
    group: bytes,
    epoch: int,
    seq: int,
    prev: bytes,
    log_seq: int,
    log_head: bytes,
    body: bytes,
    entry_id: bytes | None = None,
    rand: P.Random = P.random_bytes,
) -> SealedEntry:
    """Pad, seal and sign an entry.

    `entry_id` lets a client choose the id when a write is queued, so a queued write
    is recognised after a crash instead of being sent twice; it must be random.
    """
    if entry_id is not None and len(entry_id) != 16:
        raise ValueError("an entry id is 16 bytes")
    eid = rand(16) if entry_id is None else entry_id
    header = EntryHeader(1, group, eid, epoch, device.id, seq, prev, log_seq, log_head)
    k_enc, k_com = _entry_keys(epoch_key, header)
    hdr = encode(header)
    nonce = rand(P.XNONCE_LEN)
    commit = P.mac(k_com, L.MAC_COMMIT, hdr)
    ct = nonce + commit + P.xchacha_seal(k_enc, nonce, pad(body), P.frame((L.AEAD_ENTRY, hdr)))
    cth = ct_hash(ct)
    sig = device.sign(L.SIG_ENTRY, _signed_message(encode(header), cth))
    entry = Entry(header, ct, sig)
    return SealedEntry(entry, encode(entry), link_hash(header, cth))


def open_entry(entry: Entry, epoch_key: bytes) -> bytes:
    """Decrypt an entry whose public checks have passed. Any failure: CouldNotOpen."""
    header = entry.header
    k_enc, k_com = _entry_keys(epoch_key, header)
    hdr = encode(header)
    ct = entry.ct
    nonce, commit, sealed = ct[:24], ct[24:56], ct[56:]
    # Key commitment: a ciphertext opens under exactly one key (no partitioning oracles).
    if not P.mac_equal(commit, P.mac(k_com, L.MAC_COMMIT, hdr)):
        raise CouldNotOpen
    padded = P.xchacha_open(k_enc, nonce, sealed, P.frame((L.AEAD_ENTRY, hdr)))
    return unpad(padded)


def decode_entry(data: bytes) -> Entry:
    try:
        return decode(data, Entry, max_size=MAX_ENTRY_SIZE)
    except EncodingError as e:
        raise EntryError(f"entry is not a canonical v1 record: {e}", check="encoding") from None


def decode_stub(data: bytes) -> EntryStub:
    try:
        return decode(data, EntryStub, max_size=4096)
    except EncodingError as e:
        raise EntryError(
            f"entry stub is not a canonical v1 record: {e}", check="encoding"
        ) from None


def stub_of(entry: Entry) -> EntryStub:
    return EntryStub(entry.header, ct_hash(entry.ct), entry.sig)


def check_entry_public(state: GroupState, item: Entry | EntryStub) -> bytes:
    """Every check that needs no key; returns the entry's link hash.

    Refuses entries from another group, unknown or non-member devices, an
    author who was not active at the log head they claim, an epoch that was not
    current (or had a pending rotation) at that head, and anything a departed
    device signed after its final head.
    """
    h = item.header
    if h.group != state.group_id:
        raise EntryError("entry belongs to another group", check="group")
    dev = state.devices.get(h.device)
    if dev is None:
        raise EntryError("entry signed by a device that was never a member's", check="author")
    cth = item.ct_hash if isinstance(item, EntryStub) else ct_hash(item.ct)
    encoded = encode(h)  # once, for the signed message and the link
    try:
        P.verify(dev.key, L.SIG_ENTRY, _signed_message(encoded, cth), item.sig)
    except SignatureError:
        raise EntryError("bad entry signature", check="signature") from None
    if h.log_seq > state.seq:
        raise EntryError("entry claims a log head this member has not verified", check="log_head")
    if not P.mac_equal(state.op_hashes[h.log_seq], h.log_head):
        raise EntryError("entry's log head is not in the verified log", check="log_head")
    if not dev.active_at(h.log_seq):
        raise EntryError("author was not a member at the claimed log head", check="author")
    if h.epoch != state.epoch_at[h.log_seq] or state.pending_at[h.log_seq]:
        raise EntryError("entry sealed under an epoch that was not current", check="epoch")
    link = _link(encoded, cth)
    fh = dev.final_head
    if fh is not None and (h.seq > fh.seq or (h.seq == fh.seq and not P.mac_equal(fh.link, link))):
        raise EntryError("entry from a departed member after their final head", check="departed")
    return link


@dataclass
class ChainTracker:
    """Per-device chains: detects gaps, broken links and equivocation."""

    links: dict[bytes, dict[int, bytes]] = field(default_factory=dict)

    def head(self, device: bytes) -> ChainHead | None:
        chain = self.links.get(device)
        if not chain:
            return None
        seq = max(chain)
        return ChainHead(device, seq, chain[seq])

    def heads(self) -> list[ChainHead]:
        return [h for d in sorted(self.links) if (h := self.head(d)) is not None]

    def check(self, header: EntryHeader, link: bytes) -> bool:
        """True if new, False if already known; raises on equivocation or a broken chain."""
        chain = self.links.get(header.device, {})
        known = chain.get(header.seq)
        if known is not None:
            if not P.mac_equal(known, link):
                raise EquivocationError(
                    f"two different entries with sequence number {header.seq} from one device",
                    check="equivocation",
                )
            return False
        if header.seq == 1:
            if header.prev != ZERO32:
                raise ChainError("first entry of a chain must not link back", check="chain")
        else:
            before = chain.get(header.seq - 1)
            if before is None:
                raise ChainError(
                    f"gap in an author's chain: entry {header.seq - 1} is missing", check="gap"
                )
            if not P.mac_equal(before, header.prev):
                raise ChainError("entry does not link to its predecessor", check="chain")
        nxt = chain.get(header.seq + 1)
        if nxt is not None:
            raise ChainError("entry arrives after its successor", check="chain")
        return True

    def add(self, header: EntryHeader, link: bytes) -> None:
        self.links.setdefault(header.device, {})[header.seq] = link

    def compare_checkpoint(self, heads: list[ChainHead]) -> list[str]:
        """Differences between a signed checkpoint and the chains held here."""
        problems = []
        for hd in heads:
            chain = self.links.get(hd.device, {})
            mine = max(chain) if chain else 0
            if hd.seq > mine:
                problems.append(
                    f"device {hd.device.hex()[:12]}: checkpoint lists entry {hd.seq}, "
                    f"this member has only {mine} (withheld)"
                )
            elif hd.seq > 0 and not P.mac_equal(chain[hd.seq], hd.link):
                problems.append(
                    f"device {hd.device.hex()[:12]}: entry {hd.seq} differs from the checkpoint"
                )
        return problems


def sign_retraction(
    device: DeviceSigner, group: bytes, entry_id: bytes, log_seq: int, *, time: int
) -> bytes:
    dev_id = device.id
    r = Retraction(1, group, entry_id, dev_id, log_seq, time)
    sig = device.sign(L.SIG_RETRACT, encode(r))
    return encode(SignedRetraction(r, sig))


def verify_retraction(
    state: GroupState,
    data: bytes,
    author_device: bytes,
    *,
    entry_log_seq: int,
    at_head: bool = False,
) -> SignedRetraction:
    """A retraction is valid when signed by the author's device or a leader's (§7.1).

    The role is judged at the log head the retraction claims. A signature carries
    no time, so that head could be backdated: `entry_log_seq` (the retracted
    entry's `log_seq`) refuses a retraction claiming a head before the entry's, so
    an old role never reaches an entry written after it was lost. A server
    accepting a retraction passes `at_head=True`: the signer must then also be the
    author's current device or a current leader's, at the server's own head.
    """
    try:
        sr = decode(data, SignedRetraction, max_size=1024)
    except EncodingError as e:
        raise EntryError(
            f"retraction is not a canonical v1 record: {e}", check="encoding"
        ) from None
    r = sr.retraction
    if r.group != state.group_id:
        raise EntryError("retraction belongs to another group", check="group")
    dev = state.devices.get(r.signer)
    if dev is None:
        raise EntryError("retraction signed by an unknown device", check="author")
    try:
        P.verify(dev.key, L.SIG_RETRACT, encode(r), sr.sig)
    except SignatureError:
        raise EntryError("bad retraction signature", check="signature") from None
    if r.log_seq > state.seq:
        raise EntryError("retraction claims an unverified log head", check="log_head")
    if r.log_seq < entry_log_seq:
        raise EntryError(
            "retraction claims a log head older than the entry it retracts", check="log_head"
        )
    # Judged at the log head the retraction claims: the signer's device must have
    # been current then, and be the author's or belong to a leader at that point.
    if not dev.active_at(r.log_seq):
        raise EntryError("retraction signed by a device that was not a member's", check="author")
    is_author = r.signer == author_device
    leader_then = state.members[dev.member].role_at(r.log_seq) == "leader"
    if not (is_author or leader_then):
        raise EntryError("only the author or a leader may retract an entry", check="role")
    if at_head:
        if not dev.active_at(state.seq):
            raise EntryError("retraction signed by a departed member's device", check="author")
        if not (is_author or state.members[dev.member].role_at(state.seq) == "leader"):
            raise EntryError("only the author or a leader may retract an entry", check="role")
    return sr
