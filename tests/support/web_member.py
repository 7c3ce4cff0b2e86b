"""Members using the web app: each runs `chatham web --no-browser` in a home of their own and
works in a browser context of their own (Debian's chromium through Playwright).

The browser is the system's `/usr/bin/chromium`; Playwright's own browser downloads do not
work on these machines. Without it the browser tests FAIL with a hint: they never skip, so
a CI machine that lost its browser cannot pass as green (`.ci/run` installs it).
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import httpx
from chatham.client import Account, Group
from chatham.server.testing import CHATHAM
from litestar.testing import TestClient

WebOf = Callable[[Any, httpx.Client], tuple[Any, str]]
"""web_of(member, http) (tests/web/conftest.py): the member's web app in-process, signed in,
as a Litestar TestClient, and its CSRF token."""


@dataclass
class Forum:
    """Dana, who founded "Thursday Forum", and Sam, a member, each in a home of their own.

    `web(member)` starts that member's web app (signed in) when the test asks for it, so a
    test may change the homes first, as a restart of `chatham web` would find them."""

    dana: Account
    sam: Account
    gd: Group
    gs: Group
    server: httpx.Client
    web_of: WebOf

    def web(self, member: Account) -> tuple[TestClient[Any], str]:
        """The member's web app as a TestClient, and its CSRF token."""
        client, csrf = self.web_of(member, self.server)
        return client, csrf


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless=new",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PASSPHRASE = "correct horse battery staple"


def require_chromium() -> str:
    if not Path(CHROMIUM).exists():
        import pytest

        pytest.fail(
            f"{CHROMIUM} is missing: the browser tests need Debian's chromium "
            "(`apt-get install -y chromium`; .ci/run installs it)"
        )
    return CHROMIUM


@contextmanager
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    path = require_chromium()
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


def start_web(
    env: dict[str, str],
    stderr: IO[bytes] | int = subprocess.DEVNULL,
    args: tuple[str, ...] = (),
) -> tuple[subprocess.Popen[str], str]:
    """`chatham web --no-browser [args]` with `env`, and the first line it prints (the
    sign-in link)."""
    proc = subprocess.Popen(
        [CHATHAM, "web", "--no-browser", *args],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=stderr,
        text=True,
    )
    assert proc.stdout is not None
    return proc, proc.stdout.readline().strip()


class WebApp:
    """`chatham web --no-browser` for one member home, stopped by `stop()`."""

    def __init__(
        self,
        root: Path,
        name: str,
        *,
        env: dict[str, str] | None = None,
        args: tuple[str, ...] = (),
    ) -> None:
        self.home = root / f"home-{name.lower()}"
        run = root / f"run-{name.lower()}"
        run.mkdir(mode=0o700, exist_ok=True)
        self.env = {**os.environ, "CHATHAM_HOME": str(self.home), "XDG_RUNTIME_DIR": str(run)}
        self.env.pop("CHATHAM_PASSPHRASE", None)
        self.env.update(env or {})
        self.stderr: IO[bytes] = tempfile.TemporaryFile()  # noqa: SIM115 - closed in stop()
        self.proc, self.url = start_web(self.env, self.stderr, args)
        assert self.url.startswith("http://127.0.0.1:"), self.errors()
        self.base = self.url.split("/launch", 1)[0]

    def errors(self) -> str:
        self.stderr.seek(0)
        return self.stderr.read().decode(errors="replace")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        finally:
            if self.proc.stdout is not None:
                self.proc.stdout.close()
            self.stderr.close()


class Member:
    """One member: their web app (`args` for `chatham web`) and a browser context signed in
    to it."""

    def __init__(
        self, name: str, root: Path, browser: Any, *, args: tuple[str, ...] = (), **env: str
    ) -> None:
        self.name = name
        self.app = WebApp(root, name, env=env, args=args)
        self.context = browser.new_context(viewport={"width": 1100, "height": 900})
        self.page = self.context.new_page()
        self.dialogs: list[str] = []
        self.page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))
        self.page.goto(self.app.url)
        self.page.wait_for_load_state()

    def go(self, path: str) -> Any:
        """Open `path` (or a whole address of this member's app). A page reloads itself when
        its live updates find it out of date, and a reload that starts just before this
        navigation cuts it off: then it is opened again, once the reload has landed."""
        from playwright.sync_api import Error

        url = path if path.startswith(self.app.base) else self.app.base + path
        try:
            self.page.goto(url)
        except Error as e:
            if "interrupted by another navigation" not in str(e):
                raise
            self.page.wait_for_load_state()
            self.page.goto(url)
        return self.page

    def http(self) -> httpx.Client:
        """An HTTP client carrying this browser's cookie, to act as a script would."""
        jar = {c["name"]: c["value"] for c in self.context.cookies()}
        return httpx.Client(base_url=self.app.base, cookies=jar, follow_redirects=False)

    def csrf(self) -> str:
        self.go("/settings")
        return str(self.page.get_attribute('meta[name="csrf"]', "content"))

    def close(self) -> None:
        self.context.close()
        self.app.stop()

    def __enter__(self) -> Member:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
