"""Writing tools: ``send_message``, ``edit_message``, ``forward_messages``, ``send_to_phone``.

Thin tools: bounds on every argument, one ``telegram.sending`` (or ``telegram.phone``) function per
call, a compact result without third-party text (they echo ids and dates, never a message). Chats
resolve strictly (``find_chats`` turns names into ids); the text is parsed only in the mode the
caller names. Files (URLs, base64 bytes, media handles, local paths over stdio only) are checked
and gathered by ``files.py`` and sent by ``telegram.outgoing``; an HTTP tenant naming a path on the
gateway's host would read the operator's disk, so that is refused before anything is read. Each
send carries one ``random_id``, so a connection lost mid-send can never make a second message
(``telegram/sending.py`` says how).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated, Any, Literal

from fastmcp import FastMCP
from fastmcp.tools import ToolResult
from pydantic import Field

from .. import telegram
from ..errors import MCPGramError
from ..policy import guard
from ..policy.guard import Action
from ..telegram.shapes import pruned
from . import files
from .context import DESTRUCTIVE, WRITE, ToolContext, add_tool, compact
from .files import FileArg, FileItem
from .params import MAX_INT32, ChatRef, MessageIdItem

#: Telegram's album limit (files per message).
MAX_ALBUM = 10
#: Telegram forwards at most 100 messages per call.
MAX_FORWARD = 100
#: Raw input before markup is parsed; the 4096 limit applies to the parsed text.
MAX_RAW_TEXT = 16_384

Text = Annotated[str, Field(max_length=MAX_RAW_TEXT, description="Up to 4096 characters after formatting")]
ParseMode = Annotated[
    Literal["text", "markdown", "html"],
    Field(description="text: verbatim; markdown: **b** __i__ `code` [t](url); html: <b> <i> <a href>"),
]


def _send_details(  # the send's options, as an approval binds and shows them
    parse_mode: str, reply_to: int, topic: int, silent: bool, schedule: str
) -> tuple[object, ...]:
    return (
        parse_mode,
        reply_to and f"reply to {reply_to}",
        topic and f"topic {topic}",
        silent and "silent",
        schedule and f"scheduled {schedule}",
    )


def register(mcp: FastMCP[Any], ctx: ToolContext) -> None:
    async def send_message(
        *,
        chat: ChatRef,
        text: Annotated[
            str, Field(max_length=MAX_RAW_TEXT, description="Up to 4096 characters; caption if files")
        ],
        parse_mode: ParseMode = "text",
        reply_to: Annotated[int, Field(ge=0, le=MAX_INT32, description="Message id to reply to")] = 0,
        topic: Annotated[
            int, Field(ge=0, le=MAX_INT32, description="Forum topic id, or channel post id to comment on")
        ] = 0,
        silent: Annotated[bool, Field(description="Send without a notification")] = False,
        schedule: Annotated[
            str, Field(max_length=40, description="Send later: ISO time (UTC unless offset), within 365 days")
        ] = "",
        files: Annotated[
            list[FileArg], Field(max_length=MAX_ALBUM, description="Files to attach (several: an album)")
        ] = [],  # noqa: B006 - pydantic copies defaults; [] keeps the schema free of anyOf-null
    ) -> ToolResult:
        """Send a message (or files) to a chat; returns its id. Never guesses a chat from a name."""
        if files:
            return await _send_files(
                chat, text, files, parse_mode=parse_mode, reply_to=reply_to, topic=topic, silent=silent,
                schedule=schedule,
            )  # fmt: skip
        details = _send_details(parse_mode, reply_to, topic, silent, schedule)
        act = Action(("send",), write=(chat,), sends=True, content=(text,), details=details)
        sent = await ctx.run(
            act,
            telegram.sending.send_message,
            chat,
            text,
            parse_mode=parse_mode,
            reply_to=reply_to,
            topic=topic,
            silent=silent,
            schedule=schedule,
        )
        return compact(pruned(sent), third_party=False)

    async def _send_files(chat: str, text: str, items: list[FileItem], **options: Any) -> ToolResult:
        # Files are also an upload: both verbs must allow it, checked before anything is fetched or read.
        act = Action(("send", "upload"), write=(chat,), sends=True, content=(text,))
        try:
            guard.check_verbs(await ctx.policy(), act)
            inputs, fetched = await files.collect(ctx, items)
        except MCPGramError as exc:
            raise await ctx.refuse(act, exc) from None
        details = (*_send_details(**options), *(f"file {getattr(i, 'name', '') or i}" for i in inputs))
        act = replace(
            act,
            content=(text, *files.content_parts(inputs)),
            details=details,
            content_complete=files.arrived(inputs),
            content_ready=files.ready(inputs),
        )
        try:
            progress = files.progress_reporter()
            sent = await ctx.run(
                act, files.send_with_files, ctx, chat, text, inputs, progress=progress, **options
            )
        finally:
            files.remove_all(fetched)
        return compact(pruned(sent), third_party=False)

    async def edit_message(
        chat: ChatRef,
        message_id: Annotated[int, Field(ge=1, le=MAX_INT32, description="Id of your own message")],
        text: Text,
        parse_mode: ParseMode = "text",
    ) -> ToolResult:
        """Replace the text of one of your own messages (changed=false if it already read so)."""

        act = Action(
            ("edit",), write=(chat,), content=(text,), details=(f"edit message {message_id}", parse_mode)
        )
        edited = await ctx.run(
            act, telegram.sending.edit_message, chat, message_id, text, parse_mode=parse_mode
        )
        result = pruned(edited)
        result["changed"] = edited.changed
        return compact(result, third_party=False)

    async def forward_messages(
        from_chat: ChatRef,
        message_ids: Annotated[
            list[MessageIdItem],
            Field(
                min_length=1, max_length=MAX_FORWARD, description="Ids in from_chat, in the order to forward"
            ),
        ],
        to_chat: ChatRef,
        silent: Annotated[bool, Field(description="Forward without a notification")] = False,
    ) -> ToolResult:
        """Forward messages to another chat; returns the new ids in order."""
        ids = list(dict.fromkeys(message_ids))

        shown = f"forward messages {', '.join(map(str, ids))} from chat {from_chat}"
        act = Action(("forward",), read=(from_chat,), write=(to_chat,), sends=True, details=(shown, silent))
        forwarded = await ctx.run(
            act, telegram.sending.forward_messages, from_chat, ids, to_chat, silent=silent
        )
        return compact(pruned(forwarded), third_party=False)

    async def send_to_phone(
        phone: Annotated[
            str,
            Field(min_length=5, max_length=32, description="With country code, e.g. +15551234567"),
        ],
        text: Text,
        parse_mode: ParseMode = "text",
        first_name: Annotated[
            str, Field(max_length=64, description="Contact name; default: the number")
        ] = "",
        keep_contact: Annotated[bool, Field(description="Keep the contact afterwards")] = False,
    ) -> ToolResult:
        """Message a phone number that is not a contact (added for the send, then removed)."""

        done = await ctx.run(
            Action(
                ("send",),
                sends=True,
                unresolved_recipient=True,
                content=(text,),
                details=(f"to phone {phone}", parse_mode, first_name, keep_contact),
            ),
            telegram.phone.send_to_phone,
            phone,
            text,
            parse_mode=parse_mode,
            first_name=first_name,
            keep_contact=keep_contact,
        )
        return compact({**pruned(done.sent), "contact": done.contact}, third_party=False)

    add_tool(mcp, send_message, WRITE)
    add_tool(mcp, edit_message, DESTRUCTIVE)
    add_tool(mcp, forward_messages, WRITE)
    add_tool(mcp, send_to_phone, WRITE)
