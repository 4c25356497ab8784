"""``find_chats`` through a real MCP client against the demo world, compared with the sandbox's truth.

Every mode (own chats, name search, @username, t.me link, +phone), every filter (kind, folder,
unread, activity window), page walks with small limits against one big call and against the world,
and a table of hostile inputs with the code each must be refused with.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastmcp.exceptions import ToolError

from mcpgram.datadir import server_secret_bytes
from mcpgram.sandbox.rpc.dialogs import DialogEntry, dialog_entries, ordered
from mcpgram.sandbox.world import Channel, PeerKey, World
from mcpgram.telegram import chats as telegram_chats
from mcpgram.tools.cursors import encode_cursor
from mcpgram.tools.paging import _scope

from .conftest import DEMO_NOW, Demo

#: Read-only tests share one demo world (and its event loop); tests that change the world use ``served``.
SHARED = pytest.mark.asyncio(loop_scope="module")

KINDS = {
    "user": {"user"},
    "bot": {"bot"},
    "group": {"group", "supergroup", "forum"},
    "channel": {"channel"},
    "forum": {"forum"},
}
#: Starts Мама, Мария and Миша: a query the demo's Russian contacts share.
CYRILLIC_EM = "\u041c"


# -- the sandbox's truth -------------------------------------------------------------------------


def marked(peer: PeerKey) -> int:
    if peer.kind == "user":
        return peer.id
    if peer.kind == "chat":
        return -peer.id
    return -(10**12 + peer.id)


def world_kind(world: World, peer: PeerKey) -> str:
    if peer.kind == "user":
        return "bot" if world.users[peer.id].bot else "user"
    if peer.kind == "chat":
        return "group"
    channel: Channel = world.channels[peer.id]
    if channel.broadcast:
        return "channel"
    return "forum" if channel.forum else "supergroup"


def dialogs(demo: Demo) -> list[DialogEntry]:
    """The demo account's dialogs in Telegram's order: pinned first, then newest first."""
    pinned, rest = ordered(dialog_entries(demo.world, demo.me))
    return pinned + rest


def unread(demo: Demo, entry: DialogEntry) -> int:
    ids = entry.box.history(entry.peer)
    incoming = [i for i in ids if i > entry.state.read_inbox_max_id]
    if entry.peer.kind == "channel":
        return sum(1 for i in incoming if entry.box.messages[i].author_id != demo.me)
    return sum(1 for i in incoming if not entry.box.messages[i].out)


def ids(chats: list[dict[str, Any]]) -> list[int]:
    return [chat["id"] for chat in chats]


async def walk(demo: Demo, **args: Any) -> tuple[list[dict[str, Any]], int]:
    """Every page of a query, concatenated; checks each page's has_more/next_cursor agree."""
    found: list[dict[str, Any]] = []
    cursor = ""
    for pages in range(1, 200):
        page = await demo.call("find_chats", **args, **({"cursor": cursor} if cursor else {}))
        found += page["chats"]
        assert page["has_more"] is ("next_cursor" in page)
        if not page["has_more"]:
            return found, pages
        assert page["chats"] or args, "an unfiltered page is never empty while more follow"
        cursor = page["next_cursor"]
    raise AssertionError("the walk did not end")


async def refused(demo: Demo, tool: str, **args: Any) -> str:
    with pytest.raises(ToolError) as info:
        await demo.call(tool, **args)
    return str(info.value)


# -- own chats -----------------------------------------------------------------------------------


@SHARED
async def test_own_chats_are_every_dialog_in_telegrams_order(shared: Demo) -> None:
    """An empty query lists every dialog (pinned first, then newest first) with its unread count."""
    truth = dialogs(shared)
    page = await shared.call("find_chats", limit=100)
    assert page["has_more"] is False
    assert ids(page["chats"]) == [marked(e.peer) for e in truth]
    assert [c.get("unread", 0) for c in page["chats"]] == [unread(shared, e) for e in truth]
    assert [c["kind"] for c in page["chats"]] == [world_kind(shared.world, e.peer) for e in truth]
    for chat, entry in zip(page["chats"], truth, strict=True):
        assert chat["last_date"] == time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(entry.top.date))


