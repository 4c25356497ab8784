"""The account's own settings through plain Telethon: username, profile, 2FA and active sessions."""

from __future__ import annotations

import asyncio

import pytest
from telethon import TelegramClient, errors, events, functions, types
from telethon.password import compute_check

from mcpgram.sandbox import SandboxServer, srp

from .conftest import ClientFactory


async def _password_login(make_client: ClientFactory, phone: str, password: str) -> TelegramClient:
    """A fresh client signs in by code, is asked for the password, and gives ``password``."""
    client = await make_client()
    sent = await client.send_code_request(phone)
    code = phone[5] * 5
    with pytest.raises(errors.SessionPasswordNeededError):
        await client.sign_in(phone, code, phone_code_hash=sent.phone_code_hash)
    await client.sign_in(password=password)
    return client


async def test_set_change_and_remove_2fa(make_client: ClientFactory, sandbox: SandboxServer) -> None:
    """edit_2fa sets, changes and removes the password; sign-in follows each change, SRP-checked."""
    phone = "9996670001"
    owner = await make_client(phone=phone, first_name="Olga")
    assert await owner.edit_2fa(new_password="first pw", hint="the first")
    state = await owner(functions.account.GetPasswordRequest())
    assert state.has_password and state.hint == "the first"

    second = await _password_login(make_client, phone, "first pw")
    assert (await second.get_me()).first_name == "Olga"

    with pytest.raises(errors.PasswordHashInvalidError):
        await owner.edit_2fa(current_password="not it", new_password="x")
    assert await owner.edit_2fa(current_password="first pw", new_password="second pw", hint="")
    with pytest.raises(errors.PasswordHashInvalidError):
        await _password_login(make_client, phone, "first pw")
    third = await _password_login(make_client, phone, "second pw")
    assert (await third(functions.account.GetPasswordRequest())).hint is None

    assert await third.edit_2fa(current_password="second pw")
    assert not (await owner(functions.account.GetPasswordRequest())).has_password
    fourth = await make_client(phone=phone)  # a code alone is enough again
    assert await fourth.is_user_authorized()


async def test_password_settings_are_checked_as_telegram_checks_them(
    make_client: ClientFactory, sandbox: SandboxServer
) -> None:
    """A password change needs the current password and a fresh getPassword; foreign salts are refused."""
    client = await make_client(phone="9996670002")
    user = sandbox.world.users[(await client.get_me()).id]
    state = await client(functions.account.GetPasswordRequest())
    foreign = types.PasswordKdfAlgoSHA256SHA256PBKDF2HMACSHA512iter100000SHA256ModPow(
        salt1=bytes(40), salt2=state.new_algo.salt2, g=3, p=state.new_algo.p
    )
    settings = types.account.PasswordInputSettings(new_algo=foreign, new_password_hash=b"\x05" * 256, hint="")
    with pytest.raises(errors.NewSaltInvalidError):
        await client(
            functions.account.UpdatePasswordSettingsRequest(types.InputCheckPasswordEmpty(), settings)
        )
    assert user.password is None

    user.password = srp.make_password_record("set by the test")
    with pytest.raises(errors.PasswordHashInvalidError):  # the account has a password: Empty is no proof
        await client(
            functions.account.UpdatePasswordSettingsRequest(types.InputCheckPasswordEmpty(), settings)
        )
    # Telethon's own flow passes; a second update without a new getPassword has no challenge to answer.
    assert await client.edit_2fa(current_password="set by the test", new_password="next")
    with pytest.raises(errors.SrpIdInvalidError):
        await client(
            functions.account.UpdatePasswordSettingsRequest(
                types.InputCheckPasswordSRP(srp_id=1, A=b"\x02" * 256, M1=bytes(32)), settings
            )
        )


