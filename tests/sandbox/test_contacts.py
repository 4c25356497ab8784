"""Contacts, usernames, phone look-ups, people search, full profiles and privacy through real Telethon."""

from __future__ import annotations

import pytest
from telethon import errors, functions, types

from mcpgram.sandbox import SandboxServer
from mcpgram.sandbox.world import Participant

from .conftest import ClientFactory, documented_hash


def set_username(sandbox: SandboxServer, phone: str, username: str) -> int:
    user = sandbox.world.user_by_phone(phone)
    assert user is not None
    user.username = username
    return user.id


async def test_get_entity_by_username_finds_users_and_channels(
    make_client: ClientFactory, sandbox: SandboxServer
) -> None:
    """@username resolves to the user (without their phone) and a public channel's name to the channel."""
    alice = await make_client(phone="9996620001", first_name="Alice")
    await make_client(phone="9996620002", first_name="Bob")
    bob_id = set_username(sandbox, "9996620002", "bob_smith")
    channel = sandbox.world.add_channel(
        title="Newsroom", creator_id=bob_id, broadcast=True, username="newsroom"
    )

    bob = await alice.get_entity("@Bob_Smith")
    assert isinstance(bob, types.User)
    assert (bob.id, bob.first_name, bob.username, bob.phone) == (bob_id, "Bob", "bob_smith", None)
    news = await alice.get_entity("https://t.me/newsroom")
    assert isinstance(news, types.Channel)
    assert news.id == channel.id and news.broadcast and news.left


async def test_resolve_username_answers_telegram_errors(make_client: ClientFactory) -> None:
    """A malformed username is USERNAME_INVALID and a free one is USERNAME_NOT_OCCUPIED."""
    alice = await make_client(phone="9996620011", first_name="Alice")
    with pytest.raises(errors.UsernameInvalidError):
        await alice(functions.contacts.ResolveUsernameRequest("no spaces"))
    with pytest.raises(errors.UsernameNotOccupiedError):
        await alice(functions.contacts.ResolveUsernameRequest("nobody_uses_this"))
    with pytest.raises(ValueError, match="nobody_uses_this"):
        await alice.get_entity("@nobody_uses_this")


async def test_import_contacts_saves_names_and_finds_by_phone(make_client: ClientFactory) -> None:
    """Imported phones become contacts under the saved names; unknown numbers are simply not imported."""
    alice = await make_client(phone="9996620021", first_name="Alice")
    bob_client = await make_client(phone="9996620022", first_name="Bob")
    bob_id = (await bob_client.get_me()).id

    result = await alice(
        functions.contacts.ImportContactsRequest(
            [
                types.InputPhoneContact(
                    client_id=7, phone="+999 662 0022", first_name="Robert", last_name="B"
                ),
                types.InputPhoneContact(client_id=8, phone="9996629999", first_name="Ghost", last_name=""),
            ]
        )
    )
    assert [(c.user_id, c.client_id) for c in result.imported] == [(bob_id, 7)]
    assert result.retry_contacts == []
    assert [(u.first_name, u.last_name, u.contact, u.phone) for u in result.users] == [
        ("Robert", "B", True, "9996620022")
    ]

    by_phone = await alice.get_entity("+9996620022")
    assert by_phone.id == bob_id and by_phone.first_name == "Robert"
    book = await alice(functions.contacts.GetContactsRequest(0))
    assert [(c.user_id, c.mutual) for c in book.contacts] == [(bob_id, False)]

    await bob_client(
        functions.contacts.ImportContactsRequest([types.InputPhoneContact(1, "9996620021", "Ally", "")])
    )
    book = await alice(functions.contacts.GetContactsRequest(0))
    assert [(c.user_id, c.mutual) for c in book.contacts] == [(bob_id, True)]
    assert book.users[0].mutual_contact


async def test_get_contacts_honours_the_documented_hash(make_client: ClientFactory) -> None:
    """The hash of the sorted contact ids gets contactsNotModified; a stale hash gets the full list."""
    alice = await make_client(phone="9996620031", first_name="Alice")
    ids = []
    for phone in ("9996620033", "9996620032"):
        other = await make_client(phone=phone, first_name="Friend")
        ids.append((await other.get_me()).id)
    await alice(
        functions.contacts.ImportContactsRequest(
            [
                types.InputPhoneContact(i, phone, "F", str(i))
                for i, phone in enumerate(["9996620032", "9996620033"])
            ]
        )
    )
    current = documented_hash(sorted(ids))
    assert isinstance(
        await alice(functions.contacts.GetContactsRequest(current)), types.contacts.ContactsNotModified
    )
    stale = documented_hash(sorted(ids)[:1])
    full = await alice(functions.contacts.GetContactsRequest(stale))
    assert sorted(c.user_id for c in full.contacts) == sorted(ids)

    await alice(functions.contacts.DeleteContactsRequest([await alice.get_input_entity(ids[0])]))
    after = await alice(functions.contacts.GetContactsRequest(current))
    assert [c.user_id for c in after.contacts] == [ids[1]]


