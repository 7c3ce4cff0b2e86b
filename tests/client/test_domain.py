"""Journal bodies: every type round-trips, and the decoder refuses everything else clearly."""

from __future__ import annotations

import contextlib
import typing
from datetime import date, time
from typing import Any

import msgspec
import pytest
from chatham.client._private.journal.content import BODY_TYPES, changed_fields
from chatham.client.errors import ContentError, UnsupportedVersion
from chatham.client.journal import (
    MAX_TS,
    AgendaPublication,
    Body,
    Comment,
    CommentEdit,
    Commitment,
    CommitmentEdit,
    CommitmentStatus,
    FileRef,
    Issue,
    IssueEdit,
    IssueStatus,
    Meeting,
    MeetingEdit,
    MeetingStatus,
    Note,
    NoteEdit,
    Retraction,
    Review,
    Revision,
    Update,
    UpdateEdit,
    clean_line,
    clean_text,
    decode_body,
    encode_body,
)
from hypothesis import given, settings
from hypothesis import strategies as st

I1, I2, M1 = b"\x01" * 16, b"\x02" * 16, b"\x03" * 16
ANN, BOB = b"\xaa" * 32, b"\xbb" * 32
CANARY = "CANARY-7f3a"

EXAMPLES: list[Body] = [
    Issue(
        ts=1_800_000_000,
        title="Should I hire a COO?",
        what="Growth stalls.\nI am the bottleneck.",
        why="Burnout",
        tried="Delegating",
        ask="Experience shares",
        not_ask="Advice on my marriage",
        background="## Background\n\n- 40 staff",
        options="1. hire\n2. promote",
        impact="Sleep",
        priority="A",
        minutes=30,
    ),
    Issue(ts=0, title="x"),
    Meeting(
        ts=5,
        date=date(2026, 12, 3),
        title="December forum",
        start=time(18, 30),
        minutes=240,
        place="Room 4, Café Ümlaut",
        attendance=[ANN, BOB],
    ),
    Meeting(ts=5, date=date(2027, 1, 7), title="January"),
    Note(ts=6, body="# Notes\n\n* item", title="Notes", meeting=M1),
    Note(ts=6, body="plain"),
    Commitment(ts=7, owner=ANN, text="Call the lawyer", due=date(2026, 12, 1), meeting=M1),
    Commitment(ts=7, owner=ANN, text="Sleep 7h"),
    Comment(ts=8, item=I1, text="Been there.\n\tTab ok."),
    Comment(
        ts=8,
        item=I1,
        text="The offer letter",
        file=FileRef(
            blob=bytes(16), key=bytes(range(32)), digest=bytes(32), name="offer.pdf", size=70_000
        ),
    ),
    Update(ts=9, highs="Closed a deal", lows="Flu", scores={"work": 7, "family": 10}, meeting=M1),
    Update(ts=9),
    Revision(ts=10, item=I1, changes=IssueEdit(title="New", priority="C", minutes=5)),
    Revision(
        ts=10, item=M1, changes=MeetingEdit(start=None, attendance=[ANN], date=date(2026, 1, 2))
    ),
    Revision(ts=10, item=I2, changes=NoteEdit(meeting=None)),
    Revision(ts=10, item=I2, changes=CommitmentEdit(due=None)),
    Revision(ts=10, item=I2, changes=CommitmentEdit(text="t", due=date(2026, 2, 3))),
    Revision(ts=10, item=I2, changes=CommentEdit(text="edited")),
    Revision(ts=10, item=I2, changes=UpdateEdit(scores={})),
    IssueStatus(ts=11, item=I1, status="scheduled", meeting=M1),
    IssueStatus(ts=11, item=I1, status="presented", meeting=M1),
    IssueStatus(ts=11, item=I1, status="presented"),
    IssueStatus(ts=11, item=I1, status="parked"),
    IssueStatus(ts=11, item=I1, status="closed", outcome="withdrawn"),
    MeetingStatus(ts=12, item=M1, status="open"),
    CommitmentStatus(ts=13, item=I2, status="partial", report="Half of it"),
    CommitmentStatus(ts=13, item=I2, status="done"),
    Review(ts=14, item=I2, meeting=M1),
    AgendaPublication(ts=15, meeting=M1, issues=[I1, I2], commitments=[I2]),
    AgendaPublication(ts=15, meeting=M1),
    Retraction(ts=16, item=I1, entries=[I1, I2]),
]


