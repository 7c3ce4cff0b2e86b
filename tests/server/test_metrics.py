"""Prometheus metrics: off unless asked, on 127.0.0.1 only, counting by route template, and
never naming a group, a device or a client."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import threading
from pathlib import Path

import httpx
import pytest
from chatham.server.testing import SERVER, free_port, live_server

from tests.support.server_harness import World, b64url

pytestmark = pytest.mark.slow

ENTRIES = "/v1/groups/{group_id}/entries"


def _sample(text: str, name: str, **labels: str) -> float:
    """The value of one series in the exposition text (fails if absent)."""
    for line in text.splitlines():
        if line.startswith("#") or not line.startswith(name):
            continue
        series, value = line.rsplit(" ", 1)
        found = dict(re.findall(r'(\w+)="([^"]*)"', series))
        if series.split("{")[0] == name and found == labels:
            return float(value)
    raise AssertionError(f"no {name}{labels} in the metrics")


def _listening(pid: int) -> set[tuple[str, int]]:
    """(address, port) of each TCP socket the process listens on (from /proc: its socket
    inodes in LISTEN state)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and fields[9] in inodes:  # 0A: LISTEN
                address, port = fields[1].rsplit(":", 1)
                raw = bytes.fromhex(address)
                # IPv4 as the kernel prints it: the address's bytes in host (little-endian) order.
                shown = socket.inet_ntoa(raw[::-1]) if len(raw) == 4 else address
                found.add((shown, int(port, 16)))
    return found


def _port(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


def test_metrics_count_by_route_and_name_no_group_device_or_address(tmp_path: Path) -> None:
    port = free_port()
    with live_server(tmp_path / "server", "--metrics-port", str(port)) as server:
        # The metrics answer on the loopback address only (0.0.0.0 would show here).
        assert _listening(server.proc.pid) == {
            ("127.0.0.1", port),
            ("127.0.0.1", _port(server.url)),
        }
        metrics_url = f"http://127.0.0.1:{port}/metrics"
        with httpx.Client(base_url=server.url) as client:
            world = World(client)
            group, (alice, bob) = world.group_of(2)
            for i in range(5):
                group.post_entry(bob, f"entry {i}".encode())
            attachment = os.urandom(16)
            chunk = f"{group.path}/attachments/{b64url(attachment)}/chunks/0"
            assert client.put(chunk, content=os.urandom(500), headers=bob.headers).is_success
            assert client.get(chunk, headers=alice.headers).is_success
            assert (
                client.get(f"{group.path}/no-such-thing", headers=alice.headers).status_code == 404
            )

            # An event stream held open shows in the gauge, and leaves it when closed.
            opened, release = threading.Event(), threading.Event()

            def listen() -> None:
                with client.stream("GET", f"{group.path}/events", headers=alice.headers) as r:
                    assert r.status_code == 200
                    opened.set()
                    release.wait(20)

            listener = threading.Thread(target=listen)
            listener.start()
            assert opened.wait(20)
            during = httpx.get(metrics_url, timeout=10)
            release.set()
            listener.join(timeout=30)
        after = httpx.get(metrics_url, timeout=10).text

    assert during.status_code == 200
    assert during.headers["content-type"].startswith("text/plain; version=0.0.4")
    text = during.text
    assert _sample(text, "chatham_event_streams_open") == 1
    assert _sample(after, "chatham_event_streams_open") == 0
    posts = {"method": "POST", "route": ENTRIES}
    assert _sample(text, "chatham_http_requests_total", **posts, status="201") == 5
    assert _sample(text, "chatham_http_request_duration_seconds_count", **posts) == 5
    assert _sample(text, "chatham_http_request_duration_seconds_bucket", **posts, le="+Inf") == 5
    assert (
        _sample(text, "chatham_http_requests_total", method="GET", route="unmatched", status="404")
        == 1
    )
    assert _sample(text, "chatham_db_seconds_count", kind="write") > 0
    assert _sample(text, "chatham_db_seconds_count", kind="read") > 0
    assert _sample(text, "chatham_sqlite_writer_batch_jobs_count") > 0
    assert _sample(text, "chatham_storage_rows", table="entries") == 5
    assert _sample(text, "chatham_storage_rows", table="groups") == 1
    assert _sample(text, "chatham_storage_bytes", table="entries") > 0
    assert _sample(text, "process_resident_memory_bytes") > 10_000_000

    # Nothing per group, device or client: no id in any encoding, no address, no raw path.
    for secret in (group.id, alice.device_id, bob.device_id, attachment):
        for form in (b64url(secret), secret.hex()):
            assert form not in text
    assert "127.0.0.1" not in text
    assert "no-such-thing" not in text


def test_metrics_are_off_unless_asked(tmp_path: Path) -> None:
    with live_server(tmp_path / "server") as server:
        assert _listening(server.proc.pid) == {("127.0.0.1", _port(server.url))}


def test_anything_but_get_metrics_is_refused(tmp_path: Path) -> None:
    port = free_port()
    with live_server(tmp_path / "server", "--metrics-port", str(port)):
        assert httpx.get(f"http://127.0.0.1:{port}/", timeout=10).status_code == 404
        assert httpx.post(f"http://127.0.0.1:{port}/metrics", timeout=10).status_code == 404
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall(b"garbage\r\n\r\n")
            assert s.recv(100).startswith(b"HTTP/1.1 400")
        assert httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).status_code == 200


def test_metrics_with_several_workers_is_a_clear_error(tmp_path: Path) -> None:
    done = subprocess.run(
        [SERVER, "--data-dir", str(tmp_path), "--workers", "2", "--metrics-port", "9100"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    error, hint = done.stderr.splitlines()[-2:]
    assert error.startswith("chatham-server: error: --metrics-port needs --workers 1")
    assert hint.startswith("chatham-server: hint: ")