async def test_delete_contact_returns_updates_and_hides_phone(make_client: ClientFactory) -> None:
    """Deleting a contact answers Updates with the user no longer a contact, and the phone stops resolving."""
    alice = await make_client(phone="9996620041", first_name="Alice")
    await make_client(phone="9996620042", first_name="Bob")
    imported = await alice(
        functions.contacts.ImportContactsRequest([types.InputPhoneContact(1, "9996620042", "Bobby", "")])
    )
    bob = imported.users[0]

    result = await alice(functions.contacts.DeleteContactsRequest([types.InputUser(bob.id, bob.access_hash)]))
    assert isinstance(result, types.Updates)
    assert [type(u) for u in result.updates] == [types.UpdatePeerSettings]
    assert result.updates[0].peer == types.PeerUser(bob.id)
    (shown,) = result.users
    assert (shown.contact, shown.phone, shown.first_name) == (False, None, "Bob")
    with pytest.raises(ValueError):
        await alice.get_entity("+9996620042")
    book = await alice(functions.contacts.GetContactsRequest(0))
    assert book.contacts == []


async def test_resolve_phone_finds_accounts_and_refuses_unknown_numbers(make_client: ClientFactory) -> None:
    """contacts.resolvePhone returns the account on a number and PHONE_NOT_OCCUPIED for a free one."""
    alice = await make_client(phone="9996620051", first_name="Alice")
    bob_client = await make_client(phone="9996620052", first_name="Bob")
    bob_id = (await bob_client.get_me()).id
    found = await alice(functions.contacts.ResolvePhoneRequest("+9996620052"))
    assert found.peer == types.PeerUser(bob_id)
    assert found.users[0].first_name == "Bob" and not found.users[0].contact
    with pytest.raises(errors.PhoneNotOccupiedError):
        await alice(functions.contacts.ResolvePhoneRequest("9996620059"))


async def test_phone_is_shown_only_as_privacy_allows(
    make_client: ClientFactory, sandbox: SandboxServer
) -> None:
    """A phone shows to its owner and to users who have it saved or whom the owner saved, nobody else."""
    alice = await make_client(phone="9996620061", first_name="Alice")
    carol = await make_client(phone="9996620063", first_name="Carol")
    bob_client = await make_client(phone="9996620062", first_name="Bob")
    bob_id = set_username(sandbox, "9996620062", "bob_phone_test")
    await bob_client(
        functions.contacts.ImportContactsRequest([types.InputPhoneContact(1, "9996620061", "Al", "")])
    )

    assert (await bob_client.get_me()).phone == "9996620062"
    seen_by_alice = await alice.get_entity("@bob_phone_test")
    assert seen_by_alice.id == bob_id and seen_by_alice.phone == "9996620062"
    assert not seen_by_alice.contact
    seen_by_carol = await carol.get_entity("@bob_phone_test")
    assert seen_by_carol.phone is None


async def test_search_splits_contacts_from_public_results(
    make_client: ClientFactory, sandbox: SandboxServer
) -> None:
    """contacts.search matches name/username prefixes in any case: contacts first, then public peers."""
    alice = await make_client(phone="9996620071", first_name="Alice")
    bob_client = await make_client(phone="9996620072", first_name="Bob")
    bob_id = (await bob_client.get_me()).id
    await make_client(phone="9996620073", first_name="Roberta")
    dave_id = set_username(sandbox, "9996620073", "roberta_d")
    await make_client(phone="9996620074", first_name="Robin")  # no username: not findable globally
    channel = sandbox.world.add_channel(
        title="Robotics News", creator_id=dave_id, broadcast=True, username="robonews"
    )
    sandbox.world.add_channel(title="Robots private", creator_id=dave_id, broadcast=True)
    await alice(
        functions.contacts.ImportContactsRequest(
            [types.InputPhoneContact(1, "9996620072", "Robert", "Stone")]
        )
    )

    found = await alice(functions.contacts.SearchRequest("ROBE", 10))
    assert found.my_results == [types.PeerUser(bob_id)]
    assert found.results == [types.PeerUser(dave_id)]
    assert {u.id: u.first_name for u in found.users} == {bob_id: "Robert", dave_id: "Roberta"}

    found = await alice(functions.contacts.SearchRequest("@robo", 10))
    assert found.results == [types.PeerChannel(channel.id)]
    assert [c.title for c in found.chats] == ["Robotics News"]

    short = await alice(functions.contacts.SearchRequest("sto", 10))
    assert short.my_results == [types.PeerUser(bob_id)] and short.results == []
    with pytest.raises(errors.SearchQueryEmptyError):
        await alice(functions.contacts.SearchRequest("  ", 10))


