"""A real server app whose database can be backed up, restored to an older copy or lost,
while the members' clients keep talking to "the same server" (one httpx transport that
always reaches the app currently running on that database).

The app is shut down before its SQLite file is copied or replaced (what an operator does
with a stopped server), and started again on the result.
"""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import httpx
from chatham.server import Settings, create_app
from litestar.testing import TestClient

from tests.support.client_fixtures import SERVER_URL


class _Current(httpx.BaseTransport):
    def __init__(self, owner: RestorableServer) -> None:
        self.owner = owner

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if self.owner.app is None:
            raise httpx.ConnectError("the server is stopped", request=request)
        return self.owner.app._transport.handle_request(request)


class RestorableServer:
    """`http` is the client members use for `url`; `backup()`, `restore(copy)`, `wipe()`."""

    def __init__(self, data_dir: Path, url: str = SERVER_URL) -> None:
        self.url = url
        self.settings = Settings(data_dir=data_dir, open_registration=True)
        self.app: TestClient | None = None  # type: ignore[type-arg]
        self.http = httpx.Client(transport=_Current(self), base_url=url)
        self._copies = 0
        self.start()

    @property
    def db_file(self) -> Path:
        return self.settings.data_dir / "chatham.sqlite3"

    def start(self) -> None:
        self.app = TestClient(create_app(self.settings), base_url=self.url)
        self.app.__enter__()

    def stop(self) -> None:
        if self.app is not None:
            self.app.__exit__(None, None, None)
            self.app = None

    def backup(self) -> Path:
        """A consistent copy of the database, as a backup tool would take it."""
        self.stop()
        self._copies += 1
        dest = self.settings.data_dir.parent / f"backup-{self._copies}.sqlite3"
        src = sqlite3.connect(self.db_file)
        try:
            out = sqlite3.connect(dest)
            with out:
                src.backup(out)
            out.close()
        finally:
            src.close()
        self.start()
        return dest

    def restore(self, copy: Path) -> None:
        """Put an older copy back in place of the database (the operator's restore)."""
        self.stop()
        for suffix in ("", "-wal", "-shm"):
            Path(f"{self.db_file}{suffix}").unlink(missing_ok=True)
        shutil.copyfile(copy, self.db_file)
        self.start()

    def wipe(self) -> None:
        """The database is lost: the server starts again with nothing (a new identity too)."""
        self.stop()
        for suffix in ("", "-wal", "-shm"):
            Path(f"{self.db_file}{suffix}").unlink(missing_ok=True)
        self.start()

    def close(self) -> None:
        self.stop()
        self.http.close()
