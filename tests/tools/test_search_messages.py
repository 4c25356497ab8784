"""search_messages through a real MCP client against the demo world, checked against the sandbox's truth.

Truth is every message of the account's private chats, basic groups and joined channels that
matches, ordered as Telegram orders global search: newest first, ties by chat, then id.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from fastmcp.exceptions import ToolError
from telethon.tl import functions

from mcpgram.sandbox.rpc.search import media_class
from mcpgram.sandbox.world import Message, PeerKey
from mcpgram.tools.cursors import decode_cursor, encode_cursor

from .conftest import Demo
from .message_truth import cursor_key, marked, rpc_delta, walk
from .test_get_messages import FRESH

pytestmark = pytest.mark.asyncio(loop_scope="module")

Hit = tuple[int, int]  # (chat, id)


def truth(served: Demo, keep: Callable[[PeerKey, Message], bool]) -> list[Hit]:
    world = served.world
    scope = [(world.box(served.me), p) for p, i in world.box(served.me).by_peer.items() if i]
    scope += [
        (c.box, PeerKey("channel", c.id)) for c in world.channels.values() if served.me in c.participants
    ]
    hits = [
        ((m.date, (peer.kind, peer.id), m.id), (marked(peer), m.id))
        for holder, peer in scope
        for m in (holder.messages[i] for i in holder.history(peer))
        if keep(peer, m)
    ]
    return [hit for _key, hit in sorted(hits, reverse=True)]


def text_has(needle: str) -> Callable[[PeerKey, Message], bool]:
    return lambda _peer, m: needle.casefold() in m.content.text.casefold()


def _matching(served: Demo, needle: str) -> list[Message]:
    found: list[Message] = []
    truth(served, lambda _p, m: bool(needle in m.content.text.casefold() and found.append(m) is None))
    return found


def hits(messages: list[dict[str, Any]]) -> list[Hit]:
    found = [(m["chat"], m["id"]) for m in messages]
    assert len(found) == len(set(found)), "duplicates across pages"
    return found


async def test_search_walks_every_hit_across_chats(shared: Demo) -> None:
    """Pages of 3 concatenate to every hit, newest first; each chat is named once in chats."""
    expected = truth(shared, text_has("the"))
    messages, pages = await walk(shared, "search_messages", query="the", limit=3)
    assert hits(messages) == expected and len(expected) > 20
    assert [p["has_more"] for p in pages] == [True] * (len(pages) - 1) + [False]
    for page in pages:
        assert set(page["chats"]) == {str(m["chat"]) for m in page["messages"]}
    names = {str(marked(PeerKey("channel", c.id))): c.title for c in shared.world.channels.values()}
    for page in pages:
        for chat_id, name in page["chats"].items():
            assert names.get(chat_id, name) == name


async def test_date_ties_across_chats_split_exactly(shared: Demo) -> None:
    """A post and its discussion-group copy share a date; pages of one still give each exactly once."""
    expected = truth(shared, text_has("weather"))
    dates = Counter(m.date for m in _matching(shared, "weather"))
    assert len(expected) >= 4 and max(dates.values()) >= 2
    messages, _ = await walk(shared, "search_messages", query="Weather", limit=1)
    assert hits(messages) == expected


@pytest.mark.parametrize(
    ("media", "kind"), [("photo", "photo"), ("voice", "voice"), ("document", "document")]
)
async def test_media_filter_without_text(shared: Demo, media: str, kind: str) -> None:
    """A media kind alone searches every chat for that kind of attachment."""
    expected = truth(shared, lambda _p, m: media_class(shared.world, m.content) == kind)
    messages, _ = await walk(shared, "search_messages", query="", media=media, limit=4)
    assert hits(messages) == expected and expected


@pytest.mark.parametrize("chat_type", ["users", "groups", "channels"])
async def test_chat_type_narrows_the_chats(shared: Demo, chat_type: str) -> None:
    """users: private chats; groups: basic groups and supergroups; channels: broadcasts only."""
    world = shared.world

    def wanted(peer: PeerKey, m: Message) -> bool:
        broadcast = peer.kind == "channel" and world.channels[peer.id].broadcast
        kind = "users" if peer.kind == "user" else "channels" if broadcast else "groups"
        return kind == chat_type and "a" in m.content.text.casefold()

    messages, _ = await walk(shared, "search_messages", query="a", chat_type=chat_type, limit=20)
    assert hits(messages) == truth(shared, wanted) and messages


async def test_since_and_until_bound_the_dates(shared: Demo) -> None:
    """since/until keep hits sent within the two moments, both included."""
    dates = sorted(m.date for m in _matching(shared, "e"))
    low, high = dates[len(dates) // 4], dates[3 * len(dates) // 4]
    since = datetime.fromtimestamp(low, UTC).isoformat()
    until = datetime.fromtimestamp(high, UTC).isoformat()

    def within(_peer: PeerKey, m: Message) -> bool:
        return low <= m.date <= high and "e" in m.content.text.casefold()

    messages, _ = await walk(shared, "search_messages", query="e", since=since, until=until, limit=50)
    assert hits(messages) == truth(shared, within) and messages


async def test_one_telegram_call_per_page(shared: Demo) -> None:
    """Every page, first or continued, is one messages.searchGlobal request."""
    first = await shared.call("search_messages", query="the", limit=2)
    before = Counter(shared.sandbox.rpc_counts)
    await shared.call("search_messages", query="the", limit=2)
    assert rpc_delta(shared, before) == {"messages.searchGlobal": 1}
    before = Counter(shared.sandbox.rpc_counts)
    await shared.call("search_messages", query="the", limit=2, cursor=first["next_cursor"])
    assert rpc_delta(shared, before) == {"messages.searchGlobal": 1}


async def test_empty_results_are_successes(shared: Demo) -> None:
    """A query nothing matches is an empty page."""
    page = await shared.call("search_messages", query="zzz no such text zzz")
    assert page["messages"] == [] and page["has_more"] is False and "next_cursor" not in page


async def _refused(shared: Demo, code: str, **args: Any) -> None:
    with pytest.raises(ToolError) as refused:
        await shared.call("search_messages", **args)
    assert code in str(refused.value), str(refused.value)


async def test_hostile_inputs_are_refused_with_stable_codes(shared: Demo) -> None:
    """Forged, foreign and out-of-range cursors, an empty query and bad dates: clear codes."""
    cursor = (await shared.call("search_messages", query="the", limit=1))["next_cursor"]
    other = await shared.call("get_messages", chat="me", limit=1)
    key, tenant = cursor_key(shared), "owner"
    payload = decode_cursor(key, tenant, cursor)
    # A character of the signature changed (the last one may carry only padding bits, or be "x").
    middle = len(cursor) - 8
    forged = cursor[:middle] + ("A" if cursor[middle] != "A" else "B") + cursor[middle + 1 :]
    await _refused(shared, "INVALID_CURSOR", query="the", cursor=forged)
    await _refused(shared, "INVALID_CURSOR", query="they", cursor=cursor)
    await _refused(shared, "INVALID_CURSOR", query="the", cursor=cursor, chat_type="users")
    if "next_cursor" in other:
        await _refused(shared, "INVALID_CURSOR", query="the", cursor=other["next_cursor"])
    positions = [
        {**payload["p"], "p": 4242},  # a chat this account never saw
        {**payload["p"], "i": 0},
        {**payload["p"], "r": -1},
        {**payload["p"], "p": 2**63},
        {},
    ]
    for position in positions:
        forged = encode_cursor(key, tenant, {**payload, "p": position})
        await _refused(shared, "INVALID_CURSOR", query="the", cursor=forged)
    await _refused(shared, "INVALID_ARGUMENT", query="  ")
    await _refused(shared, "INVALID_ARGUMENT", query="x", since="last week")
    with pytest.raises(ToolError):
        await shared.call("search_messages", query="x" * 300)


@FRESH
async def test_long_flood_wait_is_reported(served: Demo) -> None:
    """A FLOOD_WAIT longer than the sleep threshold comes back as RATE_LIMITED with retry_after."""
    served.sandbox.faults.flood_wait(functions.messages.SearchGlobalRequest, 300)
    with pytest.raises(ToolError) as refused:
        await served.call("search_messages", query="the")
    assert str(refused.value).startswith("RATE_LIMITED: ") and "retry_after=300" in str(refused.value)
