"""The group's classes of guarantee, held by a state machine of honest members and a hostile server.

Hypothesis interleaves what honest members do (post, comment, write notes, retract, remove,
leave, promote, demote, change the notes policy, rotate, checkpoint, join) with what a
server may do on its own: order two members' requests as it likes (one member acts while
another's write is on its way), withhold entries or the newest ops from one member and
serve them later, and, as a colluding operator, store entries that honest servers refuse
(a removed device writing after its removal, a member retracting others' items with a
power they do not hold). After every step it checks, for every member:

- no honest member's sync stops for good: it may report alarms, but it finishes;
- no entry the view accepts exercises a power its author did not hold at its place in the
  log (judged here by replaying the verified log up to that place, not by the fold);
- members holding the same log head and the same entries show the same items;
- nothing a removed device writes after its removal is shown.

`make test` runs a small budget; `CHATHAM_STATE_MACHINE_EXAMPLES=N` runs N examples of a
longer walk (docs/threat-model.md, "The classes, held by one property").
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from chatham import crypto
from chatham.client import Account, Group, errors
from chatham.client.journal import Issue, Retraction, decode_body, encode_body, export_json
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
)

from tests.support.client_fixtures import (
    SERVER_URL,
    Tamper,
    form_group,
    open_server,
    people,
)
from tests.support.tamper_kit import backdated, inject_entry

LONG_RUN = int(os.environ.get("CHATHAM_STATE_MACHINE_EXAMPLES", "0"))
"""Examples of the long run; 0 runs the small budget `make test` affords."""

MAX_PEOPLE = 6
NAMES = ("Alice", "Bob", "Carol", "Dan", "Erin", "Frank")

# What an honest member may be told when the group moved under them: a refusal that
# changes nothing (the state machine then checks that the group goes on).
REFUSALS: tuple[type[errors.ChathamError], ...] = (
    errors.NotAllowed,
    errors.NotAMember,
    errors.Forbidden,
    errors.Conflict,
    errors.UsageError,
    errors.NotFound,
)


@dataclass
class Person:
    name: str
    account: Account
    group: Group
    tamper: Tamper
    departed: bool = False
    """Removed or left, as the log says (the machine learns it from the op it drove)."""
    log_withheld: bool = False
    """The server hides the newest ops from this member: a removal among them too (the
    freshness bound of protocol §9.1 is what limits that, over days, not steps)."""
    forged: bool = False
    """The operator stored an entry this (departed) device signed after leaving."""
    led_at: list[tuple[int, bytes]] = field(default_factory=list)
    """Log heads at which this member was a leader: where a backdated entry would claim."""

    @property
    def id(self) -> bytes:
        return bytes.fromhex(self.account.member_id)


def picks(n: int = 1000) -> st.SearchStrategy[int]:
    return st.integers(min_value=0, max_value=n)


class GroupMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.people: list[Person] = []
        self.forged: set[str] = set()
        """Titles of issues only a colluding operator stored: never to be shown."""
        self.counter = 0
        self.states: dict[bytes, crypto.GroupState] = {}
        self.stack = contextlib.ExitStack()
        try:
            self._start()
        except BaseException:
            self.stack.close()
            raise

    def _start(self) -> None:
        """A real server in-process, and a leader with two members, each behind a transport
        the server's hostile side controls."""
        root = Path(self.stack.enter_context(tempfile.TemporaryDirectory(prefix="chatham-sm-")))
        self.db_path = root / "server" / "chatham.sqlite3"
        self.server = self.stack.enter_context(open_server(root / "server"))
        self.make = self.stack.enter_context(people(root, self.server))
        made = [self._account(n) for n in NAMES[:3]]
        groups = form_group(*(account for account, _ in made), history="full")
        for (account, tamper), g in zip(made, groups, strict=True):
            self.people.append(Person(account.name or "", account, g, tamper))
        self.people[0].led_at.append((groups[0].state.seq, groups[0].state.head))

    def teardown(self) -> None:
        self.stack.close()

    # --- helpers ---------------------------------------------------------------------------

    def _account(self, name: str) -> tuple[Account, Tamper]:
        tamper = Tamper(self.server._transport)
        http = self.stack.enter_context(httpx.Client(transport=tamper, base_url=SERVER_URL))
        return self.make(name, http=http), tamper

    def _text(self, what: str) -> str:
        self.counter += 1
        return f"{what} {self.counter}"

    def active(self) -> list[Person]:
        return [p for p in self.people if not p.departed]

    def leaders(self) -> list[Person]:
        return [p for p in self.active() if self._role(p) == "leader"]

    def _role(self, p: Person) -> str | None:
        m = p.group.state.members.get(p.id)
        return None if m is None or m.status != "active" else m.role

    def _pick(self, pool: list[Person], n: int) -> Person:
        return pool[n % len(pool)]

    def _sync(self, p: Person) -> None:
        """A sync that must finish: alarms are reported, never raised. A server that is
        withholding from this member may refuse it service (no design can stop that); once
        it stops (`stop_withholding`), the sync must finish again."""
        try:
            report = p.group.sync()
        except errors.ServerError:
            if not p.tamper.hooks:
                raise
            return
        if report.status != "member":
            p.departed = True
        if self._role(p) == "leader":
            p.led_at.append((p.group.state.seq, p.group.state.head))

    def _attempt(self, p: Person, action: Callable[[], Any]) -> Any:
        """An honest action: it succeeds or is refused in words, and the group goes on."""
        try:
            return action()
        except REFUSALS:
            return None

    def _state_at(self, g: Group, seq: int) -> crypto.GroupState:
        """The verified state after op `seq`, replayed from the log here (not the fold's view)."""
        log = g.log()
        head = log[seq].hash
        if head not in self.states:
            self.states[head] = crypto.replay(op.data for op in log[: seq + 1])
        return self.states[head]

    # --- honest members ----------------------------------------------------------------------

    @rule(who=picks())
    def post_issue(self, who: int) -> None:
        p = self._pick(self.active(), who)
        title = self._text(f"{p.name}'s issue")
        self._attempt(p, lambda: p.group.journal().new_issue(title=title, priority="B"))

    @rule(who=picks(), of=picks())
    def comment(self, who: int, of: int) -> None:
        p = self._pick(self.active(), who)
        j = p.group.journal()
        items = j.view.list_items()
        if items:
            item = items[of % len(items)]
            self._attempt(p, lambda: j.comment(item, self._text("a comment")))

    @rule(who=picks())
    def note(self, who: int) -> None:
        p = self._pick(self.active(), who)
        body = self._text(f"{p.name}'s note")
        self._attempt(p, lambda: p.group.journal().new_note(body, meeting=None))

    @rule(who=picks(), of=picks())
    def retract(self, who: int, of: int) -> None:
        p = self._pick(self.active(), who)
        j = p.group.journal()
        items = [i for i in j.view.list_items() if i.kind in ("issue", "note", "comment")]
        if items:
            item = items[of % len(items)]
            self._attempt(p, lambda: j.retract(item))

    @precondition(lambda self: len(self.active()) > 1)
    @rule(by=picks(), of=picks())
    def remove(self, by: int, of: int) -> None:
        leaders = self.leaders()
        if not leaders:
            return
        leader = self._pick(leaders, by)
        victim = self._pick([p for p in self.active() if p is not leader], of)
        if self._attempt(leader, lambda: leader.group.remove(victim.account.member_id)):
            victim.departed = True

    @precondition(lambda self: len(self.active()) > 1)
    @rule(who=picks())
    def leave(self, who: int) -> None:
        p = self._pick(self.active(), who)
        if self._attempt(p, p.group.leave):
            p.departed = True

    @rule(by=picks(), of=picks(), role=st.sampled_from(["leader", "member"]))
    def set_role(self, by: int, of: int, role: Any) -> None:
        leaders = self.leaders()
        if leaders:
            leader = self._pick(leaders, by)
            other = self._pick(self.active(), of)
            self._attempt(leader, lambda: leader.group.set_role(other.account.member_id, role))

    @rule(by=picks(), notes=st.sampled_from(["all", "leaders"]))
    def notes_policy(self, by: int, notes: Any) -> None:
        leaders = self.leaders()
        if leaders:
            leader = self._pick(leaders, by)
            self._attempt(leader, lambda: leader.group.set_policy(notes=notes))

    @rule(by=picks(), checkpoint=st.booleans())
    def rotate_or_checkpoint(self, by: int, checkpoint: bool) -> None:
        leaders = self.leaders()
        if leaders:
            g = self._pick(leaders, by).group
            self._attempt(self._pick(leaders, by), g.checkpoint if checkpoint else g.rotate)

    @precondition(lambda self: len(self.people) < MAX_PEOPLE)
    @rule(by=picks())
    def join(self, by: int) -> None:
        leaders = self.leaders()
        if not leaders:
            return
        leader = self._pick(leaders, by)
        invite = self._attempt(leader, leader.group.invite)  # refused while the log is hidden
        if invite is None:
            return
        account, tamper = self._account(NAMES[len(self.people)])
        g = account.join(invite.link)
        [request] = [r for r in leader.group.join_requests() if r.member == account.member_id]
        leader.group.approve(request, name=account.name or "", fingerprint=account.fingerprint)
        self.people.append(Person(account.name or "", account, g, tamper))
        self._sync(self.people[-1])

    # --- the server orders, withholds and colludes -------------------------------------------

    @rule(
        writer=picks(),
        by=picks(),
        move=st.sampled_from(["demote", "remove", "notes", "rotate"]),
        write=st.sampled_from(["retract", "note", "issue"]),
    )
    def race(self, writer: int, by: int, move: str, write: str) -> None:
        """A leader's op reaches the server just before another member's write does."""
        leaders = self.leaders()
        if not leaders:
            return
        w = self._pick(self.active(), writer)
        leader = self._pick(leaders, by)
        target = w.account.member_id
        moves: dict[str, Callable[[], Any]] = {
            "demote": lambda: leader.group.set_role(target, "member"),
            "remove": lambda: leader.group.remove(target),
            "notes": lambda: leader.group.set_policy(notes="leaders"),
            "rotate": leader.group.rotate,
        }

        def op() -> None:
            if self._attempt(leader, moves[move]) and move == "remove":
                w.departed = True

        if leader is not w or move in ("notes", "rotate"):
            w.tamper.race("POST", "/entries", op)
        if write == "retract":
            self.retract(writer, by)
        elif write == "note":
            self.note(writer)
        else:
            self.post_issue(writer)
        w.tamper.before.clear()

    @rule(victim=picks(), author=picks(), log=st.booleans())
    def withhold(self, victim: int, author: int, log: bool) -> None:
        """From now on the server hides one author's entries, or the newest ops, from one member."""
        p = self._pick(self.people, victim)
        hidden = bytes.fromhex(self._pick(self.people, author).account.device_id)
        if log:
            seq = p.group.state.seq

            def older(_: httpx.Request, page: dict[str, Any]) -> dict[str, Any]:
                if "ops" not in page:
                    return page  # an error answer
                page["ops"] = [
                    op for op in page["ops"] if crypto.decode_signed_op(op).op.seq <= seq
                ]
                if page["ops"]:
                    page["head"] = crypto.op_hash(page["ops"][-1])
                    page["seq"] = seq
                return page

            p.tamper.on("GET", "/log", older)
            p.log_withheld = True
        else:

            def drop(_: httpx.Request, page: dict[str, Any]) -> dict[str, Any]:
                if "entries" not in page:
                    return page  # an error answer
                page["entries"] = [
                    e
                    for e in page["entries"]
                    if "entry" not in e  # a retracted entry's stub
                    or crypto.decode_entry(e["entry"]).header.device != hidden
                ]
                return page

            p.tamper.on("GET", "/entries", drop)

    @rule(victim=picks())
    def stop_withholding(self, victim: int) -> None:
        p = self._pick(self.people, victim)
        p.tamper.clear()
        p.log_withheld = False
        self._sync(p)

    @precondition(lambda self: any(p.departed for p in self.people))
    @rule(who=picks())
    def departed_device_writes(self, who: int) -> None:
        """A removed device signs an entry after its removal; the operator stores it."""
        p = self._pick([p for p in self.people if p.departed], who)
        if p.forged:
            return  # its client does not hold what the operator stored: it would reuse a seq
        p.forged = True
        title = self._text(f"forged after {p.name} left")
        state = p.group.state
        held = p.group._load().keyring.keys
        at = max(s for s, epoch in enumerate(state.epoch_at) if epoch in held)
        body = encode_body(Issue(ts=1, title=title))
        sealed = backdated(p.group, body, (at, state.op_hashes[at]))
        inject_entry(self.db_path, p.group.id_bytes, sealed)
        self.forged.add(title)

    @rule(who=picks(), of=picks(), old=st.booleans())
    def retract_without_power(self, who: int, of: int, old: bool) -> None:
        """A member who is not a leader now signs the retraction of another member's item,
        claiming the current head or one from when they led; the operator stores it."""
        members = [p for p in self.active() if self._role(p) == "member"]
        if not members:
            return
        p = self._pick(members, who)
        if p.tamper.hooks:
            return  # its client may not hold what it forged before: it would reuse a seq
        self._sync(p)
        theirs = [i for i in p.group.journal().view.list_items() if i.author != p.id]
        if not theirs:
            return
        item = theirs[of % len(theirs)]
        state = p.group.state
        at = p.led_at[-1] if old and p.led_at else (state.seq, state.head)
        body = encode_body(Retraction(ts=1, item=item.id, entries=[item.id]))
        sealed = backdated(p.group, body, at, retracts=[item.id])
        inject_entry(self.db_path, p.group.id_bytes, sealed)

    # --- the classes, after every step -------------------------------------------------------

    @invariant()
    def every_sync_finishes_and_no_power_is_borrowed(self) -> None:
        for p in self.people:
            self._sync(p)
        for p in self.people:
            self._check_powers(p)

    @invariant()
    def the_same_head_shows_the_same_items(self) -> None:
        seen: dict[Any, tuple[str, Any]] = {}
        for p in self.active():
            g = p.group
            held = frozenset((e.id, e.readable) for e in g.entry_index())
            key = (g.state.head, held)
            view = g.journal().view
            shown = {k: v for k, v in export_json(view, now=0).items() if k.endswith("s")}
            shown.pop("members", None)
            if key in seen:
                other, theirs = seen[key]
                assert shown == theirs, f"{p.name} and {other} hold the same, show differently"
            else:
                seen[key] = (p.name, shown)

    def _check_powers(self, p: Person) -> None:
        g = p.group
        view = g.journal().view
        refused = {w.entry_id.hex() for w in view.warnings}
        # Entries the server deleted before this member read them, and the member was told:
        # what an invalid retraction names there was never shown, whatever the fold says.
        index = g.entry_index()
        alarmed = {a.record for a in g.alarms() if a.record}
        lost = {e.id for e in index if not e.readable and f"entry {e.id}" in alarmed}
        entries = {e.id: e for e in g.entries()}
        authors = {e.id: e.author for e in index}
        now = g.state
        for e in entries.values():
            if e.id in refused:
                continue
            at = self._state_at(g, e.authority_seq)
            member = at.members.get(bytes.fromhex(e.author))
            assert member is not None, f"{p.name} accepts an entry by a stranger"
            assert member.status == "active", (
                f"{p.name} accepts an entry by a member who was not active at its place"
            )
            departed = now.departed_seq(bytes.fromhex(e.device))
            assert departed is None or e.authority_seq < departed, (
                f"{p.name} accepts an entry written after its device's departure"
            )
            body = decode_body(e.body)
            kind = type(body).__name__
            leader = member.role == "leader"
            if kind == "Meeting":
                assert leader, f"{p.name} accepts a meeting by a member who did not lead"
            if kind == "Note":
                assert leader or at.policy.notes == "all", f"{p.name} accepts a note not allowed"
            if isinstance(body, Retraction):
                for t in dict.fromkeys([body.item, *body.entries]):
                    owner = authors.get(t.hex())
                    if t.hex() in lost:
                        continue
                    assert owner is None or owner == e.author or leader, (
                        f"{p.name} accepts a retraction by one who neither wrote nor led"
                    )
        titles = {getattr(i, "title", "") for i in view.list_items()}
        if not p.log_withheld:
            assert not titles & self.forged, f"{p.name} shows what a removed device wrote"


GroupMachine.TestCase.settings = settings(
    max_examples=LONG_RUN or 6,
    stateful_step_count=40 if LONG_RUN else 15,
    deadline=None,
    derandomize=not LONG_RUN,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
test_the_group_keeps_its_guarantees = pytest.mark.slow(GroupMachine.TestCase)
