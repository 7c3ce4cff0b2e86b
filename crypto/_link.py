"""Linking a new device to a member (docs/protocol.md §5.4).

The existing device makes a one-time **link code**: an 80-bit secret and a 20-bit checksum
over the secret and the server's address, 20 Crockford symbols in four groups of five,
handed over with the server's address like an invite. Everything the two devices exchange
goes through the server as an opaque mailbox of three write-once slots, each sealed under a
key derived from the secret; the server learns the mailbox id and a verifier of the
mailbox's access key, nothing else:

    offer     existing → new   the member key and the linking device (LinkOffer)
    request   new → existing   the new device's certificate, self-signed (LinkRequest)
    handover  existing → new   the member key seed, the card's member signature and, per
                               group, the epoch keys the member holds (LinkHandover),
                               HPKE-sealed to the new device's KEM key inside the slot

Both devices show six **comparison words** derived from the secret, the member key and the
new device's certificate; the member confirms on the existing device that they match, so a
party that learned the code and swapped the new device's keys is caught before anything is
handed over.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final, Literal, TypeVar

from . import _labels as L
from . import _primitives as P
from ._encoding import decode, encode
from ._errors import CouldNotOpen, EncodingError, LinkError, SignatureError
from ._identity import DeviceKeys, MemberKeys, bits_to_words, device_id, verify_card
from ._invite import canonical_server, code_symbols, read_symbols
from ._records import (
    DeviceCert,
    LinkGroup,
    LinkHandover,
    LinkOffer,
    LinkRequest,
    MemberCard,
)

LINK_SECRET_BYTES: Final = 10  # 80 bits
LINK_SYMBOLS: Final = 20
LINK_CHECK_BITS: Final = LINK_SYMBOLS * 5 - LINK_SECRET_BYTES * 8  # 20
LINK_WORDS: Final = 6  # 66 bits
MAX_HANDOVER: Final = 4 << 20
Slot = Literal["offer", "request", "handover"]
SLOTS: Final[tuple[Slot, ...]] = ("offer", "request", "handover")


def _checksum(secret: bytes, server: str) -> int:
    digest = P.tagged_hash(L.H_LINK_CHECK, secret, server.encode())
    return int.from_bytes(digest[:4], "big") >> (32 - LINK_CHECK_BITS)


@dataclass(frozen=True)
class LinkSecret:
    """A link code's secret and the server whose mailbox carries the link."""

    secret: bytes = field(repr=False)
    server: str

    @classmethod
    def generate(cls, server: str, rand: P.Random = P.random_bytes) -> LinkSecret:
        return cls(rand(LINK_SECRET_BYTES), canonical_server(server))

    @property
    def code(self) -> str:
        n = int.from_bytes(self.secret, "big") << LINK_CHECK_BITS | _checksum(
            self.secret, self.server
        )
        return code_symbols(n, LINK_SYMBOLS)

    @property
    def line(self) -> str:
        """`server#code`: what the member carries to the new device."""
        return f"{self.server}#{self.code}"

    @classmethod
    def parse(cls, text: str, server: str | None = None) -> LinkSecret:
        """Read `server#code` (or a code with `server`); a typo in either is a LinkError."""
        text = text.strip()
        if server is None:
            if "#" not in text:
                raise LinkError("the server's address is missing before the code")
            server, _, text = text.rpartition("#")
        elif "#" in text:
            text = text.rpartition("#")[2]
        try:
            where = canonical_server(server)
        except ValueError as e:
            raise LinkError(str(e)) from None
        n = read_symbols(text, LINK_SYMBOLS, "a link code", LinkError)
        secret = (n >> LINK_CHECK_BITS).to_bytes(LINK_SECRET_BYTES, "big")
        if n & ((1 << LINK_CHECK_BITS) - 1) != _checksum(secret, where):
            raise LinkError(
                "the link code and the server address do not match: one of them has a typo"
            )
        return cls(secret, where)

    # --- what the server sees ----------------------------------------------------------------

    @property
    def link_id(self) -> bytes:
        return P.tagged_hash(L.H_LINK_ID, self.secret)

    @property
    def auth(self) -> bytes:
        """The mailbox's access key: shown to the server on every read and on the request."""
        return P.hkdf(self.secret, salt=b"", info=L.KDF_LINK_AUTH)

    @property
    def verifier(self) -> bytes:
        return link_verifier(self.auth)

    # --- the slots ---------------------------------------------------------------------------

    def _seal_key(self) -> bytes:
        return P.hkdf(self.secret, salt=b"", info=L.KDF_LINK_SEAL)

    def _ad(self, slot: Slot) -> bytes:
        return P.frame((L.AEAD_LINK, self.link_id, slot.encode()))

    def seal(self, slot: Slot, payload: bytes, rand: P.Random = P.random_bytes) -> bytes:
        nonce = rand(24)
        return nonce + P.xchacha_seal(self._seal_key(), nonce, payload, self._ad(slot))

    def open(self, slot: Slot, data: bytes) -> bytes:
        if len(data) < 24 + 16:
            raise CouldNotOpen
        return P.xchacha_open(self._seal_key(), data[:24], data[24:], self._ad(slot))

    # --- the three messages ------------------------------------------------------------------

    def offer(self, member: MemberKeys, device: bytes, *, created: int, rand: P.Random) -> bytes:
        return self.seal(
            "offer", encode(LinkOffer(L.VERSION, member.public, device, created)), rand
        )

    def read_offer(self, data: bytes) -> LinkOffer:
        return _decode(self.open("offer", data), LinkOffer, 4096)

    def request(
        self, offer: LinkOffer, device: DeviceKeys, *, created: int, rand: P.Random
    ) -> tuple[bytes, DeviceCert, bytes]:
        """The new device's answer: (sealed slot, its certificate, its card signature)."""
        cert = DeviceCert(L.VERSION, offer.member_key, device.public, device.kem_public, created)
        sig = device.sign(L.SIG_CARD, encode(cert))
        return self.seal("request", encode(LinkRequest(L.VERSION, cert, sig)), rand), cert, sig

    def read_request(self, offer: LinkOffer, data: bytes) -> LinkRequest:
        """The request, checked: for the offer's member key, self-signed, a usable KEM key."""
        req = _decode(self.open("request", data), LinkRequest, 4096)
        if req.cert.member_key != offer.member_key:
            raise LinkError("the new device asked to join another member")
        try:
            P.verify(req.cert.device_key, L.SIG_CARD, encode(req.cert), req.device_sig)
            P.kem_public_key(req.cert.kem_key)
        except (SignatureError, ValueError):
            raise LinkError("the new device's keys do not verify") from None
        return req

    def words(self, cert: DeviceCert) -> str:
        """Six words both devices show: the same only if both hold the same code, member key
        and new device keys."""
        digest = P.tagged_hash(L.H_LINK_WORDS, self.secret, encode(cert))
        return bits_to_words(digest, LINK_WORDS)

    def handover(
        self,
        request: LinkRequest,
        member: MemberKeys,
        groups: list[LinkGroup],
        *,
        created: int,
        rand: P.Random = P.random_bytes,
    ) -> bytes:
        """Seal the member key and the groups' keys to the new device (after the words
        matched): HPKE to its KEM key, inside the mailbox's own seal."""
        if request.cert.member_key != member.public:
            raise LinkError("the request is for another member key")
        member_sig = member.sign(L.SIG_CARD, encode(request.cert))
        body = encode(LinkHandover(L.VERSION, member.seed, member_sig, groups, created))
        sealed = P.hpke_seal(request.cert.kem_key, self._hpke_info(request.cert), body)
        return self.seal("handover", sealed, rand)

    def read_handover(
        self, offer: LinkOffer, device: DeviceKeys, created: int, data: bytes
    ) -> tuple[LinkHandover, MemberKeys, MemberCard]:
        """Open the handover as the new device: the member key must be the offer's, and the
        card it completes must verify (any failure: CouldNotOpen or LinkError)."""
        cert = DeviceCert(L.VERSION, offer.member_key, device.public, device.kem_public, created)
        inner = self.open("handover", data)
        body = device.open_lockbox(self._hpke_info(cert), inner)
        handover = _decode(body, LinkHandover, MAX_HANDOVER)
        member = MemberKeys.from_seed(handover.member_seed)
        if not P.mac_equal(member.public, offer.member_key):
            raise LinkError("the handover carries another member key than the offer")
        card = MemberCard(cert, handover.member_sig, device.sign(L.SIG_CARD, encode(cert)))
        try:
            verify_card(card)
        except SignatureError:
            raise LinkError("the handed-over card does not verify") from None
        return handover, member, card

    def _hpke_info(self, cert: DeviceCert) -> bytes:
        return P.frame((L.HPKE_LINK, self.link_id, device_id(cert.device_key)))


def link_verifier(auth: bytes) -> bytes:
    """What the server stores to check a mailbox's access key (it never holds the key)."""
    return P.tagged_hash(L.H_LINK_VERIFIER, auth)


T = TypeVar("T")


def _decode(data: bytes, kind: type[T], cap: int) -> T:
    try:
        return decode(data, kind, max_size=cap)
    except EncodingError as e:
        raise LinkError(f"a link message does not decode: {e}") from None


__all__ = ["LINK_WORDS", "SLOTS", "LinkSecret", "Slot", "link_verifier"]
