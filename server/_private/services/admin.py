"""Operator actions behind `chatham-server issue-token`, `scrub`, `groups`, `set-quota`,
`delete-group`, `tokens` and `revoke-token`.

None of them reads content: the group report is sizes and counts per group id. Each action
that changes something is logged (`ADMIN_LOG`, to stderr and, where there is one, the
system log) with what was done to which group id, and nothing about who asked from where.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import logging
import logging.handlers
import os
import sys
from collections.abc import AsyncIterator

from ..errors import Refused
from ..settings import Settings
from ..storage import admin as store
from ..storage import credentials, migrate
from ..storage.admin import GroupStats
from ..storage.db import Database
from ..storage.maintenance import scrub_all, scrub_freed
from .tokens import hash_token, new_token

ADMIN_LOG = logging.getLogger("chatham.server.admin")


class _Stderr(logging.Handler):
    """To whatever `sys.stderr` is when a record is written (not when the handler was made)."""

    def emit(self, record: logging.LogRecord) -> None:
        sys.stderr.write(self.format(record) + "\n")


def _log_setup() -> None:
    if ADMIN_LOG.handlers:
        return
    ADMIN_LOG.setLevel(logging.INFO)
    ADMIN_LOG.propagate = False
    stderr = _Stderr()
    stderr.setFormatter(logging.Formatter("chatham-server: admin: %(message)s"))
    ADMIN_LOG.addHandler(stderr)
    if os.path.exists("/dev/log"):  # the system log (journald on systemd machines)
        syslog = logging.handlers.SysLogHandler(address="/dev/log")
        syslog.setFormatter(logging.Formatter("chatham-server: admin: %(message)s"))
        ADMIN_LOG.addHandler(syslog)


@contextlib.asynccontextmanager
async def opened(settings: Settings, *, upgrade: bool = True) -> AsyncIterator[Database]:
    """The server's database for one command, migrated first unless `upgrade` is False."""
    db = Database(settings)
    try:
        if upgrade:
            await migrate.upgrade(db)
        yield db
    finally:
        await db.dispose()


def logged(message: str) -> None:
    """Record an operator action (never an address: the command has none to give)."""
    _log_setup()
    ADMIN_LOG.info(message)


def group_id_of(text: str) -> bytes:
    """A group id as `groups` prints it (hex) or as it appears in URLs (base64url)."""
    value = text.strip()
    try:
        if len(value) == 64:
            return bytes.fromhex(value)
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
        if len(raw) == 32 and len(value) == 43:
            return raw
    except (ValueError, binascii.Error):
        pass
    raise Refused(
        f"not a group id: {value[:80]!r}",
        "give the 64 hex digits `chatham-server groups` prints for it",
    )


async def group_report(settings: Settings, group_id: bytes | None = None) -> list[GroupStats]:
    """Sizes and counts per group (or of one group, refused if there is none), by group id."""
    async with opened(settings) as db:
        found = await db.read(lambda conn: store.group_stats(conn, group_id))
    if group_id is not None and not found:
        raise _no_group(group_id)
    return found


async def set_group_quota(settings: Settings, group_id: bytes, quota: int | None) -> GroupStats:
    """Give a group a quota of its own (None: the server's `--group-quota` again)."""
    async with opened(settings) as db:
        if not await db.write(lambda conn: store.set_quota(conn, group_id, quota)):
            raise _no_group(group_id)
        [stats] = await db.read(lambda conn: store.group_stats(conn, group_id))
    shown = "the server's default" if quota is None else f"{quota} bytes"
    logged(f"set the quota of group {group_id.hex()} to {shown} (it stores {stats.stored_bytes})")
    return stats


async def delete_group(settings: Settings, group_id: bytes) -> dict[str, int]:
    """Delete a group and everything it stored, then scrub the freed ciphertext."""
    async with opened(settings) as db:
        deleted = await db.write(lambda conn: store.delete_group(conn, group_id))
        if not deleted.get("groups"):
            raise _no_group(group_id)
        await scrub_freed(db)
    logged(
        f"deleted group {group_id.hex()}: {deleted['log_ops']} log ops, {deleted['entries']} "
        f"entries, {deleted['attachment_chunks']} attachment chunks"
    )
    return deleted


def _no_group(group_id: bytes) -> Refused:
    return Refused(
        f"no group {group_id.hex()} in this database",
        "list the groups with `chatham-server groups` (same --data-dir or --database)",
    )


def token_id(token_hash: bytes) -> str:
    """How `tokens` names a registration token: the start of its hash (not the token)."""
    return token_hash.hex()[:12]


async def registration_tokens(settings: Settings) -> list[tuple[str, int, int]]:
    """(id, uses left, expires) of every registration token."""
    async with opened(settings) as db:
        found = await db.read(store.registration_tokens)
    return [(token_id(h), uses, expires) for h, uses, expires in found]


async def revoke_registration_token(settings: Settings, which: str) -> int:
    """Revoke the registration token given itself, or by the id `tokens` prints; or `all`."""
    async with opened(settings) as db:
        found = await db.read(store.registration_tokens)
        given = hash_token(which)
        hashes = [h for h, _, _ in found if which in ("all", token_id(h)) or h == given]
        if not hashes:
            raise Refused(
                "no such registration token",
                "give the token itself, or the id `chatham-server tokens` prints, or `all`",
            )
        count = await db.write(lambda conn: store.revoke_registration_tokens(conn, hashes))
    logged(f"revoked {count} registration token(s): {', '.join(token_id(h) for h in hashes)}")
    return count


async def issue_registration_token(settings: Settings, *, uses: int, expires_in: int) -> str:
    """A fresh registration token; only its hash is stored, so this is the one chance to see it."""
    async with opened(settings) as db:
        token = new_token()
        h, expires = hash_token(token), settings.now() + expires_in
        await db.write(lambda conn: credentials.insert_registration_token(conn, h, uses, expires))
    logged(f"issued registration token {token_id(h)} for {uses} group(s), until {expires}")
    return token


async def scrub_now(settings: Settings) -> None:
    """Make retracted ciphertext unrecoverable from the live database files now."""
    async with opened(settings, upgrade=False) as db:
        await scrub_all(db)


async def migrate_now(settings: Settings) -> str | None:
    """Apply the migrations; the revision the database is at afterwards."""
    async with opened(settings) as db:
        return await migrate.current_revision(db)
