"""The sandbox's truth about the demo account's messages, and a cursor walker, for message tool tests."""

from __future__ import annotations

import hashlib
import hmac
from collections import Counter
from typing import Any

from mcpgram.datadir import server_secret_bytes
from mcpgram.sandbox.messaging import box_of
from mcpgram.sandbox.world import Box, Message, PeerKey

from .conftest import Demo


def marked(peer: PeerKey) -> int:
    """A world chat key as the marked id tools use."""
    if peer.kind == "user":
        return peer.id
    if peer.kind == "chat":
        return -peer.id
    return -1_000_000_000_000 - peer.id


def box(served: Demo, peer: PeerKey) -> Box:
    """The box holding ``peer``'s history as the demo account sees it."""
    return box_of(served.world, peer) if peer.kind == "channel" else served.world.box(served.me)


def history(served: Demo, peer: PeerKey) -> list[Message]:
    """The chat's messages, oldest first."""
    holder = box(served, peer)
    return [holder.messages[i] for i in holder.history(peer)]


def ref(served: Demo, name: str) -> str:
    """A demo chat (``"news_chat"``, ``"family"``...) as a chat reference."""
    return str(marked(served.demo.chats[name]))


async def walk(served: Demo, tool: str, **args: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Every page of a query (from ``cursor`` if given), following next_cursor: (messages, pages)."""
    pages: list[dict[str, Any]] = []
    messages: list[dict[str, Any]] = []
    cursor = args.pop("cursor", "")
    while True:
        page = await served.call(tool, **args, **({"cursor": cursor} if cursor else {}))
        pages.append(page)
        messages += page["messages"]
        if not page["has_more"]:
            assert "next_cursor" not in page
            return messages, pages
        assert page["messages"], "a page with more after it is never empty"
        cursor = page["next_cursor"]
        assert len(pages) < 200


def rpc_delta(served: Demo, before: Counter[str]) -> dict[str, int]:
    """The RPCs the sandbox handled since ``before`` (a copy of ``sandbox.rpc_counts``)."""
    now = served.sandbox.rpc_counts
    return {name: now[name] - before[name] for name in now if now[name] != before[name]}


def cursor_key(served: Demo) -> bytes:
    """The server's cursor key (app.build_gateway's derivation), to sign hostile positions in tests."""
    return hmac.new(
        server_secret_bytes(served.gateway.settings), b"mcpgram/cursor/v1", hashlib.sha256
    ).digest()
