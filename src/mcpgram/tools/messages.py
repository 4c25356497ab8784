"""``get_messages``: one chat's messages in every way Telegram reads them, paged by an opaque cursor.

Modes follow from the arguments: plain browsing (newest first), ``from_date`` (oldest first from a
moment), ``search``/``sender``/``media`` filters, ``thread`` (replies, a forum topic or a channel
post's comments), alone or together, and ``ids``. Each page is one Telegram request
(``telegram/history.py``); the cursor holds the last id shown and is bound to the query.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any

from fastmcp import FastMCP
from fastmcp.tools import ToolResult
from pydantic import Field

from .. import telegram
from ..errors import InvalidArgument
from ..policy.guard import reads
from ..telegram.shapes import MediaFilter, pruned
from .context import READ, ToolContext, add_tool, compact
from .paging import int_at, next_cursor, read_cursor
from .params import MAX_INT32, ChatRef, MessageIdItem, SenderRef

if TYPE_CHECKING:  # Telethon-importing modules: for annotations only
    from ..telegram import Client
    from ..telegram.history import Page

TOOL = "get_messages"
MAX_IDS = 100


def parse_date(text: str, name: str) -> int:
    """An ISO date or datetime (naive = UTC) as unix seconds within TL's range; INVALID_ARGUMENT otherwise."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InvalidArgument(
            f"{name} is not an ISO date", hint="e.g. 2025-06-01 or 2025-06-01T08:30Z"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return min(max(int(moment.timestamp()), 1), MAX_INT32)


def page_payload(page: Page) -> dict[str, Any]:
    result: dict[str, Any] = {"messages": [pruned(m) for m in page.messages]}
    if page.missing:
        result["not_found"] = page.missing
    if page.chat is not None:
        result["chat"] = page.chat
    return result


async def read_page(
    client: Client, ctx: ToolContext, query: dict[str, Any], limit: int, cursor: str
) -> dict[str, Any]:
    """One page of ``get_messages`` for the arguments in ``query`` (run by ``ctx.run``)."""
    ids: list[int] = query["ids"]
    if query.get("scheduled"):
        if any(query[k] for k in ("from_date", "search", "thread", "sender", "media")) or cursor:
            raise InvalidArgument("scheduled lists the whole list: only ids may narrow it")
        return page_payload(await telegram.history.scheduled_messages(client, query["chat"], ids))
    filtered = any(query[k] for k in ("from_date", "search", "thread", "sender", "media")) or cursor
    if not ids and not filtered:
        # A message link as the chat (t.me/<chat>/<id>) reads that message; with filters, its chat.
        linked = telegram.refs.parse_ref(query["chat"]).message
        ids = [linked] if linked else []
    if ids:
        if filtered:
            raise InvalidArgument("ids cannot be combined with other filters or a cursor")
        return page_payload(await telegram.history.messages_by_id(client, query["chat"], ids))
    after = 0
    if cursor:
        after = int_at(read_cursor(ctx, TOOL, query, cursor), "after", low=1, high=MAX_INT32)
    from_date = parse_date(query["from_date"], "from_date") if query["from_date"] else 0
    q = telegram.history.Query(
        chat=query["chat"],
        limit=limit,
        from_date=from_date,
        search=query["search"],
        thread=query["thread"],
        sender=query["sender"],
        media=query["media"],
        after=after,
    )
    page = await telegram.history.read_messages(client, q)
    result = page_payload(page)
    result["has_more"] = page.has_more
    if page.has_more:
        result["next_cursor"] = next_cursor(ctx, TOOL, query, {"after": page.last_id})
    return result


async def message_result(ctx: ToolContext, chat: str, limit: int) -> dict[str, Any]:
    """What ``get_messages(chat, limit)`` returns, before ``compact`` (for the messages resource)."""
    query = _query(chat)

    return await ctx.run(reads(chat), read_page, ctx, query, limit, "")


def _query(
    chat: str,
    *,
    from_date: str = "",
    search: str = "",
    ids: list[int] | None = None,
    thread: int = 0,
    sender: str = "",
    media: str = "",
    scheduled: bool = False,
) -> dict[str, Any]:
    """Every argument but ``limit`` and ``cursor``: what a cursor is bound to."""
    query: dict[str, Any] = {} if not scheduled else {"scheduled": True}
    return query | {
        "chat": chat,
        "from_date": from_date,
        "search": search,
        "ids": ids or [],
        "thread": thread,
        "sender": sender,
        "media": media,
    }


def register(mcp: FastMCP[Any], ctx: ToolContext) -> None:
    async def get_messages(
        chat: ChatRef,
        *,
        limit: Annotated[int, Field(ge=1, le=100)] = 20,
        cursor: Annotated[str, Field(max_length=512, description="next_cursor of the previous page")] = "",
        from_date: Annotated[
            str, Field(max_length=40, description="ISO date/time: oldest first from then")
        ] = "",
        search: Annotated[str, Field(max_length=256, description="Text to find")] = "",
        ids: Annotated[
            list[MessageIdItem],
            Field(max_length=MAX_IDS, description="Only these ids (absent ones: not_found)"),
        ] = [],  # noqa: B006 - pydantic copies defaults; [] keeps the schema free of anyOf-null
        thread: Annotated[
            int,
            Field(ge=0, le=MAX_INT32, description="Message id: its replies, forum topic or post comments"),
        ] = 0,
        sender: SenderRef = "",
        media: MediaFilter = "",
        scheduled: Annotated[
            bool, Field(description="Your scheduled messages here instead (date: when they go out)")
        ] = False,
    ) -> ToolResult:
        """Read one chat's messages, newest first. Filters combine."""
        query = _query(
            chat,
            from_date=from_date,
            search=search,
            ids=ids,
            thread=thread,
            sender=sender,
            media=media,
            scheduled=scheduled,
        )

        return compact(await ctx.run(reads(chat), read_page, ctx, query, limit, cursor))

    add_tool(mcp, get_messages, READ)
