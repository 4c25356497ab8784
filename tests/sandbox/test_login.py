"""Sign-up and sign-in by code through real Telethon clients."""

from __future__ import annotations

import pytest
from telethon import errors, functions, types

from mcpgram.sandbox import SandboxServer

from .conftest import ClientFactory


async def test_sign_up_then_get_me(make_client: ClientFactory) -> None:
    """A new phone signs up with the test-DC code and get_me returns the new account."""
    client = await make_client(phone="9996621234", first_name="Alice")
    me = await client.get_me()
    assert me.first_name == "Alice"
    assert me.phone == "9996621234"
    assert await client.is_user_authorized()


async def test_unauthorized_client_is_not_authorized(make_client: ClientFactory) -> None:
    """A connected client that never logged in is told it is not authorized."""
    client = await make_client()
    assert not await client.is_user_authorized()
    assert await client.get_me() is None


async def test_wrong_code_is_rejected(make_client: ClientFactory, sandbox: SandboxServer) -> None:
    """A wrong login code answers PHONE_CODE_INVALID and the right one still works afterwards."""
    client = await make_client()
    sent = await client.send_code_request("9996631234")
    with pytest.raises(errors.PhoneCodeInvalidError):
        await client.sign_in("9996631234", "12345", phone_code_hash=sent.phone_code_hash)
    assert sandbox.login_code("9996631234") == "33333"


async def test_raw_sign_up_creates_the_account(make_client: ClientFactory, sandbox: SandboxServer) -> None:
    """An unknown phone gets signUpRequired from signIn, and auth.signUp creates and authorizes it."""
    client = await make_client()
    sent = await client.send_code_request("9996641111")
    with pytest.raises(errors.PhoneNumberUnoccupiedError):
        await client.sign_in("9996641111", "44444", phone_code_hash=sent.phone_code_hash)
    result = await client(
        functions.auth.SignUpRequest("9996641111", sent.phone_code_hash, first_name="Bob", last_name="Stone")
    )
    assert isinstance(result, types.auth.Authorization)
    assert result.user.first_name == "Bob"
    me = await client(functions.users.GetUsersRequest([types.InputUserSelf()]))
    assert me[0].is_self and me[0].phone == "9996641111"
    assert sandbox.world.user_by_phone("9996641111") is not None
