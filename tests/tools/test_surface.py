"""The tool surface as an agent meets it (issue 9): ids as they come back, message links, comments,
scheduled messages, and refusals in one shape, all through a real MCP client against the sandbox."""

from __future__ import annotations

import inspect
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastmcp.exceptions import ToolError

from mcpgram.policy.guard import Action
from mcpgram.policy.model import PROFILES
from mcpgram.sandbox import scheduled
from mcpgram.sandbox.world import PeerKey
from mcpgram.tools.context import ToolContext

from .action_support import refusal, telegram_calls
from .conftest import Demo

NEWS, NEWS_CHAT, FORUM = -1001600000004, -1001600000005, -1001600000003


async def test_ids_pass_back_as_they_came(served: Demo) -> None:
    """A chat id find_chats or search_messages returned as a JSON number works as a number or a string."""
    alex = next(c for c in (await served.call("find_chats", query="Alex"))["chats"])
    assert isinstance(alex["id"], int)
    as_number = await served.call("get_messages", chat=alex["id"], limit=3)
    as_text = await served.call("get_messages", chat=str(alex["id"]), limit=3)
    assert as_number == as_text and as_number["messages"]
    # A cursor minted for one form continues the other.
    cursor = as_number["next_cursor"]
    following = await served.call("get_messages", chat=str(alex["id"]), limit=3, cursor=cursor)
    assert following["messages"][0]["id"] < as_number["messages"][-1]["id"]
    hit = (await served.call("search_messages", query="bike", limit=1))["messages"][0]
    assert isinstance(hit["chat"], int)
    again = await served.call("get_messages", chat=hit["chat"], ids=[hit["id"]])
    assert [m["id"] for m in again["messages"]] == [hit["id"]]
    assert (await served.call("get_chat", chat=NEWS))["id"] == NEWS
    sent = await served.call("send_message", chat=alex["id"], text="hello by number")
    deleted = await served.call(
        "delete_messages", chat=alex["id"], message_ids=[sent["id"]], for_everyone=True
    )
    assert deleted["deleted"] == 1


async def test_every_chat_parameter_is_integer_or_string_in_a_small_schema(served: Demo) -> None:
    """chat, from_chat, to_chat and sender are one small schema: "type": ["integer", "string"]."""
    tools = {t.name: t.input_schema["properties"] for t in await served.client.list_tools()}
    found = {
        (tool, name): schema
        for tool, properties in tools.items()
        for name, schema in properties.items()
        if name in ("chat", "from_chat", "to_chat", "sender")
    }
    assert len(found) >= 12
    for where, schema in found.items():
        assert schema["type"] == ["integer", "string"], where
        assert set(schema) <= {"type", "description", "default", "minLength", "maxLength"}, where
        assert schema["maxLength"] == 256, where


LINKS = [
    ("https://t.me/demo_news/5", NEWS, 5),
    ("t.me/demo_news/5", NEWS, 5),
    ("https://t.me/s/demo_news/5", NEWS, 5),
    ("tg://resolve?domain=demo_news&post=5", NEWS, 5),
    ("https://t.me/c/1600000005/9", NEWS_CHAT, 9),
    ("tg://privatepost?channel=1600000005&post=9", NEWS_CHAT, 9),
    ("https://t.me/c/1600000003/13/17", FORUM, 17),
]


@pytest.mark.parametrize(("link", "chat", "msg_id"), LINKS)
async def test_a_message_link_reads_that_message(served: Demo, link: str, chat: int, msg_id: int) -> None:
    """get_messages(chat=<message link>) returns the linked message, not the newest page."""
    page = await served.call("get_messages", chat=link)
    assert [m["id"] for m in page["messages"]] == [msg_id]
    assert "has_more" not in page
    truth = await served.call("get_messages", chat=chat, ids=[msg_id])
    assert page["messages"] == truth["messages"]


