"""Server settings: one frozen object built by the CLI (or by tests) and handed to `create_app`.

Every field has a safe default. The command line and the `CHATHAM_SERVER_*`
environment variables map onto these fields one to one (see `cli.py`); nothing
else reads the environment, so a test builds exactly the server it means to.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Final

DEFAULT_PORT: Final = 8470
DEFAULT_HOST: Final = "127.0.0.1"

KIB: Final = 1024
MIB: Final = 1024 * KIB


def _default_data_dir() -> Path:
    return (
        Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local" / "share")) / "chatham-server"
    )


@dataclasses.dataclass(frozen=True, kw_only=True)
class Settings:
    """Everything a Chatham server process needs to know.

    Sizes are bytes, durations seconds, rates events per minute.
    """

    data_dir: Path = dataclasses.field(default_factory=_default_data_dir)
    """Where the default SQLite database lives (created with mode 0700)."""
    database_url: str | None = None
    """`postgresql://…` to use PostgreSQL; None for the SQLite file in `data_dir`."""
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    open_registration: bool = False
    """Anyone with an account may create groups; otherwise an operator token is needed."""
    max_groups_per_device: int = 10
    """Under open registration, groups one device may create (0: no limit)."""
    migrate_on_start: bool = True

    # Lifetimes.
    challenge_ttl: int = 120
    token_ttl: int = 3600
    time_bucket: int = 3600
    """Stored timestamps are rounded down to this many seconds (privacy)."""

    # Size caps (413 beyond them).
    max_body: int = 2 * MIB
    """Cap for JSON request bodies; an entry's ciphertext is at most ~1 MiB, base64 adds a third."""
    max_bulk_body: int = 32 * MIB
    """Cap for a bulk request (many entries, or a heal's ops, lockboxes and entries)."""
    max_chunk: int = 64 * KIB + 1 * KIB
    """Cap for one attachment chunk: 64 KiB of plaintext plus the AEAD tag and slack."""
    max_chunks_per_attachment: int = 16 * 1024
    """An attachment is at most this many chunks (1 GiB at 64 KiB)."""
    upload_ttl: int = 86400
    """Seconds an upload may go without its uploader naming the entry that refers to it;
    then it is deleted (and at once if its device leaves the group)."""
    page_limit: int = 500
    """Largest page a listing returns."""
    group_quota: int = 10 * 1024 * MIB
    """Bytes of ciphertext (entries and attachments) one group may store."""

    # Rate limits (docs/operations.md): per device and per group shared through the database
    # whenever several processes may serve; per address in each process's memory.
    rate_auth: int = 60
    """Challenges and logins per minute from one client address (kept in memory only)."""
    rate_device: int = 6000
    """Authenticated requests per minute from one device."""
    rate_join: int = 20
    """Join requests and invite logins per minute for one group."""
    max_device_requests: int = 4
    """Requests one device (or invitee token) may have in flight at once; 429 beyond (0: no
    limit)."""

    scrub_delay: float = 10.0
    """Seconds from a retraction or deletion to the scrub of the freed ciphertext; deletions
    in between share that scrub (docs/operations.md "Retraction")."""
    roster_cache: int = 1024
    """Groups whose verified roster each process keeps in memory; a group outside it is
    replayed from its log (in a reader thread, never in the writer) when next used."""

    # Server-sent events.
    events_poll: float = 1.0
    """How often a group's watcher looks at the database for writes made by other processes
    (one read per group with streams, however many streams)."""
    events_per_device: int = 8
    """Event streams one device may hold open at once; 429 beyond."""
    events_max_streams: int = 1000
    """Event streams per process; 503 beyond."""
    events_keepalive: float = 15.0
    events_max_seconds: float = 3600.0
    """A stream is closed after this long (and at token expiry); clients reconnect."""

    metrics_port: int = 0
    """Serve Prometheus metrics on 127.0.0.1 at this port; 0 (the default) serves none."""

    # Connections (`connections.GuardedHttpTools`; docs/operations.md "Limits and abuse").
    max_header_bytes: int = 32 * KIB
    """A request line and headers larger than this are answered 431 and the connection closed."""
    max_headers: int = 64
    """More request headers than this are answered 431."""
    header_timeout: float = 10.0
    """Seconds from a connection's opening (or a request's first byte) to the end of its
    headers; past it the connection is closed."""
    body_timeout: float = 15.0
    """Seconds a request body may go without a byte arriving before the connection is closed."""
    max_connections: int = 2000
    """Open connections per process; past it a new one is answered 503 and closed."""
    max_address_connections: int = 64
    """Open connections per client address (0: no limit; trusted proxies are not limited)."""
    send_timeout: float = 60.0
    """Seconds an answer may wait for the client to read before the connection is closed."""
    trusted_proxies: str = ""
    """Comma-separated addresses of reverse proxies whose X-Forwarded-For is believed; from
    anyone else the header is ignored (docs/operations.md "Behind a proxy")."""

    access_log: bool = False
    """Off by default: an access log would record client IP addresses."""
    workers: int = 1

    clock: Callable[[], float] = time.time
    """Injected so tests control expiry."""

    def __post_init__(self) -> None:
        if self.time_bucket < 1:
            raise ValueError("time_bucket must be at least 1 second")
        for name in (
            "challenge_ttl",
            "token_ttl",
            "max_body",
            "max_bulk_body",
            "max_chunk",
            "page_limit",
            "max_header_bytes",
            "max_headers",
            "header_timeout",
            "body_timeout",
            "max_connections",
            "roster_cache",
            "send_timeout",
            "upload_ttl",
            "events_per_device",
            "events_max_streams",
            "events_poll",
            "events_keepalive",
        ):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive")
        if self.workers < 1:
            raise ValueError("workers must be at least 1")
        if not 0 <= self.metrics_port <= 65535:
            raise ValueError("metrics_port must be a port number, or 0 for no metrics")
        if self.metrics_port and self.workers > 1:
            raise ValueError(
                "--metrics-port needs --workers 1: run one chatham-server process per "
                "metrics port instead (docs/operations.md, Monitoring)"
            )

    @functools.cached_property
    def proxies(self) -> frozenset[str]:
        """The trusted proxies' addresses (`trusted_proxies`), as a set."""
        return frozenset(a.strip() for a in self.trusted_proxies.split(",") if a.strip())

    @property
    def sqlalchemy_url(self) -> str:
        """The database URL with the async driver named, as SQLAlchemy wants it."""
        return normalize_database_url(self.database_url, self.data_dir)

    @property
    def is_postgres(self) -> bool:
        return self.sqlalchemy_url.startswith("postgresql+asyncpg://")

    def now(self) -> int:
        """The current time in whole seconds."""
        return int(self.clock())

    def blurred_now(self) -> int:
        """The current time rounded down to the privacy bucket, for timestamps kept at rest."""
        now = self.now()
        return now - now % self.time_bucket

    def replace(self, **changes: object) -> Settings:
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]


