"""Recovery kits (docs/protocol.md §5.5): fifteen words that stand for a paper device.

`make_kit` (a device of the member): derives the kit's device from new words, records it in
every group with `add-device` (so every later rotation seals a lockbox to it), revokes the
kit this home made before (removing its device rotates every group past it, and the server
deletes its escrow), and stores one escrow per server, sealed to the kit's device: the
member key and the keys held now. Only the kit's device, logged in with its key, reads it.

`recover` (a new home, every device lost): the words give the kit's device; it logs in,
opens its escrow and its lockboxes, and signs an `add-device` for the new machine in every
group. The new home then adopts every group like a linked device (`devices.stash_groups`,
`Account.open`), with the same member key: the same member id and fingerprint.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from chatham import crypto

from .. import errors as E
from .devices import (
    SEAL_DEVICE_NAME,
    bare_api,
    checked_keys,
    fetch_log,
    handed_over,
    member_groups,
    remove_from,
    require_new_home,
    stash_groups,
)
from .local.home import Home

if TYPE_CHECKING:
    from .account import Account, HttpSource
    from .engine.api import ServerApi

KIT_META = "recovery-kit device"
KIT_NAME = "recovery kit"


@dataclass(frozen=True)
class KitInfo:
    """A new recovery kit: `words` go on paper (with `servers`), never into a file kept online."""

    words: str
    servers: tuple[str, ...]
    device: str
    groups: tuple[str, ...]
    revoked: str | None
    """The device id of the kit this one replaced, if this home had made one."""


def _kit_error(e: crypto.KitError) -> E.UsageError:
    return E.UsageError(
        str(e),
        hint="compare the words with your paper kit: fifteen words, in order; the first four "
        "letters of each are enough",
    )


def make_kit(account: Account) -> KitInfo:
    """Make a recovery kit for every group this member is in, revoking this home's last one."""
    if not any(r.status == "member" for r in account._store.groups()):
        raise E.UsageError(
            "this home is in no group yet, so a kit would restore nothing",
            hint="make the kit once you are a member of a group",
        )
    kit = crypto.RecoveryKit.generate()
    dev = kit.device()
    now = account.now()
    card = crypto.make_card(account._member, dev, created=now)
    old_hex = account._store.get_meta(KIT_META)
    old = bytes(old_hex) if old_hex is not None else None
    groups: list[crypto.LinkGroup] = []
    names: list[str] = []
    for group in member_groups(account):
        if old is not None and group.state.is_active_device(old):
            remove_from(group, old)
        group.append_op(lambda c: crypto.build_add_device(c.state, c.device, card, time=c.time))
        groups.append(handed_over(group))
        names.append(group.name)
    escrow = crypto.seal_escrow(dev, dev.kem_public, account._member, groups, created=now)
    servers = tuple(sorted({g.server for g in groups}))
    for server in servers:
        api, close = bare_api(server, dev, account._http, account._clock)
        try:
            api.put_escrow(next(g.group for g in groups if g.server == server), escrow)
        finally:
            close()
    account._store.set_meta(KIT_META, dev.id)
    account._store.set_meta(
        f"device-name {dev.id.hex()}",
        account._store.vault.seal(SEAL_DEVICE_NAME, dev.id, KIT_NAME.encode()),
    )
    return KitInfo(kit.words, servers, dev.id.hex(), tuple(names), old.hex() if old else None)


def recover(
    words: str,
    home: Home,
    *,
    server: str,
    passphrase: str,
    http: HttpSource | None = None,
    clock: Callable[[], float] = time.time,
) -> crypto.Secrets:
    """Restore the member on a new home from kit words: the kit's device adds this one to
    every group; returns the new secrets (the groups wait, sealed, for `Account.open`)."""
    from .engine.api import normalize_url

    require_new_home(home, passphrase)
    try:
        kit = crypto.RecoveryKit.parse(words)
    except crypto.KitError as e:
        raise _kit_error(e) from None
    dev = kit.device()
    now = int(clock())
    api, close = bare_api(normalize_url(server), dev, http, clock)
    try:
        try:
            sealed = api.read_escrow()
        except E.ServerNotFound as e:
            raise E.UsageError(
                "this server holds no recovery kit for these words: the kit was revoked (a "
                "newer kit, or its device removed), or it was made for another server",
                hint="check the server address on your paper kit; a revoked kit restores "
                "nothing, so ask a leader to invite you again",
            ) from e
    finally:
        close()
    try:
        escrow, member = crypto.open_escrow(dev, sealed)
    except (crypto.CouldNotOpen, crypto.KitError):
        raise E.VerificationError(
            "what the server keeps for this kit does not open with its words",
            hint="nothing was restored; check the server address on your paper kit, and tell "
            "your group's leader: the server may be tampering",
            check="link",
        ) from None
    rand = crypto.random_bytes
    new = crypto.DeviceKeys.from_seeds(rand(32), rand(96))
    card = crypto.make_card(member, new, created=now)
    handed: list[crypto.LinkGroup] = []
    for lg in escrow.groups:
        gapi, gclose = bare_api(lg.server, dev, http, clock)
        try:
            keys = _add_here(gapi, lg, dev, member, card, now)
        finally:
            gclose()
        if keys is not None:
            handed.append(crypto.LinkGroup(lg.group, lg.server, lg.name, keys))
    if not handed:
        raise E.UsageError(
            "the kit's device is no longer in any of its groups: the kit was revoked",
            hint="a revoked kit restores nothing; ask a leader to invite you again",
        )
    secrets = crypto.Secrets(member, new, rand(32), now)
    home.create_keystore(secrets, passphrase)
    stash_groups(home, secrets, handed)
    return secrets


def _add_here(
    api: ServerApi,
    lg: crypto.LinkGroup,
    kit: crypto.DeviceKeys,
    member: crypto.MemberKeys,
    card: crypto.MemberCard,
    now: int,
) -> list[tuple[int, bytes]] | None:
    """As the kit's device in one group: every key it can reach (the escrow's, checked by key
    confirmation, and its own lockboxes), then `add-device` for the new machine. None when the
    kit's device is no longer in the group."""
    for _ in range(3):
        _ops, state = fetch_log(api, lg.group)
        if not state.is_active_device(kit.id):
            return None
        ring = checked_keys(state, lg.keys)
        since = max(ring.keys, default=0)
        for box in api.lockboxes(lg.group, since):
            if box.epoch not in ring.keys:
                ring.accept_lockbox(state, kit, member.id, box.epoch, box.lockbox)
        op = crypto.build_add_device(state, kit, card, time=now).op
        try:
            api.append(lg.group, state.seq, state.head, op, {})
        except E.Conflict as e:
            if e.code == "stale_head":
                continue
            raise
        return sorted(ring.keys.items())
    raise E.Conflict(
        "the group kept changing while this device was being added",
        hint="nothing was restored on this computer; run `chatham recover` again",
        code="stale_head",
    )
