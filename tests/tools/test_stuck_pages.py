"""Walks end when a server's pages stop advancing: the sandbox fault ``ignore_offsets`` makes it serve
every page as if no offset were given, as an independent server did for a ``from_date`` walk."""

from __future__ import annotations

from typing import Any

from telethon.tl import functions

from .conftest import Demo

#: A walk that has not ended after this many pages loops.
MAX_WALK = 30


async def _walk(
    served: Demo, tool: str, items: str, cursor_key: str, *, stuck: Any = None, **args: Any
) -> list[Any]:
    """Follow a tool's cursor to the end; fail if it does not end within MAX_WALK pages.

    ``stuck``: a method whose offsets the sandbox ignores from the second page on.
    """
    shown: list[Any] = []
    cursor = ""
    for step in range(MAX_WALK):
        if step == 1 and stuck is not None:
            served.sandbox.faults.ignore_offsets(stuck, calls=1000)
        page = await served.call(tool, **args, **({cursor_key: cursor} if cursor else {}))
        shown += page[items]
        cursor = page.get("next_cursor" if cursor_key == "cursor" else "topics_cursor", "")
        if not cursor:
            return shown
    raise AssertionError(f"{tool} walk did not end in {MAX_WALK} pages")


async def test_a_from_date_walk_ends_when_pages_stop_advancing(served: Demo) -> None:
    """With offsets ignored after the first page, a from_date walk still ends, showing nothing twice."""
    shown = await _walk(served, "get_messages", "messages", "cursor", chat="@hiking_club_demo", limit=3,
                        from_date="2000-01-01", stuck=functions.messages.GetHistoryRequest)  # fmt: skip
    ids = [m["id"] for m in shown]
    assert len(ids) >= 3 and len(ids) == len(set(ids)) and ids == sorted(ids)


async def test_a_newest_first_walk_ends_when_pages_stop_advancing(served: Demo) -> None:
    """Newest first, the repeated newest page adds only what lies past the last id shown, then ends."""
    shown = await _walk(served, "get_messages", "messages", "cursor", chat="@hiking_club_demo", limit=3,
                        stuck=functions.messages.GetHistoryRequest)  # fmt: skip
    ids = [m["id"] for m in shown]
    assert len(ids) >= 3 and len(ids) == len(set(ids)) and ids == sorted(ids, reverse=True)


async def test_the_same_walk_without_the_fault_reads_everything(served: Demo) -> None:
    """The guard does not cut a normal walk short: without the fault every message comes once."""
    forward = await _walk(served, "get_messages", "messages", "cursor", chat="@hiking_club_demo", limit=3,
                          from_date="2000-01-01")  # fmt: skip
    backward = await _walk(served, "get_messages", "messages", "cursor", chat="@hiking_club_demo", limit=3)
    assert [m["id"] for m in forward] == sorted(m["id"] for m in backward)
    assert len(forward) > 6


async def test_search_and_thread_and_dialog_and_topic_walks_end(served: Demo) -> None:
    """Every other paged walk ends too: search, comments, the dialog list, forum topics."""
    faults = served.sandbox.faults
    for method in (
        functions.messages.SearchRequest,
        functions.messages.GetRepliesRequest,
        functions.messages.SearchGlobalRequest,
        functions.messages.GetDialogsRequest,
        functions.messages.GetForumTopicsRequest,
    ):
        faults.ignore_offsets(method, calls=1000)
    searched = await _walk(served, "get_messages", "messages", "cursor", chat="@hiking_club_demo",
                           search="a", limit=1)  # fmt: skip
    assert len({m["id"] for m in searched}) == len(searched) >= 1
    comments = await _walk(served, "get_messages", "messages", "cursor", chat="@demo_news", thread=5, limit=1)
    assert len({m["id"] for m in comments}) == len(comments) >= 1
    hits = await _walk(served, "search_messages", "messages", "cursor", query="the", limit=2)
    assert len({(m["chat"], m["id"]) for m in hits}) == len(hits) >= 2
    chats = await _walk(served, "find_chats", "chats", "cursor", limit=3)
    assert len({c["id"] for c in chats}) == len(chats) >= 3
    chats = await _walk(served, "find_chats", "chats", "cursor", limit=2, kind="user")
    assert len({c["id"] for c in chats}) == len(chats) >= 2
    topics = await _walk(served, "get_chat", "topics", "topics_cursor", chat=-1001600000003, topics=1)
    assert len({t["id"] for t in topics}) == len(topics) >= 1
