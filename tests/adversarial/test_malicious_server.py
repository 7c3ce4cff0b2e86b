"""One test per attack a malicious server (or a member's stolen key) can try on a client.

Each test sets the attack up after Bob, the victim, has synced honestly, then
asserts what the check must do: sync finishes and reports an alarm of the
specific error class naming the check (and reports it again on the next sync,
until it is resolved); nothing unverified is stored or shown (Bob's stored
entries and readable bodies are what they were, and no plaintext appears in the
alarm); and, where the attack touched one record, the group keeps going: an
honest entry written after it still reaches Bob.
"""

from __future__ import annotations

import os
import time
from typing import Any

import httpx
import msgspec
from chatham import crypto
from chatham.client import Group, errors
from chatham.crypto import _epoch, _log, _primitives, _records

from tests.support.tamper_kit import World, store_snapshot


def bodies(g: Group) -> list[bytes]:
    return [i.body for i in g.entries()]


def stored_ids(w: World) -> set[bytes]:
    return {bytes(row[1]) for row in store_snapshot(w.bob)["entries"]}


def honest_ids(w: World) -> set[bytes]:
    """The entries the server really holds (Alice's client is not behind the tampering)."""
    return {i["entry_id"] for i in entry_items(w.ga)}


def expect_refused(
    w: World,
    error: type[errors.ChathamError],
    check: str | None = None,
    *,
    keeps_going: bool = False,
    genuine: frozenset[bytes] = frozenset(),
) -> errors.ChathamError:
    shown = bodies(w.gb)
    w.gb._snap = None
    report = w.gb.sync()
    found = [a for a in report.alarms if check is None or a.check == check]
    assert found, f"no {check} alarm in {report.alarms}"
    err = found[0].error()
    assert isinstance(err, error), (err, found[0])
    # Nothing unverified is stored: every stored entry is one the server really holds,
    # and what is shown is only ever more of the honest entries.
    assert stored_ids(w) <= honest_ids(w) | genuine, "an unverified record was stored"
    assert bodies(w.gb)[: len(shown)] == shown, "the sync changed what was shown"
    honest = {b for b in w.canaries}
    assert all(b in honest for b in bodies(w.gb)[len(shown) :])
    message = f"{err} {err.hint} " + " ".join(a.text for a in report.alarms)
    for canary in w.canaries:
        assert canary.decode() not in message
    # Detection stays: the next sync reports it again, and verify lists it.
    assert any(a.check == found[0].check for a in w.gb.sync().alarms)
    assert not w.gb.verify().ok
    if keeps_going:
        # One bad record stops nothing else: an honest entry written after it arrives.
        w.post(w.ga, "written after the attack")
        w.gb.sync()
        assert bodies(w.gb)[-1] == b"written after the attack"
    return err


def log_hook(fn: Any) -> Any:
    def hook(request: httpx.Request, page: dict[str, Any]) -> dict[str, Any]:
        fn(page)
        if page["ops"]:
            page["head"] = crypto.op_hash(page["ops"][-1])
        return page

    return hook


def entries_hook(fn: Any) -> Any:
    def hook(request: httpx.Request, page: dict[str, Any]) -> dict[str, Any]:
        fn(page["entries"])
        if page["entries"]:
            page["cursor"] = max(page["cursor"], page["entries"][-1]["cursor"])
        return page

    return hook


def entry_items(g: Group, after: int = 0) -> list[dict[str, Any]]:
    """The honest server's entry items for a group, as a victim would get them."""
    page = g._api().entries(g.id_bytes, after, 500)
    return [msgspec.to_builtins(i, builtin_types=(bytes,)) for i in page.entries]


def next_cursor(w: World) -> int:
    return max((i["cursor"] for i in entry_items(w.ga)), default=0) + 100


def now() -> int:
    return int(time.time())


def slip_in_entry(
    w: World, device: crypto.DeviceKeys, keys: crypto.Keyring, epoch: int, log_seq: int, body: bytes
) -> None:
    """Seal `body` as the device's first entry, under `epoch` at log op `log_seq`, and have
    the server add it to the entries Bob fetches."""
    state = w.ga.state
    forged = crypto.seal_entry(
        device=device,
        epoch_key=keys.key(epoch),
        group=state.group_id,
        epoch=epoch,
        seq=1,
        prev=bytes(32),
        log_seq=log_seq,
        log_head=state.op_hashes[log_seq],
        body=body,
    )
    w.canaries.append(body)
    eid = forged.entry.header.entry_id
    item = {"cursor": next_cursor(w), "entry_id": eid, "entry": forged.data}
    w.tamper.on("GET", "/entries", entries_hook(lambda items: items.append(item)))


