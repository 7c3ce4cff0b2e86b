"""Recovery kit words: a mistyped word is named by position, the kit's device comes from the
words alone, and its escrow opens only for that device."""

from __future__ import annotations

import pytest
from chatham.crypto import CouldNotOpen, KitError, RecoveryKit, open_escrow, seal_escrow
from chatham.crypto._identity import DeviceKeys, MemberKeys, wordlist


def test_words_round_trip_loosely_typed(kit):
    rk = RecoveryKit.generate(kit.rand)
    assert RecoveryKit.parse(rk.words.upper()).secret == rk.secret
    assert RecoveryKit.parse("  ".join(w[:4] for w in rk.words.split())).secret == rk.secret
    assert rk.device().public == RecoveryKit(rk.secret).device().public


def test_a_wrong_word_at_any_position_is_named(kit):
    rk = RecoveryKit.generate(kit.rand)
    words = rk.words.split()
    wl = wordlist()
    for pos in range(15):
        wrong = list(words)
        wrong[pos] = wl[(wl.index(words[pos]) + 1 + pos) % 2048]
        with pytest.raises(KitError) as err:
            RecoveryKit.parse(" ".join(wrong))
        assert err.value.word == pos + 1, str(err.value)


def test_two_wrong_words_or_a_count_are_told_plainly(kit):
    words = RecoveryKit.generate(kit.rand).words.split()
    wl = wordlist()
    two = list(words)
    for pos in (0, 9):
        two[pos] = wl[(wl.index(two[pos]) + 7) % 2048]
    with pytest.raises(KitError, match="more than one") as err:
        RecoveryKit.parse(" ".join(two))
    assert err.value.word is None
    with pytest.raises(KitError, match="15 words"):
        RecoveryKit.parse(" ".join(words[:14]))
    with pytest.raises(KitError, match=r"word 2 .* not a recovery kit word"):
        RecoveryKit.parse(" ".join([words[0], "xyzzy", *words[2:]]))


def test_the_escrow_opens_only_for_the_kits_device(kit):
    rk = RecoveryKit.generate(kit.rand)
    dev = rk.device()
    member = MemberKeys.from_seed(kit.rand(32))
    sealed = seal_escrow(dev, dev.kem_public, member, [], created=1)
    escrow, back = open_escrow(dev, sealed)
    assert back.public == member.public
    assert escrow.groups == []
    other = DeviceKeys.from_seeds(kit.rand(32), kit.rand(96))
    with pytest.raises(CouldNotOpen):
        open_escrow(other, sealed)
    with pytest.raises(CouldNotOpen):
        open_escrow(dev, kit.flip(sealed, len(sealed) - 20))
