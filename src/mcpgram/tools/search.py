"""``search_messages``: text or media across every chat of the account, newest first, paged by cursor.

One ``messages.searchGlobal`` request per page (``telegram/search.py``). Each hit names its chat by
id; the chats' names come once, in a top-level ``chats`` map, not with every message. The cursor
holds Telegram's own continuation (date, chat, id of the last hit shown), bound to the query.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal

from fastmcp import FastMCP
from fastmcp.tools import ToolResult
from pydantic import Field

from .. import telegram
from ..errors import InvalidArgument, InvalidCursor
from ..policy.guard import reads
from ..telegram.shapes import MediaFilter, pruned
from .context import READ, ToolContext, add_tool, compact
from .messages import parse_date
from .paging import int_at, next_cursor, read_cursor
from .params import MAX_INT32

if TYPE_CHECKING:  # Telethon-importing modules: for annotations only
    from ..telegram import Client
    from ..telegram.search import ChatType, Hits, Position

TOOL = "search_messages"
#: Marked peer ids are TL ``long``.
MAX_PEER = 2**63 - 1


def _position(ctx: ToolContext, query: dict[str, Any], cursor: str) -> Position:
    position = read_cursor(ctx, TOOL, query, cursor)
    return telegram.search.Position(
        rate=int_at(position, "r", low=0, high=MAX_INT32),
        peer=int_at(position, "p", low=-MAX_PEER, high=MAX_PEER),
        msg_id=int_at(position, "i", low=1, high=MAX_INT32),
    )


def _payload(ctx: ToolContext, bound: dict[str, Any], hits: Hits) -> dict[str, Any]:
    result: dict[str, Any] = {
        "chats": {str(k): v for k, v in hits.chats.items()},
        "messages": [pruned(m) for m in hits.messages],
        "has_more": hits.next is not None,
    }
    if hits.next is not None:
        position = {"r": hits.next.rate, "p": hits.next.peer, "i": hits.next.msg_id}
        result["next_cursor"] = next_cursor(ctx, TOOL, bound, position)
    return result


async def _search_payload(
    client: Client,
    ctx: ToolContext,
    bound: dict[str, Any],
    *,
    limit: int,
    cursor: str,
    media: MediaFilter,
    chat_type: ChatType,
) -> dict[str, Any]:
    query, since, until = bound["query"], bound["since"], bound["until"]
    if not query.strip() and not media:
        raise InvalidArgument("query is empty", hint="give text to find, or a media kind")
    min_date = parse_date(since, "since") if since else 0
    max_date = parse_date(until, "until") if until else 0
    after = _position(ctx, bound, cursor) if cursor else None
    try:
        hits = await telegram.search.search_all(
            client,
            text=query.strip(),
            limit=limit,
            media=media,
            chat_type=chat_type,
            min_date=min_date,
            max_date=max_date,
            after=after,
        )
    except telegram.search.UnknownPeer:
        raise InvalidCursor("cursor is not valid here", hint="start again without a cursor") from None
    # Only hits in chats inside the tenant's read scope; the cursor still follows Telegram's page.
    inside = await ctx.readable(client, hits.chats.keys() | {m.chat for m in hits.messages if m.chat})
    kept = [m for m in hits.messages if m.chat in inside]
    chats_shown = {k: v for k, v in hits.chats.items() if k in inside}
    return _payload(ctx, bound, telegram.search.Hits(messages=kept, chats=chats_shown, next=hits.next))


def register(mcp: FastMCP[Any], ctx: ToolContext) -> None:
    async def search_messages(
        query: Annotated[str, Field(max_length=256, description="Text (may be empty with media)")],
        *,
        limit: Annotated[int, Field(ge=1, le=100)] = 20,
        cursor: Annotated[str, Field(max_length=512, description="next_cursor of the previous page")] = "",
        media: MediaFilter = "",
        chat_type: Literal["", "users", "groups", "channels"] = "",
        since: Annotated[str, Field(max_length=40, description="ISO date/time")] = "",
        until: Annotated[str, Field(max_length=40, description="ISO date/time")] = "",
    ) -> ToolResult:
        """Search all chats, newest first. chats maps chat ids to names."""
        bound = {"query": query, "media": media, "chat_type": chat_type, "since": since, "until": until}

        payload = await ctx.run(
            reads(), _search_payload, ctx, bound, limit=limit, cursor=cursor, media=media, chat_type=chat_type
        )
        return compact(payload)

    add_tool(mcp, search_messages, READ)
