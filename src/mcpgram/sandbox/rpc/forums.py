"""Threads, comments and forum topics: ``messages.getDiscussionMessage``, ``messages.getReplies``,
``messages.getForumTopics`` / ``getForumTopicsByID``, ``messages.createForumTopic`` /
``editForumTopic`` and ``channels.toggleForum``.

The thread model itself (which message belongs to which thread or topic, the auto-forwarded
discussion copy of a channel post) is in ``threads.py``; this module answers the reads and creates
topics. Comments on a channel post are read through the broadcast channel, so a reader needs no
membership of the discussion group, as on Telegram.
"""

from __future__ import annotations

from typing import Any

from telethon.tl import functions, types

from ..messaging import Changes, post, publish
from ..render import entities_for, message_peers, message_tl, resolve_input_peer
from ..router import Ctx, Router, RpcError
from ..threads import GENERAL_TOPIC_ID, is_admin, thread_counts, thread_messages, thread_root
from ..world import Channel, Content, ForumTopic, Message, PeerKey, ReplyTo, user_peer
from .channels import visible_channel
from .history import Paging, page_ids
from .messages import check_random_id

router = Router()

MAX_TOPIC_TITLE = 128
TOPIC_COLORS = (0x6FB9F0, 0xFFD67E, 0xCB86DB, 0x8EEE98, 0xFF93B2, 0xFB6F5F)
_MAX_TOPICS_PAGE = 100


def _channel_of(ctx: Ctx, input_peer: Any) -> Channel:
    peer = resolve_input_peer(ctx.world, ctx.user_id, input_peer)
    if peer.kind != "channel":
        raise RpcError(400, "PEER_ID_INVALID")
    return visible_channel(ctx, input_peer)


def _forum_of(ctx: Ctx, input_peer: Any) -> Channel:
    channel = _channel_of(ctx, input_peer)
    if not channel.forum:
        raise RpcError(400, "CHANNEL_FORUM_MISSING")
    return channel


def _thread_of(ctx: Ctx, input_peer: Any, msg_id: int) -> tuple[Channel, int]:
    """``(channel holding the thread, root id)`` for a post's comments, a reply thread or a topic."""
    channel = _channel_of(ctx, input_peer)
    if channel.broadcast:
        channel_post = channel.box.messages.get(msg_id)
        if channel_post is None or channel_post.discussion is None:
            raise RpcError(400, "MSG_ID_INVALID")
        group_id, root = channel_post.discussion
        return ctx.world.channels[group_id], root
    if channel.forum and (msg_id == GENERAL_TOPIC_ID or msg_id in channel.topics):
        return channel, msg_id
    message = channel.box.messages.get(msg_id)
    if message is None:
        raise RpcError(400, "MSG_ID_INVALID")
    return channel, thread_root(message)


def _result_entities(ctx: Ctx, messages: list[Message], *channels: Channel) -> tuple[list[Any], list[Any]]:
    peers = {PeerKey("channel", c.id) for c in channels}
    for message in messages:
        peers.update(message_peers(message))
    return entities_for(ctx.world, ctx.user_id, peers)


@router.method(functions.messages.GetDiscussionMessageRequest)
def get_discussion_message(ctx: Ctx, req: Any) -> Any:
    world, viewer = ctx.world, ctx.user_id
    source = _channel_of(ctx, req.peer)
    group, root_id = _thread_of(ctx, req.peer, req.msg_id)
    root = group.box.messages.get(root_id)
    if root is None:
        raise RpcError(400, "MSG_ID_INVALID")
    max_id, read_in, read_out, unread = thread_counts(world, viewer, group, root_id)
    users, chats = _result_entities(ctx, [root], group, source)
    return types.messages.DiscussionMessage(
        messages=[message_tl(world, viewer, root)],
        unread_count=unread,
        chats=chats,
        users=users,
        max_id=max_id or None,
        read_inbox_max_id=read_in or None,
        read_outbox_max_id=read_out or None,
    )


