"""Invites and join requests (docs/protocol.md §8).

The invite secret never reaches the server: the leader publishes only the
invite id and the join public key (in a signed invite op), so the server can
check a join request but cannot mint one.

An invite code is the 128-bit secret plus a 22-bit checksum over the secret and
the server's address, in 30 Crockford base32 symbols read out in six groups of
five. The code does not carry the group: the invite id derives from the secret
alone, so the server can say which group published it, and the join key
derives from the secret *and* the group, which pins the group (a server cannot
put a matching join key in any other group without the secret).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final
from urllib.parse import urlsplit

from . import _labels as L
from . import _primitives as P
from ._encoding import decode, encode
from ._errors import CryptoError, EncodingError, InviteError, SignatureError
from ._identity import verify_card
from ._log import DeviceSigner, GroupState
from ._records import JoinRequest, MemberCard, SignedJoinRequest

CODE_ALPHABET: Final = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
"""Crockford's base32: no I, L, O or U, so nothing read aloud is mistaken for another."""
CODE_ALIASES: Final = {"O": "0", "I": "1", "L": "1"}
"""What a reader may type for a symbol that looks alike (Crockford)."""
CODE_SYMBOLS: Final = 30
SECRET_BYTES: Final = 16
CHECK_BITS: Final = CODE_SYMBOLS * 5 - SECRET_BYTES * 8  # 22
CODE_GROUP: Final = 5
MAX_SERVER: Final = 2048


def canonical_server(url: str) -> str:
    """A server address as every party writes it: `scheme://host[:port][/path]`.

    The scheme and host are lowercased, the scheme's default port and any trailing `/`
    are dropped; only `http` and `https`, with a host and without user, query or
    fragment, are addresses (ValueError otherwise).
    """
    text = url.strip()
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        raise ValueError(f"not a server address: {url!r}") from None
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if scheme not in ("http", "https") or not host:
        raise ValueError(f"not a server address: {url!r}")
    if parts.username is not None or parts.query or parts.fragment or "#" in text:
        raise ValueError(f"a server address has no user, query or fragment: {url!r}")
    if ":" in host:
        host = f"[{host}]"
    if port is not None and port != {"http": 80, "https": 443}[scheme]:
        host += f":{port}"
    out = f"{scheme}://{host}{parts.path.rstrip('/')}"
    if len(out.encode()) > MAX_SERVER:
        raise ValueError("a server address is at most 2048 bytes")
    return out


def _checksum(secret: bytes, server: str) -> int:
    digest = P.tagged_hash(L.H_INVITE_CHECK, secret, server.encode())
    return int.from_bytes(digest[:4], "big") >> (32 - CHECK_BITS)


def code_symbols(n: int, count: int) -> str:
    """`n` as `count` Crockford symbols, most significant first, in groups of five."""
    symbols = "".join(CODE_ALPHABET[(n >> (5 * i)) & 31] for i in reversed(range(count)))
    return "-".join(symbols[i : i + CODE_GROUP] for i in range(0, count, CODE_GROUP))


def read_symbols(code: str, count: int, what: str, error: type[CryptoError] = InviteError) -> int:
    """The number a typed code of `count` symbols spells: spaces and hyphens dropped, case
    and look-alikes folded; anything else is `error`, saying what was wrong."""
    compact = "".join(c for c in code if not c.isspace() and c not in "-–—")
    n = 0
    for c in compact.upper():
        c = CODE_ALIASES.get(c, c)
        if c not in CODE_ALPHABET:
            raise error(
                f"{what} holds only letters and digits"
                + (f"; {c!r} is not one of them" if c.isprintable() and len(c) == 1 else "")
            )
        n = n << 5 | CODE_ALPHABET.index(c)
    if len(compact) != count:
        raise error(f"{what} has {count} letters and digits; this one has {len(compact)}")
    return n


