"""Writing tools: ``send_message``, ``edit_message``, ``forward_messages``, ``send_to_phone``.

Thin tools: bounds on every argument, one ``telegram.sending`` (or ``telegram.phone``) function per
call, a compact result without third-party text (they echo ids and dates, never a message). Chats
resolve strictly (``find_chats`` turns names into ids); the text is parsed only in the mode the
caller names. Local files may be sent only by the local stdio user: an HTTP tenant naming a path on
the gateway's host would read the operator's disk. Each send carries one ``random_id``, so a
connection lost mid-send can never make a second message (``telegram/sending.py`` says how).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastmcp import FastMCP
from fastmcp.exceptions import ToolError
from fastmcp.tools import ToolResult
from pydantic import Field

from .. import telegram
from ..errors import NotAllowed
from ..policy.guard import Action
from ..telegram.shapes import pruned
from .context import DESTRUCTIVE, WRITE, ToolContext, add_tool, compact, refusal
from .params import MAX_INT32, ChatRef, MessageIdItem

#: Telegram forwards at most 100 messages per call.
MAX_FORWARD = 100
#: Raw input before markup is parsed; the 4096 limit applies to the parsed text.
MAX_RAW_TEXT = 16_384

Text = Annotated[str, Field(max_length=MAX_RAW_TEXT, description="Up to 4096 characters after formatting")]
ParseMode = Annotated[
    Literal["text", "markdown", "html"],
    Field(description="text: verbatim; markdown: **b** __i__ `code` [t](url); html: <b> <i> <a href>"),
]


def _no_local_files() -> ToolError:
    refused = NotAllowed(
        "local files can be sent only through a local (stdio) server",
        hint="sending files by URL arrives with the files feature",
    )
    return refusal(refused)


def register(mcp: FastMCP[Any], ctx: ToolContext) -> None:
    async def send_message(
        *,
        chat: ChatRef,
        text: Annotated[
            str, Field(max_length=MAX_RAW_TEXT, description="Up to 4096 characters; caption if file")
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
        file: Annotated[
            str, Field(max_length=4096, description="Absolute path of a local file to send")
        ] = "",
    ) -> ToolResult:
        """Send a message (or a local file) to a chat; returns its id. Never guesses a chat from a name."""
        if file and not ctx.local_files:
            raise _no_local_files()

        # A file is also an upload: both verbs must allow it.
        act = Action(("send", "upload") if file else ("send",), write=(chat,), sends=True)
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
            file=file,
        )
        return compact(pruned(sent), third_party=False)

    async def edit_message(
        chat: ChatRef,
        message_id: Annotated[int, Field(ge=1, le=MAX_INT32, description="Id of your own message")],
        text: Text,
        parse_mode: ParseMode = "text",
    ) -> ToolResult:
        """Replace the text of one of your own messages (changed=false if it already read so)."""

        act = Action(("edit",), write=(chat,))
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

        act = Action(("forward",), read=(from_chat,), write=(to_chat,), sends=True)
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
            Action(("send",), sends=True, unresolved_recipient=True),
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