# --- the log ------------------------------------------------------------------------------------


def test_rollback(world: World) -> None:
    w = world
    w.ga.checkpoint()
    w.gb.sync()
    prev = w.gb.state.op_hashes[-2]
    seq = w.gb.state.seq

    def older(page: dict[str, Any]) -> None:
        page["ops"] = [op for op in page["ops"] if crypto.decode_signed_op(op).op.seq < seq]
        page["seq"], page["head"] = seq - 1, prev

    w.tamper.on("GET", "/log", log_hook(older))
    expect_refused(w, errors.RollbackError, "rollback")


def test_fork(world: World) -> None:
    w = world
    before = w.ga.state.copy()
    w.ga.checkpoint()
    w.gb.sync()
    real = w.ga.state.op_hashes[-1]
    other = crypto.build_checkpoint(before, w.alice._secrets.device, [], time=now() + 1)

    def fork(page: dict[str, Any]) -> None:
        page["ops"] = [other.op if crypto.op_hash(op) == real else op for op in page["ops"]]

    w.tamper.on("GET", "/log", log_hook(fork))
    expect_refused(w, errors.ForkError, "fork")


def test_withheld_rotation(world: World) -> None:
    w = world
    seq = w.gb.state.seq
    w.ga.rotate()
    w.post(w.ga, "sealed under the epoch bob was not shown")

    def hide_rotation(page: dict[str, Any]) -> None:
        page["ops"] = [op for op in page["ops"] if crypto.decode_signed_op(op).op.seq <= seq]
        page["seq"] = seq

    w.tamper.on("GET", "/log", log_hook(hide_rotation))
    err = expect_refused(w, errors.WithheldError, "log_head")
    assert "withheld" in str(err)


def test_withheld_lockbox(world: World) -> None:
    w = world
    w.ga.rotate()
    w.tamper.on("GET", "/lockboxes", lambda req, page: {"lockboxes": []})
    expect_refused(w, errors.WithheldError, "lockbox_withheld")


def test_withheld_entry_before_a_checkpoint(world: World) -> None:
    w = world
    w.post(w.ga, "first")
    hidden = w.post(w.ga, "the one the server hides")

    def drop(items: list[dict[str, Any]]) -> None:
        items[:] = [i for i in items if i["entry_id"].hex() != hidden]

    w.tamper.on("GET", "/entries", entries_hook(drop))
    w.gb.sync()  # no checkpoint yet: nothing shows the gap at the end of Alice's chain
    assert bodies(w.gb) == [b"first"]
    w.ga.checkpoint()
    # The signed checkpoint itself is verified and kept; what is withheld is named, every
    # time, until it arrives, and nothing unverified is stored or shown.
    for _ in range(2):
        [alarm] = [a for a in w.gb.sync().alarms if a.check == "checkpoint"]
        assert isinstance(alarm.error(), errors.WithheldError)
        assert "withheld" in alarm.text
        assert bodies(w.gb) == [b"first"]
    report = w.gb.verify()
    assert not report.ok
    assert "withheld" in report.problems[0]
    w.tamper.clear()
    assert w.gb.sync().alarms == ()
    assert w.gb.verify().ok


def test_key_substitution(world: World) -> None:
    w = world
    w.ga.rotate()
    state = w.ga.state
    info = state.rotations[state.epoch]
    bob_dev = w.bob._secrets.device
    # A lockbox properly sealed to Bob's device, holding a key of the server's choosing.
    forged = _primitives.hpke_seal(
        bob_dev.kem_public,
        _epoch.lockbox_info(
            state.group_id,
            state.epoch,
            info.prev,
            w.bob._secrets.member.id,
            bob_dev.id,
            bob_dev.kem_public,
        ),
        os.urandom(32),
    )

    def swap(req: httpx.Request, page: dict[str, Any]) -> dict[str, Any]:
        for box in page["lockboxes"]:
            box["lockbox"] = forged
        return page

    w.tamper.on("GET", "/lockboxes", swap)
    expect_refused(w, errors.KeySubstitutionError, "lockbox_hash")