async def test_a_message_link_with_a_filter_stands_for_its_chat(served: Demo) -> None:
    """With a filter the link names its chat: the post's comments, not the post."""
    page = await served.call("get_messages", chat="https://t.me/demo_news/5", thread=5)
    assert len(page["messages"]) > 1 and page["chat"] == NEWS_CHAT


async def test_replying_to_a_link_replies_to_that_message(served: Demo) -> None:
    """send_message(chat=<message link>) answers the linked message, in its chat."""
    sent = await served.call("send_message", chat="https://t.me/c/1600000005/9", text="agreed")
    assert sent["chat"] == NEWS_CHAT and sent["reply_to"] == 9
    mine = (await served.call("get_messages", chat=NEWS_CHAT, ids=[sent["id"]]))["messages"][0]
    assert mine["reply_to"] == 9 and mine["text"] == "agreed"


async def test_comments_say_their_chat_and_a_reply_there_joins_the_thread(served: Demo) -> None:
    """A post's comments carry the discussion group's id; replying with it lands in the comments."""
    comments = await served.call("get_messages", chat="@demo_news", thread=5, limit=10)
    assert comments["chat"] == NEWS_CHAT
    comment = next(m for m in comments["messages"] if not m.get("out"))
    sent = await served.call("send_message", chat=comments["chat"], text="thanks!", reply_to=comment["id"])
    assert sent["chat"] == NEWS_CHAT and sent["reply_to"] == comment["id"]
    after = await served.call("get_messages", chat="@demo_news", thread=5, limit=1)
    assert after["messages"][0]["id"] == sent["id"] and after["messages"][0]["reply_to"] == comment["id"]
    # A plain channel page names no other chat.
    assert "chat" not in await served.call("get_messages", chat="@demo_news", limit=2)


async def test_replying_to_a_comment_in_the_channel_names_the_discussion_group(served: Demo) -> None:
    """The channel refuses the reply (not an admin); the hint says where comments live."""
    text = await refusal(served, "send_message", chat="@demo_news", text="hi", reply_to=9)
    assert text.startswith("NOT_ALLOWED: ") and f"chat={NEWS_CHAT}" in text


async def test_scheduled_messages_are_listed_and_cancelled(served: Demo) -> None:
    """A scheduled send's id is listed by get_messages(scheduled) and cancelled by delete_messages."""
    now = datetime.now(UTC).replace(microsecond=0)
    later, sooner = (f"{(now + timedelta(days=d)).isoformat()[:19]}Z" for d in (30, 20))
    first = await served.call("send_message", chat="me", text="later", schedule=later)
    assert first["scheduled"] is True
    second = await served.call("send_message", chat="me", text="sooner", schedule=sooner)
    listed = await served.call("get_messages", chat="me", scheduled=True)
    assert [(m["id"], m["text"], m["date"]) for m in listed["messages"]] == [
        (second["id"], "sooner", sooner),
        (first["id"], "later", later),
    ]
    group = await served.call("send_message", chat="@hiking_club_demo", text="soon", schedule=sooner)
    listed_there = (await served.call("get_messages", chat="@hiking_club_demo", scheduled=True))["messages"]
    # Not sent yet: no link, which would name the group's own message with that id.
    assert [m["id"] for m in listed_there] == [group["id"]] and "link" not in listed_there[0]
    only = await served.call("get_messages", chat="me", scheduled=True, ids=[first["id"], 999])
    assert [m["id"] for m in only["messages"]] == [first["id"]] and only["not_found"] == [999]
    cancelled = await served.call(
        "delete_messages", chat="me", message_ids=[first["id"], 999], for_everyone=False, scheduled=True
    )
    assert cancelled == {"deleted": 1, "scheduled": True, "not_found": [999]}
    box = scheduled.book(served.world).of(served.me, PeerKey("user", served.me))
    assert [m.id for m in box] == [second["id"]]
    left = await served.call("get_messages", chat="me", scheduled=True)
    assert [m["id"] for m in left["messages"]] == [second["id"]]
    text = await refusal(served, "get_messages", chat="me", scheduled=True, search="x")
    assert text.startswith("INVALID_ARGUMENT: ")


