"""Chat references: what ``parse_chat_ref`` accepts, and the ids it refuses before Telethon sees them."""

from __future__ import annotations

import pytest

from mcpgram.errors import ChatNotFound
from mcpgram.telegram.chats import classify_query, parse_chat_ref


@pytest.mark.parametrize(
    ("ref", "parsed"),
    [
        ("me", "me"),
        (" Saved ", "me"),
        ("100000001", 100000001),
        ("-1001600000001", -1001600000001),
        ("9223372036854775807", 9223372036854775807),
        ("@durov", "@durov"),
        ("https://t.me/durov", "@durov"),
        ("+999 661 0000", "+9996610000"),
    ],
)
def test_valid_references_are_normalised(ref: str, parsed: str | int) -> None:
    """Ids, 'me', usernames, t.me links and phones normalise to what Telethon resolves."""
    assert parse_chat_ref(ref) == parsed


@pytest.mark.parametrize(
    "ref",
    [
        "0",
        "-0",
        "-1000000000000000000000",
        "9223372036854775808",
        "-9223373036854775808",  # a channel id of 2**63 once the -100 prefix is off
        "99999999999999999999",
        2**64,
        "../../etc/passwd",
        "\x00",
    ],
)
def test_ids_outside_telegram_range_and_junk_are_not_chats(ref: str | int) -> None:
    """Ids no TL long can carry (they crashed Telethon's serializer) and junk raise ChatNotFound."""
    with pytest.raises(ChatNotFound):
        parse_chat_ref(ref)


@pytest.mark.parametrize(
    ("query", "mode", "value"),
    [
        ("", "dialogs", ""),
        ("   ", "dialogs", ""),
        ("@durov", "username", "durov"),
        ("https://t.me/durov", "username", "durov"),
        ("t.me/s/durov/12", "username", "durov"),
        ("https://t.me/c/1600000001/5", "id", -1001600000001),
        ("+999 661 0001", "phone", "9996610001"),
        ("durov", "name", "durov"),  # a bare word is a name (and username prefix) search
        ("9996610001", "name", "9996610001"),  # digits without + are not guessed into a phone
        ("@ab", "name", "@ab"),  # too short to be a username
        ("https://t.me/+AAAAAEkk2WdoDrB4", "name", "https://t.me/+AAAAAEkk2WdoDrB4"),
    ],
)
def test_queries_are_classified_without_guessing(query: str, mode: str, value: str | int) -> None:
    """Usernames, links and +phones are exact look-ups; anything else is a name search."""
    assert classify_query(query) == (mode, value)


def test_private_links_parse_as_channel_ids() -> None:
    """A t.me/c/<id> link names the channel -100<id>, the id the other tools take."""
    assert parse_chat_ref("https://t.me/c/1600000003/17") == -1001600000003
