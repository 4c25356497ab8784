"""``find_chats`` and ``get_chat``: turn names into chat ids, and show one chat in full.

``find_chats`` is the only tool that accepts a fuzzy name; everything else takes the ids it returns.
Its cursors carry a position in the dialog list or in search results (``telegram.chats``), bound to
the query and filters; ``get_chat``'s ``topics_cursor`` carries a position in a forum's topic list.
:func:`chat_result` is ``get_chat``'s payload for other callers (the chat resource).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Annotated, Any, Literal

from fastmcp import FastMCP
from fastmcp.tools import ToolResult
from pydantic import Field

from .. import telegram
from ..errors import InvalidCursor
from ..policy.guard import reads
from ..telegram.shapes import pruned
from .context import READ, ToolContext, add_tool, compact
from .paging import int_at, next_cursor, read_cursor
from .params import MAX_INT32, ChatRef

if TYPE_CHECKING:  # Telethon-importing module: for annotations only
    from ..telegram import Client

Kind = Literal["any", "user", "bot", "group", "channel", "forum"]
DEFAULT_TOPICS = 10
_DAY = 86400
_MAX_LONG = 2**63 - 1


def _dialog_position(position: dict[str, Any]) -> dict[str, int]:
    """A dialog-walk position from a cursor: a count into the pinned head, or an offset triple."""
    if set(position) == {"s"}:
        return {"s": int_at(position, "s", high=100)}
    if set(position) == {"d", "i", "p"}:
        return {
            "d": int_at(position, "d", high=MAX_INT32),
            "i": int_at(position, "i", high=MAX_INT32),
            "p": int_at(position, "p", low=-_MAX_LONG, high=_MAX_LONG),
        }
    raise InvalidCursor("cursor is not valid here", hint="start again without a cursor")


def _search_position(position: dict[str, Any]) -> dict[str, int]:
    if set(position) != {"o"}:
        raise InvalidCursor("cursor is not valid here", hint="start again without a cursor")
    return {"o": int_at(position, "o", high=200)}


async def chat_result(ctx: ToolContext, chat: str, *, topics: int = DEFAULT_TOPICS) -> dict[str, Any]:
    """``get_chat``'s payload for ``chat`` (before :func:`compact`): profile, rights, pinned, topics."""
    return await ctx.run(reads(chat), _chat_payload, ctx, chat, topics)


async def _chat_payload(client: Client, ctx: ToolContext, chat: str, topics: int) -> dict[str, Any]:
    view = await telegram.profile.get_chat(client, chat, topics=topics)
    details = pruned(view.details)
    details.pop("pinned_id", None)
    payload: dict[str, Any] = {**details.pop("chat"), **details, "can": view.details.can}
    if view.pinned is not None:
        payload["pinned"] = pruned(view.pinned)
    if view.topics is not None:
        payload.update(_topic_page(ctx, chat, view.topics))
    return payload


async def _topics_payload(
    client: Client, ctx: ToolContext, chat: str, topics: int, topics_cursor: str
) -> dict[str, Any]:
    raw = read_cursor(ctx, "get_chat", {"chat": chat}, topics_cursor)
    if set(raw) != {"d", "i", "t"}:
        raise InvalidCursor("cursor is not valid here", hint="start again without a cursor")
    position = {key: int_at(raw, key, high=MAX_INT32) for key in ("d", "i", "t")}
    page = await telegram.profile.get_topics(client, chat, limit=max(topics, 1), position=position)
    return _topic_page(ctx, chat, page)


async def _chats_payload(  # noqa: PLR0917  # find_chats' arguments, passed on as they came
    client: Client,
    ctx: ToolContext,
    query: str,
    scope: dict[str, Any],
    flt: telegram.chats.ChatFilter,
    limit: int,
    cursor: str,
) -> dict[str, Any]:
    chats = telegram.chats
    dialogs = chats.classify_query(query)[0] == "dialogs"
    position: dict[str, int] = {}
    if cursor:
        raw = read_cursor(ctx, "find_chats", scope, cursor)
        position = _dialog_position(raw) if dialogs else _search_position(raw)
    found = await chats.find_chats(client, query, flt, limit=limit, position=position)
    # Only chats inside the tenant's read scope; the cursor still continues where Telegram's page ended.
    inside = await ctx.readable(client, [c.id for c in found.chats])
    result: dict[str, Any] = {
        "chats": [pruned(c) for c in found.chats if c.id in inside],
        "has_more": found.next is not None,
    }
    if found.next is not None:
        result["next_cursor"] = next_cursor(ctx, "find_chats", scope, found.next)
    return result


def _topic_page(ctx: ToolContext, chat: str, page: Any) -> dict[str, Any]:
    result: dict[str, Any] = {"topics": [pruned(t) for t in page.topics]}
    if page.next is not None:
        result["topics_cursor"] = next_cursor(ctx, "get_chat", {"chat": chat}, page.next)
    return result


def register(mcp: FastMCP[Any], ctx: ToolContext) -> None:
    async def find_chats(  # noqa: PLR0917  # the parameters are the tool's schema; agents pass them by name
        query: Annotated[
            str,
            Field(
                max_length=128,
                description="Empty: your chats, newest first",
            ),
        ] = "",
        kind: Annotated[Kind, Field(description="group includes supergroups, forums")] = "any",
        folder: Annotated[str, Field(max_length=64, description="Folder title or id, or 'archive'")] = "",
        unread: Annotated[bool, Field(description="Only unread chats")] = False,
        active_days: Annotated[
            int, Field(ge=0, le=3650, description="Last message within N days (0: any)")
        ] = 0,
        limit: Annotated[int, Field(ge=1, le=100)] = 20,
        cursor: Annotated[str, Field(max_length=512)] = "",
    ) -> ToolResult:
        """Find chats by name, @username, +phone or t.me link, or list yours; gives ids for other tools.

        Public matches carry source=global. Filtered pages may be short: follow next_cursor while has_more.
        """
        scope = {"query": query, "kind": kind, "folder": folder, "unread": unread, "active_days": active_days}
        since = int(time.time()) - active_days * _DAY if active_days else 0

        flt = telegram.chats.ChatFilter(kind=kind, folder=folder, unread=unread, active_since=since)
        payload = await ctx.run(reads(), _chats_payload, ctx, query, scope, flt, limit, cursor)
        # Names are third-party text; an empty page carries none, so it needs no note.
        return compact(payload, third_party=bool(payload["chats"]))

    async def get_chat(
        chat: ChatRef,
        topics: Annotated[
            int, Field(ge=0, le=50, description="Forum topics to list (0: none)")
        ] = DEFAULT_TOPICS,
        topics_cursor: Annotated[
            str, Field(max_length=512, description="topics_cursor from a previous call: only the next topics")
        ] = "",
    ) -> ToolResult:
        """Show one chat: about, members, linked chat, pinned message, forum topics, what you may do.

        can lists: send, send_media, pin, invite, delete_others, edit_others, ban.
        """
        if not topics_cursor:
            return compact(await chat_result(ctx, chat, topics=topics))

        return compact(await ctx.run(reads(chat), _topics_payload, ctx, chat, topics, topics_cursor))

    add_tool(mcp, find_chats, READ)
    add_tool(mcp, get_chat, READ)
