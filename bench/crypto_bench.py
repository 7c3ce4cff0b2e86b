"""Benchmark of the protocol core (chatham.crypto). A script, not a timed test.

    .venv/bin/python bench/crypto_bench.py            # or: make bench
    .venv/bin/python bench/crypto_bench.py --quick    # fewer iterations, smaller groups
    .venv/bin/python bench/crypto_bench.py --profile  # always print the profile

It prints, in one run:

1. Raw primitives: strict Ed25519 verify (libsodium `crypto_sign_open`) plus
   XChaCha20-Poly1305 open of a 2 KiB body, per second.
2. The full `open entry` path a client runs on every entry it reads:
   decode_entry + check_entry_public + ChainTracker.check + open_entry, on an
   entry with a 2 KiB body, per second, and its ratio to (1). Goal: >= 60%.
   Below the goal, a stage breakdown and a cProfile listing show where the
   time goes.
3. The time to build a rotation (build_rotate, build_remove) for groups of 10,
   100 and 1,000 members, one device each (hybrid ML-KEM-768 + X25519 HPKE,
   one lockbox per device). Goal: 1,000 members < 1 s. Also the time to
   verify the op (GroupState.apply) and to open one's own lockbox.

Every loop is bounded by a fixed count. Figures are the best of several
repeats (the machine is shared; the best run is the least disturbed one).
"""

from __future__ import annotations

import argparse
import cProfile
import datetime
import functools
import hashlib
import io
import os
import pstats
import statistics
import sys
import time
from collections.abc import Callable
from importlib.metadata import version

import nacl.bindings as sodium
from chatham.crypto import (
    ChainTracker,
    GroupState,
    Keyring,
    MemberCard,
    Secrets,
    build_add,
    build_invite,
    build_remove,
    build_rotate,
    check_entry_public,
    create_group,
    ct_hash,
    decode_entry,
    encode,
    labels,
    make_card,
    open_entry,
    seal_entry,
)
from chatham.crypto import _primitives as P
from machine import describe_machine

BODY = 2048
GOAL_RATIO = 0.60
GOAL_ROTATION_1000 = 1.0
T = 1_767_225_600


def seeded(label: str) -> Callable[[int], bytes]:
    """Deterministic randomness so runs are comparable (benchmark only)."""
    counter = 0

    def rand(n: int) -> bytes:
        nonlocal counter
        counter += 1
        return hashlib.shake_256(f"{label}/{counter}".encode()).digest(n)

    return rand


def best_per_op(fn: Callable[[], object], n: int, repeats: int) -> tuple[float, float]:
    """(best, median) seconds per call over `repeats` runs of `n` calls."""
    runs = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        runs.append((time.perf_counter() - t0) / n)
    return min(runs), statistics.median(runs)


def once(fn: Callable[[], object], repeats: int) -> tuple[float, float]:
    return best_per_op(fn, 1, repeats)


def us(seconds: float) -> str:
    return f"{seconds * 1e6:8.2f} µs"


# --- 1 and 2: open entry ----------------------------------------------------------------------


class EntryBench:
    def __init__(self) -> None:
        self.alice = Secrets.generate(created=T, rand=seeded("alice"))
        card = make_card(self.alice.member, self.alice.device, created=T)
        g = create_group(self.alice, "Alice", time=T, card=card, rand=seeded("group"))
        self.state = g.state
        self.key = g.key
        self.body = seeded("body")(BODY)
        se = seal_entry(
            device=self.alice.device,
            epoch_key=self.key,
            group=self.state.group_id,
            epoch=self.state.epoch,
            seq=1,
            prev=bytes(32),
            log_seq=self.state.seq,
            log_head=self.state.head,
            body=self.body,
            rand=seeded("entry"),
        )
        self.data = se.data
        self.entry = decode_entry(se.data)
        self.tracker = ChainTracker()  # seq 1, never added: every check is a "new" entry
        hdr = encode(self.entry.header)
        # The raw primitives on the same sizes: the entry's own signed message and a
        # 2 KiB body under XChaCha20-Poly1305 with the entry's associated data.
        self.pk = self.alice.device.public
        self.signed = (
            self.entry.sig + labels.SIG_ENTRY + b"\x00" + P.frame((hdr, ct_hash(self.entry.ct)))
        )
        self.aead_key = seeded("k")(32)
        self.nonce = seeded("n")(24)
        self.ad = P.frame((labels.AEAD_ENTRY, hdr))
        self.aead_ct = sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(
            self.body, self.ad, self.nonce, self.aead_key
        )

    def raw(self) -> None:
        sodium.crypto_sign_open(self.signed, self.pk)
        sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(
            self.aead_ct, self.ad, self.nonce, self.aead_key
        )

    def full(self) -> None:
        e = decode_entry(self.data)
        link = check_entry_public(self.state, e)
        if not self.tracker.check(e.header, link):
            raise AssertionError("entry unexpectedly known")
        if open_entry(e, self.key) != self.body:
            raise AssertionError("wrong plaintext")