def raw(obj: Any) -> bytes:
    return msgspec.msgpack.encode(obj)


def refused(data: bytes, *needles: str) -> str:
    with pytest.raises(ContentError) as exc:
        decode_body(data)
    msg = str(exc.value)
    for n in needles:
        assert n in msg
    return msg


# --- round trips --------------------------------------------------------------------------------


@pytest.mark.parametrize("body", EXAMPLES, ids=lambda b: type(b).__name__)
def test_round_trip(body: Body) -> None:
    data = encode_body(body)
    assert decode_body(data) == body
    assert type(decode_body(data)) is type(body)


def test_every_type_has_an_example_and_a_unique_tag() -> None:
    assert {type(b) for b in EXAMPLES} == set(BODY_TYPES.values())
    assert set(typing.get_args(Body)) == set(BODY_TYPES.values())
    assert len(BODY_TYPES) == 13


def test_wire_format_is_a_tagged_versioned_map() -> None:
    """Pinned: changing this breaks every stored journal, so it needs a new version."""
    data = encode_body(Issue(ts=1, title="T"))
    assert msgspec.msgpack.decode(data) == {
        "t": "issue",
        "v": 1,
        "ts": 1,
        "title": "T",
        "what": "",
        "why": "",
        "tried": "",
        "ask": "",
        "not_ask": "",
        "background": "",
        "options": "",
        "impact": "",
        "priority": "B",
        "minutes": 15,
    }
    assert data.hex().startswith("8ea17" + "4a5697373756")  # map of 14, "t": "issue"
    # Unset edit fields are absent on the wire, not null.
    rev = msgspec.msgpack.decode(encode_body(Revision(ts=1, item=I1, changes=IssueEdit(title="n"))))
    assert rev["changes"] == {"t": "issue", "title": "n"}
    cleared = encode_body(Revision(ts=1, item=I1, changes=CommitmentEdit(due=None)))
    assert msgspec.msgpack.decode(cleared)["changes"] == {"t": "commitment", "due": None}


def test_defaults() -> None:
    i = decode_body(raw({"t": "issue", "v": 1, "ts": 3, "title": "A"}))
    assert isinstance(i, Issue)
    assert (i.priority, i.minutes, i.what) == ("B", 15, "")
    c = decode_body(raw({"t": "commitment", "v": 1, "ts": 3, "owner": ANN, "text": "x"}))
    assert isinstance(c, Commitment)
    assert c.due is None
    assert c.meeting is None


text_chars = st.characters(
    exclude_categories=["Cs"],
    exclude_characters="".join(map(chr, [*range(0, 32), *range(127, 160)]))
    + "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069",
)


@settings(max_examples=200, deadline=None)
@given(
    title=st.text(text_chars, min_size=1, max_size=200).filter(lambda s: s == s.strip() and s),
    what=st.text(st.one_of(text_chars, st.sampled_from("\n\t")), max_size=500),
    priority=st.sampled_from(["A", "B", "C"]),
    minutes=st.integers(1, 600),
    ts=st.integers(0, MAX_TS),
)
def test_issue_round_trip_property(
    title: str, what: str, priority: Any, minutes: int, ts: int
) -> None:
    body = Issue(ts=ts, title=title, what=what, priority=priority, minutes=minutes)
    assert decode_body(encode_body(body)) == body


# --- strict decoding ------------------------------------------------------------------------------


@pytest.mark.parametrize("v", [0, 2, 99, -1])
def test_unknown_version_is_refused_as_upgrade(v: int) -> None:
    with pytest.raises(UnsupportedVersion) as exc:
        decode_body(raw({"t": "issue", "v": v, "ts": 1, "title": "x"}))
    assert exc.value.version == v
    assert "upgrade" in str(exc.value)


