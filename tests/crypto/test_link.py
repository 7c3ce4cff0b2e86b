"""Device links at the protocol level: what a party with or without the code can do to the
mailbox, and what the new device refuses in a handover."""

from __future__ import annotations

import pytest
from chatham.crypto import (
    CouldNotOpen,
    Keyring,
    LinkError,
    LinkGroup,
    LinkSecret,
    Secrets,
)
from chatham.crypto._identity import DeviceKeys, MemberKeys


def setup(kit):
    desk = Secrets.generate(created=kit.T0, rand=kit.rand)
    laptop = DeviceKeys.from_seeds(kit.rand(32), kit.rand(96))
    secret = LinkSecret.generate(kit.SERVER, rand=kit.rand)
    offer_blob = secret.offer(desk.member, desk.device.id, created=kit.T0, rand=kit.rand)
    return desk, laptop, secret, offer_blob


def test_a_whole_link_hands_over_the_member_key_and_confirmed_keys(kit):
    g, (a, _b) = kit.group("Alice", "Bob")
    desk = a.secrets
    laptop = DeviceKeys.from_seeds(kit.rand(32), kit.rand(96))
    secret = LinkSecret.generate(kit.SERVER, rand=kit.rand)
    offer = secret.read_offer(secret.offer(desk.member, desk.device.id, created=1, rand=kit.rand))
    answer, cert, _ = secret.request(offer, laptop, created=2, rand=kit.rand)
    req = secret.read_request(offer, answer)
    assert secret.words(req.cert) == secret.words(cert)
    keys = sorted(g.keyring(a).keys.items())
    blob = secret.handover(
        req, desk.member, [LinkGroup(g.id, kit.SERVER, "Forum", keys)], created=3
    )
    handover, member, card = secret.read_handover(offer, laptop, 2, blob)
    assert member.public == desk.member.public
    assert card.cert == cert
    ring = Keyring()
    for epoch, key in handover.groups[0].keys:
        ring.accept_key(g.state, epoch, key)
    assert ring.keys == dict(keys)


def test_a_handed_over_key_that_does_not_confirm_is_refused(kit):
    g, (_a, _b) = kit.group("Alice", "Bob")
    ring = Keyring()
    with pytest.raises(CouldNotOpen):
        ring.accept_key(g.state, g.state.epoch, kit.rand(32))
    assert ring.keys == {}


def test_without_the_code_the_mailbox_neither_opens_nor_accepts_a_request(kit):
    _desk, laptop, secret, offer_blob = setup(kit)
    other = LinkSecret.generate(kit.SERVER, rand=kit.rand)
    with pytest.raises(CouldNotOpen):
        other.read_offer(offer_blob)
    offer = secret.read_offer(offer_blob)
    forged, _, _ = other.request(offer, laptop, created=1, rand=kit.rand)
    with pytest.raises(CouldNotOpen):
        secret.read_request(offer, forged)
    # A slot moved to another slot does not open either.
    with pytest.raises(CouldNotOpen):
        secret.open("request", offer_blob)


def test_a_request_for_another_member_or_with_a_bad_signature_is_refused(kit):
    _desk, laptop, secret, offer_blob = setup(kit)
    offer = secret.read_offer(offer_blob)
    stranger = MemberKeys.from_seed(kit.rand(32))
    wrong = type(offer)(2, stranger.public, offer.device, offer.created)
    answer, _, _ = secret.request(wrong, laptop, created=1, rand=kit.rand)
    with pytest.raises(LinkError, match="another member"):
        secret.read_request(offer, answer)


def test_a_swapped_request_shows_other_words(kit):
    _desk, laptop, secret, offer_blob = setup(kit)
    offer = secret.read_offer(offer_blob)
    _, mine, _ = secret.request(offer, laptop, created=1, rand=kit.rand)
    thief = DeviceKeys.from_seeds(kit.rand(32), kit.rand(96))
    swapped, _, _ = secret.request(offer, thief, created=1, rand=kit.rand)
    assert secret.words(secret.read_request(offer, swapped).cert) != secret.words(mine)


def test_a_handover_with_another_member_key_is_refused(kit):
    desk, laptop, secret, offer_blob = setup(kit)
    offer = secret.read_offer(offer_blob)
    answer, _, _ = secret.request(offer, laptop, created=1, rand=kit.rand)
    req = secret.read_request(offer, answer)
    impostor = MemberKeys.from_seed(kit.rand(32))
    with pytest.raises(LinkError):
        secret.handover(req, impostor, [], created=2)
    # A handover sealed for another device does not open on this one.
    blob = secret.handover(req, desk.member, [], created=2)
    other = DeviceKeys.from_seeds(kit.rand(32), kit.rand(96))
    with pytest.raises(CouldNotOpen):
        secret.read_handover(offer, other, 1, blob)


@pytest.mark.parametrize("bad", ["", "ABCDE", "https://x.example#" + "U" * 20])
def test_malformed_codes_are_link_errors(bad):
    with pytest.raises(LinkError):
        LinkSecret.parse(bad)


def test_every_single_symbol_typo_is_caught(kit):
    secret = LinkSecret.generate(kit.SERVER, rand=kit.rand)
    code = secret.code.replace("-", "")
    alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
    caught = 0
    for i, c in enumerate(code):
        for r in alphabet:
            if r == c:
                continue
            typo = code[:i] + r + code[i + 1 :]
            try:
                LinkSecret.parse(typo, kit.SERVER)
            except LinkError:
                caught += 1
    # 20 bits of checksum: a single substitution slips through about once in a million.
    assert caught >= 20 * 31 - 1
