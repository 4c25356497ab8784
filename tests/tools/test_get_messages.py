"""get_messages through a real MCP client against the demo world, checked against the sandbox's truth.

Every mode is walked page by page with small limits: the concatenated pages must equal the truth
exactly (no duplicates, no gaps, ``has_more`` false only on the last page), and each page costs one
Telegram request.
"""

from __future__ import annotations

import base64
import json
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import pytest
from fastmcp.exceptions import ToolError
from telethon.tl import functions

from mcpgram.sandbox.rpc.search import media_class
from mcpgram.sandbox.threads import thread_messages, thread_root
from mcpgram.sandbox.world import Message
from mcpgram.tools.cursors import decode_cursor, encode_cursor

from .conftest import Demo
from .message_truth import box, cursor_key, history, marked, ref, rpc_delta, walk

pytestmark = pytest.mark.asyncio(loop_scope="module")
#: Tests that write get a fresh world (and their own event loop, as the ``served`` fixture has).
FRESH = pytest.mark.asyncio(loop_scope="function")


def ids(messages: list[dict[str, Any]]) -> list[int]:
    found = [m["id"] for m in messages]
    assert len(found) == len(set(found)), "duplicates across pages"
    return found


def iso(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def channel(shared: Demo, name: str) -> Any:
    return shared.world.channels[shared.demo.chats[name].id]


async def test_browsing_walks_the_whole_chat_newest_first(shared: Demo) -> None:
    """Pages of 7 concatenate to the chat's history, newest first, with has_more false only at the end."""
    truth = [m.id for m in reversed(history(shared, shared.demo.chats["news_chat"]))]
    messages, pages = await walk(shared, "get_messages", chat=ref(shared, "news_chat"), limit=7)
    assert ids(messages) == truth
    assert [p["has_more"] for p in pages] == [True] * (len(pages) - 1) + [False]
    assert all(len(p["messages"]) == 7 for p in pages[:-1])


async def test_from_date_reads_forward_oldest_first(shared: Demo) -> None:
    """from_date gives every message sent at or after that moment, oldest first."""
    chat = shared.demo.chats["news_chat"]
    moment = history(shared, chat)[20].date
    truth = [m.id for m in history(shared, chat) if m.date >= moment]
    messages, _ = await walk(
        shared, "get_messages", chat=ref(shared, "news_chat"), limit=4, from_date=iso(moment)
    )
    assert ids(messages) == truth and len(truth) > 8
    day = datetime.fromtimestamp(moment, UTC).date().isoformat()
    start = int(datetime.fromisoformat(day).replace(tzinfo=UTC).timestamp())
    page = await shared.call("get_messages", chat=ref(shared, "news_chat"), limit=3, from_date=day)
    assert ids(page["messages"]) == [m.id for m in history(shared, chat) if m.date >= start][:3]


async def test_search_walks_matches_in_both_directions(shared: Demo) -> None:
    """Text search pages through every match, newest first, and oldest first with from_date."""
    chat = shared.demo.chats["news_chat"]
    matches = [m for m in history(shared, chat) if "the" in m.content.text.casefold()]
    messages, _ = await walk(shared, "get_messages", chat=ref(shared, "news_chat"), limit=3, search="the")
    assert ids(messages) == [m.id for m in reversed(matches)] and len(matches) > 6
    moment = matches[3].date
    forward, _ = await walk(
        shared, "get_messages", chat=ref(shared, "news_chat"), limit=2, search="THE", from_date=iso(moment)
    )
    assert ids(forward) == [m.id for m in matches if m.date >= moment]


async def test_sender_filter_keeps_only_that_users_messages(shared: Demo) -> None:
    """sender narrows to one user's messages, alone and combined with search."""
    alex = shared.demo.users["alex"]
    mine = [m for m in history(shared, shared.demo.chats["hiking"]) if m.from_id == alex]
    messages, _ = await walk(shared, "get_messages", chat=ref(shared, "hiking"), limit=2, sender=str(alex))
    assert ids(messages) == [m.id for m in reversed(mine)] and len(mine) > 2
    assert {m["sender_id"] for m in messages} == {alex}
    page = await shared.call("get_messages", chat=ref(shared, "hiking"), sender=str(alex), search="trail")
    assert ids(page["messages"]) == [m.id for m in reversed(mine) if "trail" in m.content.text.casefold()]


@pytest.mark.parametrize(
    ("media", "kind"), [("photo", "photo"), ("document", "document"), ("voice", "voice")]
)
async def test_media_filter_finds_that_kind_only(shared: Demo, media: str, kind: str) -> None:
    """A media filter lists exactly the chat's messages with that kind of attachment."""
    chats = [
        *shared.demo.chats.values(),
        *(k for k in shared.world.box(shared.me).by_peer if k.kind == "user"),
    ]
    for peer in chats:
        truth = [
            m.id for m in reversed(history(shared, peer)) if media_class(shared.world, m.content) == kind
        ]
        if truth:
            break
    assert truth, f"the demo world has a {kind}"
    messages, _ = await walk(shared, "get_messages", chat=str(marked(peer)), limit=1, media=media)
    assert ids(messages) == truth
    assert {m["media"]["kind"] for m in messages} == {kind}


async def test_forum_topic_thread_lists_the_topic(shared: Demo) -> None:
    """thread=<topic id> walks the forum topic, its creation message included."""
    forum, topic = channel(shared, "forum"), shared.demo.topics["🗺 Itinerary"]
    truth = [m.id for m in reversed(thread_messages(forum, topic))]
    messages, _ = await walk(shared, "get_messages", chat=ref(shared, "forum"), limit=2, thread=topic)
    assert ids(messages) == truth and len(truth) > 2
    assert messages[-1]["service"] == "topic created: 🗺 Itinerary"
    assert all(m.get("thread") == topic for m in messages[:-1])


async def test_reply_thread_lists_the_replies(shared: Demo) -> None:
    """thread=<message id> in a supergroup walks the replies to it."""
    news_chat = channel(shared, "news_chat")
    counts = Counter(thread_root(m) for m in news_chat.box.messages.values() if m.reply_to)
    root = counts.most_common(1)[0][0]
    truth = [m.id for m in reversed(thread_messages(news_chat, root))]
    messages, _ = await walk(shared, "get_messages", chat=ref(shared, "news_chat"), limit=1, thread=root)
    assert ids(messages) == truth and len(truth) >= 3


async def test_channel_post_thread_lists_its_comments(shared: Demo) -> None:
    """thread=<post id> in a broadcast channel walks the post's comments in the discussion group."""
    news = channel(shared, "news")
    post = next(m for m in news.box.messages.values() if m.discussion and m.id == 5)
    group_id, root = post.discussion or (0, 0)
    truth = [m.id for m in reversed(thread_messages(shared.world.channels[group_id], root))]
    messages, _ = await walk(shared, "get_messages", chat=ref(shared, "news"), limit=2, thread=post.id)
    assert ids(messages) == truth and len(truth) >= 3
    assert all(m["link"].startswith(f"https://t.me/c/{group_id}/") for m in messages)
    listed = await shared.call("get_messages", chat=ref(shared, "news"), ids=[post.id])
    assert listed["messages"][0]["comments"] == len(truth)


async def test_ids_returns_those_messages_and_lists_the_missing(shared: Demo) -> None:
    """ids come back in the order asked, once each; absent ids (or another chat's) are in not_found."""
    page = await shared.call("get_messages", chat=ref(shared, "news_chat"), ids=[5, 3, 999_999, 5])
    assert ids(page["messages"]) == [5, 3] and page["not_found"] == [999_999] and "has_more" not in page
    family = [m.id for m in history(shared, shared.demo.chats["family"])]
    elsewhere = next(i for i in shared.world.box(shared.me).messages if i not in family)
    page = await shared.call("get_messages", chat=ref(shared, "family"), ids=[family[-1], elsewhere])
    assert ids(page["messages"]) == [family[-1]] and page["not_found"] == [elsewhere]
    empty = await shared.call("get_messages", chat=ref(shared, "family"), ids=[123_456])
    assert empty["messages"] == [] and empty["not_found"] == [123_456]


async def test_every_mode_costs_one_telegram_call_per_page(shared: Demo) -> None:
    """Once the chat is known, a page is exactly one request, of the method Telegram uses for it."""
    chat, alex = ref(shared, "news_chat"), str(shared.demo.users["alex"])
    await shared.call("get_messages", chat=chat, limit=1)
    await shared.call("get_messages", chat=alex, limit=1)
    cases: list[tuple[dict[str, Any], str]] = [
        ({}, "messages.getHistory"),
        ({"from_date": "2025-06-01"}, "messages.getHistory"),
        ({"search": "the"}, "messages.search"),
        ({"sender": alex}, "messages.search"),
        ({"media": "photo"}, "messages.search"),
        ({"thread": 5}, "messages.getReplies"),
        ({"thread": 5, "search": "a"}, "messages.search"),
        ({"ids": [1, 2]}, "channels.getMessages"),
    ]
    for args, method in cases:
        first = await shared.call("get_messages", chat=chat, limit=2, **args)
        before = Counter(shared.sandbox.rpc_counts)
        if "next_cursor" in first:
            await shared.call("get_messages", chat=chat, limit=2, cursor=first["next_cursor"], **args)
        else:
            await shared.call("get_messages", chat=chat, limit=2, **args)
        assert rpc_delta(shared, before) == {method: 1}, args


async def _refused(shared: Demo, code: str, **args: Any) -> str:
    with pytest.raises(ToolError) as refused:
        await shared.call("get_messages", **args)
    text = str(refused.value)
    assert code in text, text
    return text


def _resigned(shared: Demo, cursor: str, position: Any) -> str:
    """``cursor`` with its position replaced, signed with the server's key (as only the server could)."""
    key = cursor_key(shared)
    tenant = shared.gateway.owner.tenant_id if shared.gateway.owner else ""
    payload = decode_cursor(key, tenant, cursor)
    return encode_cursor(key, tenant, {**payload, "p": position})


async def test_hostile_inputs_are_refused_with_stable_codes(shared: Demo) -> None:
    """Forged, foreign and out-of-range cursors, bad dates, unknown senders and threads: clear codes."""
    chat, hiking = ref(shared, "news_chat"), ref(shared, "hiking")
    cursor = (await shared.call("get_messages", chat=chat, limit=2))["next_cursor"]
    search = (await shared.call("search_messages", query="the", limit=1))["next_cursor"]
    body = base64.urlsafe_b64encode(json.dumps({"after": 3}).encode()).decode().rstrip("=")
    for bad in ["abc.def", cursor[:-2] + "AA", body + "." + "A" * 22]:
        await _refused(shared, "INVALID_CURSOR", chat=chat, cursor=bad)
    await _refused(shared, "INVALID_CURSOR", chat=hiking, cursor=cursor)
    await _refused(shared, "INVALID_CURSOR", chat=chat, cursor=cursor, search="the")
    await _refused(shared, "INVALID_CURSOR", chat=chat, cursor=search)
    for position in [{"after": 0}, {"after": 2**31}, {"after": "7"}, {}, {"after": -5}]:
        await _refused(shared, "INVALID_CURSOR", chat=chat, cursor=_resigned(shared, cursor, position))
    await _refused(shared, "INVALID_ARGUMENT", chat=chat, from_date="yesterday")
    await _refused(shared, "INVALID_ARGUMENT", chat=chat, ids=[1], search="x")
    await _refused(shared, "CHAT_NOT_FOUND", chat=chat, sender="@nobody_at_all_here")
    await _refused(shared, "CHAT_NOT_FOUND", chat=chat, thread=999_999)
    await _refused(shared, "CHAT_NOT_FOUND", chat="-1009999999999")
    for bad_ids in ([0], [2**31], list(range(1, 102))):
        with pytest.raises(ToolError):
            await shared.call("get_messages", chat=chat, ids=bad_ids)


async def test_empty_results_are_successes(shared: Demo) -> None:
    """No match, a future from_date or a far-past page are empty pages, not errors."""
    chat = ref(shared, "news_chat")
    for args in [{"search": "no such words anywhere"}, {"from_date": "2037-01-01"}, {"media": "gif"}]:
        page = await shared.call("get_messages", chat=chat, **args)
        assert page == {"note": page["note"], "messages": [], "has_more": False}


@FRESH
async def test_deleted_and_edited_messages_between_pages(served: Demo) -> None:
    """A page after a deletion and an edit continues exactly: the deleted message is gone, the edit shows."""
    from mcpgram.sandbox.messaging import Changes, delete, edit, push_changes

    peer = served.demo.chats["hiking"]
    chat = ref(served, "hiking")
    first = await served.call("get_messages", chat=chat, limit=5)
    newest = [m.id for m in reversed(history(served, peer))]
    assert ids(first["messages"]) == newest[:5]
    holder, changes = box(served, peer), Changes()
    gone: Message = holder.messages[newest[7]]
    delete(served.world, changes, gone.author_id or 0, [gone], revoke=True)
    changed = holder.messages[newest[6]]
    changed.content.text, changed.content.edit_date = "edited between pages", served.world.now()
    edit(served.world, changes, changed)
    top = holder.messages[newest[0]]
    delete(served.world, changes, top.author_id or 0, [top], revoke=True)
    push_changes(served.sandbox, changes)
    rest, _ = await walk(served, "get_messages", chat=chat, limit=5, cursor=first["next_cursor"])
    assert ids(rest) == [i for i in newest[5:] if i != gone.id]
    shown = next(m for m in rest if m["id"] == changed.id)
    assert shown["text"] == "edited between pages" and shown["edited"] == iso(changed.content.edit_date)


@FRESH
async def test_date_ties_page_without_gaps(served: Demo) -> None:
    """Messages sharing one second split across pages exactly, forwards and backwards."""
    from mcpgram.sandbox.messaging import Changes, post
    from mcpgram.sandbox.world import Content

    peer, alex = served.demo.chats["hiking"], served.demo.users["alex"]
    moment = served.world.now()
    posted = [
        post(
            served.world, Changes(), sender_id=alex, peer=peer, content=Content(text=f"tie {n}"), date=moment
        )
        for n in range(5)
    ]
    forward, _ = await walk(
        served, "get_messages", chat=ref(served, "hiking"), limit=2, from_date=iso(moment)
    )
    assert ids(forward) == [m.id for m in posted]
    backward, _ = await walk(served, "get_messages", chat=ref(served, "hiking"), limit=2, search="tie ")
    assert ids(backward) == [m.id for m in reversed(posted)]


@FRESH
async def test_flood_waits_are_absorbed_or_reported(served: Demo) -> None:
    """A short FLOOD_WAIT is slept through; a long one is RATE_LIMITED with retry_after."""
    chat = ref(served, "news_chat")
    await served.call("get_messages", chat=chat, limit=1)
    served.sandbox.faults.flood_wait(functions.messages.GetHistoryRequest, 1)
    page = await served.call("get_messages", chat=chat, limit=1)
    assert page["messages"] and served.sandbox.faults.pending() == 0
    served.sandbox.faults.flood_wait(functions.messages.SearchRequest, 120)
    with pytest.raises(ToolError) as refused:
        await served.call("get_messages", chat=chat, search="x")
    assert str(refused.value).startswith("RATE_LIMITED: ") and "retry_after=120" in str(refused.value)