@dataclass(frozen=True)
class InviteCode:
    """An invite as handed over: the secret and the server's address, checked for typos."""

    secret: bytes = field(repr=False)
    server: str

    @classmethod
    def generate(cls, server: str, rand: P.Random = P.random_bytes) -> InviteCode:
        return cls(rand(SECRET_BYTES), canonical_server(server))

    @property
    def invite_id(self) -> bytes:
        return P.tagged_hash(L.H_INVITE_ID, self.secret)

    @property
    def code(self) -> str:
        """Six groups of five symbols, e.g. `7K2QD-M4X9P-…`."""
        n = int.from_bytes(self.secret, "big") << CHECK_BITS | _checksum(self.secret, self.server)
        return code_symbols(n, CODE_SYMBOLS)

    @property
    def link(self) -> str:
        """The whole invite on one line, `server#code`, for pasting and QR codes (a browser
        never sends what follows `#` to the server)."""
        return f"{self.server}#{self.code}"

    @classmethod
    def parse(cls, code: str, server: str) -> InviteCode:
        """Read a typed code for `server`; a typo in either is an `InviteError` saying so."""
        try:
            where = canonical_server(server)
        except ValueError as e:
            raise InviteError(str(e)) from None
        n = read_symbols(code, CODE_SYMBOLS, "an invite code")
        secret = (n >> CHECK_BITS).to_bytes(SECRET_BYTES, "big")
        if n & ((1 << CHECK_BITS) - 1) != _checksum(secret, where):
            raise InviteError(
                "the invite code and the server address do not match: one of them has a typo"
            )
        return cls(secret, where)

    @classmethod
    def parse_link(cls, link: str) -> InviteCode:
        """Read the one-line form `server#code`."""
        server, hash_, code = link.strip().rpartition("#")
        if not hash_:
            raise InviteError("not a whole invite: it has no server address before `#`")
        return cls.parse(code, server)

    def for_group(self, group: bytes) -> InviteSecret:
        """The invite's keys once the server named its group (checked when joining)."""
        return InviteSecret(self.secret, group, self.server)


@dataclass(frozen=True)
class InviteSecret:
    """Everything derived from one invite secret, for one group."""

    secret: bytes = field(repr=False)
    group: bytes
    server: str

    @classmethod
    def generate(cls, group: bytes, server: str, rand: P.Random = P.random_bytes) -> InviteSecret:
        return InviteCode.generate(server, rand).for_group(group)

    @property
    def invite(self) -> InviteCode:
        return InviteCode(self.secret, self.server)

    @property
    def invite_id(self) -> bytes:
        return P.tagged_hash(L.H_INVITE_ID, self.secret)

    @property
    def code(self) -> str:
        return self.invite.code

    @property
    def link(self) -> str:
        return self.invite.link

    def _join_keys(self) -> tuple[bytes, bytes]:
        seed = P.hkdf(self.secret, salt=self.group, info=L.KDF_INVITE_JOIN)
        return P.ed25519_seed_to_keys(seed)

    @property
    def join_key(self) -> bytes:
        """The public join key; it derives from the secret and the group, so an invite op
        that carries it pins this group (no other group can hold it without the secret)."""
        return self._join_keys()[0]

    @property
    def mac_key(self) -> bytes:
        return P.hkdf(self.secret, salt=self.group, info=L.KDF_INVITE_MAC)

    def sign_join(self, label: bytes, message: bytes) -> bytes:
        return P.sign(self._join_keys()[1], label, message)

    def pinned(self, state: GroupState) -> bool:
        """Whether `state` is this invite's group: its log holds an invite op with this
        invite id and this secret's join key for the group id it hashes to (§8)."""
        inv = state.invites.get(self.invite_id)
        return (
            state.group_id == self.group
            and inv is not None
            and P.mac_equal(inv.join_key, self.join_key)
        )

    def request(self, card: MemberCard, *, created: int) -> bytes:
        """A join request for `card`, MAC'd and signed with the join key."""
        mac = P.mac(self.mac_key, L.MAC_INVITE, self.group, self.invite_id, encode(card))
        req = JoinRequest(L.VERSION, self.group, self.invite_id, card, mac, created)
        return encode(SignedJoinRequest(req, self.sign_join(L.SIG_JOIN, encode(req))))

    def read_signature(self, challenge: bytes) -> bytes:
        """Authorizes reading the genesis and log as an invitee."""
        return self.sign_join(L.SIG_JOIN_READ, P.frame((self.group, self.invite_id, challenge)))

    def check_mac(self, req: JoinRequest) -> bool:
        want = P.mac(self.mac_key, L.MAC_INVITE, self.group, self.invite_id, encode(req.card))
        return P.mac_equal(want, req.mac)


def looks_like_invite_code(text: str) -> bool:
    """Whether `text` could be an invite code (for names, which must never hold one)."""
    compact = "".join(c for c in text if not c.isspace() and c != "-").upper()
    folded = "".join(CODE_ALIASES.get(c, c) for c in compact)
    return (
        len(folded) == CODE_SYMBOLS
        and all(c in CODE_ALPHABET for c in folded)
        and any(c.isdigit() for c in folded)
    )


def decode_join_request(data: bytes) -> SignedJoinRequest:
    try:
        return decode(data, SignedJoinRequest, max_size=8192)
    except EncodingError as e:
        raise InviteError(f"join request is not a canonical v2 record: {e}") from None


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
