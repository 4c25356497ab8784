"""Finding messages: ``messages.search`` (one chat), ``messages.getSearchCounters``,
``messages.searchGlobal`` (every chat of the account) and ``messages.transcribeAudio``.

Text matches case-insensitively anywhere in a message's text or caption. ``messages.search`` pages
exactly like ``getHistory`` (see ``history.py``) over the matching messages; ``min_date`` /
``max_date`` bound the dates exclusively, as documented. ``searchGlobal`` lists hits newest first
across the private chats and basic groups of the account's box and the channels it is a member of;
ties on the date are ordered by chat and then id, and a page continues strictly after the
``(offset_rate, offset_peer, offset_id)`` of the previous page's last message, where ``offset_rate``
is the ``next_rate`` (that message's date) the previous ``messages.messagesSlice`` carried.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from telethon.tl import functions, types

from ..render import resolve_input_peer
from ..router import Ctx, Router, RpcError
from ..world import Box, Content, Message, PeerKey, World
from .history import MAX_LIMIT, Paging, history_source, messages_hash, messages_result, page_ids, timestamp

router = Router()

_URL = re.compile(r"(?i)\b(?:https?://|www\.|t\.me/)\S+|\b[a-z0-9-]+\.(?:com|org|net|io|me|dev|app)\b")
_URL_ENTITIES = (types.MessageEntityUrl, types.MessageEntityTextUrl)
_LAST_PEER = ("~", 0)
_NO_RATE = 2**62
#: Free transcriptions a non-Premium account gets per week, and the longest voice note they cover
#: (the app config's ``transcribe_audio_trial_weekly_number`` / ``transcribe_audio_trial_duration_max``).
TRIAL_WEEKLY_NUMBER = 2
TRIAL_DURATION_MAX = 300
_WEEK = 7 * 24 * 3600


def media_class(world: World, content: Content) -> str | None:
    """What a message's media is, in the terms of the search filters (None: no media)."""
    if content.media_id is None:
        return None
    stored = world.files.get(content.media_id)
    if stored is None:
        return content.media_kind
    if stored.kind == "photo":
        return "photo"
    attributes = stored.attributes
    if any(isinstance(a, types.DocumentAttributeAnimated) for a in attributes):
        return "gif"
    if any(isinstance(a, types.DocumentAttributeSticker) for a in attributes):
        return "sticker"
    for attribute in attributes:
        if isinstance(attribute, types.DocumentAttributeVideo):
            return "round" if attribute.round_message else "video"
        if isinstance(attribute, types.DocumentAttributeAudio):
            return "voice" if attribute.voice else "music"
    return "document"


_FILTER_CLASSES: dict[type, set[str]] = {
    types.InputMessagesFilterPhotos: {"photo"},
    types.InputMessagesFilterVideo: {"video"},
    types.InputMessagesFilterPhotoVideo: {"photo", "video"},
    types.InputMessagesFilterDocument: {"document"},
    types.InputMessagesFilterMusic: {"music"},
    types.InputMessagesFilterVoice: {"voice"},
    types.InputMessagesFilterRoundVideo: {"round"},
    types.InputMessagesFilterRoundVoice: {"round", "voice"},
    types.InputMessagesFilterGif: {"gif"},
}


def matches_filter(world: World, message: Message, message_filter: Any) -> bool:
    if message_filter is None or isinstance(message_filter, types.InputMessagesFilterEmpty):
        return True
    classes = _FILTER_CLASSES.get(type(message_filter))
    if classes is not None:
        return media_class(world, message.content) in classes
    content = message.content
    if isinstance(message_filter, types.InputMessagesFilterUrl):
        return any(isinstance(e, _URL_ENTITIES) for e in content.entities) or bool(_URL.search(content.text))
    if isinstance(message_filter, types.InputMessagesFilterPinned):
        return message.pinned
    if isinstance(message_filter, types.InputMessagesFilterMyMentions):
        return message.mentioned
    if isinstance(message_filter, types.InputMessagesFilterChatPhotos):
        return isinstance(content.action, types.MessageActionChatEditPhoto)
    if isinstance(message_filter, types.InputMessagesFilterPhoneCalls):
        return isinstance(content.action, types.MessageActionPhoneCall)
    return False  # geo, contacts and the like: the sandbox has no such media


def in_thread(message: Message, top_msg_id: int) -> bool:
    """Whether ``message`` belongs to the thread (or forum topic) rooted at ``top_msg_id``."""
    if message.id == top_msg_id:
        return True
    reply = message.reply_to
    if reply is None:
        return False
    return reply.top_id == top_msg_id or (reply.top_id is None and reply.msg_id == top_msg_id)


