"""Chat references, parsed once: ids, ``me``, ``@username``, ``+phone`` and t.me links (pure).

Every tool's chat argument goes through :func:`parse_ref`, and ``find_chats`` classifies its query
with the same patterns (:func:`classify_query`), so a reference reads the same everywhere. A t.me
*message* link also names a message, and a topic when it has one:

- ``t.me/<username>/<msg>``, ``t.me/<username>/<topic>/<msg>``, ``t.me/s/<username>/<msg>``;
- ``t.me/c/<channel>/<msg>``, ``t.me/c/<channel>/<topic>/<msg>`` (private: by the channel's id);
- with ``https://``, ``http://`` or ``telegram.me``, and a query (``?single``, ``?thread=<topic>``);
- ``tg://resolve?domain=<username>&post=<msg>`` and ``tg://privatepost?channel=<id>&post=<msg>``
  (``&thread=<topic>``).

They are parsed here by hand: Telethon's ``utils.parse_username`` reads only the username (and
invite hash) out of a link, and no maintained library parses Telegram's message links; the grammar
is small and fixed by Telegram's deep-link documentation (https://core.telegram.org/api/links).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal
from urllib.parse import parse_qs

from telethon import utils

from ..errors import ChatNotFound

__all__ = ["Mode", "Ref", "channel_id", "classify_query", "parse_chat_ref", "parse_ref"]

_NAME = r"[A-Za-z][A-Za-z0-9_]{3,31}"
_USERNAME = re.compile(rf"^@?({_NAME})$")
_HOST = r"(?:https?://)?(?:www\.)?(?:t\.me|telegram\.me|telegram\.dog)/"
_QUERY = r"(?:\?([^#\s]*))?(?:#.*)?$"
#: ``t.me/<username>[/<topic>]/<msg>`` (also ``t.me/s/...``): group 1 the username, 2 and 3 the ids.
_TME = re.compile(rf"^{_HOST}(?:s/)?({_NAME})(?:/(\d{{1,10}}))?(?:/(\d{{1,10}}))?/?{_QUERY}", re.I)
#: ``t.me/c/<channel>[/<topic>]/<msg>``.
_TME_PRIVATE = re.compile(rf"^{_HOST}c/(\d{{1,18}})(?:/(\d{{1,10}}))?(?:/(\d{{1,10}}))?/?{_QUERY}", re.I)
_TG = re.compile(r"^tg://(resolve|privatepost)\?([^#\s]*)$", re.I)
_PHONE = re.compile(r"^\+?[0-9][0-9 ()-]{5,20}$")
#: Peer ids travel as TL ``long``; a bigger one would crash Telethon's serializer, not reach Telegram.
_MAX_PEER_ID = 2**63 - 1
_MAX_MSG_ID = 2**31 - 1
_NOT_A_REF = "use a chat id from find_chats, 'me', @username, a t.me link or a +phone number"

Mode = Literal["dialogs", "username", "phone", "id", "name"]


@dataclass(frozen=True)
class Ref:
    """A parsed reference: the chat (``"me"``, ``"@name"``, ``"+digits"`` or a marked id), and for a
    message link the message and its forum topic (0: none)."""

    chat: str | int
    message: int = 0
    topic: int = 0


def channel_id(digits: str | int) -> int:
    """A t.me/c/<id> link's channel as a marked id (``-100`` prefixed: -(10**12 + id))."""
    bare = int(digits)
    if not 0 < bare <= _MAX_PEER_ID - 10**12:
        raise ChatNotFound("not a chat id", hint="use a chat id from find_chats")
    return -(10**12 + bare)


def _checked_id(marked_id: int) -> int:
    peer_id, _ = utils.resolve_id(marked_id)
    if not 0 < peer_id <= _MAX_PEER_ID:
        raise ChatNotFound("not a chat id", hint="use a chat id from find_chats")
    return marked_id


def _msg_id(text: str | None) -> int:
    value = int(text) if text and text.isdigit() else 0
    return value if 0 < value <= _MAX_MSG_ID else 0


def _with_ids(chat: str | int, first: str | None, second: str | None, query: str | None) -> Ref:
    """``/<a>`` is a message; ``/<a>/<b>`` is message ``b`` in topic ``a``; ``?thread=`` names a topic."""
    params = parse_qs(query or "")
    topic = _msg_id(second and first) or _msg_id((params.get("thread") or params.get("topic") or [""])[0])
    return Ref(chat=chat, message=_msg_id(second or first), topic=topic)


def _link(text: str) -> Ref | None:
    """A t.me or tg:// link as a reference, or None if ``text`` is not one."""
    private = _TME_PRIVATE.match(text)
    if private:
        return _with_ids(_checked_id(channel_id(private.group(1))), *private.group(2, 3, 4))
    public = _TME.match(text)
    if public:
        return _with_ids("@" + public.group(1), *public.group(2, 3, 4))
    deep = _TG.match(text)
    if deep is None:
        return None
    params = {key: values[0] for key, values in parse_qs(deep.group(2)).items()}
    post, thread = params.get("post"), params.get("thread")
    if deep.group(1).lower() == "resolve":
        domain = params.get("domain", "")
        if not _USERNAME.match(domain):
            return None
        return Ref(chat="@" + domain.lstrip("@"), message=_msg_id(post), topic=_msg_id(thread))
    channel = params.get("channel", "")
    if not channel.isdigit() or len(channel) > 18:
        return None
    return Ref(chat=_checked_id(channel_id(channel)), message=_msg_id(post), topic=_msg_id(thread))


def parse_ref(ref: str | int) -> Ref:
    """Parse a chat reference (and the message a link names), or raise ChatNotFound with a hint."""
    if isinstance(ref, int):
        return Ref(_checked_id(ref))
    text = ref.strip()
    if text.lower() in ("me", "self", "saved"):
        return Ref("me")
    if re.fullmatch(r"-?\d{1,20}", text, flags=re.ASCII):
        return Ref(_checked_id(int(text)))
    link = _link(text)
    if link is not None:
        return link
    username = _USERNAME.match(text)
    if username:
        return Ref("@" + username.group(1))
    if _PHONE.match(text):
        return Ref("+" + re.sub(r"\D", "", text))
    raise ChatNotFound("not a chat reference", hint=_NOT_A_REF)


def parse_chat_ref(ref: str | int) -> str | int:
    """The chat of a reference, normalised for Telethon (a link's message part is dropped)."""
    return parse_ref(ref).chat


def classify_query(query: str) -> tuple[Mode, str | int]:
    """Which look-up a ``find_chats`` query asks for: dialogs, an exact username/phone/id, or a name."""
    text = query.strip()
    if not text:
        return "dialogs", ""
    try:
        link = _link(text)
    except ChatNotFound:
        link = None
    if link is not None:
        if isinstance(link.chat, int):
            return "id", link.chat
        return "username", str(link.chat).lstrip("@")
    match = _USERNAME.match(text) if text.startswith("@") else None
    if match:
        return "username", match.group(1)
    if text.startswith("+") and _PHONE.match(text):
        return "phone", re.sub(r"\D", "", text)
    return "name", text
