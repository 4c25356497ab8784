"""Where a reply goes, and what a refused one tells the agent: comments, topics, discussion groups.

A channel post's comments are messages of the channel's discussion group; Telegram names the post's
copy there with ``messages.getDiscussionMessage``. :func:`discussion_thread` finds it, so
``send_message(chat=<channel>, topic=<post id>)`` comments on the post (``sending.send_prepared``
sends there when the channel refuses the account as a poster). :func:`refusal_for` turns the
refusals a wrong address causes into errors whose hints say where to look instead.
"""

from __future__ import annotations

from typing import Any

from telethon import TelegramClient, errors, functions, types, utils

from ..errors import MCPGramError, MessageNotFound, NotAllowed

__all__ = ["NOT_A_POSTER", "discussion_of", "discussion_thread", "refusal_for"]

#: Telegram's refusals of a post by an account that may not post in a channel.
NOT_A_POSTER = frozenset({"CHAT_ADMIN_REQUIRED", "CHAT_WRITE_FORBIDDEN"})
_GONE = frozenset({"REPLY_TO_INVALID", "TOPIC_ID_INVALID", "MSG_ID_INVALID", "REPLY_MESSAGE_ID_INVALID"})


async def discussion_thread(client: TelegramClient, channel: Any, post_id: int) -> tuple[Any, int] | None:
    """The discussion group (input peer) of a channel post and the id of the post's copy there.

    None when the post has no comments thread (no discussion group, or no such post).
    """
    try:
        found = await client(functions.messages.GetDiscussionMessageRequest(peer=channel, msg_id=post_id))
    except (errors.BadRequestError, errors.ChannelPrivateError):
        return None  # MSG_ID_INVALID, CHANNEL_INVALID...: the post has no thread to comment in
    root = next(iter(getattr(found, "messages", None) or []), None)
    if root is None or isinstance(root, types.MessageEmpty):
        return None
    where = utils.get_peer_id(root.peer_id)
    group = next((c for c in found.chats if utils.get_peer_id(c) == where), None)
    if group is None or where == utils.get_peer_id(channel):
        return None
    return utils.get_input_peer(group), int(root.id)


async def refusal_for(
    client: TelegramClient, entity: Any, name: str, *, reply_to: int, topic: int
) -> MCPGramError | None:
    """What a refused send tells the agent: where to look, for the refusals a wrong address causes.

    A reply into a channel the account may not post in is, nearly always, an answer to a comment:
    comments live in the channel's discussion group, whose id the hint names (one more call, made
    only on this refusal). A reply or topic that does not exist points at the listing tools. None:
    the pool's general mapping says it well enough.
    """
    if name in _GONE:
        if topic:
            hint = "get_chat lists the forum's topics (their ids are the topic to post in)"
            return MessageNotFound("the message or topic to reply to does not exist", hint=hint)
        hint = "reply_to takes a message id of this chat from get_messages"
        return MessageNotFound("the message to reply to does not exist in this chat", hint=hint)
    if reply_to and name in NOT_A_POSTER and isinstance(entity, types.InputPeerChannel):
        linked = await discussion_of(client, entity)
        if linked is not None:
            hint = (
                f"comments live in the discussion group {linked}: send_message(chat={linked}, "
                "reply_to=<comment id>) answers one; topic=<post id> here comments on a post"
            )
            return NotAllowed("only admins post in this channel", hint=hint)
    return None


async def discussion_of(client: TelegramClient, entity: Any) -> int | None:
    """The marked id of a channel's linked discussion group, or None."""
    full = await client(functions.channels.GetFullChannelRequest(utils.get_input_channel(entity)))
    linked = getattr(full.full_chat, "linked_chat_id", None)
    return int(utils.get_peer_id(types.PeerChannel(linked))) if linked else None