@pytest.mark.parametrize("v", [None, "1", True, 1.0, [1]])
def test_missing_or_mistyped_version(v: Any) -> None:
    obj: dict[str, Any] = {"t": "issue", "ts": 1, "title": "x"}
    if v is not None:
        obj["v"] = v
    msg = refused(raw(obj), "version")
    assert not isinstance(msg, UnsupportedVersion)


def test_newer_version_with_unknown_fields_still_says_upgrade() -> None:
    with pytest.raises(UnsupportedVersion):
        decode_body(raw({"t": "poll", "v": 2, "question": "?"}))


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\xc1",
        b"garbage",
        raw([1, "issue"]),
        raw("issue"),
        raw(None),
        raw({"t": "issue", "v": 1, "ts": 1, "title": "x"}) + b"\x00",
        raw({"t": "issue", "v": 1, "ts": 1, "title": "x"})[:-2],
    ],
)
def test_garbage_is_refused(data: bytes) -> None:
    with pytest.raises(ContentError):
        decode_body(data)


@pytest.mark.parametrize("data", ["str", 5, None, bytearray(b"\x80")])
def test_non_bytes(data: Any) -> None:
    if isinstance(data, bytearray):
        with pytest.raises(ContentError):
            decode_body(data)
    else:
        with pytest.raises(ContentError, match="must be bytes"):
            decode_body(data)


@pytest.mark.parametrize("depth", [1_000, 100_000])
def test_deep_nesting_is_refused_not_a_crash(depth: int) -> None:
    # A member can seal any bytes; a body that nests deeper than msgspec will follow must
    # be refused like any other bad body, not stop every other member's listing.
    nested = b"\x91" * depth + b"\xc0"
    refused(raw({"t": "note", "v": 1, "ts": 1, "x": 1})[:-1] + nested, "not a Chatham")
    head = b"\x84" + raw("t")[0:] + raw("note") + raw("v") + raw(1) + raw("ts") + raw(1)
    refused(head + raw("text") + nested, "not a Chatham")
    refused(nested, "not a Chatham")


def test_invalid_utf8_is_refused_not_a_crash() -> None:
    # msgspec reports invalid UTF-8 in a str as UnicodeDecodeError; a member can seal any
    # bytes, so it must be a ContentError like every other bad body.
    data = encode_body(Issue(ts=1, title="ABCDEF"))
    refused(data.replace(b"ABCDEF", b"\xff\xfe\xfd\xfc\xfb\xfa"))
    refused(data.replace(b"title", b"titl\xff"))
    refused(raw({"t": "issue", "v": 1, "ts": 1, "title": "x"}).replace(b"issue", b"issu\xff"))


def test_times_and_dates_stay_where_every_view_can_show_them() -> None:
    # Beyond these, date arithmetic in other members' views overflowed (year 36812).
    from chatham.client.journal import FIRST_DAY, LAST_DAY

    refused(raw({"t": "issue", "v": 1, "ts": MAX_TS + 1, "title": "x"}), "$.ts")
    refused(raw({"t": "issue", "v": 1, "ts": 1 << 40, "title": "x"}), "$.ts")
    for day in ("9999-12-31", "1969-12-31", "0001-01-01"):
        meeting = {"t": "meeting", "v": 1, "ts": 1, "date": day, "title": "M"}
        refused(raw(meeting), "between")
        owner = b"\x01" * 32
        commitment = {"t": "commitment", "v": 1, "ts": 1, "owner": owner, "text": "x"}
        refused(raw({**commitment, "due": day}), "between")
        edit = {"t": "meeting", "date": day}
        revision = {"t": "revision", "v": 1, "ts": 1, "item": b"\x02" * 16}
        refused(raw({**revision, "changes": edit}), "between")
    assert decode_body(raw({"t": "issue", "v": 1, "ts": MAX_TS, "title": "x"})).ts == MAX_TS
    for day in (FIRST_DAY, LAST_DAY):
        body = raw({"t": "meeting", "v": 1, "ts": 1, "date": day.isoformat(), "title": "M"})
        assert decode_body(body).date == day  # type: ignore[union-attr]