class Matcher:
    """The per-message part of a search request: text, sender, filter, dates, thread."""

    def __init__(
        self,
        world: World,
        *,
        q: str = "",
        message_filter: Any = None,
        from_peer: PeerKey | None = None,
        min_date: int = 0,
        max_date: int = 0,
        top_msg_id: int | None = None,
    ) -> None:
        self.world = world
        self.needle = q.strip().casefold()
        self.filter = message_filter
        self.from_peer = from_peer
        self.min_date = min_date
        self.max_date = max_date
        self.top_msg_id = top_msg_id

    def __call__(self, message: Message) -> bool:
        if self.min_date and message.date <= self.min_date:
            return False
        if self.max_date and message.date >= self.max_date:
            return False
        if self.needle and self.needle not in message.content.text.casefold():
            return False
        if self.from_peer is not None and not self._sent_by(message):
            return False
        if self.top_msg_id and not in_thread(message, self.top_msg_id):
            return False
        return matches_filter(self.world, message, self.filter)

    def _sent_by(self, message: Message) -> bool:
        assert self.from_peer is not None
        if self.from_peer.kind == "user":
            return message.from_id == self.from_peer.id
        # A channel as sender: its own posts, which carry no from_id.
        return message.from_id is None and message.peer == self.from_peer


def _search_scope(ctx: Ctx, input_peer: Any) -> tuple[Box, list[int], Any, PeerKey | None]:
    """(box, ascending ids searched, channel or None, chat key) for a search's ``peer``.

    ``inputPeerEmpty`` searches the whole box of the account: its private chats and basic groups.
    """
    world, viewer = ctx.world, ctx.user_id
    if isinstance(input_peer, types.InputPeerEmpty):
        box = world.box(viewer)
        return box, sorted(box.messages), None, None
    box, peer, channel = history_source(world, viewer, input_peer)
    return box, box.history(peer), channel, peer


@router.method(functions.messages.SearchRequest)
def search(ctx: Ctx, req: Any) -> Any:
    world, viewer = ctx.world, ctx.user_id
    box, ids, channel, peer = _search_scope(ctx, req.peer)
    from_peer = resolve_input_peer(world, viewer, req.from_id) if req.from_id is not None else None
    matcher = Matcher(
        world,
        q=req.q,
        message_filter=req.filter,
        from_peer=from_peer,
        min_date=timestamp(req.min_date),
        max_date=timestamp(req.max_date),
        top_msg_id=req.top_msg_id,
    )
    hits = [msg_id for msg_id in ids if matcher(box.messages[msg_id])]
    # Telegram answers a search with limit 0 with no messages, only the count (Telethon relies on it).
    paging = Paging.of(req, zero_limit=0)
    page, start = page_ids(hits, lambda msg_id: box.messages[msg_id].date, paging)
    messages = [box.messages[msg_id] for msg_id in page]
    if req.hash and req.hash == messages_hash(messages):
        return types.messages.MessagesNotModified(count=len(hits))
    return messages_result(
        world,
        viewer,
        messages,
        total=len(hits),
        channel=channel,
        extra_peers=[peer] if peer else [],
        position=start if paging.positioned else None,
    )


@router.method(functions.messages.GetSearchCountersRequest)
def get_search_counters(ctx: Ctx, req: Any) -> list[Any]:
    box, ids, _channel, _peer = _search_scope(ctx, req.peer)
    counters = []
    for message_filter in req.filters:
        matcher = Matcher(ctx.world, message_filter=message_filter, top_msg_id=req.top_msg_id)
        count = sum(1 for msg_id in ids if matcher(box.messages[msg_id]))
        counters.append(types.messages.SearchCounter(filter=message_filter, count=count, inexact=False))
    return counters


def _global_scope(world: World, viewer: int, req: Any) -> list[tuple[Box, PeerKey]]:
    """The chats a global search covers, after the ``*_only`` flags and ``folder_id``."""
    box = world.box(viewer)
    scope: list[tuple[Box, PeerKey]] = [(box, peer) for peer, ids in box.by_peer.items() if ids]
    scope += [
        (channel.box, PeerKey("channel", channel.id))
        for channel in world.channels.values()
        if viewer in channel.participants
    ]

    def wanted(peer: PeerKey) -> bool:
        if req.users_only and peer.kind != "user":
            return False
        broadcast = peer.kind == "channel" and world.channels[peer.id].broadcast
        if req.groups_only and (peer.kind == "user" or broadcast):
            return False
        if req.broadcasts_only and not broadcast:
            return False
        if req.folder_id is not None:
            state = world.read.get((viewer, peer))
            return bool((state.folder_id if state else 0) == req.folder_id)
        return True

    return [(b, peer) for b, peer in scope if wanted(peer)]


