"""Background upkeep: nothing is kept longer than it is useful, freed ciphertext is scrubbed."""

from __future__ import annotations

import asyncio
import logging

from ..runtime import Runtime
from ..storage import credentials, links
from ..storage.maintenance import scrub_freed

log = logging.getLogger("chatham.server")

PURGE_EVERY = 60.0
"""Seconds between purges of expired challenges and tokens."""
LINKS_KEPT = 86400
"""Seconds an expired device link is kept (only so that its reuse gets a clear answer)."""


async def purge_expired(runtime: Runtime) -> None:
    """Delete expired challenges and tokens, from the database and from this process's cache."""
    now = runtime.settings.now()
    await runtime.db.write(lambda conn: credentials.purge_expired(conn, now))
    # A spent or expired link is kept a day, so a late reuse is told "expired", not "unknown".
    await runtime.db.write(lambda conn: links.purge_links(conn, now - LINKS_KEPT))
    for h in [h for h, c in runtime.tokens.items() if c.expires < now]:
        runtime.tokens.pop(h, None)


async def purge_loop(runtime: Runtime) -> None:
    while True:
        await asyncio.sleep(PURGE_EVERY)
        try:
            await purge_expired(runtime)
        except Exception as e:  # keep serving; the next round retries
            log.warning("purge failed: %s", type(e).__name__)


def schedule_scrub(runtime: Runtime) -> None:
    """After a retraction or deletion: scrub the freed ciphertext from the database files
    (`maintenance.scrub_freed`) in the background. Coalesced: one scrub runs at a time."""
    if runtime.scrub_pending:
        return
    runtime.scrub_pending = True
    runtime.spawn(_scrub(runtime))


async def _scrub(runtime: Runtime) -> None:
    try:
        await asyncio.sleep(0)
        runtime.scrub_pending = False
        await scrub_freed(runtime.db)
    except Exception as e:
        runtime.scrub_pending = False
        log.warning("scrub after retraction failed: %s", type(e).__name__)
