"""The library against the real server app in-process: sync, post, read, queue, leader ops."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from chatham import crypto
from chatham.client import Account, Group, errors
from chatham.client._private.engine import sync as sync_module

from tests.support.client_fixtures import SERVER_URL, Person, form_group


class Switch(httpx.BaseTransport):
    """A transport that can be cut (the network is down) and can fail after N requests."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner
        self.down = False
        self.fail_after: int | None = None
        self.seen = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.seen += 1
        if self.down or (self.fail_after is not None and self.seen > self.fail_after):
            raise httpx.ConnectError("network is down", request=request)
        return self.inner.handle_request(request)


def switched(server: httpx.Client) -> tuple[httpx.Client, Switch]:
    sw = Switch(server._transport)
    return httpx.Client(transport=sw, base_url=SERVER_URL), sw


def bodies(g: Group) -> list[bytes]:
    return [i.body for i in g.entries()]


def test_post_sync_read(person: Person) -> None:
    alice, bob = person("Alice"), person("Bob")
    ga, gb = form_group(alice, bob)
    eid = ga.post(b"issue: selling the family business")
    report = gb.sync()
    assert report.new_entries == 1
    [item] = list(gb.entries())
    assert item.id == eid
    assert item.author == alice.member_id
    assert item.body == b"issue: selling the family business"
    assert item.seq == 1
    assert item.epoch == gb.epoch
    assert gb.get(eid[:8]).body == item.body
    # Sync is idempotent: nothing new, nothing duplicated.
    again = gb.sync()
    assert (again.new_entries, again.new_ops) == (0, 0)
    assert bodies(gb) == [item.body]


def test_names_and_roster(person: Person) -> None:
    alice, bob = person("Alice"), person("Bob")
    _ga, gb = form_group(alice, bob, history="full")
    members = {m.id: m for m in gb.members()}
    assert members[alice.member_id].role == "leader"
    assert members[alice.member_id].name == "Alice"
    assert members[bob.member_id].name == "Bob"
    assert members[bob.member_id].is_me
    assert members[bob.member_id].fingerprint == bob.fingerprint
    assert gb.member("alice").id == alice.member_id
    assert gb.member(alice.member_id[:10]).id == alice.member_id
    with pytest.raises(errors.NotFound):
        gb.member("carol")


def test_offline_writes_queue_and_send_later(person: Person, server: httpx.Client) -> None:
    http, sw = switched(server)
    alice, bob = person("Alice"), person("Bob", http=http)
    ga, gb = form_group(alice, bob)
    sw.down = True
    eid = gb.post(b"written on a plane")
    assert gb.queued == 1
    assert bodies(gb) == []  # not sent, not shown as a verified entry yet
    with pytest.raises(errors.Unreachable):
        gb.sync()
    sw.down = False
    report = gb.sync()
    assert report.sent == (eid,)
    assert gb.queued == 0
    ga.sync()
    assert bodies(ga) == [b"written on a plane"]


class OutboxWire(httpx.BaseTransport):
    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner
        self.posts: list[str] = []
        self.down = False

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if self.down:
            raise httpx.ConnectError("network is down", request=request)
        if request.method == "POST" and "/entries" in request.url.path:
            self.posts.append(request.url.path.rsplit("/", 1)[-1])
        return self.inner.handle_request(request)


def test_an_offline_outbox_goes_out_in_one_bulk_request(
    person: Person, server: httpx.Client
) -> None:
    counting = OutboxWire(server._transport)
    http = httpx.Client(transport=counting, base_url=SERVER_URL)
    alice, bob = person("Alice"), person("Bob", http=http)
    ga, gb = form_group(alice, bob)
    counting.down = True
    ids = [gb.post(f"written on a plane {i}".encode()) for i in range(30)]
    assert gb.queued == 30
    counting.down = False
    report = gb.sync()
    assert report.sent == tuple(ids)
    assert counting.posts == ["bulk"]
    assert gb.queued == 0
    ga.sync()
    assert bodies(ga) == [f"written on a plane {i}".encode() for i in range(30)]
    assert [e.seq for e in ga.entries()] == list(range(1, 31))
    assert not gb.sync().alarms


