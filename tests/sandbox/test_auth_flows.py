"""Login flows beyond the plain code: QR login, login codes delivered in-app, 2FA and log-out."""

from __future__ import annotations

import asyncio

import pytest
from telethon import TelegramClient, errors, events, functions, types

from mcpgram.sandbox import SandboxServer, srp

from .conftest import ClientFactory, new_client


async def _me_id(client: TelegramClient) -> int:
    me = await client.get_me()
    assert me is not None
    return int(me.id)


async def test_qr_login_accepted_by_the_test_api(make_client: ClientFactory, sandbox: SandboxServer) -> None:
    """A QR token accepted through the test API logs the waiting Telethon client in as that user."""
    phone = await make_client(phone="9996650001", first_name="Alice")
    alice_id = await _me_id(phone)
    waiting = await make_client()
    qr = await waiting.qr_login()
    assert qr.url.startswith("tg://login?token=")
    assert 20 <= (qr.expires - qr.expires.now(qr.expires.tzinfo)).total_seconds() <= 31
    waiter = asyncio.create_task(qr.wait(timeout=5))
    await asyncio.sleep(0)
    authorization = sandbox.accept_login_token(qr.token, alice_id)
    assert isinstance(authorization, types.Authorization)
    user = await waiter
    assert user.id == alice_id
    assert await waiting.is_user_authorized()
    assert (await waiting.get_me()).first_name == "Alice"


async def test_qr_login_accepted_by_another_session(make_client: ClientFactory) -> None:
    """auth.acceptLoginToken from a logged-in session describes the new session and logs it in."""
    phone = await make_client(phone="9996650002", first_name="Bob")
    bob_id = await _me_id(phone)
    waiting = await make_client(device_model="QR Laptop", app_version="9.9")
    qr = await waiting.qr_login()
    waiter = asyncio.create_task(qr.wait(timeout=5))
    await asyncio.sleep(0)
    authorization = await phone(functions.auth.AcceptLoginTokenRequest(qr.token))
    assert authorization.device_model == "QR Laptop"
    assert authorization.app_version == "9.9"
    assert (await waiter).id == bob_id
    with pytest.raises(errors.AuthTokenInvalidError):
        await phone(functions.auth.AcceptLoginTokenRequest(qr.token))


async def test_qr_token_is_single_use_and_checked(make_client: ClientFactory, sandbox: SandboxServer) -> None:
    """An unknown token is invalid, an accepted one cannot be accepted twice, an expired one is refused."""
    phone = await make_client(phone="9996650003")
    with pytest.raises(errors.AuthTokenInvalidError):
        await phone(functions.auth.AcceptLoginTokenRequest(b"\x00" * 32))
    waiting = await make_client()
    qr = await waiting.qr_login()
    await phone(functions.auth.AcceptLoginTokenRequest(qr.token))
    with pytest.raises(errors.AuthTokenAlreadyAcceptedError):
        await phone(functions.auth.AcceptLoginTokenRequest(qr.token))
    other = await make_client()
    qr2 = await other.qr_login()
    sandbox.login_tokens[qr2.token].expires = sandbox.world.now() - 1
    with pytest.raises(errors.AuthTokenExpiredError):
        await phone(functions.auth.AcceptLoginTokenRequest(qr2.token))


async def test_import_login_token_after_acceptance(
    make_client: ClientFactory, sandbox: SandboxServer
) -> None:
    """auth.importLoginToken answers the token while pending and loginTokenSuccess once accepted."""
    phone = await make_client(phone="9996650004", first_name="Carol")
    carol_id = await _me_id(phone)
    waiting = await make_client()
    qr = await waiting.qr_login()
    pending = await waiting(functions.auth.ImportLoginTokenRequest(qr.token))
    assert isinstance(pending, types.auth.LoginToken) and pending.token == qr.token
    sandbox.accept_login_token(qr.token, carol_id)
    result = await waiting(functions.auth.ImportLoginTokenRequest(qr.token))
    assert isinstance(result, types.auth.LoginTokenSuccess)
    assert result.authorization.user.id == carol_id
    assert await waiting.is_user_authorized()


