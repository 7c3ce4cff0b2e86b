"""Hostile-load benchmark: honest members' latency and the server's memory while it is attacked.

    .venv/bin/python bench/hostile_bench.py [--seconds 20] [--postgres] [--only NAME,...]
        [--set NAME=VALUE ...]

Starts a real `chatham-server` (default settings, one process) on 127.0.0.1, with an
honest group of two members: one posts entries, the other reads pages after its cursor
and the group's head. The honest loop runs alone (idle), then again while an attacker
process, from forty other loopback addresses (127.0.0.2-41), runs every attack of issue 20 at once
for the same bounded time:

- `nested`: 2 MiB bodies of nested empty arrays to authenticated routes and to logins
  (about 5 MiB/s), with a made-up token;
- `headers`: request heads that never end (four connections);
- `idle`: as many idle connections as it is allowed, reopened as they are closed;
- `slow_bodies`: bodies announced at 1 MiB and stopped short, on twenty connections;
- `streams`: a member's device asking for fifty event streams;
- `unread`: a member's device asking for twenty 8 MiB pages and reading none;
- `scrub_storm`: upload + delete pairs of attachments, 35 a second;
- `join_junk`: garbage join requests for the honest group, 20 a second;
- `logins`: login challenges, 50 a second.

Reports the honest p50/p95 idle and under attack, their ratio, and the server process's
peak resident memory (sampled from /proc every 0.1 s), with the goal: p95 under attack
within 2x of idle, and peak memory under `CEILING_MIB`. The machine is shared and noisy:
the figures carry their spread (three rounds unless --rounds). Everything targets
127.0.0.1/127.0.0.2; every loop stops at its deadline.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from machine import describe_machine  # noqa: E402

from tests.support.server_harness import World, b64, b64url  # noqa: E402

CEILING_MIB = 400
"""The goal's ceiling on the server process's resident memory under every attack at once."""
ATTACKERS = [f"127.0.0.{i}" for i in range(2, 42)]
"""The attacker's source addresses: forty clients on loopback, so the per-address connection
cap does not turn every attack away before the defence it aims at is reached."""
ATTACKS = (
    "nested",
    "headers",
    "idle",
    "slow_bodies",
    "streams",
    "unread",
    "scrub_storm",
    "join_junk",
    "logins",
)


# --- the server --------------------------------------------------------------------------------


def start_server(
    data_dir: Path, database_url: str | None, settings: list[str]
) -> tuple[subprocess.Popen[bytes], str]:
    from chatham.server.testing import SERVER, _wait_healthy, free_port

    port = free_port()
    cmd = [SERVER, "--data-dir", str(data_dir), "--host", "127.0.0.1", "--port", str(port)]
    cmd += ["--open-registration"]
    if database_url:
        cmd += ["--database", database_url]
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHATHAM_SERVER_")}
    for setting in settings:
        name, _, value = setting.partition("=")
        env[f"CHATHAM_SERVER_{name.upper()}"] = value
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryFile() as stderr:
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=stderr, env=env)
        _wait_healthy(url, proc, stderr, 30)
    return proc, url


def rss_mib(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


class PeakMemory(threading.Thread):
    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak, self.stop = pid, 0.0, threading.Event()

    def run(self) -> None:
        while not self.stop.wait(0.1):
            self.peak = max(self.peak, rss_mib(self.pid))


# --- honest members ---------------------------------------------------------------------------


def honest_setup(url: str) -> dict[str, Any]:
    http = httpx.Client(base_url=url, timeout=60)
    world = World(http)
    group, (alice, bob) = world.group_of(2)
    return {"http": http, "world": world, "group": group, "alice": alice, "bob": bob}


def honest_loop(h: dict[str, Any], seconds: float) -> list[float]:
    """Post an entry, read the page after the cursor, read the head: each request timed."""
    group, alice, bob, http = h["group"], h["alice"], h["bob"], h["http"]
    cursor = h.get("cursor", 0)
    times: list[float] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        sealed = group.seal(alice, b"an honest entry " + os.urandom(200))
        for method, path, kw in (
            (
                "POST",
                f"{group.path}/entries",
                {"json": {"entry": b64(sealed.data)}, "headers": alice.headers},
            ),
            (
                "GET",
                f"{group.path}/entries",
                {"params": {"after": cursor, "limit": 50}, "headers": bob.headers},
            ),
            ("GET", group.path, {"headers": bob.headers}),
        ):
            t0 = time.perf_counter()
            r = http.request(method, path, **kw)
            times.append(time.perf_counter() - t0)
            if r.status_code >= 400:
                raise SystemExit(f"an honest request failed: {r.status_code} {r.text[:200]}")
            if method == "POST":
                alice.chain_seq += 1
                alice.chain_link = sealed.link
        cursor = r.json()["entry_cursor"]
        time.sleep(0.02)
    h["cursor"] = cursor
    return times


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] * 1000


# --- the attacker (a separate process) ---------------------------------------------------------


def attacker_setup(url: str, honest_group: bytes) -> dict[str, Any]:
    """A member of a group of its own, holding about 8 MiB of entries to ask pages of."""
    http = httpx.Client(base_url=url, timeout=120)
    world = World(http)
    group, (eve,) = world.group_of(1)
    for _ in range(8):
        group.post_entry(eve, os.urandom(1 << 20))
    return {
        "url": url,
        "token": eve.token,
        "group": b64url(group.id),
        "honest": b64url(honest_group),
    }


class Attack:
    def __init__(self, cfg: dict[str, Any], seconds: float) -> None:
        self.cfg = cfg
        host, port = cfg["url"].removeprefix("http://").split(":")
        self.host, self.port = host, int(port)
        self.deadline = time.monotonic() + seconds
        self.counts: dict[str, int] = {}

    def live(self) -> bool:
        return time.monotonic() < self.deadline

    def count(self, what: str) -> None:
        self.counts[what] = self.counts.get(what, 0) + 1

    async def connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        self.n = getattr(self, "n", 0) + 1
        source = ATTACKERS[self.n % len(ATTACKERS)]
        return await asyncio.open_connection(self.host, self.port, local_addr=(source, 0))

    async def request(self, head: bytes, body: bytes = b"", read: bool = True) -> bytes:
        try:
            reader, writer = await self.connect()
        except OSError:
            self.count("connect refused")
            await asyncio.sleep(0.5)
            return b""
        try:
            writer.write(head + body)
            await writer.drain()
            if not read:
                return b""
            status = await asyncio.wait_for(reader.readline(), 10)
            self.count(status[9:12].decode("ascii", "replace") or "closed")
            return status
        except (TimeoutError, OSError):
            self.count("cut off")
            return b""
        finally:
            writer.close()

    def head(self, method: str, path: str, length: int, token: str | None = None) -> bytes:
        auth = f"Authorization: Bearer {token}\r\n" if token else ""
        return (
            f"{method} {path} HTTP/1.1\r\nHost: x\r\n{auth}Content-Type: application/json\r\n"
            f"Content-Length: {length}\r\n\r\n"
        ).encode()

    async def paced(self, per_second: float, action: Any) -> None:
        while self.live():
            t0 = time.monotonic()
            await action()
            await asyncio.sleep(max(0.0, 1 / per_second - (time.monotonic() - t0)))

    # The attacks.

    async def nested(self) -> None:
        body = b"[" * (1 << 20) + b"]" * (1 << 20)
        paths = [
            ("/v1/groups/" + self.cfg["honest"] + "/log", "made-up-token"),
            ("/v1/groups", "made-up-token"),
            ("/v1/auth/token", None),
        ]
        n = 0

        async def one() -> None:
            nonlocal n
            path, token = paths[n % len(paths)]
            n += 1
            await self.request(self.head("POST", path, len(body), token), body)

        await self.paced(2.5, one)

    async def headers(self) -> None:
        async def flood() -> None:
            while self.live():
                try:
                    _, writer = await self.connect()
                    writer.write(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Pad: ")
                    while self.live():
                        writer.write(b"a" * 65536)
                        await asyncio.wait_for(writer.drain(), 2)
                        await asyncio.sleep(0.05)
                except (TimeoutError, OSError):
                    self.count("head cut off")
                await asyncio.sleep(0.05)

        await asyncio.gather(*(flood() for _ in range(4)))

    async def idle(self) -> None:
        async def hold() -> None:
            while self.live():
                try:
                    reader, writer = await self.connect()
                    data = await asyncio.wait_for(
                        reader.read(100), self.deadline - time.monotonic()
                    )
                    self.count("idle closed" if not data else "idle refused")
                    writer.close()
                except (TimeoutError, OSError):
                    pass
                await asyncio.sleep(0.5)

        await asyncio.gather(*(hold() for _ in range(100)))

    async def slow_bodies(self) -> None:
        path = f"/v1/groups/{self.cfg['group']}/entries"
        body = b"{" + b" " * ((1 << 20) - 2)

        async def one() -> None:
            while self.live():
                await self.request(self.head("POST", path, 1 << 20, self.cfg["token"]), body)
                await asyncio.sleep(1.0)

        await asyncio.gather(*(one() for _ in range(20)))

    async def streams(self) -> None:
        path = f"/v1/groups/{self.cfg['group']}/events"
        head = (
            f"GET {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {self.cfg['token']}\r\n\r\n"
        )

        async def one() -> None:
            while self.live():
                try:
                    reader, writer = await self.connect()
                    writer.write(head.encode())
                    status = await asyncio.wait_for(reader.readline(), 10)
                    self.count("stream " + status[9:12].decode("ascii", "replace"))
                    await asyncio.wait_for(
                        reader.read(), max(0.1, self.deadline - time.monotonic())
                    )
                    writer.close()
                except (TimeoutError, OSError):
                    pass
                await asyncio.sleep(0.5)

        await asyncio.gather(*(one() for _ in range(50)))

    async def unread(self) -> None:
        path = f"/v1/groups/{self.cfg['group']}/entries"
        head = (
            f"GET {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {self.cfg['token']}\r\n\r\n"
        ).encode()

        async def one() -> None:
            while self.live():
                try:
                    reader, writer = await self.connect()
                    sock = writer.get_extra_info("socket")
                    sock.setsockopt(
                        __import__("socket").SOL_SOCKET, __import__("socket").SO_RCVBUF, 4096
                    )
                    writer.write(head)
                    status = await asyncio.wait_for(reader.readline(), 10)
                    self.count("page " + status[9:12].decode("ascii", "replace"))
                    # Read nothing more until the end: the answer waits on the server.
                    await asyncio.sleep(max(0.0, self.deadline - time.monotonic()))
                    writer.close()
                except (TimeoutError, OSError):
                    pass
                await asyncio.sleep(1.0)

        await asyncio.gather(*(one() for _ in range(20)))

    async def scrub_storm(self) -> None:
        group, token = self.cfg["group"], self.cfg["token"]

        async def pair() -> None:
            aid = b64url(secrets.token_bytes(16))
            base = f"/v1/groups/{group}/attachments/{aid}"
            chunk = os.urandom(4096)
            head = (
                f"PUT {base}/chunks/0 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n"
                f"Content-Length: {len(chunk)}\r\n\r\n"
            ).encode()
            await self.request(head, chunk)
            head = (
                f"DELETE {base} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\r\n"
            ).encode()
            await self.request(head)

        await self.paced(35, pair)

    async def join_junk(self) -> None:
        path = f"/v1/groups/{self.cfg['honest']}/join-requests"
        body = b'{"request": "' + base64.b64encode(os.urandom(600)) + b'"}'

        async def one() -> None:
            await self.request(self.head("POST", path, len(body)), body)

        await self.paced(20, one)

    async def logins(self) -> None:
        async def one() -> None:
            await self.request(self.head("POST", "/v1/auth/challenge", 0))

        await self.paced(50, one)


async def run_attacks(cfg: dict[str, Any], seconds: float, only: list[str]) -> dict[str, int]:
    attack = Attack(cfg, seconds)
    await asyncio.gather(*(getattr(attack, name)() for name in only))
    return attack.counts


def attacker_main(argv: list[str]) -> None:
    import json

    cfg = json.loads(argv[0])
    seconds, only = float(argv[1]), argv[2].split(",")
    print(json.dumps(asyncio.run(run_attacks(cfg, seconds, only))), flush=True)


# --- the run ----------------------------------------------------------------------------------


def one_database(label: str, database_url: str | None, args: argparse.Namespace) -> bool:
    import json

    data = Path(tempfile.mkdtemp(prefix="chatham-hostile-"))
    proc, url = start_server(data / "server", database_url, args.set)
    try:
        honest = honest_setup(url)
        cfg = attacker_setup(url, honest["group"].id)
        honest_loop(honest, 1.0)  # warm up
        ok = True
        for rnd in range(args.rounds):
            idle = honest_loop(honest, args.seconds)
            memory = PeakMemory(proc.pid)
            memory.start()
            attacker = subprocess.Popen(
                [
                    sys.executable,
                    __file__,
                    "--attacker",
                    json.dumps(cfg),
                    str(args.seconds),
                    ",".join(args.only),
                ],
                stdout=subprocess.PIPE,
            )
            time.sleep(1.0)  # let the attacks start
            attacked = honest_loop(honest, args.seconds - 1.0)
            out, _ = attacker.communicate(timeout=args.seconds + 60)
            memory.stop.set()
            memory.join()
            counts = json.loads(out or b"{}")
            i50, i95 = pct(idle, 50), pct(idle, 95)
            a50, a95 = pct(attacked, 50), pct(attacked, 95)
            ratio = a95 / i95
            passed = ratio <= 2.0 and memory.peak <= CEILING_MIB
            ok = ok and passed
            print(
                f"{label} round {rnd + 1}: honest p50/p95 idle {i50:.1f}/{i95:.1f} ms "
                f"(n={len(idle)}), attacked {a50:.1f}/{a95:.1f} ms (n={len(attacked)}); "
                f"p95 ratio {ratio:.2f} (goal <= 2); server peak RSS {memory.peak:.0f} MiB "
                f"(ceiling {CEILING_MIB}); {'PASS' if passed else 'FAIL'}",
                flush=True,
            )
            print(f"  attacker saw: {dict(sorted(counts.items()))}", flush=True)
            print(f"  load average (1 min) after the round: {os.getloadavg()[0]:.1f}", flush=True)
        honest["http"].close()
        return ok
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--attacker":
        attacker_main(sys.argv[2:])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--postgres", action="store_true", help="also on an embedded PostgreSQL")
    parser.add_argument("--only", type=lambda s: s.split(","), default=list(ATTACKS))
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a server setting (CHATHAM_SERVER_NAME), e.g. scrub_delay=0 to compare",
    )
    args = parser.parse_args()
    unknown = set(args.only) - set(ATTACKS)
    if unknown:
        parser.error(f"unknown attacks: {', '.join(sorted(unknown))}")
    print(f"machine: {describe_machine()}")
    print(f"attacks: {', '.join(args.only)}; {args.seconds:.0f} s each phase")
    ok = one_database("sqlite", None, args)
    if args.postgres:
        from server_bench import fresh_pg_database, postgres_url

        admin, pg = postgres_url(None)
        try:
            ok = one_database("postgresql", asyncio.run(fresh_pg_database(admin)), args) and ok
        finally:
            if pg is not None:
                pg.cleanup()
    print("goal met" if ok else "goal NOT met")


if __name__ == "__main__":
    main()