@router.method(functions.messages.GetRepliesRequest)
def get_replies(ctx: Ctx, req: Any) -> Any:
    world, viewer = ctx.world, ctx.user_id
    source = _channel_of(ctx, req.peer)
    group, root = _thread_of(ctx, req.peer, req.msg_id)
    thread = {m.id: m for m in thread_messages(group, root)}
    ids, position = page_ids(list(thread), lambda i: thread[i].date, Paging.of(req))
    chosen = [thread[i] for i in ids]
    users, chats = _result_entities(ctx, chosen, group, source)
    return types.messages.ChannelMessages(
        pts=group.box.pts,
        count=len(thread),
        messages=[message_tl(world, viewer, m) for m in chosen],
        topics=[],
        chats=chats,
        users=users,
        offset_id_offset=position if Paging.of(req).positioned else None,
    )


# -- forum topics ----------------------------------------------------------------------------------


def _general(channel: Channel) -> ForumTopic:
    return ForumTopic(id=GENERAL_TOPIC_ID, title="General", date=channel.date, creator_id=channel.creator_id)


def _topics(channel: Channel) -> list[ForumTopic]:
    return [_general(channel), *channel.topics.values()]


def _topic_tl(ctx: Ctx, channel: Channel, topic: ForumTopic, top: Message | None) -> Any:
    _, read_in, read_out, unread = thread_counts(ctx.world, ctx.user_id, channel, topic.id)
    return types.ForumTopic(
        id=topic.id,
        date=topic.date,
        peer=types.PeerChannel(channel.id),
        title=topic.title,
        icon_color=topic.icon_color,
        top_message=top.id if top is not None else 0,
        read_inbox_max_id=read_in,
        read_outbox_max_id=read_out,
        unread_count=unread,
        unread_mentions_count=0,
        unread_reactions_count=0,
        unread_poll_votes_count=0,
        from_id=types.PeerUser(topic.creator_id),
        notify_settings=types.PeerNotifySettings(),
        my=topic.creator_id == ctx.user_id,
        closed=topic.closed,
        pinned=topic.pinned,
    )


def _topics_result(
    ctx: Ctx, channel: Channel, chosen: list[tuple[ForumTopic, Message | None]], count: int
) -> Any:
    tops = [top for _, top in chosen if top is not None]
    users, chats = _result_entities(ctx, tops, channel)
    users_extra, _ = entities_for(ctx.world, ctx.user_id, [user_peer(t.creator_id) for t, _ in chosen])
    known = {u.id for u in users}
    users += [u for u in users_extra if u.id not in known]
    return types.messages.ForumTopics(
        count=count,
        topics=[_topic_tl(ctx, channel, topic, top) for topic, top in chosen],
        messages=[message_tl(ctx.world, ctx.user_id, m) for m in tops],
        chats=chats,
        users=users,
        pts=channel.box.pts,
    )


@router.method(functions.messages.GetForumTopicsRequest)
def get_forum_topics(ctx: Ctx, req: Any) -> Any:
    channel = _forum_of(ctx, req.peer)
    query = (req.q or "").casefold()
    found: list[tuple[ForumTopic, Message | None]] = []
    for topic in _topics(channel):
        if query and query not in topic.title.casefold():
            continue
        messages = thread_messages(channel, topic.id)
        found.append((topic, messages[-1] if messages else None))

    # Pinned topics first, then by last activity, newest first.
    def activity(item: tuple[ForumTopic, Message | None]) -> tuple[int, int]:
        top = item[1]
        return (top.date, top.id) if top is not None else (item[0].date, 0)

    found.sort(key=lambda item: (item[0].pinned, *activity(item)), reverse=True)
    paging = Paging.of(req)
    if req.offset_topic and any(t.id == req.offset_topic for t, _ in found):
        start = next(i for i, (t, _) in enumerate(found) if t.id == req.offset_topic) + 1
        found_page = found[start:]
    elif paging.offset_id or paging.offset_date:
        bound = (paging.offset_date or 2**31, paging.offset_id or 2**31)
        found_page = [item for item in found if not item[0].pinned and activity(item) < bound]
    else:
        found_page = found
    limit = max(1, min(req.limit or _MAX_TOPICS_PAGE, _MAX_TOPICS_PAGE))
    return _topics_result(ctx, channel, found_page[:limit], len(found))


