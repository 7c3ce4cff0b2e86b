"""Operator actions behind `chatham-server issue-token` and `chatham-server scrub`."""

from __future__ import annotations

from ..settings import Settings
from ..storage import credentials, migrate
from ..storage.db import Database
from ..storage.maintenance import scrub_all
from .tokens import hash_token, new_token


async def issue_registration_token(settings: Settings, *, uses: int, expires_in: int) -> str:
    """A fresh registration token; only its hash is stored, so this is the one chance to see it."""
    db = Database(settings)
    try:
        await migrate.upgrade(db)
        token = new_token()
        h, expires = hash_token(token), settings.now() + expires_in
        await db.write(lambda conn: credentials.insert_registration_token(conn, h, uses, expires))
        return token
    finally:
        await db.dispose()


async def scrub_now(settings: Settings) -> None:
    """Make retracted ciphertext unrecoverable from the live database files now."""
    db = Database(settings)
    try:
        await scrub_all(db)
    finally:
        await db.dispose()


async def migrate_now(settings: Settings) -> str | None:
    """Apply the migrations; the revision the database is at afterwards."""
    db = Database(settings)
    try:
        await migrate.upgrade(db)
        return await migrate.current_revision(db)
    finally:
        await db.dispose()
