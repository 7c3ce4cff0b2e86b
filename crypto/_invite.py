"""Invites and join requests.

The invite secret never reaches the server: the leader publishes only the
invite id and the join public key (in a signed invite op), so the server can
check a join request but cannot mint one.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field

from . import _labels as L
from . import _primitives as P
from ._encoding import decode, encode
from ._errors import EncodingError, InviteError, SignatureError
from ._identity import verify_card
from ._log import DeviceSigner, GroupState
from ._records import InviteCodePayload, JoinRequest, MemberCard, SignedJoinRequest


@dataclass(frozen=True)
class InviteSecret:
    """Everything derived from one invite secret."""

    secret: bytes = field(repr=False)
    group: bytes
    server: str

    @classmethod
    def generate(cls, group: bytes, server: str, rand: P.Random = P.random_bytes) -> InviteSecret:
        return cls(rand(16), group, server)

    @property
    def invite_id(self) -> bytes:
        return P.tagged_hash(L.H_INVITE_ID, self.group, self.secret)

    def _join_keys(self) -> tuple[bytes, bytes]:
        seed = P.hkdf(self.secret, salt=self.group, info=L.KDF_INVITE_JOIN)
        return P.ed25519_seed_to_keys(seed)

    @property
    def join_key(self) -> bytes:
        return self._join_keys()[0]

    @property
    def mac_key(self) -> bytes:
        return P.hkdf(self.secret, salt=self.group, info=L.KDF_INVITE_MAC)

    def sign_join(self, label: bytes, message: bytes) -> bytes:
        return P.sign(self._join_keys()[1], label, message)

    @property
    def code(self) -> str:
        payload = encode(InviteCodePayload(1, self.secret, self.group, self.server))
        return L.INVITE_CODE_PREFIX + base64.b32encode(payload).decode().rstrip("=").lower()

    @classmethod
    def from_code(cls, code: str) -> InviteSecret:
        code = "".join(code.split())
        if not code.lower().startswith(L.INVITE_CODE_PREFIX):
            raise InviteError("not a Chatham invite code")
        body = code[len(L.INVITE_CODE_PREFIX) :].upper()
        try:
            raw = base64.b32decode(body + "=" * (-len(body) % 8))
            p = decode(raw, InviteCodePayload, max_size=4096)
        except (ValueError, EncodingError):
            raise InviteError("the invite code is damaged or incomplete") from None
        return cls(p.secret, p.group, p.server)

    def request(self, card: MemberCard, *, created: int) -> bytes:
        """A join request for `card`, MAC'd and signed with the join key."""
        mac = P.mac(self.mac_key, L.MAC_INVITE, self.group, self.invite_id, encode(card))
        req = JoinRequest(1, self.group, self.invite_id, card, mac, created)
        return encode(SignedJoinRequest(req, self.sign_join(L.SIG_JOIN, encode(req))))

    def read_signature(self, challenge: bytes) -> bytes:
        """Authorizes reading the genesis and log as an invitee."""
        return self.sign_join(L.SIG_JOIN_READ, P.frame((self.group, self.invite_id, challenge)))

    def check_mac(self, req: JoinRequest) -> bool:
        want = P.mac(self.mac_key, L.MAC_INVITE, self.group, self.invite_id, encode(req.card))
        return P.mac_equal(want, req.mac)


def decode_join_request(data: bytes) -> SignedJoinRequest:
    try:
        return decode(data, SignedJoinRequest, max_size=8192)
    except EncodingError as e:
        raise InviteError(f"join request is not a canonical v1 record: {e}") from None


def verify_join_request(state: GroupState, data: bytes, *, now: int) -> SignedJoinRequest:
    """Server and leaders: the request is for a live invite and signed with its join key."""
    sjr = decode_join_request(data)
    req = sjr.request
    if req.group != state.group_id:
        raise InviteError("join request is for another group")
    inv = state.invites.get(req.invite_id)
    if inv is None:
        raise InviteError("no such invite")
    if not state.invite_usable(req.invite_id, now):
        raise InviteError("the invite was used, revoked or has expired")
    try:
        P.verify(inv.join_key, L.SIG_JOIN, encode(req), sjr.sig)
        verify_card(req.card)
    except SignatureError:
        raise InviteError("join request is not signed with the invite's join key") from None
    return sjr


def verify_join_read(
    join_key: bytes, group: bytes, invite_id: bytes, challenge: bytes, sig: bytes
) -> None:
    try:
        P.verify(join_key, L.SIG_JOIN_READ, P.frame((group, invite_id, challenge)), sig)
    except SignatureError:
        raise InviteError("bad invitee read signature") from None


def sign_auth(device: DeviceSigner, server_id: bytes, action: str, challenge: bytes) -> bytes:
    """Login signature bound to the server's identity, the action and the challenge (§11)."""
    return device.sign(L.SIG_AUTH, P.frame((server_id, action.encode(), challenge)))


def verify_auth(
    device_key: bytes, server_id: bytes, action: str, challenge: bytes, sig: bytes
) -> None:
    P.verify(device_key, L.SIG_AUTH, P.frame((server_id, action.encode(), challenge)), sig)
