"""Message threads: reply threads in supergroups, forum topics, and comments on channel posts.

Telegram threads every reply in a supergroup: the thread id is the id of the message at the top of
the reply chain (``reply_to_top_id``; omitted when it equals ``reply_to_msg_id``). A forum topic is
the thread of its ``messageActionTopicCreate`` service message, whose id is the topic id; "General"
(id 1) holds every message outside a topic and its messages carry no ``forum_topic``. A broadcast
channel with a linked discussion group has each post auto-forwarded there, and that copy is the root
of the post's comment thread.

``messaging`` calls :func:`thread_reply` and :func:`discussion_copy` while posting; the RPC modules
use the rest to list threads. Nothing here logs updates.
"""

from __future__ import annotations

from telethon.tl import types

from .router import RpcError
from .world import Channel, Content, Message, PeerKey, ReplyTo, World

GENERAL_TOPIC_ID = 1


def is_admin(channel: Channel, user_id: int) -> bool:
    member = channel.participants.get(user_id)
    return member is not None and (member.admin or member.creator)


def topic_of(channel: Channel, message: Message) -> int:
    """The forum topic ``message`` belongs to (General for everything outside a topic)."""
    if message.id in channel.topics:
        return message.id
    reply = message.reply_to
    if reply is not None and reply.forum_topic and reply.top_id is not None:
        return reply.top_id
    return GENERAL_TOPIC_ID


def thread_root(message: Message) -> int:
    """The id of the thread ``message`` is part of, or its own id when it starts one."""
    reply = message.reply_to
    if reply is None:
        return message.id
    return reply.top_id or reply.msg_id or message.id


def thread_reply(channel: Channel, reply_to: ReplyTo | None, sender_id: int) -> ReplyTo | None:
    """Complete a reply header sent into a supergroup with its thread, as Telegram stores it.

    Clients usually send only ``reply_to_msg_id`` (Telethon's ``comment_to`` and ``reply_to=topic``
    do); the server works out ``top_id`` and, in a forum, ``forum_topic``.
    """
    if channel.broadcast or reply_to is None:
        return reply_to
    target = channel.box.messages.get(reply_to.msg_id) if reply_to.msg_id else None
    if not channel.forum:
        top = reply_to.top_id or (thread_root(target) if target is not None else None)
        return ReplyTo(msg_id=reply_to.msg_id, top_id=top, quote_text=reply_to.quote_text)
    topic = reply_to.top_id or (topic_of(channel, target) if target is not None else GENERAL_TOPIC_ID)
    if topic == GENERAL_TOPIC_ID:
        return ReplyTo(msg_id=reply_to.msg_id, quote_text=reply_to.quote_text)
    found = channel.topics.get(topic)
    if found is None:
        raise RpcError(400, "TOPIC_ID_INVALID")
    if found.closed and not is_admin(channel, sender_id):
        raise RpcError(400, "TOPIC_CLOSED")
    return ReplyTo(
        msg_id=reply_to.msg_id or topic, top_id=topic, forum_topic=True, quote_text=reply_to.quote_text
    )


def in_thread(channel: Channel, message: Message, root: int) -> bool:
    """Whether ``message`` belongs to thread ``root`` (a topic's history includes its creation message)."""
    if channel.forum and (root == GENERAL_TOPIC_ID or root in channel.topics):
        return topic_of(channel, message) == root
    return message.id != root and message.reply_to is not None and thread_root(message) == root


def thread_messages(channel: Channel, root: int) -> list[Message]:
    """The messages of thread ``root`` in ``channel``, oldest first."""
    box = channel.box
    return [
        box.messages[i]
        for i in box.history(PeerKey("channel", channel.id))
        if in_thread(channel, box.messages[i], root)
    ]


def discussion_copy(world: World, channel: Channel, post: Message) -> Message | None:
    """Auto-forward a new broadcast post into the linked discussion group; returns the stored copy.

    The copy is shown as sent by the channel, with a forward header naming the post; the post
    remembers it (``Message.discussion``) so it renders ``replies`` with ``comments``.
    """
    if not channel.broadcast or channel.linked_chat_id is None or post.content.action is not None:
        return None
    group = world.channels.get(channel.linked_chat_id)
    if group is None:
        return None
    source = PeerKey("channel", channel.id)
    fwd = types.MessageFwdHeader(
        date=post.date,
        from_id=types.PeerChannel(channel.id),
        channel_post=post.id,
        post_author=post.content.post_author,
        saved_from_peer=types.PeerChannel(channel.id),
        saved_from_msg_id=post.id,
    )
    content = Content(
        text=post.content.text,
        entities=list(post.content.entities),
        media_id=post.content.media_id,
        media_kind=post.content.media_kind,
        grouped_id=post.content.grouped_id,
        fwd_from=fwd,
    )
    box = group.box
    copy = Message(
        id=box.allocate_id(),
        peer=PeerKey("channel", group.id),
        from_id=None,
        date=post.date,
        content=content,
        from_peer=source,
    )
    copy.copies.append((box.owner, copy.id))
    box.add(copy)
    post.discussion = (group.id, copy.id)
    return copy


def thread_counts(world: World, viewer: int, channel: Channel, root: int) -> tuple[int, int, int, int]:
    """``(max_id, read_inbox_max_id, read_outbox_max_id, unread_count)`` of a thread for ``viewer``.

    Telegram keeps read positions per thread; the sandbox keeps them per channel and applies them.
    """
    messages = thread_messages(channel, root)
    state = world.read_state(viewer, PeerKey("channel", channel.id))
    max_id = messages[-1].id if messages else 0
    unread = sum(1 for m in messages if m.id > state.read_inbox_max_id and m.author_id != viewer)
    return max_id, state.read_inbox_max_id, state.read_outbox_max_id, unread