async def test_qr_login_with_2fa_asks_for_the_password(
    make_client: ClientFactory, sandbox: SandboxServer
) -> None:
    """A QR login of an account with 2FA ends in SESSION_PASSWORD_NEEDED and then the password works."""
    phone = await make_client(phone="9996650005", first_name="Dave")
    dave_id = await _me_id(phone)
    sandbox.world.users[dave_id].password = srp.make_password_record("pw", hint="h")
    waiting = await make_client()
    qr = await waiting.qr_login()
    waiter = asyncio.create_task(qr.wait(timeout=5))
    await asyncio.sleep(0)
    sandbox.accept_login_token(qr.token, dave_id)
    with pytest.raises(errors.SessionPasswordNeededError):
        await waiter
    user = await waiting.sign_in(password="pw")
    assert user.id == dave_id


async def test_login_code_arrives_from_777000(make_client: ClientFactory, sandbox: SandboxServer) -> None:
    """A non-test number's code is posted by 777000 to its logged-in sessions and signs the new one in."""
    phone_number = "15550001234"
    sandbox.world.add_user(first_name="Erin", phone=phone_number)
    first = new_client(sandbox)
    await first.connect()
    sent = await first.send_code_request(phone_number)
    assert isinstance(sent.type, types.auth.SentCodeTypeSms)  # no other session yet
    code = sandbox.login_code(phone_number)
    assert code is not None and len(code) == 5
    await first.sign_in(phone_number, code, phone_code_hash=sent.phone_code_hash)
    received: asyncio.Queue[events.NewMessage.Event] = asyncio.Queue()
    first.add_event_handler(received.put, events.NewMessage(incoming=True))
    await first.get_me()  # the update loop needs the login to have happened

    second = await make_client()
    sent2 = await second.send_code_request(phone_number)
    assert isinstance(sent2.type, types.auth.SentCodeTypeApp)
    event = await asyncio.wait_for(received.get(), 5)
    new_code = sandbox.login_code(phone_number)
    assert new_code is not None
    assert event.sender_id == 777000
    assert event.raw_text.startswith(f"Login code: {new_code}. Do not give this code to anyone")
    user = await second.sign_in(phone_number, new_code, phone_code_hash=sent2.phone_code_hash)
    assert user.phone == phone_number
    await first.disconnect()


async def test_test_numbers_get_no_code_message(make_client: ClientFactory, sandbox: SandboxServer) -> None:
    """Test-DC numbers get their fixed code without a message from 777000."""
    client = await make_client(phone="9996650006")
    me_id = await _me_id(client)
    other = await make_client()
    sent = await other.send_code_request("9996650006")
    assert isinstance(sent.type, types.auth.SentCodeTypeApp)
    assert sandbox.world.box(me_id).next_id == 1


async def test_2fa_sign_in(make_client: ClientFactory, sandbox: SandboxServer) -> None:
    """With 2FA set, sign_in by code needs the password: a wrong one is refused, the right one works."""
    user = sandbox.world.add_user(first_name="Frank", phone="9996650007")
    user.password = srp.make_password_record("pw", hint="h")
    client = await make_client()
    sent = await client.send_code_request("9996650007")
    with pytest.raises(errors.SessionPasswordNeededError):
        await client.sign_in("9996650007", "55555", phone_code_hash=sent.phone_code_hash)
    assert not await client.is_user_authorized()
    password = await client(functions.account.GetPasswordRequest())
    assert password.has_password and password.hint == "h"
    with pytest.raises(errors.PasswordHashInvalidError):
        await client.sign_in(password="wrong")
    me = await client.sign_in(password="pw")
    assert me.id == user.id
    assert (await client.get_me()).first_name == "Frank"


async def test_log_out_unbinds_the_key(make_client: ClientFactory, sandbox: SandboxServer) -> None:
    """auth.logOut leaves the auth key registered but unauthorized: the next call is AUTH_KEY_UNREGISTERED."""
    client = await make_client(phone="9996650008")
    key_id = client.session.auth_key.key_id
    assert sandbox.auth_keys[key_id].user_id is not None
    result = await client(functions.auth.LogOutRequest())
    assert isinstance(result, types.auth.LoggedOut)
    assert sandbox.auth_keys[key_id].user_id is None
    with pytest.raises(errors.AuthKeyUnregisteredError):
        await client(functions.users.GetUsersRequest([types.InputUserSelf()]))
    assert await client.get_me() is None


async def test_client_log_out(make_client: ClientFactory, sandbox: SandboxServer) -> None:
    """Telethon's log_out succeeds and the server no longer counts the key as a session of the user."""
    client = await make_client(phone="9996650009")
    user_id = await _me_id(client)
    assert len(sandbox.authorizations_of(user_id)) == 1
    assert await client.log_out()
    assert sandbox.authorizations_of(user_id) == []
