"""`Account`: a member's unlocked home, their identity, and their groups."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, TypeAlias

from chatham import crypto

from .. import errors as E
from .engine.group import Group, _check_group_name, placeholder_name
from .local.home import Home
from .local.store import Pinned, Store
from .local.vault import Vault
from .membership.values import History, Notes

if TYPE_CHECKING:
    import httpx

    from .devices import DeviceInfo, DeviceLink, LinkedDevice
    from .engine.api import ServerApi
    from .recovery import KitInfo

HttpSource: TypeAlias = "httpx.Client | Callable[[str], httpx.Client]"
"""One httpx.Client for every server (tests: a litestar TestClient), or a factory per URL.

httpx is imported only when a command first talks to a server, so offline commands
(and `chatham --help`) start fast."""

_CURRENT = "current_group"


@dataclass(frozen=True)
class GroupSummary:
    """A group as `Account.groups()` lists it (from the local store only)."""

    id: str
    name: str
    server: str
    status: str
    epoch: int
    log_seq: int
    entries: int
    queued: int
    current: bool


@dataclass(frozen=True)
class WaitingGroup:
    """A handed-over group not adopted yet (`Account.waiting`)."""

    name: str
    server: str
    problem: E.ChathamError


class _Tokens:
    """The device's bearer token per server, sealed in the store, so that a series of commands
    logs in once per token lifetime rather than once per command; and each server's pinned
    identity."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def load(self, url: str) -> tuple[str, float] | None:
        return self.store.server_token(url)

    def save(self, url: str, token: tuple[str, float] | None) -> None:
        self.store.set_server_token(url, token)

    def server_pins(self) -> dict[str, bytes]:
        return self.store.server_pins()

    def pin_server(self, url: str, server_id: bytes) -> None:
        self.store.pin_server(url, server_id)


def open_client(http: HttpSource | None, url: str) -> tuple[httpx.Client, bool]:
    """The client for the server at `url`: `http` itself, what the factory makes, or (None)
    a new one, which the caller closes (True), that trusts the system's certificate store
    plus CHATHAM_CA_FILE, never plain HTTP instead, and follows no redirect."""
    import httpx

    if isinstance(http, httpx.Client):
        return http, False
    if http is not None:
        return http(url), False
    from .engine.tls import tls_context

    return httpx.Client(follow_redirects=False, verify=tls_context()), True


def _home(home: Home | Path | str | None) -> Home:
    if home is None:
        return Home.default()
    if isinstance(home, Home):
        return home
    return Home(Path(home).expanduser())


