"""Forum topics and reply threads in supergroups."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from telethon import TelegramClient, errors, events, functions, types

from mcpgram.sandbox import SandboxServer

from .conftest import ClientFactory
from .test_channels import next_event


async def create_forum(client: TelegramClient, title: str = "Forum") -> types.Channel:
    result = await client(
        functions.channels.CreateChannelRequest(title=title, about="", megagroup=True, forum=True)
    )
    return next(c for c in result.chats if isinstance(c, types.Channel))


async def create_topic(client: TelegramClient, forum: Any, title: str) -> int:
    result = await client(functions.messages.CreateForumTopicRequest(peer=forum, title=title))
    return int(next(u.message.id for u in result.updates if isinstance(u, types.UpdateNewChannelMessage)))


def topics_request(forum: Any, **kwargs: Any) -> functions.messages.GetForumTopicsRequest:
    params: dict[str, Any] = {"offset_date": None, "offset_id": 0, "offset_topic": 0, "limit": 20}
    return functions.messages.GetForumTopicsRequest(peer=forum, **(params | kwargs))


async def test_topics_are_created_listed_by_activity_and_hold_their_messages(
    make_client: ClientFactory,
) -> None:
    """Topics get their creation message's id, list by last activity and keep messages sent with reply_to."""
    alice = await make_client(phone="9996650001", first_name="Alice")
    forum = await create_forum(alice)
    assert forum.forum

    ideas = await create_topic(alice, forum, "Ideas")
    bugs = await create_topic(alice, forum, "Bugs")
    in_ideas = await alice.send_message(forum, "what about dark mode?", reply_to=ideas)
    in_general = await alice.send_message(forum, "hello everyone")
    listed = await alice(topics_request(forum))
    history = [m async for m in alice.iter_messages(forum, reply_to=ideas)]

    assert (ideas, bugs) == (2, 3)
    assert in_ideas.reply_to.forum_topic and in_ideas.reply_to.reply_to_msg_id == ideas
    assert in_general.reply_to is None
    assert [(t.id, t.title) for t in listed.topics] == [(1, "General"), (ideas, "Ideas"), (bugs, "Bugs")]
    assert [t.top_message for t in listed.topics] == [in_general.id, in_ideas.id, bugs]
    assert listed.count == 3 and all(t.my for t in listed.topics[1:])
    assert [m.id for m in history] == [in_ideas.id, ideas]
    assert (
        isinstance(history[-1].action, types.MessageActionTopicCreate) and history[-1].action.title == "Ideas"
    )


async def test_topic_list_searches_titles_and_pages_by_offset(make_client: ClientFactory) -> None:
    """getForumTopics filters by q and continues after offset_topic, reporting the total count."""
    alice = await make_client(phone="9996650011", first_name="Alice")
    forum = await create_forum(alice)
    for title in ("Release 1.0", "Release 2.0", "Support"):
        await create_topic(alice, forum, title)

    releases = await alice(topics_request(forum, q="release"))
    first = await alice(topics_request(forum, limit=2))
    last = first.topics[-1]
    rest = await alice(
        topics_request(
            forum, offset_topic=last.id, offset_id=last.top_message, offset_date=first.messages[-1].date
        )
    )

    assert [t.title for t in releases.topics] == ["Release 2.0", "Release 1.0"] and releases.count == 2
    assert [t.title for t in first.topics] == ["Support", "Release 2.0"] and first.count == 4
    assert [t.title for t in rest.topics] == ["Release 1.0", "General"]


async def test_topic_messages_reach_members_live_with_forum_topic_set(
    make_client: ClientFactory, sandbox: SandboxServer
) -> None:
    """A member gets a topic message live with forum_topic set, and a reply to it stays in the topic."""
    alice = await make_client(phone="9996650021", first_name="Alice")
    bob = await make_client(phone="9996650022", first_name="Bob")
    alice_id, bob_id = (await alice.get_me()).id, (await bob.get_me()).id
    forum = await create_forum(alice)
    bob_user = types.InputUser(bob_id, sandbox.world.access_hash(alice_id, "user", bob_id))
    await alice(functions.channels.InviteToChannelRequest(forum, [bob_user]))
    topic = await create_topic(alice, forum, "Plans")
    arrived = next_event(bob, events.NewMessage(incoming=True))

    first = await alice.send_message(forum, "kick-off", reply_to=topic)
    live = (await asyncio.wait_for(arrived, 5)).message
    reply = await bob.send_message(types.PeerChannel(forum.id), "count me in", reply_to=live.id)

    assert live.id == first.id and live.reply_to.forum_topic and live.reply_to.reply_to_msg_id == topic
    assert reply.reply_to.forum_topic and reply.reply_to.reply_to_top_id == topic
    assert reply.reply_to.reply_to_msg_id == first.id
    [bob_view] = (
        await bob(functions.messages.GetForumTopicsByIDRequest(types.PeerChannel(forum.id), [topic]))
    ).topics
    assert bob_view.top_message == reply.id and not bob_view.my


async def test_replies_in_a_supergroup_form_threads(make_client: ClientFactory) -> None:
    """A reply to a reply joins the first message's thread, as getReplies and getDiscussionMessage show."""
    alice = await make_client(phone="9996650031", first_name="Alice")
    result = await alice(functions.channels.CreateChannelRequest(title="Chat", about="", megagroup=True))
    group = result.chats[0]
    root = await alice.send_message(group, "question")
    answer = await alice.send_message(group, "answer", reply_to=root.id)
    follow_up = await alice.send_message(group, "follow-up", reply_to=answer.id)
    await alice.send_message(group, "unrelated")

    thread = [m.id async for m in alice.iter_messages(group, reply_to=root.id)]
    discussion = await alice(functions.messages.GetDiscussionMessageRequest(group, follow_up.id))

    assert answer.reply_to.reply_to_top_id is None and answer.reply_to.reply_to_msg_id == root.id
    assert follow_up.reply_to.reply_to_top_id == root.id and follow_up.reply_to.reply_to_msg_id == answer.id
    assert thread == [follow_up.id, answer.id]
    assert [m.id for m in discussion.messages] == [root.id] and discussion.max_id == follow_up.id


async def test_closed_topic_refuses_members_but_not_admins(
    make_client: ClientFactory, sandbox: SandboxServer
) -> None:
    """After an admin closes a topic, a member's message into it is refused with TOPIC_CLOSED."""
    alice = await make_client(phone="9996650041", first_name="Alice")
    bob = await make_client(phone="9996650042", first_name="Bob", request_retries=1)
    alice_id, bob_id = (await alice.get_me()).id, (await bob.get_me()).id
    forum = await create_forum(alice)
    await alice(
        functions.channels.InviteToChannelRequest(
            forum, [types.InputUser(bob_id, sandbox.world.access_hash(alice_id, "user", bob_id))]
        )
    )
    topic = await create_topic(alice, forum, "Announcements")

    await alice(functions.messages.EditForumTopicRequest(forum, topic, closed=True))
    bob_forum = types.InputPeerChannel(forum.id, sandbox.world.access_hash(bob_id, "channel", forum.id))
    with pytest.raises(errors.RPCError, match="TOPIC_CLOSED"):
        await bob.send_message(bob_forum, "may I?", reply_to=topic)
    note = await alice.send_message(forum, "admins still can", reply_to=topic)
    [listed] = (await alice(functions.messages.GetForumTopicsByIDRequest(forum, [topic]))).topics

    assert note.reply_to.forum_topic and listed.closed and listed.top_message == note.id