def normalize_database_url(url: str | None, data_dir: Path) -> str:
    """Map a user-facing database URL onto the SQLAlchemy URL the server uses.

    `postgresql://` and `postgres://` become `postgresql+asyncpg://`; `sqlite:///path`
    (or `sqlite+aiosqlite:///path`) becomes `sqlite+pysqlite:///path`; None is the SQLite
    file in the data directory.
    """
    if url is None or url == "":
        return f"sqlite+pysqlite:///{data_dir / 'chatham.sqlite3'}"
    for prefix in ("postgresql://", "postgres://", "postgresql+asyncpg://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix) :]
    for prefix in ("sqlite://", "sqlite+aiosqlite://", "sqlite+pysqlite://"):
        if url.startswith(prefix):
            return "sqlite+pysqlite://" + url[len(prefix) :]
    raise ValueError("the database URL must start with postgresql:// or sqlite://")


ENV_PREFIX: Final = "CHATHAM_SERVER_"
_NOT_IN_ENV: Final = frozenset({"clock"})


def env_name(field_name: str) -> str:
    """The environment variable for a settings field: CHATHAM_SERVER_<FIELD>."""
    return ENV_PREFIX + field_name.upper()


def _parse(kind: type, text: str) -> object:
    if kind is bool:
        value = text.strip().lower()
        if value in ("1", "true", "yes", "on"):
            return True
        if value in ("0", "false", "no", "off", ""):
            return False
        raise ValueError(f"not a boolean: {text!r}")
    return kind(text)


def _field_kinds() -> dict[str, type]:
    kinds: dict[str, type] = {}
    for f in dataclasses.fields(Settings):
        if f.name in _NOT_IN_ENV:
            continue
        t = str(f.type)
        if t.startswith("Path"):
            kinds[f.name] = Path
        elif t.startswith("bool"):
            kinds[f.name] = bool
        elif t.startswith("int"):
            kinds[f.name] = int
        elif t.startswith("float"):
            kinds[f.name] = float
        else:
            kinds[f.name] = str
    return kinds


def settings_from_env(environ: dict[str, str] | None = None) -> Settings:
    """Settings from CHATHAM_SERVER_* variables (how uvicorn worker processes get theirs)."""
    env = dict(os.environ if environ is None else environ)
    values: dict[str, object] = {}
    for name, kind in _field_kinds().items():
        text = env.get(env_name(name))
        if text is not None and text != "":
            values[name] = _parse(kind, text)
    return Settings(**values)  # type: ignore[arg-type]


def settings_to_env(settings: Settings) -> dict[str, str]:
    """The inverse of `settings_from_env`, for handing settings to worker processes."""
    out: dict[str, str] = {}
    for name in _field_kinds():
        value = getattr(settings, name)
        if value is None:
            continue
        out[env_name(name)] = ("1" if value else "0") if isinstance(value, bool) else str(value)
    return out
