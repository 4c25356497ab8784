"""Chat references and t.me message links: what ``telegram/refs.py`` parses, and what it refuses."""

from __future__ import annotations

import pytest

from mcpgram.errors import ChatNotFound
from mcpgram.telegram.refs import Ref, classify_query, parse_ref

NEWS = -1001600000004


@pytest.mark.parametrize(
    ("ref", "parsed"),
    [
        ("t.me/demo_news/5", Ref("@demo_news", 5)),
        ("https://t.me/demo_news/5", Ref("@demo_news", 5)),
        ("http://telegram.me/demo_news/5/", Ref("@demo_news", 5)),
        ("https://t.me/s/demo_news/5", Ref("@demo_news", 5)),
        ("https://t.me/demo_news/5?single", Ref("@demo_news", 5)),
        ("https://t.me/demo_forum/13/17", Ref("@demo_forum", 17, 13)),
        ("https://t.me/demo_forum/17?thread=13", Ref("@demo_forum", 17, 13)),
        ("t.me/c/1600000004/5", Ref(NEWS, 5)),
        ("https://t.me/c/1600000003/13/17", Ref(-1001600000003, 17, 13)),
        ("https://t.me/c/1600000004", Ref(NEWS)),
        ("tg://resolve?domain=demo_news&post=5", Ref("@demo_news", 5)),
        ("tg://resolve?domain=demo_news", Ref("@demo_news")),
        ("tg://privatepost?channel=1600000003&post=17&thread=13", Ref(-1001600000003, 17, 13)),
        ("https://t.me/demo_news", Ref("@demo_news")),
        (NEWS, Ref(NEWS)),
        (str(NEWS), Ref(NEWS)),
        ("@demo_news", Ref("@demo_news")),
        ("me", Ref("me")),
    ],
)
def test_links_name_their_chat_message_and_topic(ref: str | int, parsed: Ref) -> None:
    """Every documented link form names the chat, the message and (for topic links) the topic."""
    assert parse_ref(ref) == parsed


@pytest.mark.parametrize(
    "ref",
    [
        "https://t.me/c/0/5",  # channel id 0
        "https://t.me/c/99999999999999999999/5",
        "tg://privatepost?channel=abc&post=5",
        "tg://resolve?domain=a&post=5",  # too short to be a username
        "https://example.com/demo_news/5",
        "t.me/demo_news/5/6/7",
    ],
)
def test_malformed_links_are_not_chats(ref: str) -> None:
    """A link that names no valid chat is CHAT_NOT_FOUND, never a guess."""
    with pytest.raises(ChatNotFound):
        parse_ref(ref)


def test_a_message_id_beyond_32_bits_is_ignored_not_sent() -> None:
    """A message number no TL int can carry leaves the link naming its chat only."""
    assert parse_ref("https://t.me/demo_news/9999999999") == Ref("@demo_news")


def test_find_chats_classifies_message_links_by_their_chat() -> None:
    """find_chats looks up a message link's chat, exactly as the other tools resolve it."""
    assert classify_query("https://t.me/demo_news/5") == ("username", "demo_news")
    assert classify_query("tg://privatepost?channel=1600000003&post=17") == ("id", -1001600000003)
