"""Every check the protocol names becomes the error that says what a member should believe
happened (client/_private/engine/checks.py): a table no sync test reaches in full."""

from __future__ import annotations

import pytest
from chatham import crypto
from chatham.client import errors
from chatham.client._private.engine.checks import entry_error, log_error


@pytest.mark.parametrize(
    ("check", "cls"),
    [
        ("rollback", errors.RollbackError),
        ("fork", errors.ForkError),
        ("sequence", errors.ForkError),
        ("chain", errors.ForkError),
        ("ghost_member", errors.GhostMemberError),
        ("lockbox_hash", errors.KeySubstitutionError),
        ("lockbox_missing", errors.WithheldError),
        ("signature", errors.ForgedOpError),
        ("role", errors.ForgedOpError),
    ],
)
def test_a_failed_log_check_becomes_the_error_that_names_its_meaning(check, cls) -> None:
    err = log_error(crypto.LogError("what went wrong", seq=7, check=check))
    assert type(err) is cls
    assert err.check == check
    assert err.record == "log op 7"
    assert err.message.count("log op 7") == 1  # the record is named once
    assert ("forged or invalid op" in err.message) == (cls is errors.ForgedOpError)


def test_a_log_error_without_a_position_names_no_record() -> None:
    err = log_error(crypto.LogError("no position", check="fork"))
    assert err.record is None
    assert err.message.endswith("no position")
    assert "log op" not in err.message


EID = bytes(range(16))


@pytest.mark.parametrize(
    ("error", "cls", "words"),
    [
        (crypto.EquivocationError("two", check="equivocation"), errors.EquivocationError, "two"),
        (crypto.ChainError("gap", check="gap"), errors.ChainGapError, "gap"),
        (crypto.EntryError("x", check="author"), errors.NonMemberEntryError, "x"),
        (crypto.EntryError("x", check="departed"), errors.NonMemberEntryError, "x"),
        (crypto.EntryError("x", check="group"), errors.TamperedEntryError, "another group"),
        (crypto.EntryError("x", check="log_head"), errors.ForkError, "different group log"),
        (crypto.EntryError("x", check="signature"), errors.TamperedEntryError, "bad signature"),
        (crypto.EntryError("short", check="encoding"), errors.TamperedEntryError, "damaged"),
        (crypto.EntryError("x", check="epoch"), errors.TamperedEntryError, "x"),
    ],
)
def test_a_failed_entry_check_becomes_the_error_that_names_its_meaning(error, cls, words) -> None:
    err = entry_error(error, EID)
    assert type(err) is cls
    assert words in err.message
    assert err.record == f"entry {EID.hex()}"


def test_an_entry_claiming_a_log_op_not_yet_shown_is_withheld_not_forked() -> None:
    e = crypto.EntryError("x", check="log_head")
    assert type(entry_error(e, EID, log_seq=9, known_seq=8)) is errors.WithheldError
    # Only a head the server has not shown means withheld ops: a bad signature on an entry
    # written after them is still a tampered entry.
    forged = crypto.EntryError("bad", check="signature")
    assert type(entry_error(forged, EID, log_seq=9, known_seq=8)) is errors.TamperedEntryError
    assert type(entry_error(e, EID, log_seq=8, known_seq=8)) is errors.ForkError
    assert entry_error(e, None).record == "entry"