def test_a_queued_write_the_bulk_post_refuses_goes_out_alone_after_a_reseal(
    person: Person, server: httpx.Client
) -> None:
    """Queued writes sealed on an epoch that rotated meanwhile: the bulk answer refuses them
    (stale_epoch), and the single path syncs, reseals and sends them."""
    counting = OutboxWire(server._transport)
    http = httpx.Client(transport=counting, base_url=SERVER_URL)
    alice, bob = person("Alice"), person("Bob", http=http)
    ga, gb = form_group(alice, bob)
    counting.down = True
    for i in range(3):
        gb.post(f"queued {i}".encode())
    counting.down = False
    ga.rotate()
    gb.sync()
    assert gb.queued == 0
    ga.sync()
    assert bodies(ga) == [f"queued {i}".encode() for i in range(3)]
    assert {e.epoch for e in ga.entries()} == {ga.epoch}


def test_offline_write_is_sealed_under_the_newest_epoch(
    person: Person, server: httpx.Client
) -> None:
    http, sw = switched(server)
    alice, bob = person("Alice"), person("Bob", http=http)
    ga, gb = form_group(alice, bob)
    sw.down = True
    gb.post(b"queued before the rotation")
    ga.rotate()  # the key rotates while Bob is offline
    sw.down = False
    gb.sync()
    ga.sync()
    [item] = list(ga.entries())
    assert item.epoch == ga.epoch == gb.epoch


def test_sync_resumes_after_interruption(
    person: Person, server: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sync_module, "PAGE", 3)
    monkeypatch.setattr(sync_module, "COMMIT_ROWS", 3)
    http, sw = switched(server)
    alice, bob = person("Alice"), person("Bob", http=http)
    ga, gb = form_group(alice, bob)
    for i in range(10):
        ga.post(b"entry %d" % i)
    sw.seen = 0
    sw.fail_after = 4  # log, lockboxes? no: log, entries page 1, page 2, then the network dies
    with pytest.raises(errors.Unreachable):
        gb.sync()
    partial = len(bodies(gb))
    assert 0 < partial < 10
    sw.fail_after = None
    gb.sync()
    assert bodies(gb) == [b"entry %d" % i for i in range(10)]


def test_concurrent_local_processes(person: Person, tmp_path: Any) -> None:
    alice, bob = person("Alice"), person("Bob")
    ga, gb = form_group(alice, bob)
    # A second process on Bob's home, loaded now, goes stale when the first one syncs.
    other = Account(bob.home, bob._secrets, http=bob._http)
    gb2 = other.group(gb.id)
    assert gb2.status == "member"
    ga.post(b"one")
    gb.sync()
    ga.post(b"two")
    gb2.sync()  # must notice the store moved on, reload and continue
    gb.sync()
    assert bodies(gb) == bodies(gb2) == [b"one", b"two"]
    other.close()


def test_announcements_in_plain_words(person: Person) -> None:
    alice, bob, carol = person("Alice"), person("Bob"), person("Carol")
    ga, gb, gc = form_group(alice, bob, carol, history="full")
    ga.set_role("Bob", "leader")
    ga.set_policy(notes="leaders")
    ga.remove("Carol")
    said = gb.sync().announcements
    assert [a.text for a in said] == [
        "Alice made you a leader",
        "Alice changed the group policy: new members read everything shared before they "
        "joined; meeting notes by leaders only; a fresh key at each meeting: no",
        "Alice removed Carol; the group has a fresh key, so nothing written from now on "
        "reaches them",
    ]
    assert said[-1].detail == f"log op {said[-1].seq}; epoch {ga.epoch}"
    for a in said:  # protocol words only in `detail`
        assert "epoch" not in a.text
        assert "log op" not in a.text
    [removal] = gc.sync().announcements[-1:]
    assert removal.kind == "remove"
    assert "removed you from the group" in removal.text
    assert gc.status == "removed"


def test_removed_member_keeps_old_entries_and_gets_nothing_new(person: Person) -> None:
    alice, bob = person("Alice"), person("Bob")
    ga, gb = form_group(alice, bob)
    ga.post(b"before")
    gb.sync()
    ga.remove(bob.member_id)
    ga.post(b"after")
    report = gb.sync()
    assert report.status == "removed"
    assert bodies(gb) == [b"before"]
    with pytest.raises(errors.NotAMember):
        gb.post(b"still here?")