def profile_entry(b: EntryBench, n: int, repeats: int) -> None:
    e = b.entry
    hdr = encode(e.header)
    okm = P.hkdf(b.key, salt=e.header.entry_id, info=b"x", length=64)
    padded_ct = e.ct[56:]
    k_enc = b"\x00" * 32
    pad_len = len(padded_ct) - P.TAG_LEN
    padded_sealed = P.xchacha_seal(k_enc, e.ct[:24], bytes(pad_len), b"ad")
    stages: list[tuple[str, Callable[[], object]]] = [
        ("decode_entry (msgpack decode + canonical re-encode)", lambda: decode_entry(b.data)),
        ("check_entry_public", lambda: check_entry_public(b.state, e)),
        ("ChainTracker.check", lambda: b.tracker.check(e.header, b"\x00" * 32)),
        ("open_entry", lambda: open_entry(e, b.key)),
    ]
    inner: list[tuple[str, Callable[[], object]]] = [
        (
            "  crypto_core_ed25519_is_valid_point (key check, every entry)",
            lambda: sodium.crypto_core_ed25519_is_valid_point(b.pk),
        ),
        (
            "  crypto_sign_open (the signature itself)",
            lambda: sodium.crypto_sign_open(b.signed, b.pk),
        ),
        (f"  ct_hash (SHA-256 of {len(e.ct)} B)", lambda: ct_hash(e.ct)),
        ("  encode(header) (done 3x per entry)", lambda: encode(e.header)),
        (
            "  HKDF-SHA256, 64 B (pyca HKDF object)",
            lambda: P.hkdf(b.key, salt=b"s", info=b"i", length=64),
        ),
        ("  HMAC key commitment", lambda: P.mac(okm[32:], labels.MAC_COMMIT, hdr)),
        (
            f"  XChaCha20-Poly1305 open, {pad_len} B padded body",
            lambda: P.xchacha_open(k_enc, e.ct[:24], padded_sealed, b"ad"),
        ),
    ]
    print("\n  Where the time goes (best per call):")
    for name, fn in stages + inner:
        print(f"    {name:66s} {us(best_per_op(fn, n, repeats)[0])}")

    prof = cProfile.Profile()
    prof.enable()
    for _ in range(n):
        b.full()
    prof.disable()
    out = io.StringIO()
    pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(14)
    print("\n  cProfile of the full path, by own time (top 14):")
    lines = out.getvalue().splitlines()
    start = next(i for i, line in enumerate(lines) if "ncalls" in line)
    for line in lines[start:]:
        if line.strip():
            line = line.replace(os.path.dirname(P.__file__) + "/", "crypto/")
            print("    " + line.replace(sys.prefix + "/lib/", ""))


def bench_entries(n: int, repeats: int, force_profile: bool) -> dict[str, float]:
    b = EntryBench()
    raw, raw_med = best_per_op(b.raw, n, repeats)
    full, full_med = best_per_op(b.full, n, repeats)
    ratio = raw / full
    print("Open entry (2 KiB body)")
    for name, best, med in (
        ("raw Ed25519 verify + XChaCha20-Poly1305 open", raw, raw_med),
        ("full path (decode + public checks + chain + open)", full, full_med),
    ):
        print(f"  {name:50s} {1 / best:8,.0f} /s  ({us(best)}; median {us(med)})")
    status = "met" if ratio >= GOAL_RATIO else "NOT met"
    print(f"  full / raw = {ratio:.0%}   (goal >= {GOAL_RATIO:.0%}: {status})")
    if ratio < GOAL_RATIO or force_profile:
        profile_entry(b, n, repeats)
    return {"raw": raw, "full": full, "ratio": ratio}


# --- 3: rotations -----------------------------------------------------------------------------


