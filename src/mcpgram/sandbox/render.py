"""World -> TL: how one viewer sees users, chats, channels and messages; and TL input peers -> world.

Everything that depends on *who is looking* is decided here: access hashes, ``self``/``contact``
flags, phone visibility, ``out`` and membership flags. Input peers are checked the way Telegram
checks them: an access hash minted for another account is ``PEER_ID_INVALID`` / ``CHANNEL_INVALID``.
Photos and documents are rendered by ``render_media.py``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from telethon.tl import types

from .render_media import media_tl
from .router import RpcError
from .world import Channel, Chat, Message, PeerKey, User, World, user_peer

# -- peers ---------------------------------------------------------------------------------------


def peer_tl(peer: PeerKey) -> Any:
    if peer.kind == "user":
        return types.PeerUser(peer.id)
    if peer.kind == "chat":
        return types.PeerChat(peer.id)
    return types.PeerChannel(peer.id)


def peer_key(peer: Any) -> PeerKey:
    """A TL ``Peer`` to a world key."""
    if isinstance(peer, types.PeerUser):
        return PeerKey("user", peer.user_id)
    if isinstance(peer, types.PeerChat):
        return PeerKey("chat", peer.chat_id)
    return PeerKey("channel", peer.channel_id)


def resolve_input_user(world: World, viewer: int, input_user: Any) -> User:
    """``InputUser`` or ``InputPeerUser`` -> the user, checking the viewer's access hash."""
    if isinstance(input_user, types.InputUserSelf | types.InputPeerSelf):
        return world.users[viewer]
    if isinstance(input_user, types.InputUser | types.InputPeerUser):
        user = world.users.get(input_user.user_id)
        if user is None or (
            input_user.user_id != viewer
            and input_user.access_hash != world.access_hash(viewer, "user", input_user.user_id)
        ):
            raise RpcError(400, "USER_ID_INVALID")
        return user
    if isinstance(input_user, types.InputUserFromMessage | types.InputPeerUserFromMessage):
        user = world.users.get(input_user.user_id)
        if user is None:
            raise RpcError(400, "USER_ID_INVALID")
        return user
    raise RpcError(400, "USER_ID_INVALID")


def resolve_input_peer(world: World, viewer: int, input_peer: Any) -> PeerKey:
    """``InputPeer`` -> world key, with Telegram's access checks (hash, membership of basic groups)."""
    if isinstance(input_peer, types.InputPeerSelf):
        return user_peer(viewer)
    if isinstance(input_peer, types.InputPeerUser | types.InputPeerUserFromMessage):
        try:
            return user_peer(resolve_input_user(world, viewer, input_peer).id)
        except RpcError:
            raise RpcError(400, "PEER_ID_INVALID") from None
    if isinstance(input_peer, types.InputPeerChat):
        chat = world.chats.get(input_peer.chat_id)
        if chat is None or viewer not in chat.participants:
            raise RpcError(400, "PEER_ID_INVALID")
        return PeerKey("chat", chat.id)
    if isinstance(
        input_peer, types.InputPeerChannel | types.InputChannel | types.InputPeerChannelFromMessage
    ):
        return PeerKey("channel", resolve_input_channel(world, viewer, input_peer).id)
    raise RpcError(400, "PEER_ID_INVALID")


def resolve_input_channel(world: World, viewer: int, input_channel: Any) -> Channel:
    channel = world.channels.get(getattr(input_channel, "channel_id", 0))
    if channel is None:
        raise RpcError(400, "CHANNEL_INVALID")
    if isinstance(input_channel, types.InputPeerChannelFromMessage | types.InputChannelFromMessage):
        return channel
    if input_channel.access_hash != world.access_hash(viewer, "channel", channel.id):
        raise RpcError(400, "CHANNEL_INVALID")
    return channel


# -- entities ------------------------------------------------------------------------------------


def user_tl(world: World, viewer: int, user: User) -> Any:
    me = world.users[viewer]
    is_self = user.id == viewer
    contact = user.id in me.contacts
    mutual = contact and viewer in user.contacts
    saved = me.contacts.get(user.id)
    return types.User(
        id=user.id,
        is_self=is_self,
        contact=contact,
        mutual_contact=mutual,
        deleted=user.deleted,
        bot=user.bot,
        verified=user.verified,
        premium=user.premium,
        support=user.id == 777000,
        access_hash=world.access_hash(viewer, "user", user.id),
        first_name=(saved.first_name if saved else user.first_name) or None,
        last_name=(saved.last_name if saved else user.last_name) or None,
        username=user.username,
        # Telegram shows a phone number to the account itself and to the address books that saved it;
        # beyond that the owner's phone privacy decides, whose default is "My contacts".
        phone=user.phone if (is_self or contact or viewer in user.contacts) else None,
        photo=profile_photo_tl(world, user),
        status=types.UserStatusRecently() if not is_self else types.UserStatusOnline(world.now() + 300),
        bot_info_version=1 if user.bot else None,
    )


def profile_photo_tl(world: World, user: User) -> Any:
    """The ``UserProfilePhoto`` a ``User`` carries, or None when the user has no photo."""
    stored = world.files.get(user.photo_id) if user.photo_id is not None else None
    if stored is None:
        return None
    return types.UserProfilePhoto(photo_id=stored.id, dc_id=2)