def test_oversize_refused_before_parsing() -> None:
    refused(b"\x00" * ((1 << 20) + 1), "larger")


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=300))
def test_random_bytes_only_ever_raise_body_error(data: bytes) -> None:
    with contextlib.suppress(ContentError):
        decode_body(data)


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["t", "v", "ts", "title", "item", "status", "meeting", "x", "changes"]),
        st.one_of(
            st.integers(-2, 3),
            st.sampled_from([*BODY_TYPES, "nope", "scheduled", "open"]),
            st.binary(min_size=16, max_size=16),
            st.none(),
            st.booleans(),
            st.dictionaries(st.sampled_from(["t", "title"]), st.sampled_from(["issue", "x"])),
        ),
    )
)
def test_random_maps_only_ever_raise_body_error(obj: dict[str, Any]) -> None:
    try:
        body = decode_body(raw(obj))
    except ContentError:
        return
    assert decode_body(encode_body(body)) == body


def bd(t: str, **fields: Any) -> dict[str, Any]:
    return {"t": t, "v": 1, "ts": 1, **fields}


def rev(**changes: Any) -> dict[str, Any]:
    return bd("revision", item=I1, changes=changes)


def ist(**fields: Any) -> dict[str, Any]:
    return bd("issue-status", item=I1, **fields)


def mtg(**fields: Any) -> dict[str, Any]:
    return bd("meeting", title="x", date="2026-02-03") | fields


BAD: list[tuple[str, dict[str, Any], str]] = [
    ("unknown type", bd("poll"), "unknown journal body type"),
    ("no type", {"v": 1, "ts": 1}, "unknown journal body type"),
    ("unknown field", bd("issue", title="x", mood=1), "invalid issue"),
    ("missing ts", {"t": "issue", "v": 1, "title": "x"}, "invalid issue"),
    ("negative ts", bd("issue", title="x") | {"ts": -1}, "$.ts"),
    ("huge ts", bd("issue", title="x") | {"ts": 1 << 41}, "$.ts"),
    ("float ts", bd("issue", title="x") | {"ts": 1.5}, "$.ts"),
    ("blank title", bd("issue", title="  "), "$.title"),
    ("empty title", bd("issue", title=""), "$.title"),
    ("padded title", bd("issue", title=" x"), "$.title"),
    ("long title", bd("issue", title="x" * 201), "$.title"),
    ("newline title", bd("issue", title="a\nb"), "$.title"),
    ("escape in title", bd("issue", title="a\x1b[2Jb"), "$.title"),
    ("C1 in text", bd("issue", title="a", what="\x9b2J"), "$.what"),
    ("CR in text", bd("issue", title="a", what="a\rb"), "$.what"),
    ("bidi override", bd("issue", title="a\u202eb"), "$.title"),
    ("bidi isolate", bd("note", body="a\u2066b"), "$.body"),
    ("priority", bd("issue", title="x", priority="D"), "$.priority"),
    ("minutes 0", bd("issue", title="x", minutes=0), "$.minutes"),
    ("minutes bool", bd("issue", title="x", minutes=True), "$.minutes"),
    ("long text", bd("issue", title="x", what="w" * 20_001), "$.what"),
    ("bad date", mtg(date="2026-02-30"), "$.date"),
    ("dup attendee", mtg(attendance=[ANN, ANN]), "attendance lists an id twice"),
    ("zoned start", mtg(start="18:00:00+01:00"), "local time"),
    ("empty note", bd("note", body=""), "$.body"),
    ("blank note", bd("note", body=" \n "), "$.body"),
    ("short owner", bd("commitment", owner=b"x" * 31, text="t"), "$.owner"),
    ("str owner", bd("commitment", owner="a" * 32, text="t"), "$.owner"),
    ("blank commitment", bd("commitment", owner=ANN, text="\n"), "$.text"),
    ("long item id", bd("comment", item=b"x" * 17, text="t"), "$.item"),
    ("score 11", bd("update", scores={"work": 11}), "$.scores"),
    ("score 0", bd("update", scores={"work": 0}), "$.scores"),
    ("11 scores", bd("update", scores={f"s{i}": 5 for i in range(11)}), "$.scores"),
    ("empty revision", rev(t="issue"), "a revision must change at least one field"),
    ("edit of unknown kind", rev(t="poll", q=1), "$.changes"),
    ("edit with unknown field", rev(t="issue", status="closed"), "$.changes"),
    ("edit with null title", rev(t="issue", title=None), "$.changes.title"),
    ("scheduled without meeting", ist(status="scheduled"), "names the meeting"),
    ("parked with meeting", ist(status="parked", meeting=M1), "names a meeting"),
    ("closed without outcome", ist(status="closed"), "outcome"),
    ("outcome when not closed", ist(status="presented", outcome="resolved"), "outcome"),
    ("bad issue status", ist(status="done"), "$.status"),
    ("meeting back to planned", bd("meeting-status", item=I1, status="planned"), "$.status"),
    ("commitment reopened", bd("commitment-status", item=I1, status="open"), "$.status"),
    ("agenda lists twice", bd("agenda", meeting=M1, issues=[I1, I1]), "lists an id twice"),
    ("retraction lists twice", bd("retraction", item=I1, entries=[I2, I2]), "lists an id twice"),
]


