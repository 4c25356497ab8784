"""Dialog filters (folders) through raw Telethon requests: create, read back, update, reorder, delete."""

from __future__ import annotations

import asyncio

import pytest
from telethon import TelegramClient, errors, events, functions, types

from mcpgram.sandbox import SandboxServer

from .conftest import ClientFactory


def folder(filter_id: int, title: str, **fields: object) -> types.DialogFilter:
    fields.setdefault("pinned_peers", [])
    fields.setdefault("include_peers", [])
    fields.setdefault("exclude_peers", [])
    return types.DialogFilter(id=filter_id, title=types.TextWithEntities(title, []), **fields)


async def folders_of(client: TelegramClient) -> list[types.TypeDialogFilter]:
    result = await client(functions.messages.GetDialogFiltersRequest())
    assert isinstance(result, types.messages.DialogFilters)
    return list(result.filters)


async def test_folders_round_trip(make_client: ClientFactory, sandbox: SandboxServer) -> None:
    """A created folder reads back with the caller's access hashes, updates in place and deletes."""
    alice = await make_client(phone="9996630001", first_name="Alice")
    bob_client = await make_client(phone="9996630002", first_name="Bob")
    bob_id = (await bob_client.get_me()).id
    sandbox.world.users[bob_id].username = "bob_folders"
    channel = sandbox.world.add_channel(
        title="Dev news", creator_id=bob_id, broadcast=True, username="devnews"
    )
    bob = await alice.get_input_entity("@bob_folders")
    news = await alice.get_input_entity("@devnews")

    assert await folders_of(alice) == [types.DialogFilterDefault()]
    work = folder(2, "Work", pinned_peers=[bob], include_peers=[news, bob], groups=True, emoticon="💼")
    assert await alice(functions.messages.UpdateDialogFilterRequest(id=2, filter=work))

    default, stored = await folders_of(alice)
    assert isinstance(default, types.DialogFilterDefault)
    assert (stored.id, stored.title.text, stored.emoticon, stored.groups, stored.contacts) == (
        2,
        "Work",
        "💼",
        True,
        False,
    )
    assert stored.pinned_peers == [types.InputPeerUser(bob_id, bob.access_hash)]
    assert stored.include_peers == [types.InputPeerChannel(channel.id, news.access_hash)]

    renamed = folder(2, "Job", include_peers=[news], exclude_read=True)
    assert await alice(functions.messages.UpdateDialogFilterRequest(id=2, filter=renamed))
    (_, stored) = await folders_of(alice)
    assert (stored.title.text, stored.pinned_peers, stored.exclude_read, stored.groups) == (
        "Job",
        [],
        True,
        False,
    )

    assert await alice(functions.messages.UpdateDialogFilterRequest(id=2))
    assert await folders_of(alice) == [types.DialogFilterDefault()]
    assert await folders_of(bob_client) == [types.DialogFilterDefault()]


async def test_folder_changes_reach_other_sessions_and_reorder(make_client: ClientFactory) -> None:
    """Another session of the account is told of a new folder, and the order set is the order read back."""
    alice = await make_client(phone="9996630011", first_name="Alice")
    other = await make_client(phone="9996630011")
    await other.get_me()
    seen: asyncio.Future[types.UpdateDialogFilter] = asyncio.get_running_loop().create_future()

    async def on_filter(update: types.UpdateDialogFilter) -> None:
        if not seen.done():
            seen.set_result(update)

    other.add_event_handler(on_filter, events.Raw(types.UpdateDialogFilter))

    await alice(functions.messages.UpdateDialogFilterRequest(id=2, filter=folder(2, "Bots", bots=True)))
    pushed = await asyncio.wait_for(seen, 5)
    assert pushed.id == 2 and pushed.filter.title.text == "Bots" and pushed.filter.bots

    await alice(functions.messages.UpdateDialogFilterRequest(id=3, filter=folder(3, "People", contacts=True)))
    assert await alice(functions.messages.UpdateDialogFiltersOrderRequest(order=[3, 2]))
    assert [getattr(f, "id", 0) for f in await folders_of(alice)] == [0, 3, 2]
    assert [getattr(f, "id", 0) for f in await folders_of(other)] == [0, 3, 2]
    assert await other(functions.messages.GetSuggestedDialogFiltersRequest()) == []


async def test_folder_validation_errors(make_client: ClientFactory, sandbox: SandboxServer) -> None:
    """Reserved ids, empty titles, empty folders and foreign access hashes are refused as Telegram does."""
    alice = await make_client(phone="9996630021", first_name="Alice")
    carol = await make_client(phone="9996630023", first_name="Carol")
    bob_client = await make_client(phone="9996630022", first_name="Bob")
    bob_id = (await bob_client.get_me()).id
    sandbox.world.users[bob_id].username = "bob_validation"
    bob = await alice.get_input_entity("@bob_validation")

    with pytest.raises(errors.FilterIdInvalidError):
        await alice(
            functions.messages.UpdateDialogFilterRequest(id=1, filter=folder(1, "Archive", bots=True))
        )
    with pytest.raises(errors.FilterTitleEmptyError):
        await alice(functions.messages.UpdateDialogFilterRequest(id=2, filter=folder(2, " ", bots=True)))
    with pytest.raises(errors.FilterIncludeEmptyError):
        await alice(functions.messages.UpdateDialogFilterRequest(id=2, filter=folder(2, "Nothing")))
    stolen = types.InputPeerUser(bob_id, bob.access_hash)
    with pytest.raises(errors.PeerIdInvalidError):
        await carol(
            functions.messages.UpdateDialogFilterRequest(
                id=2, filter=folder(2, "Spy", include_peers=[stolen])
            )
        )
    assert await folders_of(carol) == [types.DialogFilterDefault()]
    assert await folders_of(alice) == [types.DialogFilterDefault()]


async def test_free_accounts_are_limited_to_ten_folders(
    make_client: ClientFactory, sandbox: SandboxServer
) -> None:
    """World-made folders show up for their owner, and an eleventh folder is DIALOG_FILTERS_TOO_MUCH."""
    alice = await make_client(phone="9996630031", first_name="Alice")
    alice_id = (await alice.get_me()).id
    for n in range(10):
        sandbox.world.add_dialog_filter(alice_id, title=f"F{n}", bots=True)
    ids = [getattr(f, "id", 0) for f in await folders_of(alice)]
    assert ids == [0, *range(2, 12)]
    with pytest.raises(errors.BadRequestError, match="DIALOG_FILTERS_TOO_MUCH"):
        await alice(functions.messages.UpdateDialogFilterRequest(id=20, filter=folder(20, "More", bots=True)))
    assert await alice(
        functions.messages.UpdateDialogFilterRequest(id=5, filter=folder(5, "Renamed", bots=True))
    )