async def test_full_user_shows_about_photo_common_chats_and_block(
    make_client: ClientFactory, sandbox: SandboxServer
) -> None:
    """users.getFullUser carries the bio, the profile photo, the groups in common and the blocked flag."""
    alice = await make_client(phone="9996620081", first_name="Alice")
    bob_client = await make_client(phone="9996620082", first_name="Bob")
    world = sandbox.world
    bob_id = set_username(sandbox, "9996620082", "bob_full")
    alice_id = (await alice.get_me()).id
    bob = world.users[bob_id]
    bob.about = "Builds bridges"
    photo = world.add_file(
        "photo", b"\xff\xd8 not really a jpeg", mime_type="image/jpeg", width=640, height=640
    )
    bob.photo_id = photo.id
    world.add_chat(title="Book club", creator_id=alice_id, member_ids=[bob_id])
    megagroup = world.add_channel(title="Hikers", creator_id=bob_id, broadcast=False)
    megagroup.participants[alice_id] = Participant(alice_id, world.now())
    world.add_channel(title="Bob's blog", creator_id=bob_id, broadcast=True)

    entity = await alice.get_entity("@bob_full")
    assert isinstance(entity.photo, types.UserProfilePhoto) and entity.photo.photo_id == photo.id
    full = (await alice(functions.users.GetFullUserRequest(entity))).full_user
    assert full.about == "Builds bridges"
    assert full.common_chats_count == 2
    assert full.profile_photo.id == photo.id
    assert not full.blocked

    assert await alice(functions.contacts.BlockRequest(entity))
    assert (await alice(functions.users.GetFullUserRequest(entity))).full_user.blocked
    blocked = await alice(functions.contacts.GetBlockedRequest(offset=0, limit=10))
    assert [b.peer_id for b in blocked.blocked] == [types.PeerUser(bob_id)]
    assert await alice(functions.contacts.UnblockRequest(entity))
    assert not (await alice(functions.users.GetFullUserRequest(entity))).full_user.blocked
    mine = (await bob_client(functions.users.GetFullUserRequest(types.InputUserSelf()))).full_user
    assert mine.common_chats_count == 0


async def test_foreign_access_hash_is_refused(make_client: ClientFactory, sandbox: SandboxServer) -> None:
    """An access hash minted for one account is USER_ID_INVALID / CONTACT_ID_INVALID for another."""
    alice = await make_client(phone="9996620091", first_name="Alice")
    carol = await make_client(phone="9996620093", first_name="Carol")
    await make_client(phone="9996620092", first_name="Bob")
    set_username(sandbox, "9996620092", "bob_hashes")
    bob_for_alice = await alice.get_entity("@bob_hashes")
    stolen = types.InputUser(bob_for_alice.id, bob_for_alice.access_hash)

    assert (await alice(functions.users.GetFullUserRequest(stolen))).full_user.id == bob_for_alice.id
    with pytest.raises(errors.UserIdInvalidError):
        await carol(functions.users.GetFullUserRequest(stolen))
    assert await carol(functions.users.GetUsersRequest([stolen])) == []
    with pytest.raises(errors.ContactIdInvalidError):
        await carol(functions.contacts.DeleteContactsRequest([stolen]))
    bob_for_carol = await carol.get_entity("@bob_hashes")
    assert bob_for_carol.access_hash != bob_for_alice.access_hash
    assert (await carol(functions.users.GetFullUserRequest(bob_for_carol))).full_user.id == bob_for_alice.id


async def test_privacy_defaults_match_telegram(make_client: ClientFactory) -> None:
    """account.getPrivacy answers everybody for chat invites and my-contacts for the phone number."""
    alice = await make_client(phone="9996620101", first_name="Alice")
    invites = await alice(functions.account.GetPrivacyRequest(types.InputPrivacyKeyChatInvite()))
    assert invites.rules == [types.PrivacyValueAllowAll()]
    phone = await alice(functions.account.GetPrivacyRequest(types.InputPrivacyKeyPhoneNumber()))
    assert phone.rules == [types.PrivacyValueAllowContacts(), types.PrivacyValueDisallowAll()]


async def test_search_finds_contacts_by_saved_first_and_last_name(
    make_client: ClientFactory, sandbox: SandboxServer
) -> None:
    """A contact is found by either saved name, by its own name, and by several words in any order."""
    alice = await make_client(phone="9996620081", first_name="Alice")
    bob = await make_client(phone="9996620082", first_name="Bob")
    bob_id = (await bob.get_me()).id
    sandbox.world.users[bob_id].last_name = "Marley"
    await alice(
        functions.contacts.ImportContactsRequest(
            [types.InputPhoneContact(1, "9996620082", "Uncle", "Robert")]
        )
    )
    for query in ("uncle", "Robert", "rob unc", "robert uncle", "bob", "marl"):
        found = await alice(functions.contacts.SearchRequest(query, 10))
        assert found.my_results == [types.PeerUser(bob_id)], query
    for query in ("uncle bob x", "bert", "uncle zed"):
        found = await alice(functions.contacts.SearchRequest(query, 10))
        assert found.my_results == [] and found.results == [], query
