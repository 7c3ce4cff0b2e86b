"""Recovery kits: fifteen words restore a member whose every device is lost (same member id
and fingerprint, a new device, everything they could read); a revoked kit restores nothing,
and a mistyped word is named."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from chatham import crypto
from chatham.client import Account, Group, errors

from tests.support.client_fixtures import SERVER_URL, Person, form_group

PASS = "new laptop passphrase"


def bodies(g: Group) -> list[bytes]:
    return [i.body for i in g.entries()]


def test_a_kit_restores_the_member_after_every_device_is_lost(
    person: Person, server: httpx.Client, tmp_path: Path
) -> None:
    dana, sam = person("Dana"), person("Sam")
    gd, gs = form_group(dana, sam)
    gs.post(b"before the kit")
    kit = sam.recovery_kit()
    assert kit.servers == (SERVER_URL,)
    assert len(kit.words.split()) == 15
    gd.sync()
    gd.post(b"after the kit")
    gd.rotate()  # a key the kit's device gets only through its own lockbox
    gd.post(b"after a fresh key")
    member_id, fingerprint, lost = sam.member_id, sam.fingerprint, sam.device_id
    sam.close()  # the only device is gone
    back = Account.recover(kit.words, tmp_path / "new", server=SERVER_URL, passphrase=PASS,
                           http=server)  # fmt: skip
    try:
        assert (back.member_id, back.fingerprint) == (member_id, fingerprint)
        assert back.device_id not in (lost, kit.device)
        g = back.group()
        assert {b"before the kit", b"after the kit", b"after a fresh key"} <= set(bodies(g))
        g.post(b"I am back")
        g.sync()
        assert g.verify().ok
        said = [a.text for a in gd.sync().announcements]
        assert any("Sam added a device" in t for t in said)
        assert b"I am back" in set(bodies(gd))
    finally:
        back.close()
    # The restored home opens again with its passphrase, holding the member key.
    again = Account.open(tmp_path / "new", passphrase=PASS, http=server)
    assert again.member_id == member_id
    again.close()


def test_a_revoked_kit_restores_nothing(
    person: Person, server: httpx.Client, tmp_path: Path
) -> None:
    dana, sam = person("Dana"), person("Sam")
    _gd, gs = form_group(dana, sam)
    old = sam.recovery_kit()
    new = sam.recovery_kit()  # replaces the old one: its device is removed everywhere
    assert new.revoked == old.device
    gs.sync()
    assert not gs.state.is_active_device(bytes.fromhex(old.device))
    assert gs.state.is_active_device(bytes.fromhex(new.device))
    with pytest.raises(errors.UsageError, match="revoked"):
        Account.recover(old.words, tmp_path / "a", server=SERVER_URL, passphrase=PASS,
                        http=server)  # fmt: skip
    assert not (tmp_path / "a" / "keystore").exists()
    # Removing the kit's device (like any device) revokes it too.
    sam.remove_device(new.device)
    with pytest.raises(errors.UsageError, match="revoked"):
        Account.recover(new.words, tmp_path / "b", server=SERVER_URL, passphrase=PASS,
                        http=server)  # fmt: skip


def test_a_wrong_word_is_named_and_changes_nothing(
    person: Person, server: httpx.Client, tmp_path: Path
) -> None:
    dana, sam = person("Dana"), person("Sam")
    form_group(dana, sam)
    kit = sam.recovery_kit()
    words = kit.words.split()
    words[6] = next(w for w in crypto.RecoveryKit.generate().words.split() if w != words[6])
    with pytest.raises(errors.UsageError, match=r"word 7 \(.*\) is wrong") as bad:
        Account.recover(" ".join(words), tmp_path / "x", server=SERVER_URL, passphrase=PASS,
                        http=server)  # fmt: skip
    assert "paper kit" in (bad.value.hint or "")
    words[6] = "qqqqq"
    with pytest.raises(errors.UsageError, match=r"word 7 .* is not a recovery kit word"):
        Account.recover(" ".join(words), tmp_path / "x", server=SERVER_URL, passphrase=PASS,
                        http=server)  # fmt: skip
    assert not (tmp_path / "x").exists()
    # Case, spacing and four-letter prefixes are fine.
    loose = "  ".join(w[:4].upper() for w in kit.words.split())
    assert crypto.RecoveryKit.parse(loose).words == kit.words