def test_leave_rotates_before_the_next_write(person: Person) -> None:
    alice, bob, carol = person("Alice"), person("Bob"), person("Carol")
    ga, gb, gc = form_group(alice, bob, carol)
    epoch = gb.epoch
    gc.leave()
    assert gc.status == "left"
    gb.post(b"after carol left")  # bob is a plain member: he performs the pending rotation
    assert gb.epoch == epoch + 1
    assert not gb.state.pending_rotation
    ga.sync()
    [item] = list(ga.entries())
    assert item.epoch == epoch + 1
    assert gc.state.members[bytes.fromhex(carol.member_id)].status == "left"


def test_non_leader_gets_not_allowed_without_a_round_trip(
    person: Person, server: httpx.Client
) -> None:
    alice, bob = person("Alice"), person("Bob")
    ga, gb = form_group(alice, bob)
    seq = ga.state.seq
    with pytest.raises(errors.NotAllowed, match="leader"):
        gb.checkpoint()
    with pytest.raises(errors.NotAllowed):
        gb.remove(alice.member_id)
    ga.sync()
    assert ga.state.seq == seq


def test_conflict_between_leaders_is_retried(person: Person) -> None:
    alice, bob = person("Alice"), person("Bob")
    ga, gb = form_group(alice, bob)
    ga.set_role("Bob", "leader")
    gb.sync()
    calls: list[int] = []

    def racing_checkpoint(ctx: Any) -> crypto.PendingOp:
        calls.append(ctx.state.seq)
        if len(calls) == 1:
            ga.rotate()  # the other leader appends first
        return crypto.build_checkpoint(ctx.state, ctx.device, ctx.heads, time=ctx.time)

    applied = gb.append_op(racing_checkpoint)
    assert len(calls) == 2
    assert calls[1] == calls[0] + 1
    assert applied.seq == gb.state.seq
    # A ready-made op built on an old head is not retried: the caller learns of the conflict.
    stale = crypto.build_rotate(gb.state, gb._load().keyring, bob._secrets.device, time=1)
    ga.rotate()
    with pytest.raises(errors.Conflict):
        gb.append_op(stale)


def test_retraction(person: Person) -> None:
    alice, bob = person("Alice"), person("Bob")
    ga, gb = form_group(alice, bob, history="full")
    keep = gb.post(b"keep")
    gone = gb.post(b"take back")
    ga.sync()
    gb.post(b"withdrawn", retracts=[gone])  # an entry of Bob's chain that retracts his own
    report = ga.sync()
    assert report.retracted == 1
    assert bodies(ga) == [b"keep", b"withdrawn"]
    with pytest.raises(errors.NotFound, match="retracted"):
        ga.get(gone)
    assert ga.verify().retracted == 1
    # A leader may retract someone else's entry; members are told.
    ga.post(b"withdrawn by a leader", retracts=[keep])
    [a] = gb.sync().announcements
    assert a.kind == "retract"
    assert a.text == "Alice (leader) retracted an entry by you"
    # A member may not retract a leader's entry: refused before anything is queued.
    mine = ga.post(b"leader's")
    gb.sync()
    with pytest.raises(errors.NotAllowed):
        gb.post(b"withdrawn", retracts=[mine])
    assert gb.queued == 0


def test_checkpoint_and_meeting_code(person: Person) -> None:
    alice, bob = person("Alice"), person("Bob")
    ga, gb = form_group(alice, bob)
    ga.post(b"a")
    gb.post(b"b")
    ga.sync()
    ga.checkpoint()
    gb.sync()
    ra, rb = ga.verify(), gb.verify()
    assert ra.ok
    assert rb.ok
    assert ra.meeting_code is not None
    assert ra.meeting_code == rb.meeting_code
    assert len(ra.meeting_code.split()) == 6
    assert ra.checkpoint_seq == rb.checkpoint_seq == ga.state.seq
    assert {c.seq for c in rb.chains} == {1}


@pytest.mark.parametrize(("history", "readable"), [("from-join", False), ("full", True)])
def test_history_policy_for_newcomers(person: Person, history: str, readable: bool) -> None:
    alice, bob = person("Alice"), person("Bob")
    [ga] = form_group(alice, history=history)
    ga.post(b"before bob")
    [_, gb] = [ga, *form_group_join(ga, bob)]
    assert (bodies(gb) == [b"before bob"]) is readable
    assert gb.verify().unreadable == (0 if readable else 1)


