"""Helpers shared by the action tool tests (test_actions.py, test_action_*.py): ids, truth, call counts."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from fastmcp.exceptions import ToolError
from telethon import utils
from telethon.tl import types

from mcpgram.sandbox.messaging import box_of
from mcpgram.sandbox.world import Box, Message, PeerKey

from .conftest import Demo


def chat_id(peer: PeerKey) -> int:
    """The marked id an agent uses for a sandbox chat (users positive, groups -id, channels -100id)."""
    tl: Any = {"user": types.PeerUser, "chat": types.PeerChat, "channel": types.PeerChannel}[peer.kind](
        peer.id
    )
    return utils.get_peer_id(tl)


def ref(served: Demo, label: str) -> tuple[str, int]:
    """``(chat, message id)`` of a labelled demo message, as the tools take them."""
    peer, msg_id = served.demo.messages[label]
    return str(chat_id(peer)), msg_id


def my_box(served: Demo, peer: PeerKey) -> Box:
    """The box holding the demo account's copies for ``peer`` (the channel's own box for channels)."""
    return box_of(served.world, peer) if peer.kind == "channel" else served.world.box(served.me)


def my_copy(served: Demo, peer: PeerKey, msg_id: int) -> Message | None:
    return my_box(served, peer).messages.get(msg_id)


def user_chat(served: Demo, person: str) -> PeerKey:
    return PeerKey("user", served.demo.users[person])


async def refusal(served: Demo, tool: str, **args: Any) -> str:
    """The error text of a call that must fail."""
    with pytest.raises(ToolError) as caught:
        await served.call(tool, **args)
    return str(caught.value)


@contextmanager
def telegram_calls(served: Demo) -> Iterator[Counter[str]]:
    """The RPCs the sandbox receives while the block runs, by TL method name (``messages.sendReaction``)."""
    before = Counter(served.sandbox.rpc_counts)
    made: Counter[str] = Counter()
    try:
        yield made
    finally:
        made.update(served.sandbox.rpc_counts - before)
