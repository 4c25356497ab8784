"""The fast paths of ``convert`` give exactly what Telethon's general helpers give, for every kind."""

from __future__ import annotations

from typing import Any

import pytest
from telethon import utils
from telethon.tl import types

from mcpgram.telegram.convert import display_name, entity_map, marked_id


def _chat(chat_id: int, title: str) -> Any:
    return types.Chat(
        id=chat_id, title=title, photo=types.ChatPhotoEmpty(), participants_count=3, date=None, version=1
    )


PEERS: list[Any] = [
    types.PeerUser(7),
    types.PeerUser(9_999_999_999_999),
    types.PeerChat(42),
    types.PeerChat(9_999_999_999),
    types.PeerChannel(1_234_567_890),
    types.PeerChannel(9_999_999_999),
    types.User(id=5, first_name="Ann"),
    types.User(id=6, access_hash=1, min=True),
    _chat(12, "Family"),
    types.Channel(id=77, title="News", photo=types.ChatPhotoEmpty(), date=None, access_hash=5),
    types.ChatForbidden(id=13, title="Gone"),
    types.ChannelForbidden(id=78, access_hash=1, title="Closed"),
    types.UserEmpty(id=8),
    types.ChatEmpty(id=14),
    types.InputPeerUser(3, 4),
    types.InputPeerChat(15),
    types.InputPeerChannel(79, 1),
    types.InputPeerChannelFromMessage(types.InputPeerUser(3, 4), 1, 80),
    types.DialogPeer(peer=types.PeerChannel(81)),
    17,
    -18,
    -1_000_000_000_019,
]


@pytest.mark.parametrize("peer", PEERS, ids=lambda p: type(p).__name__)
def test_marked_id_is_telethons_get_peer_id(peer: Any) -> None:
    assert marked_id(peer) == utils.get_peer_id(peer)


def test_out_of_range_ids_are_normalised_as_telethon_does() -> None:
    # A marked id stored as a bare one: Telethon resolves it back; so must the fast path.
    for make in (types.PeerChat, types.PeerChannel):
        ours, theirs = make(-1_000_000_000_123), make(-1_000_000_000_123)
        assert marked_id(ours) == utils.get_peer_id(theirs)


def test_marked_id_refuses_what_telethon_refuses() -> None:
    with pytest.raises(TypeError):
        marked_id(types.InputPeerSelf())
    with pytest.raises(TypeError):
        marked_id("someone")


NAMED: list[Any] = [
    types.User(id=1, first_name="Ann", last_name="Lee"),
    types.User(id=1, first_name="Ann"),
    types.User(id=1, first_name="Ann", last_name=""),
    types.User(id=1, last_name="Lee"),
    types.User(id=1, first_name="", last_name="Lee"),
    types.User(id=1),
    _chat(2, "Family"),
    types.Channel(id=3, title="News", photo=types.ChatPhotoEmpty(), date=None),
    types.ChatForbidden(id=4, title="Gone"),
    types.UserEmpty(id=5),
    None,
]


@pytest.mark.parametrize("entity", NAMED, ids=lambda e: type(e).__name__)
def test_display_name_is_telethons(entity: Any) -> None:
    assert display_name(entity) == utils.get_display_name(entity)


def test_entity_map_keys_users_and_chats_by_marked_id() -> None:
    result = types.messages.Messages(
        messages=[],
        topics=[],
        chats=[types.Channel(id=3, title="News", photo=types.ChatPhotoEmpty(), date=None)],
        users=[types.User(id=1, first_name="Ann")],
    )
    assert sorted(entity_map(result)) == [-1_000_000_000_003, 1]