@SHARED
@pytest.mark.parametrize("limit", [1, 2, 3, 7])
async def test_pages_walk_the_dialog_list_exactly(shared: Demo, limit: int) -> None:
    """Pages of any size concatenate to the full list: no duplicates, no gaps, has_more false at the end."""
    full, pages = await walk(shared, limit=limit)
    assert ids(full) == [marked(e.peer) for e in dialogs(shared)]
    assert pages == -(-len(full) // limit)  # exact has_more: never an empty last page


@SHARED
@pytest.mark.parametrize("kind", sorted(KINDS))
async def test_kind_filters_pick_their_chats(shared: Demo, kind: str) -> None:
    """Each kind keeps exactly the dialogs of that kind ('group' covers supergroups and forums)."""
    found, _ = await walk(shared, kind=kind, limit=2)
    expected = [marked(e.peer) for e in dialogs(shared) if world_kind(shared.world, e.peer) in KINDS[kind]]
    assert ids(found) == expected
    assert {c["kind"] for c in found} <= KINDS[kind]


@SHARED
async def test_unread_keeps_chats_with_unread_messages(shared: Demo) -> None:
    """unread=true keeps exactly the dialogs with unread incoming messages, walked one per page."""
    found, pages = await walk(shared, unread=True, limit=1)
    expected = [marked(e.peer) for e in dialogs(shared) if unread(shared, e)]
    assert expected and ids(found) == expected
    assert pages == len(expected)
    assert all(c["unread"] > 0 for c in found)


@SHARED
async def test_active_days_keeps_recent_chats_only(shared: Demo) -> None:
    """active_days keeps dialogs whose last message is within the window, pinned ones included."""
    days = int((time.time() - DEMO_NOW) // 86400) + 3
    since = time.time() - days * 86400
    expected = [marked(e.peer) for e in dialogs(shared) if e.top is not None and e.top.date >= since]
    found, _ = await walk(shared, active_days=days, limit=3)
    assert 0 < len(expected) < len(dialogs(shared))
    assert ids(found) == expected
    assert (await shared.call("find_chats", active_days=1)) == {"chats": [], "has_more": False}


@SHARED
@pytest.mark.parametrize("name", ["Work", "friends", "  WORK "])
async def test_folders_by_title_list_their_chats(shared: Demo, name: str) -> None:
    """A folder's title (any case) keeps the dialogs it includes, in dialog order."""
    folder = next(f for f in shared.world.filters[shared.me] if f.title.casefold() == name.strip().casefold())
    found, _ = await walk(shared, folder=name, limit=2)
    included = {marked(p) for p in folder.include_peers}
    assert ids(found) == [marked(e.peer) for e in dialogs(shared) if marked(e.peer) in included]
    by_id = await shared.call("find_chats", folder=str(folder.id), limit=100)
    assert ids(by_id["chats"]) == ids(found)


@SHARED
async def test_filters_combine(shared: Demo) -> None:
    """Folder, kind and unread together keep only chats passing all three."""
    work = next(f for f in shared.world.filters[shared.me] if f.title == "Work")
    included = {marked(p) for p in work.include_peers}
    expected = [
        marked(e.peer)
        for e in dialogs(shared)
        if marked(e.peer) in included
        and world_kind(shared.world, e.peer) == "supergroup"
        and unread(shared, e)
    ]
    found, _ = await walk(shared, folder="Work", kind="group", unread=True, limit=1)
    assert ids(found) == expected


@SHARED
async def test_a_short_page_budget_still_walks_exactly(shared: Demo, monkeypatch: pytest.MonkeyPatch) -> None:
    """When filters leave pages short and the page budget runs out, the cursor continues without gaps."""
    monkeypatch.setattr(telegram_chats, "MAX_LIMIT", 3)
    monkeypatch.setattr(telegram_chats, "MAX_PAGES", 1)
    found, pages = await walk(shared, kind="user", limit=2)
    expected = [marked(e.peer) for e in dialogs(shared) if world_kind(shared.world, e.peer) == "user"]
    assert ids(found) == expected
    assert pages > len(expected) // 2


# -- search modes --------------------------------------------------------------------------------


@SHARED
@pytest.mark.parametrize("query", ["a", "demo", "Дм", "lighthouse"])
async def test_name_search_pages_match_one_big_call(shared: Demo, query: str) -> None:
    """Name-search pages of one concatenate to what a single call returns."""
    whole = await shared.call("find_chats", query=query, limit=100)
    assert whole["has_more"] is False and whole["chats"]
    found, _ = await walk(shared, query=query, limit=1)
    assert found == whole["chats"]


@SHARED
async def test_name_search_finds_own_chats_and_contacts(shared: Demo) -> None:
    """A name finds contacts by saved name and groups by title; none of them is marked global."""
    mom = shared.demo.users["mom"]
    found = (await shared.call("find_chats", query="Мама"))["chats"]
    assert ids(found) == [mom] and "source" not in found[0]
    hiking = marked(shared.demo.chats["hiking"])
    assert hiking in ids((await shared.call("find_chats", query="hiking"))["chats"])


@SHARED
async def test_name_search_with_dialog_filters(shared: Demo) -> None:
    """Filters apply to name results too: unread reads the found chats' dialogs."""
    found = (await shared.call("find_chats", query=CYRILLIC_EM, unread=True, limit=100))["chats"]
    by_id = {marked(e.peer): e for e in dialogs(shared)}
    everything = (await shared.call("find_chats", query=CYRILLIC_EM, limit=100))["chats"]
    expected = [c["id"] for c in everything if c["id"] in by_id and unread(shared, by_id[c["id"]])]
    assert 0 < len(expected) < len(everything)
    assert ids(found) == expected
    walked, _ = await walk(shared, query=CYRILLIC_EM, unread=True, limit=1)
    assert ids(walked) == expected


@SHARED
@pytest.mark.parametrize(
    ("query", "key"),
    [
        ("@demo_news", "news"),
        ("https://t.me/demo_news", "news"),
        ("t.me/hiking_club_demo/3", "hiking"),
        ("https://t.me/c/1600000001/3", "hiking"),
    ],
)
async def test_usernames_and_links_resolve_exactly(shared: Demo, query: str, key: str) -> None:
    """@username and t.me links name exactly one chat."""
    page = await shared.call("find_chats", query=query)
    assert ids(page["chats"]) == [marked(shared.demo.chats[key])]
    assert page["has_more"] is False


@SHARED
async def test_a_phone_resolves_to_its_user(shared: Demo) -> None:
    """+phone finds the account with that number."""
    phone = shared.demo.phones["alex"]
    page = await shared.call("find_chats", query=f"+{phone[:3]} {phone[3:6]} {phone[6:]}")
    assert ids(page["chats"]) == [shared.demo.users["alex"]]


@SHARED
@pytest.mark.parametrize(
    "query",
    ["@nobody_is_here", "https://t.me/nobody_is_here", "+9990000000", "zzzzqqqq", "https://t.me/c/999999/1"],
)
async def test_no_match_is_an_empty_success(shared: Demo, query: str) -> None:
    """Unknown usernames, phones, names and links are an empty result, not an error."""
    assert await shared.call("find_chats", query=query) == {"chats": [], "has_more": False}


@SHARED
async def test_exact_lookups_respect_the_kind_filter(shared: Demo) -> None:
    """kind applies to exact look-ups too."""
    assert (await shared.call("find_chats", query="@demo_news", kind="group"))["chats"] == []
    assert len((await shared.call("find_chats", query="@demo_news", kind="channel"))["chats"]) == 1


# -- hostile input -------------------------------------------------------------------------------


def _mint(demo: Demo, tool: str, query: dict[str, Any], position: Any) -> str:
    secret = server_secret_bytes(demo.gateway.settings)
    key = hmac.new(secret, b"mcpgram/cursor/v1", hashlib.sha256).digest()
    assert demo.gateway.owner is not None
    return encode_cursor(key, demo.gateway.owner.tenant_id, {"q": _scope(tool, query), "p": position})


def _scope_of(**args: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"query": "", "kind": "any", "folder": "", "unread": False, "active_days": 0}
    return {**base, **args}


def hostile_cursors(demo: Demo) -> Iterator[tuple[dict[str, Any], str]]:
    """(arguments, code) pairs that must be refused."""
    own = _scope_of()
    yield {"cursor": "e30.AAAAAAAAAAAAAAAAAAAAAA"}, "INVALID_CURSOR"
    yield {"cursor": "x" * 100}, "INVALID_CURSOR"
    yield (
        {
            "cursor": encode_cursor(
                b"k" * 32, "another-tenant", {"q": _scope("find_chats", own), "p": {"s": 1}}
            )
        },
        ("INVALID_CURSOR"),
    )
    for position in (
        {"s": -1},
        {"s": 10**6},
        {"d": 1, "i": 2},
        {"d": -5, "i": 1, "p": 1},
        {"o": 3},
        {"s": "1"},
    ):
        yield {"cursor": _mint(demo, "find_chats", own, position)}, "INVALID_CURSOR"
    yield {"cursor": _mint(demo, "find_chats", own, {"d": 1, "i": 2**31, "p": 5})}, "INVALID_CURSOR"
    yield (
        {"query": "a", "cursor": _mint(demo, "find_chats", _scope_of(query="a"), {"o": -1})},
        "INVALID_CURSOR",
    )
    yield (
        {"query": "a", "cursor": _mint(demo, "find_chats", _scope_of(query="a"), {"s": 0})},
        "INVALID_CURSOR",
    )
    yield {"cursor": _mint(demo, "get_chat", {"chat": "me"}, {"s": 1})}, "INVALID_CURSOR"
    yield {"folder": "No such folder"}, "FOLDER_NOT_FOUND"
    yield {"folder": "999"}, "FOLDER_NOT_FOUND"


@SHARED
async def test_hostile_input_is_refused_with_a_code(shared: Demo) -> None:
    """Forged, foreign, other-query and out-of-range cursors, and unknown folders, get their codes."""
    for args, code in hostile_cursors(shared):
        text = await refused(shared, "find_chats", **args)
        assert text.startswith(f"{code}:"), (args, text)


@SHARED
async def test_a_cursor_only_continues_its_own_query(shared: Demo) -> None:
    """A valid cursor with other filters is INVALID_CURSOR, never a jump into another list."""
    page = await shared.call("find_chats", limit=1)
    text = await refused(shared, "find_chats", limit=1, unread=True, cursor=page["next_cursor"])
    assert text.startswith("INVALID_CURSOR:")
    # The limit is not part of the query: a walk may change page size.
    assert (await shared.call("find_chats", limit=5, cursor=page["next_cursor"]))["chats"]


@SHARED
async def test_unknown_folder_error_names_the_folders(shared: Demo) -> None:
    """The error says which folders exist, so the agent can retry right."""
    text = await refused(shared, "find_chats", folder="Nope")
    assert "Work" in text and "Friends" in text and "archive" in text


@SHARED
@pytest.mark.parametrize(
    "args",
    [
        {"limit": 0},
        {"limit": 101},
        {"active_days": -1},
        {"kind": "supergroup"},
        {"query": "x" * 129},
        {"folder": "f" * 65},
        {"cursor": "c" * 513},
    ],
)
async def test_out_of_range_arguments_fail_validation(shared: Demo, args: dict[str, Any]) -> None:
    """Schema limits are enforced before anything reaches Telegram."""
    await refused(shared, "find_chats", **args)


# -- worlds changed by the test ------------------------------------------------------------------


async def test_folder_flags_and_exclusions(served: Demo) -> None:
    """A folder of all groups minus an excluded one lists exactly those; the archive lists archived chats."""
    world, me = served.world, served.me
    family = served.demo.chats["family"]
    world.add_dialog_filter(me, title="Groups", groups=True, exclude_peers=[family])
    found, _ = await walk(served, folder="groups", limit=2)
    expected = [
        marked(e.peer)
        for e in dialogs(served)
        if world_kind(world, e.peer) in KINDS["group"] and e.peer != family
    ]
    assert ids(found) == expected
    world.read_state(me, family).folder_id = 1
    assert ids((await served.call("find_chats", folder="archive"))["chats"]) == [marked(family)]


def add_public_chats(demo: Demo) -> tuple[int, int]:
    """A public channel and a bot the demo account has never met; returns their marked ids."""
    world = demo.world
    owner = demo.demo.users["emma"]
    channel = world.add_channel(
        title="Lakeside Gazette", creator_id=owner, broadcast=True, username="lake_gazette"
    )
    bot = world.add_user(first_name="Lakeside Bot", username="lakeside_bot", bot=True)
    return marked(PeerKey("channel", channel.id)), bot.id


async def test_global_matches_follow_own_results_and_are_marked(served: Demo) -> None:
    """Public chats found by name come after own chats, marked source=global; filters apply to them."""
    channel, bot = add_public_chats(served)
    found = (await served.call("find_chats", query="lake", limit=100))["chats"]
    assert {c["id"] for c in found if c.get("source") == "global"} == {channel, bot}
    own = [c for c in found if "source" not in c]
    assert found[: len(own)] == own  # own chats and contacts first
    assert ids((await served.call("find_chats", query="lake", kind="bot"))["chats"]) == [bot]
    assert ids((await served.call("find_chats", query="lake", kind="channel"))["chats"]) == [channel]
    # Dialog filters keep only the account's own chats: a stranger's channel has no unread for us.
    unread_only = (await served.call("find_chats", query="lake", unread=True))["chats"]
    assert not {channel, bot} & set(ids(unread_only))
