"""Entries: padded, key-committed, sealed under a per-entry key and signed by the device.

Public checks (encoding, signature, header against the verified log, chain
position) raise specific `EntryError`s. Once the epoch key is used, every
failure is the single opaque `CouldNotOpen`, and no partial plaintext escapes.
"""

from __future__ import annotations

from collections.abc import Sequence
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
    MAX_RETRACTS,
    MAX_STUB_SIZE,
    ChainHead,
    Entry,
    EntryHeader,
    EntryStub,
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
    retracts: Sequence[bytes] = (),
    rand: P.Random = P.random_bytes,
) -> SealedEntry:
    """Pad, seal and sign an entry.

    `entry_id` lets a client choose the id when a write is queued, so a queued write
    is recognised after a crash instead of being sent twice; it must be random.
    `retracts` lists entries this one withdraws (§7.1): sorted, unique, at most 100.
    """
    if entry_id is not None and len(entry_id) != 16:
        raise ValueError("an entry id is 16 bytes")
    eid = rand(16) if entry_id is None else entry_id
    ids = sorted(set(retracts))
    if len(ids) > MAX_RETRACTS or any(len(r) != 16 for r in ids) or eid in ids:
        raise ValueError(f"an entry retracts at most {MAX_RETRACTS} other entries, by id")
    header = EntryHeader(L.VERSION, group, eid, epoch, device.id, seq, prev, log_seq, log_head, ids)
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
        raise EntryError(f"entry is not a canonical v2 record: {e}", check="encoding") from None


def decode_stub(data: bytes) -> EntryStub:
    try:
        return decode(data, EntryStub, max_size=MAX_STUB_SIZE)
    except EncodingError as e:
        raise EntryError(
            f"entry stub is not a canonical v2 record: {e}", check="encoding"
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
    if list(h.retracts) != sorted(set(h.retracts)) or h.entry_id in h.retracts:
        raise EntryError(
            "an entry's retractions must be sorted, unique, and not itself", check="retracts"
        )
    link = _link(encoded, cth)
    fh = dev.final_head
    if fh is not None and (h.seq > fh.seq or (h.seq == fh.seq and not P.mac_equal(fh.link, link))):
        raise EntryError("entry from a departed member after their final head", check="departed")
    for pin_seq, pin in dev.pins:
        if h.seq == pin.seq and not P.mac_equal(pin.link, link):
            raise EntryError(
                f"entry differs from the head log op {pin_seq} pinned for its chain",
                check="pinned",
            )
        if h.seq <= pin.seq and h.log_seq >= pin_seq:
            raise EntryError(
                f"entry claims log op {h.log_seq}, after the op {pin_seq} that pinned its chain "
                "before it",
                check="log_head",
            )
    return link


def authority_seq(state: GroupState, device: bytes, seq: int, log_seq: int) -> int:
    """The log position an entry's powers are judged at (§7.4): the head it claims, or, when an
    op that took a power away pinned its device's chain below it, that op's position.

    An author chooses the head an entry claims, but not its place in the chain: an entry
    beyond a pinned head was written after the op that pinned it, whatever it claims.
    """
    dev = state.devices.get(device)
    at = log_seq
    if dev is not None:
        for pin_seq, pin in dev.pins:
            if seq > pin.seq and pin_seq > at:
                at = pin_seq
    return at


def check_retraction(
    state: GroupState, retracting: EntryHeader, target: EntryHeader, *, at_head: bool = False
) -> None:
    """Whether `retracting` may withdraw `target` (§7.1); raise EntryError if not.

    It must list the target, and be the work of the target's author (a device of the same
    member) or of a leader, judged at the retracting entry's authority position, which its
    place in the chain bounds; the target must have been written before that position. A
    server accepting it passes `at_head=True`: the retracting device must then also be
    current, and its member the author or a leader now.
    """
    if target.entry_id not in retracting.retracts:
        raise EntryError("the retracting entry does not list this entry", check="retracts")
    dev = state.devices.get(retracting.device)
    author = state.devices.get(target.device)
    if dev is None or author is None:
        raise EntryError("a retraction by or of an unknown device", check="author")
    at = authority_seq(state, retracting.device, retracting.seq, retracting.log_seq)
    if target.log_seq > at:
        raise EntryError("a retraction of an entry written after it", check="log_head")
    own = dev.member == author.member
    if not (own or state.members[dev.member].role_at(at) == "leader"):
        raise EntryError("only the author or a leader may retract an entry", check="role")
    if at_head:
        if not dev.active_at(state.seq):
            raise EntryError("a retraction by a departed member's device", check="author")
        if not (own or state.members[dev.member].role_at(state.seq) == "leader"):
            raise EntryError("only the author or a leader may retract an entry", check="role")


@dataclass
class ChainTracker:
    """Per-device chains: detects gaps, broken links, equivocation and a clock that runs back."""

    links: dict[bytes, dict[int, bytes]] = field(default_factory=dict)
    clocks: dict[bytes, dict[int, int]] = field(default_factory=dict)
    """(device → seq → the log head the entry claims), for the non-decreasing clock (§7.3)."""

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
            clock = self.clocks.get(header.device, {}).get(header.seq - 1)
            if clock is not None and header.log_seq < clock:
                raise ChainError(
                    f"entry claims log op {header.log_seq}, older than the op {clock} its "
                    "author's previous entry claims",
                    check="clock",
                )
        nxt = chain.get(header.seq + 1)
        if nxt is not None:
            raise ChainError("entry arrives after its successor", check="chain")
        return True

    def add(self, header: EntryHeader, link: bytes) -> None:
        self.links.setdefault(header.device, {})[header.seq] = link
        self.clocks.setdefault(header.device, {})[header.seq] = header.log_seq

    def load(self, device: bytes, seq: int, link: bytes, log_seq: int) -> None:
        """Add a stored chain element (already verified when it was stored)."""
        self.links.setdefault(device, {})[seq] = link
        self.clocks.setdefault(device, {})[seq] = log_seq

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