def chat_tl(world: World, viewer: int, chat: Chat) -> Any:
    member = chat.participants.get(viewer)
    return types.Chat(
        id=chat.id,
        title=chat.title,
        photo=types.ChatPhotoEmpty(),
        participants_count=len(chat.participants),
        date=chat.date,
        version=chat.version,
        creator=chat.creator_id == viewer,
        left=member is None,
        deactivated=chat.deactivated,
    )


def admin_rights(channel: Channel) -> Any:
    if channel.broadcast:
        return types.ChatAdminRights(
            change_info=True,
            post_messages=True,
            edit_messages=True,
            delete_messages=True,
            invite_users=True,
            add_admins=True,
            manage_call=True,
        )
    return types.ChatAdminRights(
        change_info=True,
        delete_messages=True,
        ban_users=True,
        invite_users=True,
        pin_messages=True,
        add_admins=True,
        manage_call=True,
        manage_topics=channel.forum or None,
    )


def channel_tl(world: World, viewer: int, channel: Channel) -> Any:
    member = channel.participants.get(viewer)
    rights = admin_rights(channel) if member is not None and (member.admin or member.creator) else None
    return types.Channel(
        id=channel.id,
        title=channel.title,
        photo=types.ChatPhotoEmpty(),
        date=(member.date if member else channel.date),
        creator=channel.creator_id == viewer,
        left=member is None,
        broadcast=channel.broadcast,
        megagroup=channel.megagroup,
        signatures=channel.signatures,
        has_link=channel.linked_chat_id is not None,
        forum=channel.forum,
        access_hash=world.access_hash(viewer, "channel", channel.id),
        username=channel.username,
        admin_rights=rights,
        participants_count=len(channel.participants),
    )


def entities_for(world: World, viewer: int, peers: Iterable[PeerKey]) -> tuple[list[Any], list[Any]]:
    """``(users, chats)`` lists for the result of a call that mentions ``peers``."""
    users: dict[int, Any] = {}
    chats: dict[int, Any] = {}
    for peer in peers:
        if peer.kind == "user" and peer.id not in users and peer.id in world.users:
            users[peer.id] = user_tl(world, viewer, world.users[peer.id])
        elif peer.kind == "chat" and peer.id not in chats and peer.id in world.chats:
            chats[peer.id] = chat_tl(world, viewer, world.chats[peer.id])
        elif peer.kind == "channel" and peer.id not in chats and peer.id in world.channels:
            chats[peer.id] = channel_tl(world, viewer, world.channels[peer.id])
    return list(users.values()), list(chats.values())


def message_peers(message: Message) -> list[PeerKey]:
    """Every peer a message refers to, so results can carry their entities."""
    peers = [message.peer]
    if message.from_id is not None:
        peers.append(user_peer(message.from_id))
    if message.from_peer is not None:
        peers.append(message.from_peer)
    fwd = message.content.fwd_from
    if fwd is not None and getattr(fwd, "from_id", None) is not None:
        peers.append(peer_key(fwd.from_id))
    return peers


# -- messages ------------------------------------------------------------------------------------


def reactions_tl(viewer: int, reactions: dict[str, list[int]]) -> Any:
    if not reactions:
        return None
    results = [
        types.ReactionCount(
            reaction=types.ReactionEmoji(emoticon),
            count=len(users),
            chosen_order=(users.index(viewer) if viewer in users else None),
        )
        for emoticon, users in reactions.items()
        if users
    ]
    return types.MessageReactions(results=results) if results else None


def reply_tl(message: Message) -> Any:
    reply = message.reply_to
    if reply is None:
        return None
    return types.MessageReplyHeader(
        reply_to_msg_id=reply.msg_id,
        reply_to_top_id=reply.top_id if reply.top_id != reply.msg_id else None,
        forum_topic=reply.forum_topic,
        quote_text=reply.quote_text,
        quote=bool(reply.quote_text),
    )


def message_tl(world: World, viewer: int, message: Message) -> Any:
    """A message as ``viewer`` sees it (``out``, reactions chosen, sender shown or hidden)."""
    content = message.content
    from_id = types.PeerUser(message.from_id) if message.from_id is not None else None
    if message.from_peer is not None:
        from_id = peer_tl(message.from_peer)
    common: dict[str, Any] = {
        "id": message.id,
        "peer_id": peer_tl(message.peer),
        "date": message.date,
        "out": message.out if message.peer.kind != "channel" else message.author_id == viewer,
        "mentioned": message.mentioned,
        "media_unread": message.media_unread,
        "silent": message.silent,
        "post": message.post,
        "from_id": from_id,
        "reply_to": reply_tl(message),
    }
    if content.action is not None:
        return types.MessageService(action=content.action, **common)
    replies = None
    if message.discussion is not None:
        channel_id, _ = message.discussion
        thread = world.channels[channel_id].box
        replies_count = sum(
            1
            for m in thread.messages.values()
            if m.reply_to is not None and m.reply_to.top_id == message.discussion[1]
        )
        replies = types.MessageReplies(
            replies=replies_count, replies_pts=thread.pts, comments=True, channel_id=channel_id
        )
    return types.Message(
        message=content.text,
        pinned=message.pinned,
        fwd_from=content.fwd_from,
        media=media_tl(world, message),
        entities=content.entities or None,
        views=content.views,
        # The schema sends views and forwards together.
        forwards=content.forwards if content.views is not None else None,
        replies=replies,
        edit_date=content.edit_date,
        post_author=content.post_author,
        grouped_id=content.grouped_id,
        reactions=reactions_tl(viewer, content.reactions),
        **common,
    )