def grow_group(sizes: list[int]) -> dict[int, tuple[GroupState, Keyring, Secrets]]:
    """Found a group and add members through real invites and adds; snapshot at each size."""
    rand = seeded("grow")
    alice = Secrets.generate(created=T, rand=rand)
    card = make_card(alice.member, alice.device, created=T)
    g = create_group(alice, "Alice", time=T, card=card, rand=rand)
    state, keyring = g.state, Keyring({1: g.key})
    snapshots: dict[int, tuple[GroupState, Keyring, Secrets]] = {}
    count = 1
    for target in sorted(sizes):
        while count < target:
            batch = min(100, target - count)
            joins: list[tuple[MemberCard, bytes, str]] = []
            for i in range(batch):
                s = Secrets.generate(created=T, rand=rand)
                pending, secret = build_invite(
                    state, alice.device, role="member", expires=T + 10**6,
                    server="https://bench.example", time=T, rand=rand,
                )  # fmt: skip
                state.apply(pending.op)
                joins.append((make_card(s.member, s.device, created=T), secret.invite_id,
                              f"Member {count + i}"))  # fmt: skip
            add = build_add(state, keyring, alice.device, joins, time=T, rand=rand)
            state.apply(add.op)
            assert add.epoch is not None
            assert add.key is not None
            keyring.keys[add.epoch] = add.key
            count += batch
        snapshots[target] = (state.copy(), Keyring(dict(keyring.keys)), alice)
    return snapshots


def measure_rotation(
    n: int, state: GroupState, keyring: Keyring, alice: Secrets, repeats: int
) -> dict[str, float]:
    assert len(state.active_members()) == n
    victim = next(m.id for m in state.active_members() if m.id != alice.member.id)
    rot, _ = once(functools.partial(build_rotate, state, keyring, alice.device, time=T), repeats)
    remove = functools.partial(build_remove, state, keyring, alice.device, victim, [], time=T)
    rem, _ = once(remove, repeats)
    pending = build_rotate(state, keyring, alice.device, time=T)
    copies = [state.copy() for _ in range(repeats)]
    verify = min(timed(functools.partial(c.apply, pending.op)) for c in copies)
    after = copies[0]
    sealed = pending.lockboxes[alice.device.id]

    def open_own() -> bytes:
        return Keyring().accept_lockbox(after, alice.device, alice.member.id, after.epoch, sealed)

    own, _ = once(open_own, repeats)
    return {"rotate": rot, "remove": rem, "verify": verify, "open": own}


def bench_rotations(sizes: list[int], repeats: int) -> dict[int, dict[str, float]]:
    print("\nRotation (hybrid ML-KEM-768 + X25519 HPKE, one device per member)")
    t0 = time.perf_counter()
    snapshots = grow_group(sizes)
    print(f"  (built the groups through real invites and adds in {time.perf_counter() - t0:.1f} s)")
    heads = ("members", "build_rotate", "build_remove", "verify op", "open own lockbox")
    widths = (8, 13, 13, 10, 16)
    print("  " + "  ".join(f"{h:>{w}}" for h, w in zip(heads, widths, strict=True)))
    results: dict[int, dict[str, float]] = {}
    for n in sizes:
        state, keyring, alice = snapshots[n]
        results[n] = r = measure_rotation(n, state, keyring, alice, repeats)
        print(
            f"  {n:>8,}  {r['rotate'] * 1e3:>10.1f} ms  {r['remove'] * 1e3:>10.1f} ms  "
            f"{r['verify'] * 1e3:>7.1f} ms  {r['open'] * 1e3:>13.2f} ms"
        )
    if 1000 in results:
        worst = max(results[1000]["rotate"], results[1000]["remove"])
        status = "met" if worst < GOAL_ROTATION_1000 else "NOT met"
        print(f"  1,000 members: {worst:.3f} s   (goal < {GOAL_ROTATION_1000:.0f} s: {status})")
    return results


def timed(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Benchmark of chatham.crypto")
    ap.add_argument("--quick", action="store_true", help="fewer iterations, groups up to 100")
    ap.add_argument("--profile", action="store_true", help="always print the open-entry profile")
    args = ap.parse_args(argv)
    n, repeats = (300, 3) if args.quick else (3000, 7)
    sizes = [10, 100] if args.quick else [10, 100, 1000]

    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    print(f"chatham.crypto benchmark, {now}")
    print(
        f"  {describe_machine()}; PyNaCl {version('pynacl')} "
        f"(libsodium), cryptography {version('cryptography')}, msgspec {version('msgspec')}"
    )
    print(f"  {n:,} calls x {repeats} repeats per figure, best run\n")
    bench_entries(n, repeats, args.profile)
    bench_rotations(sizes, max(3, repeats // 2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
