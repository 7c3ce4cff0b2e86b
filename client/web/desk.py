"""The desk: the member's home as the web app holds it, locked or unlocked, behind one lock.

The library is synchronous and its local store is one SQLite connection per `Account`, so
every page and every action runs on a worker thread while holding `Desk.mutex`; the live
updates (live.py) follow the server's event stream on an `Account` of their own and take
the same mutex to sync. Unlocking opens the keystore once (the passphrase typed in the
page, or at start an unlock session or CHATHAM_PASSPHRASE, as for the CLI); locking, on
demand or after `lock_after` seconds without a page request, closes both accounts and
forgets the keys. After a lock only the passphrase typed in the page unlocks again: an
unlock session or CHATHAM_PASSPHRASE is used once, at start.

It also keeps, in memory only, what the pages share between requests: one `Journal` per
group (its view is rebuilt when the stored state changes), the health of each group's last
sync (freshness and alarms, words.py) and one-shot notices. Drafts of unsent forms are not
here: they are sealed in the member's store (`Group.keep_draft`), so a restart keeps them.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from .. import Account, Alarm, ChathamError, Home, SyncReport
from ..errors import Locked, NotInitialized, VerificationError

if TYPE_CHECKING:
    from .. import Group, HttpSource
    from ..journal import Journal


@dataclass
class Health:
    """How current a group's view is: the last good sync, and what the last sync ran into."""

    synced_at: float | None = None
    """Wall-clock time of the last sync that completed."""
    problem: ChathamError | None = None
    """The last sync's failure (cleared by the next good one)."""
    alarm: VerificationError | None = None
    """The oldest problem a check found; it stays until a sync finds none."""
    alarms: tuple[Alarm, ...] = ()
    """Every alarm the last sync reported (records set aside, problems with the group)."""


@dataclass
class Notice:
    text: str
    kind: Literal["done", "error"] = "done"
    link: tuple[str, str] | None = None
    """(path, words) of a page where the member can act on it."""


