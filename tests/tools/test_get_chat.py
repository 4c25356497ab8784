"""``get_chat`` through a real MCP client against the demo world, compared with the sandbox's truth.

Private chat, basic group, supergroup, channel and forum outputs; permissions by role (member,
admin, creator, blocked) against the rights the sandbox grants; forum topic pages walked against the
world; strict references and hostile input; and ids that still resolve after a restart.
"""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path
from typing import Any

import pytest
from fastmcp import Client
from fastmcp.exceptions import ToolError

from mcpgram.app import build_gateway
from mcpgram.datadir import server_secret_bytes
from mcpgram.sandbox.render import admin_rights
from mcpgram.sandbox.world import PeerKey
from mcpgram.testing import sandbox_telegram_config
from mcpgram.tools.cursors import encode_cursor
from mcpgram.tools.paging import _scope

from .conftest import Demo
from .test_find_chats import add_public_chats, marked

SHARED = pytest.mark.asyncio(loop_scope="module")
MEMBER = ["send", "send_media", "pin", "invite"]


async def refused(demo: Demo, **args: Any) -> str:
    with pytest.raises(ToolError) as info:
        await demo.call("get_chat", **args)
    return str(info.value)


def chat_id(demo: Demo, key: str) -> str:
    return str(marked(demo.demo.chats[key]))


@SHARED
async def test_a_private_chat_shows_the_profile(shared: Demo) -> None:
    """A user: name, username, bio, common groups, and the rights of a private chat."""
    alex = shared.world.users[shared.demo.users["alex"]]
    result = await shared.call("get_chat", chat=str(alex.id))
    assert (result["id"], result["kind"], result["username"], result["about"]) == (
        alex.id,
        "user",
        alex.username,
        alex.about,
    )
    assert result["can"] == ["send", "send_media", "pin", "delete_others"]
    assert result["common_chats"] == sum(
        1 for c in [*shared.world.chats.values(), *shared.world.channels.values()]
        if alex.id in c.participants and shared.me in c.participants and not getattr(c, "broadcast", False)
    )  # fmt: skip
    assert "members" not in result and "topics" not in result


@SHARED
async def test_a_channel_shows_about_subscribers_link_and_pinned_post(shared: Demo) -> None:
    """A channel: about, subscribers, its discussion group, the pinned post; subscribers may not post."""
    news = shared.world.channels[shared.demo.chats["news"].id]
    result = await shared.call("get_chat", chat="@demo_news")
    assert result["kind"] == "channel" and result["about"] == news.about
    assert result["members"] == len(news.participants)
    assert news.linked_chat_id is not None
    assert result["linked"]["id"] == marked(PeerKey("channel", news.linked_chat_id))
    pinned = max(i for i, m in news.box.messages.items() if m.pinned)
    assert result["pinned"]["id"] == pinned
    assert result["pinned"]["text"] == news.box.messages[pinned].content.text
    assert result["can"] == []
    discussion = await shared.call("get_chat", chat=str(result["linked"]["id"]))
    assert discussion["linked"]["id"] == result["id"] and discussion["can"] == MEMBER


@SHARED
async def test_a_basic_group_shows_members_and_pinned_message(shared: Demo) -> None:
    """A basic group: member count and the pinned message, as the account's own copy."""
    family = shared.world.chats[shared.demo.chats["family"].id]
    result = await shared.call("get_chat", chat=chat_id(shared, "family"))
    assert (result["kind"], result["members"], result["can"]) == ("group", len(family.participants), MEMBER)
    assert result["pinned"]["id"] == shared.demo.message("family_dinner").id


@SHARED
async def test_forum_topics_walk_in_pages(shared: Demo) -> None:
    """A forum lists its topics; topics_cursor pages through all of them exactly, topics only."""
    forum = shared.world.channels[shared.demo.chats["forum"].id]
    ref = chat_id(shared, "forum")
    whole = await shared.call("get_chat", chat=ref, topics=50)
    assert whole["kind"] == "forum" and "topics_cursor" not in whole
    listed = {t["id"]: t["title"] for t in whole["topics"]}
    general = listed.pop(1)  # Telegram's built-in "General" topic, which no service message creates
    assert general and listed == {t.id: t.title for t in forum.topics.values()}
    page = await shared.call("get_chat", chat=ref, topics=1)
    walked = list(page["topics"])
    while "topics_cursor" in page:
        page = await shared.call("get_chat", chat=ref, topics=1, topics_cursor=page["topics_cursor"])
        assert set(page) <= {"note", "topics", "topics_cursor"}
        assert len(page["topics"]) == 1
        walked += page["topics"]
    assert walked == whole["topics"]
    assert (await shared.call("get_chat", chat=ref, topics=0)).get("topics") is None


@SHARED
@pytest.mark.parametrize(
    "chat",
    [
        "nobody",
        "Alex Carter",
        "@nobody_is_here",
        "0",
        "-1",
        "99999999999999999999",
        "-1000000000000",
        "+1",
        "",
    ],
)
async def test_unknown_or_fuzzy_references_are_refused(shared: Demo, chat: str) -> None:
    """Names, unknown usernames and out-of-range ids never resolve; the error says to use find_chats."""
    text = await refused(shared, chat=chat)
    if chat:
        assert text.startswith("CHAT_NOT_FOUND:") and "find_chats" in text, text