def test_key_substitution_by_a_leader_is_opaque(world: World) -> None:
    # A leader who commits to a lockbox whose key does not match the confirmation:
    # the failure comes after a key was used, so it is the one opaque error.
    w = world
    state = w.ga.state
    built = next_rotation(w)
    bob_dev = w.bob._secrets.device
    info = _epoch.lockbox_info(
        state.group_id,
        state.epoch + 1,
        state.head,
        w.bob._secrets.member.id,
        bob_dev.id,
        bob_dev.kem_public,
    )
    bad_box = _primitives.hpke_seal(bob_dev.kem_public, info, os.urandom(32))
    refs = [
        _records.LockboxRef(
            r.device,
            _epoch.lockbox_hash(state.group_id, state.epoch + 1, r.device, bad_box)
            if r.device == bob_dev.id
            else r.hash,
        )
        for r in built.rotation.refs
    ]
    rotation = _records.Rotation(
        built.rotation.epoch, refs, built.rotation.confirm, built.rotation.backlink
    )
    op = _log.sign_op(state, w.alice._secrets.device, _records.Rotate(rotation), time=now())
    boxes = {**built.lockboxes, bob_dev.id: bad_box}
    w.ga._api().append(state.group_id, state.seq, state.head, op, boxes)
    err = expect_refused(w, errors.KeySubstitutionError, "lockbox_hash")
    # The failure came after a key was used: one fixed sentence, nothing about why.
    assert err.message.endswith(
        "this device's lockbox does not open to the key its rotation committed to"
    )


def next_rotation(w: World, *extra: _epoch.Recipient) -> _epoch.BuiltRotation:
    """The rotation Alice builds next: to every active device, and to `extra` ones."""
    state, keyring = w.ga.state, w.ga._load().keyring
    recipients = [_epoch.Recipient(d.member, d.id, d.kem_key) for d in state.active_devices()]
    return _epoch.build_rotation(
        state.group_id,
        state.epoch + 1,
        state.head,
        [*recipients, *extra],
        old_key=keyring.key(state.epoch),
        rand=os.urandom,
    )


def ghost_rotation(w: World, *, extra: bool) -> bytes:
    ghosts = []
    if extra:
        ghost = crypto.Secrets.generate(created=now())
        ghosts.append(_epoch.Recipient(ghost.member.id, ghost.device.id, ghost.device.kem_public))
    built = next_rotation(w, *ghosts)
    return _log.sign_op(
        w.ga.state, w.alice._secrets.device, _records.Rotate(built.rotation), time=now()
    )


def inject_op(w: World, op: bytes) -> None:
    def add(page: dict[str, Any]) -> None:
        page["ops"] = [*page["ops"], op]
        page["seq"] += 1

    w.tamper.on("GET", "/log", log_hook(add))


def test_ghost_member(world: World) -> None:
    w = world
    inject_op(w, ghost_rotation(w, extra=True))
    expect_refused(w, errors.GhostMemberError, "ghost_member")


def test_unsigned_rotation(world: World) -> None:
    w = world
    op = crypto.decode_signed_op(ghost_rotation(w, extra=False))
    unsigned = crypto.encode(crypto.SignedOp(op.op, bytes(64)))
    inject_op(w, unsigned)
    expect_refused(w, errors.ForgedOpError, "signature")


def test_forged_leader_op(world: World) -> None:
    w = world
    # Carol, a plain member, signs a leader op (or her key was stolen): make herself leader.
    op = crypto.build_set_role(
        w.gc.state, w.carol._secrets.device, w.carol._secrets.member.id, "leader", time=now()
    )
    inject_op(w, op.op)
    expect_refused(w, errors.ForgedOpError, "role")


def test_op_bit_flip(world: World) -> None:
    w = world
    good = bytearray(ghost_rotation(w, extra=False))
    good[-5] ^= 0x01
    inject_op(w, bytes(good))
    expect_refused(w, errors.ForgedOpError, "signature")


