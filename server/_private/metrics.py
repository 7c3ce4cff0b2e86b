"""Prometheus metrics: off by default; `--metrics-port N` serves them on 127.0.0.1:N.

Nothing here is per group, per device or per client: requests are counted by route
*template* (`/v1/groups/{group_id}/entries`, never a path with an id in it), method and
status; an unmatched path counts as `unmatched`. docs/operations.md (*Monitoring*)
describes every metric. The registry is one per process (`METRICS`), recorded into
only when the process serves metrics: a server without them times its transactions but
records nothing, and does not wrap its requests at all.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Awaitable, Callable
from typing import Any, Final, cast

from litestar.types import ASGIApp, Message, Receive, Send

log = logging.getLogger("chatham.server")

LATENCY_BUCKETS: Final = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0)
BATCH_BUCKETS: Final = (1, 2, 4, 8, 16, 32, 64, 128, 256)
STORAGE_EVERY: Final = 60.0
"""Seconds a storage measurement is reused (counting rows of large tables is not free)."""


class Histogram:
    """A cumulative histogram per label tuple, as Prometheus expects it."""

    def __init__(self, buckets: tuple[float, ...]) -> None:
        self.buckets = buckets
        self.series: dict[tuple[str, ...], list[float]] = {}
        """labels -> [count per bucket..., +Inf count, sum]"""

    def observe(self, labels: tuple[str, ...], value: float) -> None:
        row = self.series.get(labels)
        if row is None:
            row = self.series[labels] = [0.0] * (len(self.buckets) + 2)
        for i, bound in enumerate(self.buckets):
            if value <= bound:
                row[i] += 1
                break
        else:
            row[len(self.buckets)] += 1
        row[-1] += value

    def lines(self, name: str, label_names: tuple[str, ...]) -> list[str]:
        out = []
        for labels, row in sorted(self.series.items()):
            base = _labels(label_names, labels)
            running = 0.0
            for bound, n in zip((*self.buckets, float("inf")), row[:-1], strict=True):
                running += n
                le = "+Inf" if bound == float("inf") else repr(float(bound))
                out.append(f'{name}_bucket{{{base}{"," if base else ""}le="{le}"}} {running:g}')
            out.append(f"{name}_sum{_braced(base)} {row[-1]:.6f}")
            out.append(f"{name}_count{_braced(base)} {running:g}")
        return out


def _labels(names: tuple[str, ...], values: tuple[str, ...]) -> str:
    return ",".join(f'{n}="{_escape(v)}"' for n, v in zip(names, values, strict=True))


def _braced(text: str) -> str:
    return f"{{{text}}}" if text else ""


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class Metrics:
    """What one server process measures."""

    def __init__(self) -> None:
        self.enabled = False
        self.requests: dict[tuple[str, str, str], int] = {}
        self.latency = Histogram(LATENCY_BUCKETS)
        self.db = Histogram(LATENCY_BUCKETS)
        self.batches = Histogram(BATCH_BUCKETS)

    def request(self, method: str, route: str, status: int, seconds: float) -> None:
        key = (method, route, str(status))
        self.requests[key] = self.requests.get(key, 0) + 1
        self.latency.observe((method, route), seconds)

    def database(self, kind: str, seconds: float) -> None:
        if self.enabled:
            self.db.observe((kind,), seconds)

    def writer_batch(self, jobs: int) -> None:
        if self.enabled:
            self.batches.observe((), jobs)

    def render(self, streams: int, storage: dict[str, tuple[int, int]]) -> str:
        """The Prometheus text exposition format (version 0.0.4)."""
        out: list[str] = []

        def family(name: str, kind: str, text: str) -> None:
            out.append(f"# HELP {name} {text}")
            out.append(f"# TYPE {name} {kind}")

        family("chatham_http_requests_total", "counter", "Requests answered, by route template.")
        for (method, route, status), n in sorted(self.requests.items()):
            labels = _labels(("method", "route", "status"), (method, route, status))
            out.append(f"chatham_http_requests_total{{{labels}}} {n}")
        family(
            "chatham_http_request_duration_seconds",
            "histogram",
            "Time from a request's arrival to the end of its answer, by route template.",
        )
        out += self.latency.lines("chatham_http_request_duration_seconds", ("method", "route"))
        family(
            "chatham_db_seconds",
            "histogram",
            "Time a database transaction took, waiting for the writer included (read, write).",
        )
        out += self.db.lines("chatham_db_seconds", ("kind",))
        family(
            "chatham_sqlite_writer_batch_jobs",
            "histogram",
            "Writes committed together by the SQLite writer (one COMMIT, one fsync each).",
        )
        out += self.batches.lines("chatham_sqlite_writer_batch_jobs", ())
        family("chatham_event_streams_open", "gauge", "Event streams open in this process.")
        out.append(f"chatham_event_streams_open {streams}")
        family("chatham_storage_rows", "gauge", "Rows per table (whole server).")
        out += [f'chatham_storage_rows{{table="{t}"}} {r}' for t, (r, _) in sorted(storage.items())]
        family("chatham_storage_bytes", "gauge", "Bytes on disk per table, indexes included.")
        out += [
            f'chatham_storage_bytes{{table="{t}"}} {b}' for t, (_, b) in sorted(storage.items())
        ]
        family("process_resident_memory_bytes", "gauge", "Resident memory of this process.")
        out.append(f"process_resident_memory_bytes {_resident_bytes()}")
        family("process_cpu_seconds_total", "counter", "CPU time of this process.")
        times = os.times()
        out.append(f"process_cpu_seconds_total {times.user + times.system:.3f}")
        return "\n".join(out) + "\n"


def _resident_bytes() -> int:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):  # pragma: no cover - not Linux
        return 0


METRICS: Final = Metrics()


def measured(app: ASGIApp, metrics: Metrics = METRICS) -> ASGIApp:
    """`app` with every HTTP request counted and timed under its route template."""

    async def handler(scope: Any, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await app(scope, receive, sending)
        finally:
            route = scope.get("path_template") or "unmatched"
            metrics.request(scope["method"], str(route), status, time.perf_counter() - started)

    return cast("ASGIApp", handler)


Storage = Callable[[], Awaitable[dict[str, tuple[int, int]]]]


class MetricsServer:
    """A minimal HTTP server on 127.0.0.1 that answers GET /metrics (and nothing else)."""

    def __init__(self, port: int, streams: Callable[[], int], storage: Storage) -> None:
        self.port = port
        self._streams = streams
        self._storage = storage
        self._cached: tuple[float, dict[str, tuple[int, int]]] = (0.0, {})
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await self._server.wait_closed()

    async def _measure_storage(self) -> dict[str, tuple[int, int]]:
        at, found = self._cached
        if time.monotonic() - at > STORAGE_EVERY or not found:
            found = await self._storage()
            self._cached = (time.monotonic(), found)
        return found

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
            parts = head.split(b"\r\n", 1)[0].decode("latin-1").split(" ")
            if len(parts) != 3:
                body, status = b"not an HTTP request\n", "400 Bad Request"
            elif parts[0] != "GET" or parts[1].split("?")[0] != "/metrics":
                body, status = b"only GET /metrics here\n", "404 Not Found"
            else:
                text = METRICS.render(self._streams(), await self._measure_storage())
                body, status = text.encode(), "200 OK"
            writer.write(
                f"HTTP/1.1 {status}\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
                + body
            )
            await writer.drain()
        except Exception as e:  # a bad or slow scrape must never take the server down
            log.debug("metrics scrape failed: %s", type(e).__name__)
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