@SHARED
async def test_an_id_never_seen_is_chat_not_found(shared: Demo) -> None:
    """A well-formed id the account never met (another account's basic group, say) is CHAT_NOT_FOUND."""
    text = await refused(shared, chat="-400000999")
    assert text.startswith("CHAT_NOT_FOUND:") and "find_chats" in text


@SHARED
async def test_hostile_topic_cursors_are_refused(shared: Demo) -> None:
    """Forged, foreign, other-chat and out-of-range topic cursors are INVALID_CURSOR."""
    ref = chat_id(shared, "forum")
    page = await shared.call("get_chat", chat=ref, topics=1)
    key = hmac.new(
        server_secret_bytes(shared.gateway.settings), b"mcpgram/cursor/v1", hashlib.sha256
    ).digest()
    assert shared.gateway.owner is not None
    tenant = shared.gateway.owner.tenant_id

    def mint(position: Any, chat: str = ref) -> str:
        return encode_cursor(key, tenant, {"q": _scope("get_chat", {"chat": chat}), "p": position})

    cases = [
        (ref, "e30.AAAAAAAAAAAAAAAAAAAAAA"),
        (chat_id(shared, "hiking"), page["topics_cursor"]),  # another chat's cursor
        (ref, encode_cursor(b"x" * 32, tenant, {"q": _scope("get_chat", {"chat": ref}), "p": {"d": 1}})),
        (ref, mint({"d": 1, "i": 2})),
        (ref, mint({"d": -1, "i": 2, "t": 3})),
        (ref, mint({"d": 1, "i": 2**31, "t": 3})),
        (ref, mint({"o": 1})),
    ]
    for chat, cursor in cases:
        text = await refused(shared, chat=chat, topics_cursor=cursor)
        assert text.startswith("INVALID_CURSOR:"), (chat, cursor, text)


# -- worlds changed by the test ------------------------------------------------------------------


def _rights_of(channel: Any) -> list[str]:
    """What the sandbox's admin rights for ``channel`` grant, in the tool's vocabulary."""
    rights = admin_rights(channel)
    if channel.broadcast:
        names = {
            "send": rights.post_messages, "send_media": rights.post_messages, "pin": rights.edit_messages,
            "invite": rights.invite_users, "delete_others": rights.delete_messages,
            "edit_others": rights.edit_messages, "ban": rights.ban_users,
        }  # fmt: skip
    else:
        names = {
            "send": True, "send_media": True, "pin": rights.pin_messages, "invite": rights.invite_users,
            "delete_others": rights.delete_messages, "ban": rights.ban_users,
        }  # fmt: skip
    return [name for name, granted in names.items() if granted]


@pytest.mark.parametrize("key", ["news", "hiking", "forum"])
async def test_admins_may_do_what_their_rights_say(served: Demo, key: str) -> None:
    """Made an admin, the account's 'can' lists exactly the sandbox's admin rights; as creator, everything."""
    channel = served.world.channels[served.demo.chats[key].id]
    channel.participants[served.me].admin = True
    result = await served.call("get_chat", chat=chat_id(served, key))
    assert result["can"] == _rights_of(channel)
    channel.creator_id = served.me
    channel.participants[served.me].creator = True
    everything = ["send", "send_media", "pin", "invite", "delete_others", "edit_others", "ban"]
    expected = everything if channel.broadcast else [r for r in everything if r != "edit_others"]
    assert (await served.call("get_chat", chat=chat_id(served, key)))["can"] == expected


async def test_a_blocked_user_cannot_be_messaged(served: Demo) -> None:
    """Blocking a user shows blocked and leaves nothing the account may do there."""
    alex = served.demo.users["alex"]
    served.world.users[served.me].blocked[alex] = served.world.now()
    result = await served.call("get_chat", chat=str(alex))
    assert result["blocked"] is True and result["can"] == []


async def test_a_public_chat_found_once_resolves_after_a_restart(served: Demo, tmp_path: Path) -> None:
    """A channel met only through global search is readable by id from a new gateway on the same data."""
    channel, _ = add_public_chats(served)
    found = await served.call("find_chats", query="Lakeside Gazette")
    assert ids_of(found) == [channel]
    settings = served.gateway.settings
    await served.gateway.pool.close()  # flush the sessions to the vault, as a shutdown does
    gateway = build_gateway(settings, transport="stdio", telegram=sandbox_telegram_config(served.sandbox))
    async with gateway, Client(gateway.mcp) as client:
        result = await client.call_tool("get_chat", {"chat": str(channel)})
        assert f'"id":{channel}' in result.content[0].text  # type: ignore[union-attr]
        with pytest.raises(ToolError, match="CHAT_NOT_FOUND"):
            await client.call_tool("get_chat", {"chat": str(channel - 1)})


def ids_of(page: dict[str, Any]) -> list[int]:
    return [chat["id"] for chat in page["chats"]]
