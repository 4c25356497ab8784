"""Actions on messages: ``delete_messages``, ``mark_read``, ``react``, ``pin_message``, ``transcribe_voice``.

Thin tools: bounds on every argument, one ``telegram.actions`` function per call, a compact result.
``for_everyone`` on delete has no default on purpose: deleting only for oneself and for everyone are
different acts, and the agent must choose. All five are idempotent: setting a read mark, reaction or
pin again leaves the same state, and a second delete reports the ids as not_found.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastmcp import FastMCP
from fastmcp.tools import ToolResult
from pydantic import Field

from .. import telegram
from ..policy.guard import Action, reads
from .context import DESTRUCTIVE, READ, SET, ToolContext, add_tool, compact
from .params import MAX_INT32, ChatRef, MessageId, MessageIdItem

#: Telegram deletes at most 100 messages per call.
MAX_DELETE = 100


def register(mcp: FastMCP[Any], ctx: ToolContext) -> None:
    async def delete_messages(
        chat: ChatRef,
        message_ids: Annotated[
            list[MessageIdItem],
            Field(min_length=1, max_length=MAX_DELETE, description="Ids from get_messages"),
        ],
        for_everyone: Annotated[
            bool,
            Field(description="true: for all members; false: only for you (not in channels/supergroups)"),
        ],
        scheduled: Annotated[
            bool, Field(description="Cancel scheduled messages (ids from send_message or get_messages)")
        ] = False,
    ) -> ToolResult:
        """Delete messages of one chat. Ids not in the chat are listed in not_found."""

        ids = ", ".join(map(str, message_ids))
        if scheduled:
            act = Action(("delete",), write=(chat,), details=(f"cancel scheduled messages {ids}",))
        else:
            shown = f"delete messages {ids} " + ("for everyone" if for_everyone else "for me")
            act = Action(("delete",), write=(chat,), revoke=for_everyone, details=(shown,))
        done = await (
            ctx.run(act, telegram.actions.delete_scheduled, chat, message_ids)
            if scheduled
            else ctx.run(act, telegram.actions.delete_messages, chat, message_ids, for_everyone=for_everyone)
        )
        result: dict[str, Any] = {"deleted": len(done.deleted)}
        result |= {"scheduled": True} if scheduled else {"for_everyone": done.for_everyone}
        if done.not_found:
            result["not_found"] = done.not_found
        if done.always_everyone and not for_everyone:
            result["note"] = "channels and supergroups delete for everyone"
        return compact(result, third_party=False)

    async def mark_read(
        chat: ChatRef,
        up_to: Annotated[
            int, Field(ge=0, le=MAX_INT32, description="Read up to this message id; 0 reads all")
        ] = 0,
    ) -> ToolResult:
        """Mark a chat's messages as read."""

        act = Action(("mark_read",), read=(chat,), details=(f"mark read up to {up_to or 'the newest'}",))
        await ctx.run(act, telegram.actions.mark_read, chat, up_to=up_to)
        return compact({"read_up_to": up_to} if up_to else {"read": "all"}, third_party=False)

    async def react(
        chat: ChatRef,
        message_id: MessageId,
        emoji: Annotated[
            str, Field(max_length=16, description="One standard emoji (👍 ❤ 🔥 🎉 😁 …); empty removes yours")
        ] = "",
    ) -> ToolResult:
        """Set or remove your reaction on a message; returns its reactions after."""

        after = await ctx.run(
            Action(("react",), write=(chat,), content=(emoji,), details=(f"react to message {message_id}",)),
            telegram.actions.react,
            chat,
            message_id,
            emoji,
        )
        result: dict[str, Any] = {}
        if after.known:
            result["reactions"] = after.counts
        if after.mine:
            result["mine"] = after.mine[0] if len(after.mine) == 1 else after.mine
        return compact(result, third_party=False)

    async def pin_message(
        chat: ChatRef,
        message_id: MessageId,
        unpin: Annotated[bool, Field(description="true unpins the message instead")] = False,
        notify: Annotated[bool, Field(description="Notify group members about the pin")] = False,
    ) -> ToolResult:
        """Pin or unpin a message in a chat."""

        shown = f"{'unpin' if unpin else 'pin'} message {message_id}" + (
            " with a notification" if notify else ""
        )
        act = Action(("edit",), write=(chat,), details=(shown,))  # a pin changes the chat for everyone in it
        await ctx.run(act, telegram.actions.pin_message, chat, message_id, unpin=unpin, notify=notify)
        return compact({"message_id": message_id, "pinned": not unpin}, third_party=False)

    async def transcribe_voice(chat: ChatRef, message_id: MessageId) -> ToolResult:
        """Telegram's speech-to-text for a voice note or round video (Premium after a free trial)."""

        done = await ctx.run(reads(chat), telegram.actions.transcribe_voice, chat, message_id)
        result: dict[str, Any] = {"text": done.text}
        if done.pending:
            result["pending"] = True
            result["hint"] = "still transcribing: call again in a few seconds for the rest"
        if done.trial_left is not None:
            result["free_left"] = done.trial_left
            if done.trial_resets:
                result["free_resets"] = done.trial_resets
        return compact(result)

    add_tool(mcp, delete_messages, DESTRUCTIVE)
    add_tool(mcp, mark_read, SET)
    add_tool(mcp, react, SET)
    add_tool(mcp, pin_message, SET)
    # Reads a transcription of what is already there; repeating it is free and changes nothing.
    add_tool(mcp, transcribe_voice, READ)
