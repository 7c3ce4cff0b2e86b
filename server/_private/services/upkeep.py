"""Background upkeep: nothing is kept longer than it is useful, freed ciphertext is scrubbed.

Every `PURGE_EVERY` seconds each process deletes expired login challenges, bearer tokens
and used-up or expired registration tokens, idle rate-limit buckets, and join requests
that can no longer be answered (their invite used, revoked, or expired more than
`joins.EXPIRED_REQUESTS_KEPT` ago). Every step is idempotent, so several processes on
one database may run it at once.
"""

from __future__ import annotations

import asyncio
import logging

import sqlalchemy as sa

from ..rosters import current_state
from ..runtime import Runtime
from ..storage import credentials, links, ratelimits
from ..storage.maintenance import scrub_freed
from .access import warm
from .joins import drop_dead_join_requests, groups_with_join_requests

log = logging.getLogger("chatham.server")

PURGE_EVERY = 60.0
"""Seconds between purges."""
LINKS_KEPT = 86400
"""Seconds an expired device link is kept (only so that its reuse gets a clear answer)."""


async def purge_expired(runtime: Runtime) -> None:
    """Delete what expired: challenges and tokens (from the database and from this process's
    cache), device links, idle rate-limit buckets, join requests no leader can answer any
    more, and uploads no entry named in time (`attachments.expire_uploads`)."""
    from .attachments import expire_uploads  # attachments schedules scrubs from here

    now, clock = runtime.settings.now(), runtime.settings.clock()

    def purge(conn: sa.Connection) -> None:
        credentials.purge_expired(conn, now)
        # A spent or expired link is kept a day, so a late reuse is told "expired", not
        # "unknown".
        links.purge_links(conn, now - LINKS_KEPT)
        ratelimits.purge_idle(conn, clock)

    await runtime.db.write(purge)
    for h in [h for h, c in runtime.tokens.items() if c.expires < now]:
        runtime.tokens.pop(h, None)
    for gid in await runtime.db.read(groups_with_join_requests):
        await warm(runtime, gid)

        def sweep(conn: sa.Connection, gid: bytes = gid) -> None:
            state = current_state(runtime.states, conn, gid)
            if state is not None:
                drop_dead_join_requests(conn, gid, state, now)

        await runtime.db.write(sweep)
    await expire_uploads(runtime)


async def purge_loop(runtime: Runtime) -> None:
    while True:
        await asyncio.sleep(PURGE_EVERY)
        try:
            await purge_expired(runtime)
        except Exception as e:  # keep serving; the next round retries
            log.warning("purge failed: %s", type(e).__name__)


def schedule_scrub(runtime: Runtime) -> None:
    """After a retraction or deletion: scrub the freed ciphertext from the database files
    (`maintenance.scrub_freed`) in the background, `scrub_delay` seconds later. Every
    deletion in the meantime is covered by that one scrub, so a storm of deletions costs a
    scrub per `scrub_delay`, not one each (a scrub checkpoints SQLite's whole WAL, or
    vacuums PostgreSQL's tables, and competes with every write)."""
    if runtime.scrub_pending:
        return
    runtime.scrub_pending = True
    runtime.spawn(_scrub(runtime))


async def _scrub(runtime: Runtime) -> None:
    try:
        await asyncio.sleep(runtime.settings.scrub_delay)
        # Cleared before the scrub starts: a deletion committed during it schedules the next.
        runtime.scrub_pending = False
        await scrub_freed(runtime.db)
    except Exception as e:
        runtime.scrub_pending = False
        log.warning("scrub after retraction failed: %s", type(e).__name__)


async def scrub_before_exit(runtime: Runtime) -> None:
    """At shutdown: a scrub still waiting out its delay runs now, not never."""
    if runtime.scrub_pending:
        runtime.scrub_pending = False
        try:
            await scrub_freed(runtime.db)
        except Exception as e:
            log.warning("scrub at shutdown failed: %s", type(e).__name__)