class Account:
    """A member's unlocked home: identity, local store, and groups.

        with Account.open(passphrase="...") as j:
            for g in j.groups(): ...
            group = j.group()          # the current group
            group.sync()

    `http` is an httpx.Client used for every server, or a callable that returns
    the client for a server URL; by default the Account makes (and closes) its own.
    `clock` returns seconds; tests pass their own.
    """

    def __init__(
        self,
        home: Home,
        secrets: crypto.Secrets,
        *,
        http: HttpSource | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if secrets.member is None:
            raise E.LinkPending()
        self.home = home
        self._secrets = secrets
        self._member: crypto.MemberKeys = secrets.member
        self._clock = clock
        self._http = http
        self._owned: dict[str, httpx.Client] = {}
        self._apis: dict[str, ServerApi] = {}
        seal_key, mac_key = secrets.store_keys()
        home.ensure()
        self._store = Store(home.store_path, Vault(seal_key, mac_key))
        self._groups: dict[bytes, Group] = {}
        self.waiting: tuple[WaitingGroup, ...] = ()
        """Groups another device of this member (or a recovery kit) handed over that are
        not here yet, each with why (out of reach, or a check its server failed): tried
        again at the next open. Set when the account opens."""

    # --- opening --------------------------------------------------------------------------------

    @classmethod
    def init(
        cls,
        home: Home | Path | str | None = None,
        *,
        passphrase: str,
        name: str | None = None,
        http: HttpSource | None = None,
        clock: Callable[[], float] = time.time,
    ) -> Account:
        """Create a new identity (member key, device key) in an empty home."""
        h = _home(home)
        if name is not None:
            try:
                name = crypto.check_name(name)
            except ValueError as e:
                raise E.UsageError(str(e), hint="use the name your group knows you by") from None
        if h.exists():
            raise E.AlreadyInitialized(f"{h.path} already holds a Chatham identity")
        if h.store_path.exists():
            raise E.AlreadyInitialized(
                f"{h.path} holds a store without a keystore",
                hint="use an empty CHATHAM_HOME; nothing was changed",
            )
        secrets = crypto.Secrets.generate(created=int(clock()))
        h.create_keystore(secrets, passphrase)
        j = cls(h, secrets, http=http, clock=clock)
        if name is not None:
            j._store.set_profile_name(name)
        return j

    @classmethod
    def open(
        cls,
        home: Home | Path | str | None = None,
        *,
        passphrase: str | None = None,
        prompt: Callable[[], str | None] | None = None,
        http: HttpSource | None = None,
        clock: Callable[[], float] = time.time,
        tries: int = 3,
        env: Mapping[str, str] | None = None,
    ) -> Account:
        """Unlock an existing home: the passphrase, a live unlock session,
        CHATHAM_PASSPHRASE, or `prompt()` (asked up to `tries` times), in that order."""
        h = _home(home)
        secrets, key = h.unlock(
            passphrase=passphrase, prompt=prompt, clock=clock, tries=tries, env=env
        )
        if secrets.member is None:
            # A new device whose link is not complete: the first unlock after the other
            # device confirmed takes the handover (LinkPending until then).
            from . import devices

            secrets = devices.finish(h, secrets, key, http=http, clock=clock)
        account = cls(h, secrets, http=http, clock=clock)
        from . import devices

        devices.adopt_handed_over(account)
        return account

    @classmethod
    def add_device(
        cls,
        code: str,
        home: Home | Path | str | None = None,
        *,
        passphrase: str,
        http: HttpSource | None = None,
        clock: Callable[[], float] = time.time,
    ) -> str:
        """On a new machine: answer a link code from `link_device()` on another of your
        devices. Creates this home's keystore (its member key arrives when the link is
        confirmed) and returns the six comparison words, to check on the other device with
        `confirm_device(words)`. The next `Account.open` here completes the link and brings
        every group; until then it raises LinkPending. Wrong, expired or used codes raise
        and create nothing."""
        from . import devices

        return devices.begin(_home(home), code, passphrase=passphrase, http=http, clock=clock)

    def twin(self) -> Account:
        """Another Account on this home and keys, with a store connection of its own, for
        another thread (an Account is used by one thread at a time). It adopts nothing:
        what `open` adopted is in the store they share."""
        return Account(self.home, self._secrets, http=self._http, clock=self._clock)

    def close(self) -> None:
        for client in self._owned.values():
            client.close()
        self._owned.clear()
        self._apis.clear()
        self._store.close()

    def __enter__(self) -> Account:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # --- identity -------------------------------------------------------------------------------

    @property
    def member_id(self) -> str:
        return self._member.id.hex()

    @property
    def device_id(self) -> str:
        return self._secrets.device.id.hex()

    @property
    def fingerprint(self) -> str:
        """Eight words that identify this member; read them aloud to a leader."""
        return self._member.fingerprint

    @property
    def name(self) -> str | None:
        """The name this member gave at `init` (kept sealed locally; leaders attest names)."""
        return self._store.profile_name()

    def set_name(self, name: str) -> None:
        try:
            self._store.set_profile_name(crypto.check_name(name))
        except ValueError as e:
            raise E.UsageError(str(e), hint="use the name your group knows you by") from None

    def card(self) -> crypto.MemberCard:
        s = self._secrets
        return crypto.make_card(self._member, s.device, created=s.created)

    # --- devices (devices.py) -------------------------------------------------------------------

    def link_device(self, server: str | None = None) -> DeviceLink:
        """Open a ten-minute link for a new device of yours; `.line` (`server#code`) goes to
        it (`Account.add_device` there)."""
        from . import devices

        return devices.link(self, server)

    def confirm_device(self, words: str, *, name: str | None = None) -> LinkedDevice:
        """Complete the open link once the words the new device shows match: records it in
        every group and hands it your member key and the keys you hold, sealed to it."""
        from . import devices

        return devices.confirm(self, words, name=name)

    def devices(self) -> list[DeviceInfo]:
        """Your devices, as the verified logs of this home's groups record them."""
        from . import devices

        return devices.devices(self)

    def recovery_kit(self) -> KitInfo:
        """Make a recovery kit: fifteen words for paper. Its device joins every group you are
        in, and this home's previous kit is revoked (protocol §5.5)."""
        from . import recovery

        return recovery.make_kit(self)

    @classmethod
    def recover(
        cls,
        words: str,
        home: Home | Path | str | None = None,
        *,
        server: str,
        passphrase: str,
        http: HttpSource | None = None,
        clock: Callable[[], float] = time.time,
    ) -> Account:
        """Every device lost: restore this member on a new, empty home from the kit's words
        and the server it names. Same member id and fingerprint, a new device, every group
        the kit covers, verified on its own. A wrong word is named; a revoked kit restores
        nothing."""
        from . import devices, recovery

        h = _home(home)
        secrets = recovery.recover(
            words, h, server=server, passphrase=passphrase, http=http, clock=clock
        )
        account = cls(h, secrets, http=http, clock=clock)
        devices.adopt_handed_over(account)
        return account

    def find_device(self, ref: str) -> DeviceInfo:
        """One of your devices by id, unique id prefix (4+ digits) or name."""
        from . import devices

        return devices.find(self, ref)

    def rename_device(self, ref: str, name: str) -> DeviceInfo:
        """Name one of your devices (the name stays in this home)."""
        from . import devices

        return devices.rename(self, ref, name)

    def remove_device(self, ref: str) -> list[str]:
        """Remove another of your devices from every group (each gets a fresh key)."""
        from . import devices

        return devices.remove(self, ref)

    def now(self) -> int:
        return int(self._clock())

    # --- servers --------------------------------------------------------------------------------

    def _client(self, url: str) -> httpx.Client:
        if url in self._owned:
            return self._owned[url]
        client, owned = open_client(self._http, url)
        if owned:
            self._owned[url] = client
        return client

    def _api(self, url: str) -> ServerApi:
        from .engine.api import ServerApi, normalize_url

        url = normalize_url(url)
        api = self._apis.get(url)
        if api is None:
            api = self._apis[url] = ServerApi(
                self._client(url),
                url,
                self._secrets.device,
                clock=self._clock,
                tokens=_Tokens(self._store),
            )
        return api

    # --- groups ---------------------------------------------------------------------------------

    def _group_obj(self, gid: bytes) -> Group:
        g = self._groups.get(gid)
        if g is None:
            row = self._store.group(gid)
            if row is None:
                raise E.NotFound(f"no group {gid.hex()[:12]} in this home")
            from .journal.outgoing import disallowed

            g = self._groups[gid] = Group(self, row)
            g.set_write_rules(disallowed)
        return g

    def groups(self) -> list[GroupSummary]:
        """Every group in this home, from the local store (no network)."""
        current = self._store.get_meta(_CURRENT)
        rows = self._store.groups()
        only = len(rows) == 1
        return [
            GroupSummary(
                id=r.group_id.hex(),
                name=r.name,
                server=r.server,
                status=r.status,
                epoch=self._group_obj(r.group_id).epoch,
                log_seq=r.pinned.log_seq,
                entries=r.pinned.entries,
                queued=self._store.outbox_count(r.group_id),
                current=r.group_id == current or (only and current is None),
            )
            for r in rows
        ]

    def group(self, ref: str | None = None) -> Group:
        """A group by id, unique id prefix or name; None means the current group."""
        rows = self._store.groups()
        if not rows:
            raise E.NotFound(
                "this home is in no group yet",
                hint="create one with `chatham group create NAME --server URL`, "
                "or join with `chatham join`",
            )
        if ref is None:
            current = self._store.get_meta(_CURRENT)
            if current is not None and any(r.group_id == current for r in rows):
                return self._group_obj(current)
            if len(rows) == 1:
                return self._group_obj(rows[0].group_id)
            raise E.UsageError(
                "this home is in several groups and none is selected",
                hint="pick one with `chatham group use GROUP` or pass --group",
            )
        key = " ".join(ref.split()).lower()
        by_id = [r for r in rows if r.group_id.hex() == key]
        if by_id:
            return self._group_obj(by_id[0].group_id)
        matches = {r.group_id: r for r in rows if r.name.lower() == key}
        if not matches and len(key) >= 4:
            matches = {r.group_id: r for r in rows if r.group_id.hex().startswith(key)}
        if not matches:
            raise E.NotFound(f"no group matches {ref!r}", hint="see `chatham group list`")
        if len(matches) > 1:
            raise E.Ambiguous(f"{ref!r} matches {len(matches)} groups", hint="give the group id")
        return self._group_obj(next(iter(matches)))

    def use(self, ref: str) -> Group:
        """Make a group the current one (commands without --group act on it)."""
        g = self.group(ref)
        self._store.set_meta(_CURRENT, g.id_bytes)
        return g

    def create_group(
        self,
        name: str,
        server: str,
        *,
        history: History = "from-join",
        notes: Notes = "all",
        rotate_each_meeting: bool = False,
        founder_name: str | None = None,
        registration_token: str | None = None,
    ) -> Group:
        """Found a group on `server`: genesis plus the first rotation; this member leads it,
        and it becomes the current group.

        `name` is the group's name: attested in the log, sealed under the first epoch key,
        so members who join learn it (each may call it something else locally,
        `Group.rename`). The founder's own name (`founder_name`, default the name given
        at init) is attested the same way.
        """
        from .engine.api import normalize_url

        name = _check_group_name(name)
        server = normalize_url(server)
        founder = founder_name or self.name
        if founder is None:
            raise E.UsageError(
                "a founder needs a name the group will see",
                hint="pass --name, or set it once with `chatham init --name NAME`",
            )
        try:
            founder = crypto.check_name(founder)
        except ValueError as e:
            raise E.UsageError(str(e)) from None
        policy = crypto.Policy(history, notes, rotate_each_meeting)
        new = crypto.create_group(
            self._secrets,
            founder,
            policy=policy,
            time=self.now(),
            card=self.card(),
            group_name=name,  # attested, sealed: members who join learn it
        )
        self._api(server).create_group(new.ops, new.lockboxes, registration_token)
        group = self._adopt(new.group_id, server, name, new.ops, "member")
        self._store.set_meta(_CURRENT, group.id_bytes)  # the founder acts on it next
        return group

    def join(self, invite: str, *, server: str | None = None, name: str | None = None) -> Group:
        """Answer an invite: find its group, check it against the code, send a join request.

        `invite` is the whole invite line the leader's `invite` printed (`server#code`), or
        the code alone with the server's address as `server`. A typo in either is reported
        as a typo: the code's checksum covers the secret and the server. The server names
        the group that published the invite; this member reads its log with the invite's
        join key and checks that it verifies and holds that invite with the join key the
        code gives for that group (so a server cannot substitute another group, protocol
        §8), and that the invite is live. The group stays `joining` until a leader approves;
        `Group.sync()` then fetches this device's key. Read `fingerprint` aloud to the
        leader. The group becomes the current one.
        """
        code = self._invite_code(invite, server)
        try:
            group = self._join(code, name=name)
        except E.Conflict as e:
            if e.code != "invite_used":
                raise
            raise E.UsageError(
                "this invite code was already used: a join request for it is waiting",
                hint="codes work once; if that request is not yours, tell the leader, who should "
                "not approve it, and ask for a new invite",
            ) from e
        self._store.set_meta(_CURRENT, group.id_bytes)
        return group

    @staticmethod
    def _invite_code(invite: str, server: str | None) -> crypto.InviteCode:
        from .engine.api import normalize_url

        text = invite.strip()
        if not text:
            raise E.UsageError(
                "no invite code given",
                hint="paste the invite line from the leader (`chatham join < invite.txt` works)",
            )
        hint = (
            "compare it with the leader's `chatham invite`: a code is 30 letters and digits "
            "in six groups, and goes with the server address shown above it"
        )
        try:
            if server is not None:
                code = text.rpartition("#")[2] if "#" in text else text
                return crypto.InviteCode.parse(code, normalize_url(server))
            if "#" not in text:
                raise E.UsageError(
                    "the server's address is missing",
                    hint="pass --server ADDRESS, or paste the whole invite line (it starts "
                    "with the server's address)",
                )
            where, _, code = text.rpartition("#")
            return crypto.InviteCode.parse(code, normalize_url(where))
        except crypto.InviteError as e:
            raise E.UsageError(str(e), hint=hint) from None

    def _join(self, code: crypto.InviteCode, *, name: str | None) -> Group:
        api = self._api(code.server)
        groups = api.invite_groups(code.invite_id)
        if not groups:
            raise E.UsageError(
                f"the server at {code.server} has no invite with this code",
                hint="check the server address with the leader; if it is right, the invite "
                "was withdrawn with its group: ask for a new one",
            )
        substituted: E.ChathamError | None = None
        for gid in groups:
            if self._store.group(gid) is not None:
                raise E.UsageError(
                    "this home already holds that group", hint="run `chatham sync` instead"
                )
            secret = code.for_group(gid)
            try:
                ops, state = self._invitee_log(api, secret)
            except E.ForkError as e:
                substituted = e
                continue
            if not state.invite_usable(secret.invite_id, self.now()):
                raise E.UsageError(
                    "the invite was used, revoked or has expired",
                    hint="ask the leader for a new invite",
                )
            api.post_join_request(gid, secret.request(self.card(), created=self.now()))
            return self._adopt(
                gid, code.server, name or placeholder_name(gid), ops, "joining", secret.secret
            )
        assert substituted is not None
        raise substituted

    def _invitee_log(
        self, api: ServerApi, secret: crypto.InviteSecret
    ) -> tuple[list[bytes], crypto.GroupState]:
        """The group's log read with the invite's join key, verified op by op and checked to
        be the invite's group (a substituted group is a ForkError)."""
        from .engine.checks import apply_page

        gid = secret.group
        substituted = E.ForkError(
            "the server's group does not match the invite code (a substituted group)",
            check="genesis",
        )
        api.as_invitee(secret)
        try:
            ops: list[bytes] = []
            state = crypto.GroupState()
            since = -1
            while True:
                try:
                    page = api.log(gid, since)
                except E.Forbidden as e:
                    raise E.UsageError(
                        "the invite was used, revoked or has expired",
                        hint="ask the leader for a new invite (codes work once, and expire)",
                    ) from e
                if not ops and page.ops and crypto.group_id_of(page.ops[0]) != gid:
                    raise substituted
                # Each page is verified as it arrives: a server that sends ops without end
                # must sign them, which it cannot, so it is caught at its first made-up op.
                if not apply_page(state, ops, page):
                    break
                since += len(page.ops)
        finally:
            api.as_invitee(None)
        # The pin: the invite op carries the join key of this secret for this group, which
        # no other group's log can hold without the secret.
        if not ops or not secret.pinned(state):
            raise substituted
        return ops, state

    def _adopt(
        self,
        gid: bytes,
        server: str,
        name: str,
        ops: list[bytes],
        status: str,
        join_secret: bytes | None = None,
    ) -> Group:
        """Store a verified log for a group new to this home, and open it."""
        state = crypto.replay(ops)
        store = self._store
        # One transaction: a crash leaves the group whole or not here at all.
        with store.write() as db:
            store.insert_group(db, gid, server, name, status, self.now())
            store.add_ops(db, gid, 0, ops)
            store.set_join_secret(db, gid, join_secret)
            store.pin(db, gid, 0, Pinned(log_seq=state.seq, log_head=state.head))
        group = self._group_obj(gid)
        if status == "member":
            # The founder fetches the first epoch key like any member would: from its lockbox.
            group.sync(send=False)
        if self._store.get_meta(_CURRENT) is None:
            self._store.set_meta(_CURRENT, gid)
        return group