def test_replay(world: World) -> None:
    w = world
    old = w.ga._load().log[2].data  # an op Bob verified long ago, served again as new
    inject_op(w, old)
    expect_refused(w, errors.ForkError, "sequence")
    # An entry served again is recognised and ignored: no error, no duplicate.
    w.tamper.clear()
    w.post(w.ga, "said once")
    w.gb.sync()
    again = entry_items(w.ga)[-1] | {"cursor": next_cursor(w)}
    w.tamper.on("GET", "/entries", entries_hook(lambda items: items.append(again)))
    w.gb.sync()
    assert bodies(w.gb).count(b"said once") == 1


# --- entries ------------------------------------------------------------------------------------


def rewrite_new_entries(w: World, fn: Any) -> None:
    """Apply fn to each entry Bob has not seen yet (decoded), as the server serves them."""

    def each(items: list[dict[str, Any]]) -> None:
        for item in items:
            if item.get("entry") is not None:
                item["entry"] = fn(item["entry"])

    w.tamper.on("GET", "/entries", entries_hook(each))


def test_entry_bit_flip(world: World) -> None:
    w = world
    w.post(w.ga, "a sentence the server flips one bit of")

    def flip(blob: bytes) -> bytes:
        b = bytearray(blob)
        b[len(b) // 2] ^= 0x10
        return bytes(b)

    rewrite_new_entries(w, flip)
    expect_refused(w, errors.TamperedEntryError, "signature")


def test_entry_truncation(world: World) -> None:
    w = world
    w.post(w.ga, "a sentence cut short")

    def cut(blob: bytes) -> bytes:
        e = crypto.decode_entry(blob)
        return crypto.encode(crypto.Entry(e.header, e.ct[:-100], e.sig))

    rewrite_new_entries(w, cut)
    expect_refused(w, errors.TamperedEntryError, "signature")
    w.tamper.clear()
    w.post(w.ga, "another sentence, cut in its encoding")
    rewrite_new_entries(w, lambda blob: blob[:-7])
    expect_refused(w, errors.TamperedEntryError, "encoding")


def test_entry_swap(world: World) -> None:
    w = world
    w.post(w.ga, "first of two")
    w.post(w.ga, "second of two")

    def swap(items: list[dict[str, Any]]) -> None:
        if len(items) < 2:
            return
        a, b = (crypto.decode_entry(i["entry"]) for i in items[-2:])
        items[-2]["entry"] = crypto.encode(crypto.Entry(a.header, b.ct, a.sig))
        items[-1]["entry"] = crypto.encode(crypto.Entry(b.header, a.ct, b.sig))

    w.tamper.on("GET", "/entries", entries_hook(swap))
    expect_refused(w, errors.TamperedEntryError, "signature")
    w.tamper.clear()

    w.post(w.ga, "third of four")
    w.post(w.ga, "fourth of four")

    def relabel(items: list[dict[str, Any]]) -> None:
        if len(items) < 2:
            return
        items[-2]["entry"], items[-1]["entry"] = items[-1]["entry"], items[-2]["entry"]

    w.tamper.on("GET", "/entries", entries_hook(relabel))
    expect_refused(w, errors.TamperedEntryError, "entry_id")


def test_entry_moved_between_groups(world: World) -> None:
    w = world
    other = w.alice.create_group("Another group", w.ga.server)
    w.post(other, "written in another group")
    moved = entry_items(other)[-1] | {"cursor": next_cursor(w)}
    w.tamper.on("GET", "/entries", entries_hook(lambda items: items.append(moved)))
    err = expect_refused(w, errors.TamperedEntryError, "group")
    assert "another group" in str(err)


def test_equivocation(world: World) -> None:
    w = world
    w.post(w.ga, "what alice said")
    w.gb.sync()
    # Alice's device signs a second, different entry with the same sequence number.
    state, keyring = w.ga.state, w.ga._load().keyring
    slip_in_entry(
        w,
        w.alice._secrets.device,
        keyring,
        state.epoch,
        state.seq,
        b"what alice told bob alone",
    )
    expect_refused(w, errors.EquivocationError, "equivocation")


def test_chain_gap(world: World) -> None:
    w = world
    w.post(w.ga, "one")
    missing = w.post(w.ga, "two")
    w.post(w.ga, "three")

    def drop(items: list[dict[str, Any]]) -> None:
        items[:] = [i for i in items if i["entry_id"].hex() != missing]

    w.tamper.on("GET", "/entries", entries_hook(drop))
    expect_refused(w, errors.ChainGapError, "gap")


def test_a_departed_members_entries_wait_for_their_final_head(world: World) -> None:
    """Nothing unverified is stored or shown: a removed member's entries are kept back until
    their chain reaches the final head the remove op recorded."""
    w = world
    w.post(w.gc, "carol one")
    w.post(w.gc, "carol two")
    last = w.post(w.gc, "carol three")
    w.ga.sync()
    w.ga.remove(w.carol.member_id)

    def drop(items: list[dict[str, Any]]) -> None:
        items[:] = [i for i in items if i["entry_id"].hex() != last]

    w.tamper.on("GET", "/entries", entries_hook(drop))
    shown = bodies(w.gb)
    report = w.gb.sync()
    [alarm] = [a for a in report.alarms if a.check == "checkpoint"]
    assert "lists 3 entries by Carol" in alarm.text
    held = [a for a in report.alarms if a.check == "departed"]
    assert len(held) == 2  # the two that did arrive, kept until the third comes
    assert all(a.waiting for a in held)
    assert len(report.alarms) == 3
    assert bodies(w.gb) == shown  # neither of the two that did arrive is shown
    carol = w.carol._secrets.device.id
    assert not [row for row in store_snapshot(w.bob)["entries"] if bytes(row[3]) == carol]
    w.tamper.clear()
    report = w.gb.sync()
    assert report.alarms == ()
    assert bodies(w.gb)[-3:] == [b"carol one", b"carol two", b"carol three"]


def test_entry_by_a_non_member(world: World) -> None:
    w = world
    state, keyring = w.ga.state, w.ga._load().keyring
    stranger = crypto.Secrets.generate(created=now())
    slip_in_entry(w, stranger.device, keyring, state.epoch, state.seq, b"from outside")
    expect_refused(w, errors.NonMemberEntryError, "author")


def test_entry_by_a_removed_member(world: World) -> None:
    w = world
    w.ga.remove(w.carol.member_id)
    w.gb.sync()
    # Carol kept her old keys and signs something "after" her removal.
    state, old_keys = w.ga.state, w.gc._load().keyring
    epoch = max(old_keys.keys)
    seq_at = max(i for i, e in enumerate(state.epoch_at) if e == epoch)
    slip_in_entry(w, w.carol._secrets.device, old_keys, epoch, seq_at, b"carol after removal")
    expect_refused(w, errors.NonMemberEntryError, "departed")


def test_fake_deletion(world: World) -> None:
    w = world
    eid = w.post(w.ga, "the server would like this gone")
    w.gb.sync()
    [item] = [i for i in entry_items(w.ga) if i["entry_id"].hex() == eid]
    e = crypto.decode_entry(item["entry"])
    stub = crypto.encode(crypto.stub_of(e))
    fake = {"cursor": next_cursor(w), "entry_id": e.header.entry_id, "stub": stub}
    w.tamper.on("GET", "/entries", entries_hook(lambda items: items.append(fake)))
    expect_refused(w, errors.FakeDeletionError, "retraction_missing")
    assert w.gb.get(eid).body == b"the server would like this gone"
    # A retraction by someone who may not retract it: Carol (neither author nor leader)
    # signs an entry listing it, and the server, colluding with her, serves it.
    w.tamper.clear()
    carol = w.gc._load()
    head = carol.tracker.head(w.carol._secrets.device.id)
    forged = crypto.seal_entry(
        device=w.carol._secrets.device,
        epoch_key=carol.keyring.key(carol.state.epoch),
        group=carol.state.group_id,
        epoch=carol.state.epoch,
        seq=head.seq + 1 if head else 1,
        prev=head.link if head else bytes(32),
        log_seq=carol.state.seq,
        log_head=carol.state.head,
        body=b"carol's retraction",
        retracts=[e.header.entry_id],
    )
    by = {"cursor": next_cursor(w) + 1, "entry_id": forged.entry.header.entry_id}
    stub2 = fake | {"cursor": next_cursor(w) + 2, "retracted_by": by["entry_id"]}
    w.tamper.on(
        "GET",
        "/entries",
        entries_hook(lambda items: items.extend([by | {"entry": forged.data}, stub2])),
    )
    # Carol's entry is genuine (she signed it, in her chain): it is kept; her deletion is not.
    genuine = frozenset({forged.entry.header.entry_id})
    w.canaries.append(b"carol's retraction")
    expect_refused(w, errors.FakeDeletionError, "role", genuine=genuine)
    assert w.gb.get(eid).body == b"the server would like this gone"


# --- direct tampering with the server's database ---------------------------------------------


def test_database_ciphertext_tampering(world: World) -> None:
    w = world
    eid = w.post(w.ga, "stored on the server, then edited there")
    with w.db() as db:
        (ct,) = db.execute(
            "SELECT ciphertext FROM entries WHERE entry_id = ?", (bytes.fromhex(eid),)
        ).fetchone()
        flipped = bytearray(ct)
        flipped[100] ^= 0xFF
        db.execute(
            "UPDATE entries SET ciphertext = ? WHERE entry_id = ?",
            (bytes(flipped), bytes.fromhex(eid)),
        )
    expect_refused(w, errors.TamperedEntryError, "signature")


def test_database_swapped_ciphertexts(world: World) -> None:
    w = world
    a = bytes.fromhex(w.post(w.ga, "alpha on the server"))
    b = bytes.fromhex(w.post(w.ga, "beta on the server"))
    with w.db() as db:
        (ca,) = db.execute("SELECT ciphertext FROM entries WHERE entry_id = ?", (a,)).fetchone()
        (cb,) = db.execute("SELECT ciphertext FROM entries WHERE entry_id = ?", (b,)).fetchone()
        db.execute("UPDATE entries SET ciphertext = ? WHERE entry_id = ?", (cb, a))
        db.execute("UPDATE entries SET ciphertext = ? WHERE entry_id = ?", (ca, b))
    expect_refused(w, errors.TamperedEntryError, "signature")


def test_database_deleted_ciphertext(world: World) -> None:
    w = world
    eid = bytes.fromhex(w.post(w.ga, "deleted behind the group's back"))
    with w.db() as db:
        # Delete the bytes and list the row as retracted by an entry that does not exist.
        db.execute(
            "UPDATE entries SET ciphertext = NULL, retracted_by = ? WHERE entry_id = ?",
            (os.urandom(16), eid),
        )
    err = expect_refused(w, errors.FakeDeletionError, "retraction_missing", keeps_going=True)
    assert "has not arrived" in str(err)
    [alarm] = [a for a in w.gb.sync().alarms if a.check == "retraction_missing"]
    assert alarm.waiting  # the entry that retracted it could still come: it waits


def test_database_op_tampering(world: World) -> None:
    w = world
    w.ga.checkpoint()
    seq = w.ga.state.seq
    with w.db() as db:
        (op,) = db.execute("SELECT op FROM log_ops WHERE seq = ?", (seq,)).fetchone()
        edited = bytearray(op)
        edited[-1] ^= 0x01
        db.execute("UPDATE log_ops SET op = ? WHERE seq = ?", (bytes(edited), seq))
    expect_refused(w, errors.ForgedOpError, "signature")


def test_a_device_added_without_the_member_key_is_refused(world: World) -> None:
    """The server (with a device key of its own, or Carol's) adds a device to Carol: the
    card is not signed by Carol's member key, so every client refuses the op."""
    w = world
    rogue = crypto.DeviceKeys.from_seeds(os.urandom(32), os.urandom(96))
    impostor = crypto.MemberKeys.from_seed(os.urandom(32))
    cert = _records.DeviceCert(
        2, w.carol._secrets.member.public, rogue.public, rogue.kem_public, now()
    )
    body = crypto.encode(cert)
    card = _records.MemberCard(
        cert,
        impostor.sign(crypto.labels.SIG_CARD, body),
        rogue.sign(crypto.labels.SIG_CARD, body),
    )
    op = _log.sign_op(w.gc.state, w.carol._secrets.device, crypto.AddDevice(card), time=now())
    inject_op(w, op)
    expect_refused(w, errors.ForgedOpError, "card")


def test_a_device_of_another_member_cannot_add_one(world: World) -> None:
    """Carol's device signs an add-device for a device that Alice's member key vouches for
    (a card replayed, or stolen): the op must come from one of Alice's own devices."""
    w = world
    laptop = crypto.DeviceKeys.from_seeds(os.urandom(32), os.urandom(96))
    card = crypto.make_card(w.alice._secrets.member, laptop, created=now())
    op = crypto.build_add_device(w.gc.state, w.carol._secrets.device, card, time=now())
    inject_op(w, op.op)
    expect_refused(w, errors.ForgedOpError, "member")