async def test_a_missing_topic_hints_at_listing_topics(served: Demo) -> None:
    """REPLY_TO_INVALID in a forum becomes MESSAGE_NOT_FOUND whose hint says get_chat lists topics."""
    for args in ({"topic": 999}, {"topic": 3, "reply_to": 999}):
        text = await refusal(served, "send_message", chat=FORUM, text="x", **args)
        assert text.startswith("MESSAGE_NOT_FOUND: ") and "get_chat" in text and "topics" in text, text
    text = await refusal(served, "send_message", chat="@hiking_club_demo", text="x", reply_to=99_999)
    assert text.startswith("MESSAGE_NOT_FOUND: ") and "get_messages" in text


async def test_login_required_names_the_stdio_login_command(served: Demo) -> None:
    """A revoked authorization answers LOGIN_REQUIRED with the command that exists for stdio."""
    served.sandbox.faults.error(None, 401, "AUTH_KEY_UNREGISTERED", calls=5)
    text = await refusal(served, "get_messages", chat="me")
    assert text.startswith("LOGIN_REQUIRED: ") and "`mcpgram login`" in text and "setup page" not in text
    served.sandbox.faults.clear()


async def test_find_chats_matches_own_chats_locally_when_search_finds_nothing(served: Demo) -> None:
    """A word inside a name that Telegram's search misses still finds the account's own chat."""
    with telegram_calls(served) as calls:
        found = await served.call("find_chats", query="arter")
    assert [c["id"] for c in found["chats"]] == [served.demo.users["alex"]]
    assert calls["contacts.search"] == 1 and calls["contacts.getContacts"] == 1
    assert (await served.call("find_chats", query="zzzz-nobody"))["chats"] == []


async def test_topic_on_a_channel_comments_on_that_post(served: Demo) -> None:
    """send_message(chat=<channel>, topic=<post>) comments on the post; with reply_to, answers a comment."""
    with telegram_calls(served) as calls:
        comment = await served.call("send_message", chat="@demo_news", topic=5, text="great lane")
    assert comment["chat"] == NEWS_CHAT and calls["messages.getDiscussionMessage"] == 1
    answer = await served.call("send_message", chat="@demo_news", topic=5, reply_to=9, text="+1")
    assert answer["chat"] == NEWS_CHAT and answer["reply_to"] == 9
    thread = await served.call("get_messages", chat="@demo_news", thread=5, limit=2)
    assert [m["id"] for m in thread["messages"]] == [answer["id"], comment["id"]]
    assert thread["messages"][0]["reply_to"] == 9
    # The channel itself is untouched: no post was made there.
    newest = (await served.call("get_messages", chat="@demo_news", limit=1))["messages"][0]
    assert newest["text"] not in ("great lane", "+1")


async def test_login_required_names_the_http_tenant_login_command(served: Demo) -> None:
    """The same refusal for an HTTP tenant names `mcpgram login --token-stdin`, the command that exists."""
    owner = served.gateway.owner
    assert owner is not None

    async def keys() -> Any:
        return owner

    http_tenant = ToolContext(
        pool=served.gateway.pool,
        resolve_keys=keys,
        cursor_key=b"k" * 32,
        policy_of=lambda _tenant: PROFILES["all"],
        local_files=False,
    )

    async def whoami(client: Any) -> Any:
        return await client.get_me()

    served.sandbox.faults.error(None, 401, "AUTH_KEY_UNREGISTERED", calls=5)
    with pytest.raises(ToolError) as caught:
        await http_tenant.run(Action(("read",)), whoami)
    served.sandbox.faults.clear()
    text = str(caught.value)
    assert text.startswith("LOGIN_REQUIRED: ") and "`mcpgram login --token-stdin`" in text, text
    assert cli_has_token_stdin()


def cli_has_token_stdin() -> bool:
    """The hints name real commands: ``mcpgram login`` takes ``--qr`` and ``--token-stdin``."""
    from mcpgram.cli.login import login

    return {"qr", "token_stdin"} <= set(inspect.signature(login).parameters)