@dataclass
class Desk:
    """One member home, as the web app holds it. See the module docstring."""

    home: Home
    lock_after: float = 15 * 60
    http: HttpSource | None = None
    clock: Callable[[], float] = time.monotonic
    mutex: threading.RLock = field(default_factory=threading.RLock)
    account: Account | None = None
    watcher: Account | None = None
    """A second account on the same home, for the event stream (live.py) only."""
    journals: dict[str, Journal] = field(default_factory=dict)
    health: dict[str, Health] = field(default_factory=dict)
    anyway: set[str] = field(default_factory=set)
    """Groups whose member chose to write although their copy is too old to write safely
    (protocol §9.1); forgotten when the app locks."""
    cursors: dict[str, int] = field(default_factory=dict)
    notices: list[Notice] = field(default_factory=list)
    last_used: float = 0.0
    locked_once: bool = False
    on_unlock: list[Callable[[], None]] = field(default_factory=list)
    on_lock: list[Callable[[], None]] = field(default_factory=list)

    # --- locking ---------------------------------------------------------------------------

    @property
    def state(self) -> Literal["new", "locked", "open"]:
        if self.account is not None:
            return "open"
        return "locked" if self.home.exists() else "new"

    def auto_unlock(self) -> bool:
        """At start: an unlock session or CHATHAM_PASSPHRASE, if there is one (never after a
        lock). False when neither is there."""
        if self.locked_once or not self.home.exists():
            return False
        try:
            account = Account.open(self.home, http=self.http)
        except Locked:
            return False
        self._open(account)
        return True

    def unlock(self, passphrase: str) -> None:
        """WrongPassphrase changes nothing."""
        self._open(Account.open(self.home, passphrase=passphrase, env={}, http=self.http))

    def create_identity(self, passphrase: str, name: str) -> None:
        """A new identity in this (empty) home, then unlocked (a passphrase under the floor
        is refused by `Account.init`, as for `chatham init`; the page's meter guides)."""
        Account.init(self.home, passphrase=passphrase, name=name, http=self.http).close()
        self.unlock(passphrase)

    def _open(self, account: Account) -> None:
        """Hold `account`, which `Account.open` unlocked: so a new device's first unlock here
        takes its link's handover, and every unlock adopts the groups still to come, as
        the CLI's commands do (`Account.waiting` names those that did not come yet)."""
        with self.mutex:
            self.close_accounts()
            self.account = account
            self.watcher = account.twin()
            self.last_used = self.clock()
        for hook in self.on_unlock:
            hook()

    def lock(self, *, end_session: bool = False) -> None:
        """Forget the keys; `end_session` also ends an unlock session (as `chatham lock`).

        The hooks (live.py tells every open page) run once the keys are gone, the unlock
        session included, still holding the desk, as every page does: a page that reloads on
        hearing of the lock, or that connects its live updates at that moment, finds it done.
        A hook that raises therefore cannot leave a key behind."""
        with self.mutex:
            self.locked_once = True
            try:
                self.close_accounts()
            finally:
                if end_session:
                    with contextlib.suppress(ChathamError, OSError):
                        self.home.end_session()
            for hook in self.on_lock:
                hook()

    def close_accounts(self) -> None:
        with self.mutex:
            self.journals.clear()
            self.cursors.clear()
            self.anyway.clear()
            for acc in (self.account, self.watcher):
                if acc is not None:
                    with contextlib.suppress(Exception):
                        acc.close()
            self.account = self.watcher = None

    def idle(self) -> bool:
        """Lock if no page was asked for in `lock_after` seconds; True if it locked now."""
        with self.mutex:
            if self.account is None or self.clock() - self.last_used < self.lock_after:
                return False
        self.lock()
        return True

    def touch(self) -> None:
        self.last_used = self.clock()

    # --- groups and journals (call with the mutex held) -------------------------------------

    def require_account(self) -> Account:
        if self.account is None:
            if self.home.exists():
                raise Locked("Chatham is locked", hint="type your passphrase to unlock")
            raise NotInitialized()
        return self.account

    def journal(self, group: Group) -> Journal:
        """The group's journal, its view current with the store."""
        j = self.journals.get(group.id)
        if j is None:
            j = self.journals[group.id] = group.journal()
        else:
            j.refresh_if_changed()
        j.insist = group.id in self.anyway
        return j

    def health_of(self, group: Group) -> Health:
        return self.health.setdefault(group.id, Health())

    def sync(self, group: Group) -> SyncReport:
        """Sync and record how it went (health, and a notice for each waiting post the
        server refused for good); raises what the sync raised."""
        h = self.health_of(group)
        try:
            report = group.sync()
        except VerificationError as e:
            h.problem = h.alarm = e
            raise
        except ChathamError as e:  # Unreachable, mostly: the view is stale, not wrong
            h.problem = e
            raise
        h.synced_at, h.problem = time.time(), None
        # Records that failed a check are set aside and reported, not raised: the oldest
        # alarm is what the pages show, until a sync finds none.
        h.alarms = report.alarms
        h.alarm = report.alarms[0].error() if report.alarms else None
        # A waiting post the server refused for good is kept, not sent: say so, whichever
        # page or live update synced, or the member never learns it was not sent.
        for _, reason in report.refused:
            self.notify(
                f"One of your posts was not sent ({reason}); its text is kept.",
                "error",
                link=("/unsent", "Read it, copy it, then discard it"),
            )
        j = self.journals.get(group.id)
        if j is not None and (report.new_entries or report.new_ops or report.retracted):
            j.refresh()
        return report

    # --- notices ----------------------------------------------------------------------------

    def notify(
        self,
        text: str,
        kind: Literal["done", "error"] = "done",
        link: tuple[str, str] | None = None,
    ) -> None:
        self.notices.append(Notice(text, kind, link))
        del self.notices[:-5]

    def take_notices(self) -> list[Notice]:
        out, self.notices = self.notices, []
        return out