@router.method(functions.messages.GetForumTopicsByIDRequest)
def get_forum_topics_by_id(ctx: Ctx, req: Any) -> Any:
    channel = _forum_of(ctx, req.peer)
    known = {t.id: t for t in _topics(channel)}
    chosen: list[tuple[ForumTopic, Message | None]] = []
    for topic_id in req.topics:
        if topic_id in known:
            messages = thread_messages(channel, topic_id)
            chosen.append((known[topic_id], messages[-1] if messages else None))
    result = _topics_result(ctx, channel, chosen, len(chosen))
    # Telegram answers an unknown id with forumTopicDeleted rather than an error.
    result.topics += [types.ForumTopicDeleted(id=t) for t in req.topics if t not in known]
    return result


@router.method(functions.messages.CreateForumTopicRequest)
def create_forum_topic(ctx: Ctx, req: Any) -> Any:
    world, viewer = ctx.world, ctx.user_id
    channel = _forum_of(ctx, req.peer)
    if viewer not in channel.participants:
        raise RpcError(403, "CHAT_WRITE_FORBIDDEN")
    title = (req.title or "").strip()
    if not title:
        raise RpcError(400, "TOPIC_TITLE_EMPTY")
    if len(title) > MAX_TOPIC_TITLE:
        raise RpcError(400, "TOPIC_TITLE_TOO_LONG")
    color = req.icon_color if req.icon_color in TOPIC_COLORS else TOPIC_COLORS[0]
    check_random_id(ctx, req.random_id)
    changes = Changes()
    action = types.MessageActionTopicCreate(title=title, icon_color=color, icon_emoji_id=req.icon_emoji_id)
    message = post(
        world, changes, sender_id=viewer, peer=PeerKey("channel", channel.id), content=Content(action=action)
    )
    channel.topics[message.id] = ForumTopic(
        id=message.id, title=title, date=message.date, creator_id=viewer, icon_color=color
    )
    return publish(ctx, changes, extra=[types.UpdateMessageID(message.id, req.random_id)])


@router.method(functions.messages.EditForumTopicRequest)
def edit_forum_topic(ctx: Ctx, req: Any) -> Any:
    world, viewer = ctx.world, ctx.user_id
    channel = _forum_of(ctx, req.peer)
    topic = channel.topics.get(req.topic_id)
    if topic is None:
        raise RpcError(400, "TOPIC_ID_INVALID")
    if topic.creator_id != viewer and not is_admin(channel, viewer):
        raise RpcError(400, "CHAT_ADMIN_REQUIRED")
    title = (req.title or "").strip() or None
    closed = req.closed if req.closed is not None and req.closed != topic.closed else None
    if title is None and closed is None:
        raise RpcError(400, "TOPIC_NOT_MODIFIED")
    if closed is False:
        topic.closed = False  # reopen first, so the service message may be posted into the topic
    changes = Changes()
    action = types.MessageActionTopicEdit(title=title, closed=closed)
    reply = ReplyTo(msg_id=topic.id, top_id=topic.id, forum_topic=True)
    post(
        world,
        changes,
        sender_id=viewer,
        peer=PeerKey("channel", channel.id),
        content=Content(action=action),
        reply_to=reply,
    )
    topic.title = title or topic.title
    if closed:
        topic.closed = True
    return publish(ctx, changes)


@router.method(functions.channels.ToggleForumRequest)
def toggle_forum(ctx: Ctx, req: Any) -> Any:
    viewer = ctx.user_id
    channel = visible_channel(ctx, req.channel)
    if channel.broadcast:
        raise RpcError(400, "CHANNEL_INVALID")
    if channel.creator_id != viewer:
        raise RpcError(400, "CHAT_ADMIN_REQUIRED")
    if channel.linked_chat_id is not None:
        raise RpcError(400, "CHAT_DISCUSSION_UNALLOWED")
    if bool(req.enabled) == channel.forum:
        raise RpcError(400, "CHAT_NOT_MODIFIED")
    channel.forum = bool(req.enabled)
    changes = Changes()
    for member in channel.participants:
        changes.add(member, types.UpdateChannel(channel_id=channel.id), PeerKey("channel", channel.id))
    return publish(ctx, changes)