@pytest.mark.parametrize(("obj", "needle"), [(o, n) for _, o, n in BAD], ids=[b[0] for b in BAD])
def test_invalid_bodies_are_refused(obj: dict[str, Any], needle: str) -> None:
    refused(raw(obj), needle)


def test_errors_never_echo_content() -> None:
    leaks = [
        {"t": "issue", "v": 1, "ts": 1, "title": "x", "priority": CANARY},
        {"t": "issue", "v": 1, "ts": 1, "title": "x", CANARY: 1},
        {"t": CANARY, "v": 1},
        {"t": "issue", "v": CANARY},
        {"t": "issue", "v": 1, "ts": 1, "title": CANARY + "\x1b"},
        {"t": "revision", "v": 1, "ts": 1, "item": I1, "changes": {"t": CANARY}},
        {"t": "issue-status", "v": 1, "ts": 1, "item": I1, "status": CANARY},
    ]
    for obj in leaks:
        assert CANARY not in refused(raw(obj))


def test_constructors_enforce_cross_field_rules() -> None:
    with pytest.raises(ContentError, match="at least one field"):
        Revision(ts=1, item=I1, changes=IssueEdit())
    with pytest.raises(ContentError, match="names the meeting"):
        IssueStatus(ts=1, item=I1, status="scheduled")


def test_encode_refuses_what_decode_would_refuse() -> None:
    with pytest.raises(ContentError, match=r"\$\.title"):
        encode_body(Issue(ts=1, title=""))
    with pytest.raises(ContentError, match=r"\$\.owner"):
        encode_body(Commitment(ts=1, owner=b"short", text="t"))
    with pytest.raises(ContentError, match="not a journal body"):
        encode_body(IssueEdit(title="x"))  # type: ignore[arg-type]


# --- helpers --------------------------------------------------------------------------------------


def test_changed_fields() -> None:
    assert changed_fields(IssueEdit(priority="A", title="t")) == {"title": "t", "priority": "A"}
    assert changed_fields(CommitmentEdit(due=None)) == {"due": None}
    assert changed_fields(MeetingEdit()) == {}


def test_clean_helpers() -> None:
    assert clean_line("  Hire \t a  COO \n") == "Hire a COO"
    assert clean_text("\r\nline 1  \r\nline 2\rline 3\n\n") == "line 1\nline 2\nline 3"
    body = Note(ts=1, body=clean_text("a\r\n\r\nb \r\n"))
    assert decode_body(encode_body(body)) == body


def test_all_is_honest() -> None:
    import chatham.client.journal as journal
    from chatham.client._private.journal import content as domain

    for mod in (domain, journal):
        assert mod.__all__ == sorted(mod.__all__, key=lambda n: (not n.isupper(), n))
        for name in mod.__all__:
            assert hasattr(mod, name), (mod.__name__, name)