async def test_username_rules(make_client: ClientFactory, sandbox: SandboxServer) -> None:
    """updateUsername takes a valid free name, refuses invalid, taken and unchanged ones; "" drops it."""
    alice = await make_client(phone="9996670011", first_name="Alice")
    bob = await make_client(phone="9996670012", first_name="Bob")
    sandbox.world.add_channel(
        title="News", creator_id=(await bob.get_me()).id, broadcast=True, username="newsroom"
    )

    assert await alice(functions.account.CheckUsernameRequest("alice_w"))
    me = await alice(functions.account.UpdateUsernameRequest("alice_w"))
    assert isinstance(me, types.User) and me.is_self and me.username == "alice_w"
    assert (await bob.get_entity("@alice_w")).first_name == "Alice"
    assert await alice(functions.account.CheckUsernameRequest("alice_w"))  # one's own is still free to one

    assert not await bob(functions.account.CheckUsernameRequest("ALICE_W"))
    assert not await bob(functions.account.CheckUsernameRequest("newsroom"))
    with pytest.raises(errors.UsernameOccupiedError):
        await bob(functions.account.UpdateUsernameRequest("Alice_W"))
    for bad in ("abcd", "a" * 33, "1alice", "_alice", "alice_", "ali ce", "alicé"):
        with pytest.raises(errors.UsernameInvalidError):
            await bob(functions.account.UpdateUsernameRequest(bad))
        with pytest.raises(errors.UsernameInvalidError):
            await bob(functions.account.CheckUsernameRequest(bad))
    assert (await bob(functions.account.UpdateUsernameRequest("b" * 32))).username == "b" * 32
    with pytest.raises(errors.UsernameNotModifiedError):
        await alice(functions.account.UpdateUsernameRequest("alice_w"))

    assert (await alice(functions.account.UpdateUsernameRequest(""))).username is None
    with pytest.raises(errors.UsernameNotModifiedError):
        await alice(functions.account.UpdateUsernameRequest(""))
    with pytest.raises(ValueError, match="alice_w"):
        await bob.get_entity("@alice_w")


async def test_update_profile_limits_and_push(make_client: ClientFactory, sandbox: SandboxServer) -> None:
    """updateProfile changes names and bio within Telegram's limits; other sessions hear of a rename."""
    alice = await make_client(phone="9996670021", first_name="Alice")
    other = await make_client(phone="9996670021")
    renamed: asyncio.Queue[types.UpdateUserName] = asyncio.Queue()
    other.add_event_handler(renamed.put, events.Raw(types.UpdateUserName))

    me = await alice(functions.account.UpdateProfileRequest(first_name=" Alicia ", last_name="Winter"))
    assert (me.first_name, me.last_name) == ("Alicia", "Winter")
    update = await asyncio.wait_for(renamed.get(), 5)
    assert (update.first_name, update.last_name) == ("Alicia", "Winter")
    await alice(functions.account.UpdateProfileRequest(about="b" * 70))
    full = await alice(functions.users.GetFullUserRequest(types.InputUserSelf()))
    assert full.full_user.about == "b" * 70 and full.users[0].first_name == "Alicia"

    with pytest.raises(errors.AboutTooLongError):
        await alice(functions.account.UpdateProfileRequest(about="b" * 71))
    with pytest.raises(errors.FirstNameInvalidError):
        await alice(functions.account.UpdateProfileRequest(first_name="  "))
    with pytest.raises(errors.FirstNameInvalidError):
        await alice(functions.account.UpdateProfileRequest(first_name="A" * 65))
    with pytest.raises(errors.LastnameInvalidError):
        await alice(functions.account.UpdateProfileRequest(last_name="W" * 65))
    sandbox.world.users[me.id].premium = True
    assert (await alice(functions.account.UpdateProfileRequest(about="p" * 140))).first_name == "Alicia"
    me = await alice(functions.account.UpdateProfileRequest(last_name=""))
    assert (me.first_name, me.last_name) == ("Alicia", None)