def _global_cursor(world: World, viewer: int, req: Any) -> tuple[int, tuple[str, int], int] | None:
    has_peer = not isinstance(req.offset_peer, types.InputPeerEmpty | type(None))
    if not (req.offset_rate or req.offset_id or has_peer):
        return None
    peer = resolve_input_peer(world, viewer, req.offset_peer) if has_peer else None
    return (
        req.offset_rate or _NO_RATE,
        (peer.kind, peer.id) if peer else _LAST_PEER,
        req.offset_id or _NO_RATE,
    )


@router.method(functions.messages.SearchGlobalRequest)
def search_global(ctx: Ctx, req: Any) -> Any:
    world, viewer = ctx.world, ctx.user_id
    if not req.q.strip() and isinstance(req.filter, types.InputMessagesFilterEmpty | type(None)):
        raise RpcError(400, "SEARCH_QUERY_EMPTY")
    matcher = Matcher(
        world,
        q=req.q,
        message_filter=req.filter,
        min_date=timestamp(req.min_date),
        max_date=timestamp(req.max_date),
    )
    hits: list[tuple[tuple[int, tuple[str, int], int], Message]] = []
    for box, peer in _global_scope(world, viewer, req):
        for msg_id in box.history(peer):
            message = box.messages[msg_id]
            if matcher(message):
                hits.append(((message.date, (peer.kind, peer.id), message.id), message))
    hits.sort(key=lambda hit: hit[0], reverse=True)
    cursor = _global_cursor(world, viewer, req)
    remaining = hits if cursor is None else [hit for hit in hits if hit[0] < cursor]
    limit = min(req.limit if req.limit > 0 else 20, MAX_LIMIT)
    page = [message for _key, message in remaining[:limit]]
    sliced = cursor is not None or len(remaining) > limit
    # Every non-empty slice carries next_rate, the last page's too: Telethon copies it into the next
    # request unconditionally and stops only on an empty page.
    return messages_result(
        world,
        viewer,
        page,
        total=len(hits),
        next_rate=page[-1].date if sliced and page else None,
        sliced=sliced,
    )


def _voice_attributes(world: World, message: Message) -> tuple[int, str | None]:
    """(duration, file name) of a voice note or round video, else MSG_VOICE_MISSING."""
    if media_class(world, message.content) not in {"voice", "round"}:
        raise RpcError(400, "MSG_VOICE_MISSING")
    stored = world.files[message.content.media_id or 0]
    duration = next(
        (
            int(a.duration)
            for a in stored.attributes
            if isinstance(a, types.DocumentAttributeAudio | types.DocumentAttributeVideo)
        ),
        0,
    )
    return duration, stored.name


@router.method(functions.messages.TranscribeAudioRequest)
def transcribe_audio(ctx: Ctx, req: Any) -> Any:
    """Premium accounts always get a transcription. Others get ``TRIAL_WEEKLY_NUMBER`` per rolling
    week of notes up to ``TRIAL_DURATION_MAX`` seconds (``trial_remains_*`` set on the answer), then
    403 ``PREMIUM_ACCOUNT_REQUIRED``; re-transcribing an already transcribed note is free."""
    world, viewer = ctx.world, ctx.user_id
    box, peer, _channel = history_source(world, viewer, req.peer)
    message = box.messages.get(req.msg_id)
    if message is None or message.peer != peer:
        raise RpcError(400, "MSG_ID_INVALID")
    duration, name = _voice_attributes(world, message)
    media_id = message.content.media_id or 0
    label = f"Voice message {name!r}" if name else "Voice message"
    text = message.content.transcription or f"{label}, {duration} seconds long."
    digest = hashlib.sha256(f"transcription:{media_id}".encode()).digest()
    transcription_id = int.from_bytes(digest[:8], "little", signed=True)
    if world.users[viewer].premium:
        return types.messages.TranscribedAudio(transcription_id=transcription_id, text=text, pending=False)
    now = world.now()
    used = world.transcription_trials.setdefault(viewer, {})
    for old_media, when in list(used.items()):
        if when <= now - _WEEK:
            del used[old_media]
    if media_id not in used:
        if duration > TRIAL_DURATION_MAX:
            raise RpcError(400, "MSG_VOICE_TOO_LONG")
        if len(used) >= TRIAL_WEEKLY_NUMBER:
            raise RpcError(403, "PREMIUM_ACCOUNT_REQUIRED")
        used[media_id] = now
    return types.messages.TranscribedAudio(
        transcription_id=transcription_id,
        text=text,
        pending=False,
        trial_remains_num=TRIAL_WEEKLY_NUMBER - len(used),
        trial_remains_until_date=min(used.values()) + _WEEK,
    )
