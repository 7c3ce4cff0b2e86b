"""The entry write service: posting an entry, including one that retracts others.

A post is checked (`entry_checks`) and stored with the posts waiting alongside it
(`entry_store`); its cursor is taken from the locked group row. Posting the very
same entry again returns its cursor (safe retries); anything else at a taken
(device, seq) or entry id is `duplicate_entry`.

An entry whose header lists `retracts` withdraws those entries: in one transaction it
is checked like any post, every target is checked against it (its author's own
entries, or any if its author is a leader, now and at the entry's place in its chain),
the entry is stored, and the targets' ciphertexts are deleted. Their stubs keep their
cursors, so no chain is ever delivered out of order; members learn of a retraction
from the retracting entry itself.
"""

from __future__ import annotations

import sqlalchemy as sa
from chatham.crypto import EntryError, EntryHeader, check_retraction, decode
from sqlalchemy.exc import IntegrityError

from ..errors import ErrorCode, ServiceError
from ..runtime import Runtime
from ..storage import entries as store
from ..wire import EntryOutcome, EntryPosted
from . import entry_store
from .access import active_writer, warm
from .entry_checks import Post, check_log_floor, prepare
from .upkeep import schedule_scrub


async def post_entry(runtime: Runtime, gid: bytes, device: bytes, data: bytes) -> EntryPosted:
    """Check and store one encoded entry posted by `device`; its id and cursor."""
    await warm(runtime, gid)
    post = prepare(runtime, gid, device, data)
    if post.entry.header.retracts:
        return await _post_retracting(runtime, post)
    try:
        cursor = await runtime.db.together(
            entry_store.store_entries, runtime, post, savepoint=False
        )
    except (IntegrityError, entry_store.Taken):
        cursor = await _existing(runtime, gid, post.entry_id, device, post.seq, post.entry.sig)
    else:
        runtime.hub.notify(gid)
    return EntryPosted(post.entry_id, cursor)


async def _existing(
    runtime: Runtime, gid: bytes, entry_id: bytes, device: bytes, seq: int, sig: bytes
) -> int:
    """After a unique-constraint conflict: the same entry again gets its cursor, anything else
    is refused."""
    found = await runtime.db.read(lambda conn: store.entry_at(conn, gid, device, seq))
    if found is not None and found[0] == entry_id and found[2] == sig:
        return found[1]
    raise ServiceError(
        ErrorCode.DUPLICATE_ENTRY,
        "this device already posted a different entry with this sequence number (or this id)",
    )


async def _post_retracting(runtime: Runtime, post: Post) -> EntryPosted:
    """Store an entry that retracts others and delete their ciphertexts, in one transaction."""
    gid, hdr = post.gid, post.entry.header

    def work(conn: sa.Connection) -> tuple[int, bool]:
        _, state = active_writer(runtime, conn, gid, post.device)  # locks the group row
        check_log_floor(state, hdr.device, hdr.log_seq)
        targets = store.retraction_targets(conn, gid, list(hdr.retracts))
        if len(targets) != len(hdr.retracts):
            raise ServiceError(ErrorCode.NOT_FOUND, "an entry it retracts is not in the group")
        delete: list[bytes] = []
        freed = 0
        for entry_id, _, header, size, retracted_by in targets:
            try:
                target = decode(header, EntryHeader, max_size=4096)
                check_retraction(state, hdr, target, at_head=True)
            except EntryError as e:
                code = ErrorCode.NOT_ALLOWED if e.check == "role" else ErrorCode.INVALID_ENTRY
                raise ServiceError(code, str(e), check=e.check) from None
            if retracted_by is None:
                delete.append(entry_id)
                freed += size
        # Deleted first, so the bytes it frees count for its own quota check; a refusal of
        # the entry rolls the deletions back with it.
        store.retract(conn, gid, delete, hdr.entry_id, freed)
        [outcome] = entry_store.store_entries(conn, runtime, [post])
        if isinstance(outcome, Exception):
            raise outcome
        return outcome, bool(delete)

    try:
        cursor, deleted = await runtime.db.write(work)
    except (IntegrityError, entry_store.Taken):
        cursor = await _existing(runtime, gid, post.entry_id, post.device, post.seq, post.entry.sig)
        return EntryPosted(post.entry_id, cursor)
    runtime.hub.notify(gid)
    if deleted:
        schedule_scrub(runtime)
    return EntryPosted(post.entry_id, cursor)


async def post_entries(
    runtime: Runtime, gid: bytes, device: bytes, data: list[bytes]
) -> list[EntryOutcome]:
    """Many posts in one request: each checked by exactly the rules of `post_entry`, in order
    (each sees the ones before it), and answered alone; a refused post stops no other.

    Consecutive plain posts are checked and stored in one transaction (`store_entries`, the
    code that already serves posts reaching the writer together); a retracting entry is
    posted alone, in its place.
    """
    await warm(runtime, gid)
    outcomes: list[EntryOutcome | None] = [None] * len(data)
    run: list[tuple[int, Post]] = []
    stored = False

    async def flush_run() -> None:
        nonlocal stored
        if not run:
            return
        posts = [p for _, p in run]
        try:
            results = await runtime.db.write(
                lambda conn: entry_store.store_entries(conn, runtime, posts)
            )
        except IntegrityError:
            # A conflict with a row stored meanwhile: each alone decides (as the writer does).
            results = []
            for i, _ in run:
                try:
                    results.append((await post_entry(runtime, gid, device, data[i])).cursor)
                except ServiceError as e:
                    results.append(e)
        for (i, p), result in zip(run, results, strict=True):
            if isinstance(result, entry_store.Taken):
                try:
                    result = await _existing(runtime, gid, p.entry_id, p.device, p.seq, p.entry.sig)
                except ServiceError as e:
                    result = e
            if isinstance(result, ServiceError):
                outcomes[i] = EntryOutcome(error=result.body)
            elif isinstance(result, Exception):  # pragma: no cover - store_entries gives no other
                raise result
            else:
                stored = True
                outcomes[i] = EntryOutcome(p.entry_id, result)
        run.clear()

    for i, one in enumerate(data):
        try:
            post = prepare(runtime, gid, device, one)
        except ServiceError as e:
            await flush_run()
            outcomes[i] = EntryOutcome(error=e.body)
            continue
        if not post.entry.header.retracts:
            run.append((i, post))
            continue
        await flush_run()
        try:
            posted = await _post_retracting(runtime, post)
        except ServiceError as e:
            outcomes[i] = EntryOutcome(error=e.body)
        else:
            outcomes[i] = EntryOutcome(posted.entry_id, posted.cursor)
    await flush_run()
    if stored:
        runtime.hub.notify(gid)
    return [o for o in outcomes if o is not None]
