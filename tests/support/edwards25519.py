"""Edwards25519 in plain integers: enough to say what a point is, and to act as libsodium's
point check did before the fix of CVE-2025-69277. It imports nothing from chatham, so a test
can install it into PyNaCl before chatham.crypto loads."""

from __future__ import annotations

P = 2**255 - 19
D = -121665 * pow(121666, -1, P) % P
L = 2**252 + 27742317777372353535851937790883648493
SQRT_M1 = pow(2, (P - 1) // 4, P)

Point = tuple[int, int, int, int]  # extended coordinates (X, Y, Z, T)


def decode(data: bytes) -> Point | None:
    y = int.from_bytes(data, "little") & ((1 << 255) - 1)
    sign = data[31] >> 7
    if y >= P:
        return None
    u, v = (y * y - 1) % P, (D * y * y + 1) % P
    x = (u * pow(v, 3, P)) * pow(u * pow(v, 7, P), (P - 5) // 8, P) % P
    if (v * x * x - u) % P:
        x = x * SQRT_M1 % P
    if (v * x * x - u) % P:
        return None
    if x & 1 != sign:
        x = P - x
    return (x, y, 1, x * y % P)


def add(a: Point, b: Point) -> Point:
    x1, y1, z1, t1 = a
    x2, y2, z2, t2 = b
    aa, bb = (y1 - x1) * (y2 - x2) % P, (y1 + x1) * (y2 + x2) % P
    cc, dd = 2 * D * t1 * t2 % P, 2 * z1 * z2 % P
    e, f, g, h = bb - aa, dd - cc, dd + cc, bb + aa
    return (e * f % P, g * h % P, f * g % P, e * h % P)


def times(n: int, pt: Point) -> Point:
    out: Point = (0, 1, 1, 0)
    while n:
        if n & 1:
            out = add(out, pt)
        pt, n = add(pt, pt), n >> 1
    return out


def affine(pt: Point) -> tuple[int, int]:
    zi = pow(pt[2], -1, P)
    return (pt[0] * zi % P, pt[1] * zi % P)


def before_the_fix(data: bytes) -> int:
    """libsodium's check before commit ad3004e: after multiplying by the group order it
    looked only at X, so a point whose multiple is (0, -1) passed as if it were (0, 1)."""
    pt = decode(data)
    if pt is None or times(8, pt)[0] % P == 0:
        return 0
    return int(affine(times(L, pt))[0] == 0)


BASE = decode((4 * pow(5, -1, P) % P).to_bytes(32, "little"))
