"""JSON <-> TL for the raw bridge: round trips through Telethon's serialisation, and strict refusals."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from telethon.tl import functions, types

from mcpgram.errors import InvalidArgument
from mcpgram.telegram import rawtl
from mcpgram.telegram.rawresult import from_tl
from mcpgram.telegram.rawtl import MAX_DEPTH, PeerRef, parse_call, to_tl

WHEN = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)
HISTORY = {"peer": "me", "offset_id": 0, "add_offset": 0, "limit": 1, "max_id": 0, "min_id": 0, "hash": 0}


def round_trip(obj: Any) -> Any:
    """TL -> JSON (through real JSON text) -> TL again."""
    data, truncated = from_tl(obj)
    assert not truncated
    decoded = json.loads(json.dumps(data))
    return to_tl(decoded["_"], decoded)


NESTED: list[Any] = [
    functions.messages.SendMessageRequest(
        peer=types.InputPeerChannel(channel_id=77, access_hash=-(2**62)),
        message="héllo 👋",
        random_id=2**63 - 1,
        silent=True,
        reply_to=types.InputReplyToMessage(
            reply_to_msg_id=5,
            quote_text="q",
            quote_entities=[types.MessageEntityBold(offset=0, length=1)],
        ),
        entities=[types.MessageEntityTextUrl(offset=0, length=5, url="https://example.com")],
        schedule_date=WHEN,
    ),
    types.messages.Messages(
        messages=[
            types.Message(
                id=9,
                peer_id=types.PeerUser(user_id=3),
                date=WHEN,
                message="hi",
                out=True,
                fwd_from=types.MessageFwdHeader(date=WHEN, from_id=types.PeerChannel(channel_id=4)),
                media=types.MessageMediaGeo(geo=types.GeoPoint(long=13.4, lat=52.5, access_hash=1)),
            )
        ],
        chats=[],
        users=[types.User(id=3, first_name="Bob", status=types.UserStatusOffline(was_online=WHEN))],
        topics=[],
    ),
    types.UserFull(
        id=3,
        settings=types.PeerSettings(),
        notify_settings=types.PeerNotifySettings(),
        common_chats_count=0,
        about="about",
    ),
    functions.messages.SendMediaRequest(
        peer=types.InputPeerSelf(),
        media=types.InputMediaDocument(
            id=types.InputDocument(id=1, access_hash=2, file_reference=b"\x00\xffdata"), spoiler=True
        ),
        message="",
        random_id=1,
    ),
    functions.users.GetUsersRequest(id=[types.InputUserSelf(), types.InputUser(user_id=1, access_hash=2)]),
]


@pytest.mark.parametrize("obj", NESTED, ids=lambda o: type(o).__name__)
def test_nested_objects_vectors_flags_bytes_and_dates_round_trip(obj: Any) -> None:
    """Serialised bytes are identical after a trip through JSON: every field, flag and nesting kept."""
    assert bytes(round_trip(obj)) == bytes(obj)


def test_results_use_tl_names_base64_and_iso_dates() -> None:
    """`_` is the TL name (namespaced where the schema is), bytes base64, dates ISO 8601 UTC."""
    data, _ = from_tl(NESTED[0])
    assert data["_"] == "messages.sendMessage"
    assert data["peer"] == {"_": "inputPeerChannel", "channel_id": 77, "access_hash": -(2**62)}
    assert data["schedule_date"] == "2026-12-07T10:00:00+00:00"
    assert from_tl(NESTED[1])[0]["_"] == "messages.messages"
    media = from_tl(NESTED[3])[0]["media"]
    assert base64.b64decode(media["id"]["file_reference"]) == b"\x00\xffdata"


@settings(max_examples=60, deadline=None)
@given(
    text=st.text(max_size=200),
    msg_id=st.integers(min_value=-(2**31), max_value=2**31 - 1),
    random_id=st.integers(min_value=-(2**63), max_value=2**63 - 1),
    data=st.binary(max_size=300),
    when=st.integers(min_value=0, max_value=2**31 - 1),
    silent=st.booleans(),
)
def test_generated_values_round_trip(  # noqa: PLR0917  # one argument per generated field
    text: str, msg_id: int, random_id: int, data: bytes, when: int, silent: bool
) -> None:
    """Any text, 32- and 64-bit numbers, bytes, dates and flags survive the trip."""
    request = functions.messages.SendMediaRequest(
        peer=types.InputPeerSelf(),
        media=types.InputMediaDocument(
            id=types.InputDocument(id=random_id, access_hash=msg_id, file_reference=data)
        ),
        message=text,
        random_id=random_id,
        silent=silent or None,
        reply_to=types.InputReplyToMessage(reply_to_msg_id=msg_id),
        schedule_date=datetime.fromtimestamp(when, tz=UTC),
    )
    assert bytes(round_trip(request)) == bytes(request)


def test_methods_accept_the_schema_and_telethon_spellings() -> None:
    """messages.getHistory, messages.GetHistory and messages.GetHistoryRequest are one method."""
    params = {"peer": "me", "offset_id": 0, "add_offset": 0, "limit": 1, "max_id": 0, "min_id": 0, "hash": 0}
    for name in ("messages.getHistory", "messages.GetHistory", "messages.GetHistoryRequest"):
        assert parse_call(name, params).method == "messages.getHistory"


def test_peer_fields_take_chat_references_and_every_named_chat_is_collected() -> None:
    """References become placeholders for the client to resolve; explicit peers are noted by id."""
    call = parse_call(
        "messages.forwardMessages",
        {
            "from_peer": "@bob_e2e",
            "to_peer": {"_": "inputPeerChannel", "channel_id": 5, "access_hash": 1},
            "id": [1, 2],
            "random_id": [3, 4],
            "top_msg_id": None,
        },
    )
    assert call.chats == ("@bob_e2e", -1000000000005)
    assert call.request.from_peer == PeerRef("InputPeer", "@bob_e2e", "params.from_peer")
    user = parse_call("users.getFullUser", {"id": "me"})
    assert user.chats == ("me",) and user.refs[0].kind == "InputUser"
    assert parse_call("users.getFullUser", {"id": {"_": "inputUserSelf"}}).chats == ("me",)


@pytest.mark.parametrize(
    ("method", "params", "names"),
    [
        ("messages.noSuchThing", {}, "no such method"),
        ("messages.getHistory", {"peer": "me"}, "params.offset_id: required"),
        ("users.getFullUser", {"id": "me", "extra": 1}, "params.extra: no such field"),
        ("users.getFullUser", {"id": "not a ref!"}, "params.id: not a chat reference"),
        ("users.getFullUser", {"id": {"_": "inputPeerSelf"}}, "params.id._: inputPeerSelf is not a type"),
        ("users.getFullUser", {"id": {"_": "noSuchType"}}, "params.id._: no such type"),
        # A method smuggled in as a nested object is not a type at all.
        (
            "users.getFullUser",
            {"id": {"_": "account.deleteAccount", "reason": "x"}},
            "params.id._: no such type",
        ),
        ("messages.getHistory", {"peer": "me", "offset_id": True}, "params.offset_id: expected an integer"),
        ("messages.getHistory", {"peer": "me", "offset_id": 2**64}, "params.offset_id: expected an integer"),
        ("messages.sendMessage", {"peer": "me", "message": 5}, "params.message: expected a string"),
        (
            "messages.getHistory",
            {**HISTORY, "offset_date": "yesterday"},
            "params.offset_date: expected a date",
        ),
        (
            "messages.sendMedia",
            {
                "peer": "me",
                "message": "x",
                "random_id": 1,
                "media": {
                    "_": "inputMediaDocument",
                    "id": {"_": "inputDocument", "id": 1, "access_hash": 2, "file_reference": "***"},
                },
            },
            "params.media.id.file_reference: expected base64",
        ),
        ("users.getUsers", {"id": "me"}, "params.id: expected an array"),
        ("messages.getHistory", [], "params: expected a JSON object"),
    ],
)
def test_mistakes_are_refused_naming_the_field(method: str, params: Any, names: str) -> None:
    """Unknown methods, types and fields, wrong kinds of values: INVALID_ARGUMENT saying where."""
    with pytest.raises(InvalidArgument) as caught:
        parse_call(method, params)
    assert caught.value.code == "INVALID_ARGUMENT"
    assert names in caught.value.message


def test_oversized_and_deep_params_are_refused() -> None:
    """More than MAX_PARAMS_BYTES, or nesting past MAX_DEPTH, is refused before anything is built."""
    big = {"peer": "me", "message": "x" * (rawtl.MAX_PARAMS_BYTES + 1), "random_id": 1}
    with pytest.raises(InvalidArgument, match="bytes, more than"):
        parse_call("messages.sendMessage", big)
    deep: dict[str, Any] = {"_": "textPlain", "text": "x"}
    for _ in range(MAX_DEPTH + 2):
        deep = {"_": "textBold", "text": deep}
    with pytest.raises(InvalidArgument, match="too deep"):
        to_tl("pageBlockParagraph", {"text": deep})


def test_a_large_result_is_cut_and_says_so() -> None:
    """Results past the byte budget drop list items and bytes, and report truncated."""
    users = [types.User(id=i, first_name="x" * 100) for i in range(50)]
    data, truncated = from_tl(users, limit=2000)
    assert truncated and 0 < len(data) < 50
    data, truncated = from_tl(users)
    assert not truncated and len(data) == 50


def test_numbers_json_cannot_carry_become_null() -> None:
    """A NaN or infinite double (a geo point) is null in the answer, so it stays valid JSON."""
    data, _ = from_tl(types.GeoPoint(long=float("nan"), lat=float("inf"), access_hash=1))
    assert data == {"_": "geoPoint", "long": None, "lat": None, "access_hash": 1}
    json.dumps(data, allow_nan=False)


def test_dates_take_iso_or_unix_seconds() -> None:
    """`2026-12-07T10:00:00Z`, the same without a zone (UTC) and its unix seconds are one date."""
    base = {"peer": "me", "offset_id": 0, "add_offset": 0, "limit": 1, "max_id": 0, "min_id": 0, "hash": 0}
    dates = [
        parse_call("messages.getHistory", {**base, "offset_date": value}).request.offset_date
        for value in ("2026-12-07T10:00:00Z", "2026-12-07T10:00:00", int(WHEN.timestamp()))
    ]
    assert dates == [WHEN, WHEN, WHEN]


def test_every_object_field_of_the_schema_accepts_some_constructor() -> None:
    """The abstract-type check knows every type the schema's fields name (else a valid object would
    be refused); only MTProto's own ``future_salt`` and the wrappers' generic query have none."""
    unmatched = set()
    for name in rawtl.method_names():
        for field in rawtl.fields_of(rawtl.method_class(name)):
            kind = field.kind
            while kind.inner is not None:
                kind = kind.inner
            if kind.abstract and not rawtl.constructors_of(kind.abstract):
                unmatched.add(kind.abstract)
    assert unmatched <= {"X", "future_salt"}
