"""send_message through a real MCP client against the demo world, checked against the sandbox's truth."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastmcp import Client
from fastmcp.exceptions import ToolError
from telethon.tl import functions, types

from mcpgram.app import build_gateway
from mcpgram.sandbox import SandboxServer, scheduled
from mcpgram.sandbox.demo import build_demo_world
from mcpgram.sandbox.world import Message, PeerKey
from mcpgram.settings import Settings
from mcpgram.testing import login_tenant, sandbox_telegram_config

from .conftest import DEMO_NOW, Demo


def _marked(peer: PeerKey) -> int:
    return int(f"-100{peer.id}") if peer.kind == "channel" else -peer.id if peer.kind == "chat" else peer.id


def _mine(served: Demo, msg_id: int) -> Message:
    return served.world.box(served.me).messages[msg_id]


def _count(served: Demo) -> int:
    """Messages in every box: a refused send must leave it unchanged."""
    world = served.world
    return sum(len(b.messages) for b in world.boxes.values()) + sum(
        len(c.box.messages) for c in world.channels.values()
    )


def _iso(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


async def test_plain_text_is_sent_verbatim(served: Demo) -> None:
    """parse_mode text keeps snake_case, *stars*, __underscores__ and tags exactly, with no entities."""
    alex = served.demo.users["alex"]
    text = "call my_var_name with *stars*, __dunder__ and <b>tags</b> [x](http://e.com)"
    result = await served.call("send_message", chat=str(alex), text=text)
    assert set(result) == {"chat", "id", "date"} and result["chat"] == alex
    message = _mine(served, result["id"])
    assert message.content.text == text and message.content.entities == []
    assert message.peer == PeerKey("user", alex) and message.out
    # The other side got it as well.
    theirs = [m for m in served.world.box(alex).messages.values() if m.content is message.content]
    assert len(theirs) == 1


@pytest.mark.parametrize(
    ("mode", "text", "plain", "entity"),
    [
        ("markdown", "a **bold** move", "a bold move", types.MessageEntityBold),
        ("html", "an <i>italic</i> one", "an italic one", types.MessageEntityItalic),
    ],
)
async def test_markup_becomes_entities(served: Demo, mode: str, text: str, plain: str, entity: type) -> None:
    """markdown and html are parsed into Telegram entities only when asked for."""
    result = await served.call("send_message", chat="me", text=text, parse_mode=mode)
    message = _mine(served, result["id"])
    assert message.content.text == plain
    assert [type(e) for e in message.content.entities] == [entity]
    assert result["chat"] == served.me


async def test_reply_and_silent(served: Demo) -> None:
    """reply_to and silent reach Telegram as a reply header and the silent flag."""
    chat, target = served.demo.messages["alex_sunset"]
    result = await served.call(
        "send_message", chat=str(_marked(chat)), text="re", reply_to=target, silent=True
    )
    box = served.world.channels[chat.id].box if chat.kind == "channel" else served.world.box(served.me)
    message = box.messages[result["id"]]
    assert message.reply_to is not None and message.reply_to.msg_id == target
    assert message.silent


async def test_forum_topic_post_and_link(served: Demo) -> None:
    """topic posts into a forum topic; a supergroup message has a t.me link."""
    forum = served.demo.chats["forum"]
    topic = next(iter(served.demo.topics.values()))
    result = await served.call("send_message", chat=str(_marked(forum)), text="in topic", topic=topic)
    message = served.world.channels[forum.id].box.messages[result["id"]]
    assert message.reply_to is not None and message.reply_to.top_id == topic and message.reply_to.forum_topic
    assert result["link"].endswith(f"/{result['id']}")


async def test_scheduled_message_waits_then_arrives(served: Demo) -> None:
    """A scheduled send is in the scheduled list, not the chat, until its time; then it is delivered."""
    alex = served.demo.users["alex"]
    when = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=2)
    before = _count(served)
    result = await served.call("send_message", chat=str(alex), text="later", schedule=_iso(when))
    assert result["scheduled"] is True and result["date"] == _iso(when)
    assert _count(served) == before
    pending = scheduled.book(served.world).of(served.me)
    assert [(m.id, m.content.text, m.date) for m in pending] == [
        (result["id"], "later", int(when.timestamp()))
    ]
    served.world.clock = lambda: when.timestamp() + 1
    assert scheduled.deliver_due(served.sandbox) == 1
    page = await served.call("get_messages", chat=str(alex), limit=1)
    assert page["messages"][0]["text"] == "later"
    assert scheduled.book(served.world).of(served.me) == []


async def test_html_longer_than_4096_raw_fits_after_parsing(served: Demo) -> None:
    """The 4096 limit counts the text after markup, in UTF-16 units."""
    result = await served.call("send_message", chat="me", text="<b>" + "a" * 4096 + "</b>", parse_mode="html")
    assert len(_mine(served, result["id"]).content.text) == 4096


def _hostile(tmp: Path) -> list[tuple[dict[str, Any], str]]:
    now = datetime.now(UTC)
    return [
        ({"chat": "Alex"}, "CHAT_NOT_FOUND"),
        ({"chat": "999999999"}, "CHAT_NOT_FOUND"),
        ({"chat": "-1009999999999"}, "CHAT_NOT_FOUND"),
        ({"chat": "@nobody_here_xyz"}, "CHAT_NOT_FOUND"),
        ({"text": "a" * 4097}, "MESSAGE_TOO_LONG"),
        ({"text": "😀" * 2049}, "MESSAGE_TOO_LONG"),
        ({"text": "   "}, "MESSAGE_EMPTY"),
        ({"text": "<b></b>", "parse_mode": "html"}, "MESSAGE_EMPTY"),
        ({"schedule": _iso(now - timedelta(minutes=1))}, "SCHEDULE_INVALID"),
        ({"schedule": _iso(now + timedelta(days=400))}, "SCHEDULE_INVALID"),
        ({"schedule": "tomorrow at nine"}, "SCHEDULE_INVALID"),
    ]


async def test_hostile_inputs_are_refused_and_send_nothing(served: Demo, tmp_path: Path) -> None:
    """Fuzzy names, unknown chats, over-long text, bad schedules and bad paths: a clear code, no message."""
    before = _count(served)
    for overrides, code in _hostile(tmp_path):
        args = {"chat": "me", "text": "hi", **overrides}
        with pytest.raises(ToolError) as caught:
            await served.call("send_message", **args)
        message = str(caught.value)
        assert message.startswith(f"{code}: "), (overrides.keys(), message)
        assert str(tmp_path) not in message and "environ" not in message
        if overrides.get("chat") == "Alex":
            assert "find_chats" in message
    assert _count(served) == before


async def test_bad_parse_mode_is_a_validation_error(served: Demo) -> None:
    """An unknown parse_mode never reaches Telegram."""
    before = _count(served)
    with pytest.raises(ToolError):
        await served.call("send_message", chat="me", text="x", parse_mode="markdownv2")
    assert _count(served) == before


async def test_lost_answer_sends_exactly_once(served: Demo) -> None:
    """The connection drops after Telegram stored the message: Telethon re-sends with the same random_id,
    Telegram says RANDOM_ID_DUPLICATE, and the tool reports the one message it sent."""
    before = _count(served)
    mine_before = set(served.world.box(served.me).messages)
    served.sandbox.faults.lose_answer(functions.messages.SendMessageRequest)
    result = await served.call("send_message", chat="me", text="only once please")
    assert served.sandbox.faults.pending() == 0
    assert _count(served) == before + 1
    (new_id,) = set(served.world.box(served.me).messages) - mine_before
    assert result["id"] == new_id and result["chat"] == served.me


async def test_short_flood_wait_is_absorbed_and_sends_once(served: Demo) -> None:
    """A FLOOD_WAIT below the threshold is slept through; the message exists once."""
    before = _count(served)
    served.sandbox.faults.flood_wait(functions.messages.SendMessageRequest, 1)
    result = await served.call("send_message", chat="me", text="after a short wait")
    assert _count(served) == before + 1 and _mine(served, result["id"]).content.text == "after a short wait"


async def test_long_flood_wait_is_reported_and_sends_nothing(served: Demo) -> None:
    """A long FLOOD_WAIT comes back as RATE_LIMITED with retry_after; nothing was sent."""
    before = _count(served)
    served.sandbox.faults.flood_wait(functions.messages.SendMessageRequest, 60)
    with pytest.raises(ToolError) as caught:
        await served.call("send_message", chat="me", text="blocked")
    assert str(caught.value).startswith("RATE_LIMITED: ") and "retry_after=60" in str(caught.value)
    assert _count(served) == before


@pytest.fixture
async def http_gateway(tmp_path: Path) -> AsyncIterator[tuple[Client[Any], SandboxServer]]:
    """The demo world behind a gateway built for HTTP (no-auth, loopback): its tools have no local files."""
    demo = build_demo_world(now=DEMO_NOW)
    async with SandboxServer(demo.world) as sandbox:
        settings = Settings.load(env_file=None, data_dir=tmp_path / "data", no_auth=True)
        telegram = sandbox_telegram_config(sandbox)
        gateway = build_gateway(settings, transport="http", telegram=telegram)
        assert gateway.owner is not None
        await login_tenant(telegram, gateway.vault, gateway.owner, phone=demo.phone, code=demo.login_code)
        async with gateway, Client(gateway.mcp) as client:
            yield client, sandbox


async def test_http_tenants_cannot_send_local_files(
    http_gateway: tuple[Client[Any], SandboxServer], tmp_path: Path
) -> None:
    """Over HTTP any file path is NOT_ALLOWED (the gateway's disk is not the tenant's); text still works."""
    client, sandbox = http_gateway
    path = tmp_path / "secret.txt"
    path.write_text("operator data")
    files_before = len(sandbox.world.files)
    for file in (str(path), "/etc/hostname", "relative.txt"):
        with pytest.raises(ToolError) as caught:
            await client.call_tool("send_message", {"chat": "me", "text": "x", "files": [{"path": file}]})
        assert str(caught.value).startswith("NOT_ALLOWED: ") and "https URL" in str(caught.value)
    assert len(sandbox.world.files) == files_before
    sent = await client.call_tool("send_message", {"chat": "me", "text": "text is fine"})
    assert '"id":' in sent.content[0].text  # type: ignore[union-attr]