async def test_list_and_terminate_sessions(make_client: ClientFactory, sandbox: SandboxServer) -> None:
    """getAuthorizations lists the account's sessions, the current first; resetAuthorization ends one."""
    laptop = await make_client(phone="9996670031", device_model="Laptop")
    phone = await make_client(phone="9996670031", device_model="Phone")
    await make_client(phone="9996670032", device_model="Someone else")

    listed = (await laptop(functions.account.GetAuthorizationsRequest())).authorizations
    assert [(a.device_model, bool(a.current)) for a in listed] == [("Laptop", True), ("Phone", False)]
    assert listed[0].hash == 0 and listed[1].hash != 0 and listed[1].api_id == 12345

    with pytest.raises(errors.HashInvalidError):
        await laptop(functions.account.ResetAuthorizationRequest(0))
    with pytest.raises(errors.HashInvalidError):
        await laptop(functions.account.ResetAuthorizationRequest(listed[1].hash ^ 1))
    phone_hash = listed[1].hash
    assert await laptop(functions.account.ResetAuthorizationRequest(phone_hash))
    with pytest.raises(errors.AuthKeyUnregisteredError):
        await phone(functions.users.GetUsersRequest([types.InputUserSelf()]))
    listed = (await laptop(functions.account.GetAuthorizationsRequest())).authorizations
    assert [a.device_model for a in listed] == ["Laptop"]
    with pytest.raises(errors.HashInvalidError):  # already gone
        await laptop(functions.account.ResetAuthorizationRequest(phone_hash))


async def test_terminate_all_other_sessions(make_client: ClientFactory, sandbox: SandboxServer) -> None:
    """auth.resetAuthorizations ends every other session (SESSION_REVOKED) and keeps the caller's."""
    me = await make_client(phone="9996670041", device_model="Me")
    others = [await make_client(phone="9996670041", device_model=f"Other {n}") for n in range(2)]
    bystander = await make_client(phone="9996670042")
    assert await me(functions.auth.ResetAuthorizationsRequest())
    for other in others:
        with pytest.raises(errors.SessionRevokedError):
            await other(functions.users.GetUsersRequest([types.InputUserSelf()]))
    listed = (await me(functions.account.GetAuthorizationsRequest())).authorizations
    assert [a.device_model for a in listed] == ["Me"]
    assert (await bystander.get_me()).phone == "9996670042"


async def test_sessions_show_when_they_were_last_active(
    make_client: ClientFactory, sandbox: SandboxServer
) -> None:
    """date_active is each session's last call, and the other sessions are listed most recent first."""
    now = [1_800_000_000.0]
    sandbox.world.clock = lambda: now[0]
    first = await make_client(phone="9996670051", device_model="First")
    now[0] += 600
    second = await make_client(phone="9996670051", device_model="Second")
    now[0] += 600
    await first.get_me()
    now[0] += 600
    listed = (await second(functions.account.GetAuthorizationsRequest())).authorizations
    assert [(a.device_model, int(a.date_active.timestamp())) for a in listed] == [
        ("Second", 1_800_001_800),
        ("First", 1_800_001_200),
    ]
    assert int(listed[1].date_created.timestamp()) == 1_800_000_000


async def test_a_password_changed_mid_login_is_srp_password_changed(
    make_client: ClientFactory, sandbox: SandboxServer
) -> None:
    """A proof made against the old password's challenge is refused once the password has changed."""
    phone = "9996670061"
    owner = await make_client(phone=phone)
    assert await owner.edit_2fa(new_password="old")
    newcomer = await make_client()
    sent = await newcomer.send_code_request(phone)
    with pytest.raises(errors.SessionPasswordNeededError):
        await newcomer.sign_in(phone, "77777", phone_code_hash=sent.phone_code_hash)
    challenge = await newcomer(functions.account.GetPasswordRequest())
    assert await owner.edit_2fa(current_password="old", new_password="new")
    with pytest.raises(errors.SrpPasswordChangedError):
        await newcomer(functions.auth.CheckPasswordRequest(compute_check(challenge, "old")))
    assert (await newcomer.sign_in(password="new")).phone == phone