def form_group_join(g: Group, m: Account) -> list[Group]:
    mg = m.join(g.invite().link)
    assert mg.status == "joining"
    assert mg.sync().status == "joining"
    request = next(r for r in g.join_requests() if r.member == m.member_id)
    assert request.mac_ok is True
    g.approve(request, name=m.name or "X", fingerprint=m.fingerprint.upper())
    report = mg.sync()
    assert report.status == "member"
    assert report.announcements[-1].kind == "joined"
    return [mg]


def test_approve_refuses_a_wrong_fingerprint(person: Person) -> None:
    alice, bob, mallory = person("Alice"), person("Bob"), person("Mallory")
    [ga] = form_group(alice)
    bob.join(ga.invite().link)
    [request] = ga.join_requests()
    seq = ga.state.seq
    with pytest.raises(errors.UsageError, match="fingerprint does not match"):
        ga.approve(request, name="Bob", fingerprint=mallory.fingerprint)
    assert ga.state.seq == seq


def test_journal_groups_and_selection(person: Person) -> None:
    alice = person("Alice")
    g1 = alice.create_group("One", SERVER_URL)
    g2 = alice.create_group("Two", SERVER_URL)
    summaries = {s.name: s for s in alice.groups()}
    assert summaries["Two"].current  # a new group is the one its founder acts on next
    assert not summaries["One"].current
    assert alice.group().id == g2.id
    alice.use("one")
    assert alice.group().id == g1.id
    alice.use("two")
    assert alice.group().id == g2.id
    assert alice.group(g1.id[:6]).id == g1.id
    with pytest.raises(errors.NotFound):
        alice.group("three")


def test_progress_is_reported(person: Person) -> None:
    alice, bob = person("Alice"), person("Bob")
    ga, gb = form_group(alice, bob)
    for i in range(3):
        ga.post(b"%d" % i)
    seen: list[tuple[int, int | None]] = []
    gb.sync(progress=lambda done, total: seen.append((done, total)))
    assert seen[0] == (0, 3)
    assert seen[-1] == (3, 3)


def timed(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


class Counting(httpx.BaseTransport):
    """Counts requests by path; can answer 429 a given number of times first."""

    def __init__(self, inner: httpx.BaseTransport, limited: int = 0) -> None:
        self.inner = inner
        self.paths: list[str] = []
        self.limited = limited

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.paths.append(request.url.path)
        if self.limited and request.url.path.endswith("/log"):
            self.limited -= 1
            return httpx.Response(
                429, headers={"retry-after": "0"}, json={"code": "rate_limited", "detail": "slow"}
            )
        return self.inner.handle_request(request)


def test_login_once_per_token_lifetime(person: Person, server: httpx.Client) -> None:
    alice = person("Alice")
    g = alice.create_group("Forum", SERVER_URL)
    counting = Counting(server._transport)
    http = httpx.Client(transport=counting, base_url=SERVER_URL)
    again = Account(alice.home, alice._secrets, http=http)  # the next command, same home
    again.group(g.id).sync()
    assert not [p for p in counting.paths if p.startswith("/v1/auth")]
    token = again._store.server_token(SERVER_URL)
    assert token is not None
    assert token[0].encode() not in alice.home.store_path.read_bytes()  # sealed at rest
    again.close()


def test_rate_limited_requests_are_retried(person: Person, server: httpx.Client) -> None:
    alice = person("Alice")
    g = alice.create_group("Forum", SERVER_URL)
    counting = Counting(server._transport, limited=2)
    again = Account(alice.home, alice._secrets, http=httpx.Client(transport=counting))
    assert again.group(g.id).sync().status == "member"
    assert sum(1 for p in counting.paths if p.endswith("/log")) == 3
    counting.limited = 5
    with pytest.raises(errors.RateLimited):
        again.group(g.id).sync()
    again.close()


def test_entry_index_and_incremental_reading(person: Person) -> None:
    alice, bob = person("Alice"), person("Bob")
    ga, gb = form_group(alice, bob)
    first = ga.post(b"one")
    gb.sync()
    seen = max(r.cursor for r in gb.entry_index())
    ga.post(b"two")
    ga.post(b"three, which retracts one", retracts=[first])
    gb.sync()
    index = gb.entry_index()
    # The stub keeps its place: a retraction never moves an entry.
    assert [(r.id == first, r.retracted, r.readable) for r in index] == [
        (True, True, False),
        (False, False, True),
        (False, False, True),
    ]
    assert {r.author for r in index} == {alice.member_id}
    assert [i.body for i in gb.entries(after=seen)] == [b"two", b"three, which retracts one"]
