"""A member's devices: linking a new one, listing, naming and removing them (docs/protocol.md
§5.3-§5.4, docs/membership.md "Your devices").

Linking runs in three commands on two machines:

1. `link` (the existing device): opens a link mailbox on the server with a sealed offer
   (the member key), keeps the link's secret sealed in this home's store, and returns the
   one-time code `server#code` (ten minutes).
2. `begin` (the new home): reads the offer with the code, makes the new device's keys,
   answers with its certificate, creates the keystore (its member key still to come) and
   returns six comparison words.
3. `confirm` (the existing device, with the words the new one shows): checks them against
   the certificate it received, so a swapped key is caught before anything is handed over;
   records the device with `add-device` in every group; seals the member key and every
   group's epoch keys to the new device.

The new device's next unlock (`finish`, run by `Account.open`) opens the handover, checks
the member key and every epoch key (key confirmation), stores the member key in its
keystore, and adopts every group; its sync then verifies everything on its own.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import msgspec
from chatham import crypto

from .. import errors as E
from .local.home import Home, check_new_passphrase, write_private
from .local.store import Pinned, Store
from .local.vault import Vault

if TYPE_CHECKING:
    from .account import Account, HttpSource
    from .engine.api import ServerApi
    from .engine.group import Group

LINK_OUT = "device-link out"
LINK_IN = "device-link in"
SEAL_LINK = b"device-link"
SEAL_DEVICE_NAME = b"device-name"


class _LinkState(msgspec.Struct, array_like=True, frozen=True):
    v: int
    secret: bytes
    server: str
    expires: int
    offer: bytes
    created: int


@dataclass(frozen=True)
class DeviceLink:
    """An open link: `line` (`server#code`) goes to the new device; it works until `expires`."""

    line: str
    expires: int


@dataclass(frozen=True)
class LinkedDevice:
    """A device `confirm` added: its id and the groups it was added to."""

    id: str
    groups: tuple[str, ...]


@dataclass(frozen=True)
class DeviceInfo:
    """One of this member's devices, as the verified logs of this home's groups show it."""

    id: str
    name: str | None
    current: bool
    added: int | None
    """When the first group recorded it (the op's time, Unix seconds)."""
    groups: tuple[str, ...]


def require_new_home(home: Home, passphrase: str) -> None:
    """A link or a kit makes a new home: refuse one in use, and a passphrase its keystore
    could not be sealed under, before anything is sent."""
    if home.exists() or home.store_path.exists():
        raise E.AlreadyInitialized(
            f"{home.path} already holds a Chatham identity (or its store)",
            hint="use an empty CHATHAM_HOME; nothing was changed",
        )
    check_new_passphrase(passphrase)


def checked_keys(state: crypto.GroupState, keys: list[tuple[int, bytes]]) -> crypto.Keyring:
    """Handed-over epoch keys, each checked against its rotation (key confirmation)."""
    ring = crypto.Keyring()
    for epoch, key in keys:
        try:
            ring.accept_key(state, epoch, key)
        except (crypto.CouldNotOpen, crypto.RotationError):
            raise E.KeySubstitutionError(
                f"a key your other device handed over (key {epoch}) does not match the "
                "group's own record of it",
                check="lockbox_hash",
            ) from None
    return ring


def _link_error(e: crypto.LinkError) -> E.UsageError:
    return E.UsageError(
        str(e),
        hint="copy the whole last line of `chatham device link` from your other device "
        "(`server#code`); letters and digits, case does not matter",
    )


class _NoTokens:
    """A new device has no login yet: the link routes it uses need none."""

    def load(self, url: str) -> tuple[str, float] | None:
        return None

    def save(self, url: str, token: tuple[str, float] | None) -> None:
        return None

    def server_pins(self) -> dict[str, bytes]:
        return {}

    def pin_server(self, url: str, server_id: bytes) -> None:
        return None


def bare_api(
    url: str, device: crypto.DeviceKeys, http: HttpSource | None, clock: Callable[[], float]
) -> tuple[ServerApi, Callable[[], None]]:
    """An API for a device that has no account here yet (a new device, a kit's), on the
    client `open_client` gives; the function closes that client if it is ours."""
    from .account import open_client
    from .engine.api import ServerApi

    client, owned = open_client(http, url)
    close: Callable[[], None] = client.close if owned else (lambda: None)
    return ServerApi(client, url, device, clock=clock, tokens=_NoTokens()), close


def _save_state(store: Store, key: str, state: _LinkState | None) -> None:
    if state is None:
        store.set_meta(key, None)
        return
    store.set_meta(key, store.vault.seal(SEAL_LINK, key.encode(), msgspec.msgpack.encode(state)))


def _load_state(store: Store, key: str) -> _LinkState | None:
    blob = store.get_meta(key)
    if blob is None:
        return None
    return msgspec.msgpack.decode(store.vault.open(SEAL_LINK, key.encode(), blob), type=_LinkState)


# --- the existing device ------------------------------------------------------------------------


def link(account: Account, server: str | None = None) -> DeviceLink:
    """Open a link for a new device of this member (ten minutes); returns its code line."""
    rows = account._store.groups()
    if server is None:
        servers = sorted({r.server for r in rows})
        if not servers:
            raise E.UsageError(
                "this home is in no group yet, so there is nothing to link",
                hint="a new device of yours gets every group you are in; join one first",
            )
        current = account.group().server if len(servers) > 1 else servers[0]
        server = current
    _close_open_link(account)
    secret = crypto.LinkSecret.generate(server)
    now = account.now()
    offer = secret.offer(
        account._member, account._secrets.device.id, created=now, rand=crypto.random_bytes
    )
    info = account._api(secret.server).open_link(secret.link_id, secret.verifier, offer)
    _save_state(
        account._store,
        LINK_OUT,
        _LinkState(1, secret.secret, secret.server, info.expires, offer, now),
    )
    return DeviceLink(secret.line, info.expires)


def _close_open_link(account: Account) -> None:
    """A new link replaces the one this device had open: its code stops working at once."""
    state = _load_state(account._store, LINK_OUT)
    if state is None:
        return
    _save_state(account._store, LINK_OUT, None)
    if account.now() <= state.expires:
        secret = crypto.LinkSecret(state.secret, state.server)
        with contextlib.suppress(E.ServerError):
            account._api(secret.server).close_link(secret.link_id)


def confirm(account: Account, words: str, *, name: str | None = None) -> LinkedDevice:
    """Complete the open link once the new device's words match; nothing is handed over and
    nothing is changed otherwise."""
    state = _load_state(account._store, LINK_OUT)
    if state is None:
        raise E.UsageError(
            "no device link is open on this device",
            hint="run `chatham device link` here first, then `chatham device add CODE` on the "
            "new device",
        )
    if account.now() > state.expires:
        _save_state(account._store, LINK_OUT, None)
        raise E.UsageError(
            "the link has expired (a link lasts ten minutes)",
            hint="run `chatham device link` again, then `chatham device add` on the new device",
        )
    secret = crypto.LinkSecret(state.secret, state.server)
    api = account._api(secret.server)
    try:
        offer = secret.read_offer(state.offer)
        request = secret.read_request(offer, api.read_link_request(secret.link_id))
    except (crypto.CouldNotOpen, crypto.LinkError):
        raise E.VerificationError(
            "the new device's answer does not open with this link's code: nothing was handed over",
            hint="run `chatham device link` again; if it happens again, the server is tampering",
            check="link",
        ) from None
    if not crypto.fingerprints_match(secret.words(request.cert), words):
        raise E.UsageError(
            "the words do not match the ones this device computed: nothing was handed over",
            hint="compare them again with the new device's `chatham device add`; if you typed "
            "them right, someone swapped the new device's keys: run `chatham device link` "
            "again",
        )
    card = crypto.MemberCard(
        request.cert,
        account._member.sign(crypto.labels.SIG_CARD, crypto.encode(request.cert)),
        request.device_sig,
    )
    crypto.verify_card(card)
    new_id = crypto.device_id(request.cert.device_key)
    groups: list[crypto.LinkGroup] = []
    added: list[str] = []
    for group in member_groups(account):
        if new_id not in group.state.devices:
            group.append_op(lambda c: crypto.build_add_device(c.state, c.device, card, time=c.time))
        groups.append(handed_over(group))
        added.append(group.name)
    handover = secret.handover(request, account._member, groups, created=account.now())
    api.post_link_handover(secret.link_id, handover)
    _save_state(account._store, LINK_OUT, None)
    if name is not None:
        rename(account, new_id.hex(), name)
    return LinkedDevice(new_id.hex(), tuple(added))


# --- the new device -----------------------------------------------------------------------------


def begin(
    home: Home,
    code: str,
    *,
    passphrase: str,
    http: HttpSource | None = None,
    clock: Callable[[], float] = time.time,
) -> str:
    """On a new home: answer the link `code`; returns the six words to compare."""
    require_new_home(home, passphrase)
    try:
        secret = crypto.LinkSecret.parse(code)
    except crypto.LinkError as e:
        raise _link_error(e) from None
    now = int(clock())
    rand = crypto.random_bytes
    device = crypto.DeviceKeys.from_seeds(rand(32), rand(96))
    api, close = bare_api(secret.server, device, http, clock)
    try:
        sealed_offer = api.read_link_offer(secret.link_id, secret.auth)
        try:
            offer = secret.read_offer(sealed_offer)
        except (crypto.CouldNotOpen, crypto.LinkError):
            raise E.VerificationError(
                "the server's link offer does not open with this code",
                hint="check the server address; nothing was changed",
                check="link",
            ) from None
        answer, cert, _sig = secret.request(offer, device, created=now, rand=rand)
        api.post_link_request(secret.link_id, secret.auth, answer)
    finally:
        close()
    secrets = crypto.Secrets(None, device, rand(32), now)
    home.create_keystore(secrets, passphrase)
    store = Store(home.store_path, Vault(*secrets.store_keys()))
    try:
        state = _LinkState(1, secret.secret, secret.server, now + 600, sealed_offer, now)
        _save_state(store, LINK_IN, state)
    finally:
        store.close()
    return secret.words(cert)


def finish(
    home: Home,
    secrets: crypto.Secrets,
    key: bytes,
    *,
    http: HttpSource | None,
    clock: Callable[[], float],
) -> crypto.Secrets:
    """On a new device waiting for its member key: open the handover, keep the member key
    (the keystore is resealed under the same passphrase), and return the whole secrets.
    Raises LinkPending while the other device has not confirmed."""
    store = Store(home.store_path, Vault(*secrets.store_keys()))
    try:
        state = _load_state(store, LINK_IN)
    finally:
        store.close()
    if state is None:
        raise E.HomeError(
            "this home has device keys but no member key, and no link in progress",
            hint="move it aside and start again with `chatham device add CODE`",
        )
    secret = crypto.LinkSecret(state.secret, state.server)
    api, close = bare_api(secret.server, secrets.device, http, clock)
    try:
        try:
            data = api.read_link_handover(secret.link_id, secret.auth)
        except E.Conflict as e:
            if e.code == "link_waiting":
                raise E.LinkPending() from None
            raise _dead_link(e) from None
        except E.ServerError as e:
            if e.code in ("link_expired", "link_unknown"):
                raise _dead_link(e) from None
            raise
    finally:
        close()
    try:
        offer = secret.read_offer(state.offer)
        handover, member, _card = secret.read_handover(offer, secrets.device, state.created, data)
    except (crypto.CouldNotOpen, crypto.LinkError):
        raise E.VerificationError(
            "the handover from your other device does not open or verify: nothing was kept",
            hint="move this home aside and link again with a new code",
            check="link",
        ) from None
    whole = crypto.Secrets(member, secrets.device, secrets.store_secret, secrets.created)
    write_private(home.keystore_path, crypto.reseal_keystore(home.read_keystore(), key, whole))
    stash_groups(home, whole, handover.groups)
    return whole


_PENDING_GROUPS = "device-link groups"


def stash_groups(home: Home, secrets: crypto.Secrets, groups: list[crypto.LinkGroup]) -> None:
    """Keep handed-over groups (and their keys), sealed, for the next `Account.open` to adopt;
    the link or kit that brought them is done."""
    store = Store(home.store_path, Vault(*secrets.store_keys()))
    try:
        _set_pending(store, groups)
        _save_state(store, LINK_IN, None)
    finally:
        store.close()


def _set_pending(store: Store, groups: list[crypto.LinkGroup]) -> None:
    blob = msgspec.msgpack.encode(groups) if groups else None
    store.set_meta(
        _PENDING_GROUPS, None if blob is None else store.vault.seal(SEAL_LINK, b"groups", blob)
    )


def _dead_link(e: E.ServerError) -> E.HomeError:
    return E.HomeError(
        f"this device's link ended before it was completed ({e.message})",
        hint="this home holds no member key: move it aside, then run `chatham device link` "
        "on your other device and `chatham device add` here again",
    )


def adopt_handed_over(account: Account) -> list[Group]:
    """The groups a link or kit handed over and not adopted yet: each verified and synced.

    One group never keeps this home from opening: a group whose log added this device and
    removed it again (before it arrived) is let go; one out of reach, failing a check, or
    whose log does not yet show this device's addition, is tried again at the next open
    (`Account.waiting` says which, and why)."""
    blob = account._store.get_meta(_PENDING_GROUPS)
    if blob is None:
        return []
    plain = account._store.vault.open(SEAL_LINK, b"groups", blob)
    groups = msgspec.msgpack.decode(plain, type=list[crypto.LinkGroup])
    from .account import WaitingGroup

    out: list[Group] = []
    later: list[crypto.LinkGroup] = []
    waiting: list[WaitingGroup] = []
    for lg in groups:
        if account._store.group(lg.group) is not None:
            continue
        try:
            out.append(_adopt(account, lg))
        except E.NotAMember:
            continue
        except E.ChathamError as e:
            if account._store.group(lg.group) is not None:
                continue  # adopted: only its first sync failed, which the next one retries
            later.append(lg)
            waiting.append(WaitingGroup(lg.name, lg.server, e))
    _set_pending(account._store, later)
    account.waiting = tuple(waiting)
    return out


def fetch_log(api: ServerApi, gid: bytes) -> tuple[list[bytes], crypto.GroupState]:
    """A group's whole log, verified op by op, checked to be that group."""
    from .engine.checks import apply_page

    ops: list[bytes] = []
    state = crypto.GroupState()
    since = -1
    while True:
        page = api.log(gid, since)
        if not apply_page(state, ops, page):
            break
        since += len(page.ops)
    if not ops or crypto.group_id_of(ops[0]) != gid:
        raise E.ForkError(
            "the server's group does not match the one handed over",
            hint="nothing of it was added here; check the server address, and tell your "
            "group's leader: the server may be answering with another group",
            check="genesis",
        )
    return ops, state


def _adopt(account: Account, lg: crypto.LinkGroup) -> Group:
    ops, state = fetch_log(account._api(lg.server), lg.group)
    me = account._secrets.device.id
    if me not in state.devices:
        # The handing device added this one before handing over, so a log that never lists
        # it is older than the handover: a server holding back ops, which only delays.
        raise E.RollbackError(
            "the server showed an older copy of the group, from before this device was added",
            hint="the group is added at a later command, once the server shows all of it; "
            "if it never comes, tell the server's operator and your group's leader",
            check="rollback",
        )
    if not state.is_active_device(me):
        raise E.NotAMember("the group does not count this device among yours")
    keyring = checked_keys(state, lg.keys)
    store = account._store
    # One transaction: a group row is only ever stored with its log and keys, so an open
    # that stops midway leaves the group still to adopt, never a member group with nothing.
    with store.write() as db:
        store.insert_group(db, lg.group, lg.server, lg.name, "member", account.now())
        store.add_ops(db, lg.group, 0, ops)
        for epoch in sorted(keyring.keys):
            store.add_epoch_key(db, lg.group, epoch, keyring.keys[epoch], None)
        pinned = Pinned(log_seq=state.seq, log_head=state.head, epochs=sorted(keyring.keys))
        store.pin(db, lg.group, 0, pinned)
    group = account._group_obj(lg.group)
    group.sync(send=False)
    return group


# --- listing, naming, removing ------------------------------------------------------------------


def _name(account: Account, device: bytes) -> str | None:
    blob = account._store.get_meta(f"device-name {device.hex()}")
    if blob is None:
        return None
    return account._store.vault.open(SEAL_DEVICE_NAME, device, blob).decode()


def rename(account: Account, ref: str, name: str) -> DeviceInfo:
    """Name one of this member's devices (the name stays in this home, sealed)."""
    d = find(account, ref)
    try:
        name = crypto.check_name(name)
    except ValueError as e:
        raise E.UsageError(str(e), hint="a device name is 1 to 64 printable characters") from None
    raw = bytes.fromhex(d.id)
    account._store.set_meta(
        f"device-name {d.id}", account._store.vault.seal(SEAL_DEVICE_NAME, raw, name.encode())
    )
    return find(account, d.id)


def devices(account: Account) -> list[DeviceInfo]:
    """This member's active devices across this home's groups, oldest first."""
    me = account._member.id
    mine = account._secrets.device.id
    found: dict[bytes, tuple[int | None, list[str]]] = {}
    for row in account._store.groups():
        group = account._group_obj(row.group_id)
        state = group.state
        m = state.members.get(me)
        if m is None:
            continue
        times = {a.seq: a.op.time for a in group.log()}
        for d in state.current_devices(me):
            if not state.is_active_device(d):
                continue
            added = times.get(state.devices[d].joined_seq)
            first, names = found.get(d, (None, []))
            if added is not None and (first is None or added < first):
                first = added
            found[d] = (first, [*names, group.name])
    if mine not in found:
        found[mine] = (account._secrets.created, [])
    out = [
        DeviceInfo(d.hex(), _name(account, d), d == mine, added, tuple(groups))
        for d, (added, groups) in found.items()
    ]
    out.sort(key=lambda i: (i.added or 0, i.id))
    return out


def find(account: Account, ref: str) -> DeviceInfo:
    key = ref.strip().lower()
    all_ = devices(account)
    hits = [d for d in all_ if d.id == key or (d.name or "").lower() == key]
    if not hits and len(key) >= 4:
        hits = [d for d in all_ if d.id.startswith(key)]
    if not hits:
        raise E.NotFound(f"no device of yours matches {ref!r}", hint="see `chatham device list`")
    if len(hits) > 1:
        raise E.Ambiguous(f"{ref!r} matches {len(hits)} devices", hint="give more of the id")
    return hits[0]


def remove(account: Account, ref: str) -> list[str]:
    """Remove one of this member's other devices from every group (each rotates past it);
    returns the groups it was removed from."""
    d = find(account, ref)
    if d.current:
        raise E.UsageError(
            "this is the device you are using",
            hint="remove it from another of your devices, or leave the group with `chatham leave`",
        )
    target = bytes.fromhex(d.id)
    done = []
    for group in member_groups(account):
        if group.state.is_active_device(target):
            remove_from(group, target)
            done.append(group.name)
    return done


def member_groups(account: Account) -> Iterator[Group]:
    """Each group this home is a member of, caught up with its server (nothing sent) and
    still a member of: the groups a change to this member's devices goes to."""
    for row in account._store.groups():
        if row.status != "member":
            continue
        group = account._group_obj(row.group_id)
        group.sync(send=False)
        if group.status == "member":
            yield group


def handed_over(group: Group) -> crypto.LinkGroup:
    """`group` as another device of this member receives it: where it is, what it is called
    here, and every key this device holds for it."""
    keys = sorted(group._load().keyring.keys.items())
    return crypto.LinkGroup(group.id_bytes, group.server, group.name[:100] or "group", keys)


def remove_from(group: Group, target: bytes) -> crypto.AppliedOp:
    """Remove one device from `group` (another device of its member, or a leader), rotating
    past it and pinning its final head."""
    return group.append_op(
        lambda c: crypto.build_remove_device(
            c.state, c.keyring, c.device, target, c.heads, time=c.time
        )
    )
