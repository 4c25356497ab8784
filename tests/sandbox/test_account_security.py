"""The account's security settings the raw-bridge denylist names, with real Telethon clients: login
and recovery email, password recovery and reset, TTLs, sessions and websites, the phone number,
Passport, devices, takeout, login URLs and SMS jobs."""

from __future__ import annotations

from telethon import TelegramClient, functions, types
from telethon.password import compute_check

from mcpgram.sandbox import SandboxServer
from mcpgram.sandbox.accountdata import account_data
from mcpgram.sandbox.rpc.security import add_web_authorization

from .conftest import ClientFactory, new_client
from .rpcerrors import error_of


def _email_code(sandbox: SandboxServer, user_id: int) -> str:
    """The code in the account's inbox, as the person would read it."""
    pending = account_data(sandbox.world, user_id).email_code
    assert pending is not None
    return pending.code


async def _pending_sign_in(sandbox: SandboxServer, phone: str) -> tuple[TelegramClient, str]:
    """A second device that asked for a login code and has not entered it yet."""
    client = new_client(sandbox)
    await client.connect()
    sent = await client.send_code_request(phone)
    return client, sent.phone_code_hash


async def test_login_email_is_set_at_sign_in_changed_and_reset(
    make_client: ClientFactory, sandbox: SandboxServer
) -> None:
    """sendVerifyEmailCode + verifyEmail: a malformed address, a wrong code and a change before any
    login email are refused; set up during a sign-in, the sign-in goes on with its code; a change
    needs the new address's code; resetLoginEmail drops it and the sign-in's code comes by SMS."""
    phone = "9996682001"
    owner = await make_client(phone=phone, first_name="Erin")
    me = (await owner.get_me()).id
    change = types.EmailVerifyPurposeLoginChange()
    refused = owner(functions.account.SendVerifyEmailCodeRequest(change, "erin@example.com"))
    assert await error_of(refused) == "EMAIL_NOT_SETUP"
    device, phone_code_hash = await _pending_sign_in(sandbox, phone)
    try:
        setup = types.EmailVerifyPurposeLoginSetup(phone, phone_code_hash)
        bad = device(functions.account.SendVerifyEmailCodeRequest(setup, "not an address"))
        assert await error_of(bad) == "EMAIL_INVALID"
        sent = await device(functions.account.SendVerifyEmailCodeRequest(setup, "erin@example.com"))
        assert sent.email_pattern == "e***@example.com" and sent.length == 6
        wrong = device(functions.account.VerifyEmailRequest(setup, types.EmailVerificationCode("000000")))
        assert await error_of(wrong) == "CODE_INVALID"
        code = types.EmailVerificationCode(_email_code(sandbox, me))
        verified = await device(functions.account.VerifyEmailRequest(setup, code))
        assert isinstance(verified, types.account.EmailVerifiedLogin) and verified.email == "erin@example.com"
        assert isinstance(verified.sent_code.type, types.auth.SentCodeTypeEmailCode)
        login_code = sandbox.login_code(phone)
        assert login_code is not None
        await device.sign_in(phone, login_code, phone_code_hash=phone_code_hash)
        assert (await device.get_me()).id == me
    finally:
        await device.disconnect()
    await owner(functions.account.SendVerifyEmailCodeRequest(change, "erin@example.org"))
    again = owner(functions.account.VerifyEmailRequest(change, types.EmailVerificationCode("1")))
    assert await error_of(again) == "CODE_INVALID"
    code = types.EmailVerificationCode(_email_code(sandbox, me))
    assert (await owner(functions.account.VerifyEmailRequest(change, code))).email == "erin@example.org"
    assert account_data(sandbox.world, me).login_email == "erin@example.org"
    stale = owner(functions.account.VerifyEmailRequest(change, code))
    assert await error_of(stale) == "EMAIL_VERIFY_EXPIRED"
    device, phone_code_hash = await _pending_sign_in(sandbox, phone)
    try:
        reset = await device(functions.auth.ResetLoginEmailRequest(phone, phone_code_hash))
        assert isinstance(reset.type, types.auth.SentCodeTypeSms)
        assert account_data(sandbox.world, me).login_email is None
        twice = device(functions.auth.ResetLoginEmailRequest(phone, phone_code_hash))
        assert await error_of(twice) == "EMAIL_NOT_SETUP"
    finally:
        await device.disconnect()


async def test_a_recovery_email_recovers_a_forgotten_password(
    make_client: ClientFactory, sandbox: SandboxServer
) -> None:
    """edit_2fa with an email asks for its code (EMAIL_UNCONFIRMED_6, confirmPasswordEmail); the
    settings then show it; a new device that forgot the password recovers with a code sent there,
    which signs it in and removes the password."""
    phone = "9996682002"
    owner = await make_client(phone=phone, first_name="Finn")
    me = (await owner.get_me()).id
    assert await owner.edit_2fa(
        new_password="forgettable",
        email="finn@example.com",
        email_code_callback=lambda length: _email_code(sandbox, me) if length == 6 else "",
    )
    state = await owner(functions.account.GetPasswordRequest())
    assert state.has_recovery and state.email_unconfirmed_pattern is None
    wrong = owner(functions.account.GetPasswordSettingsRequest(compute_check(state, "not it")))
    assert await error_of(wrong) == "PASSWORD_HASH_INVALID"
    state = await owner(functions.account.GetPasswordRequest())
    settings = await owner(functions.account.GetPasswordSettingsRequest(compute_check(state, "forgettable")))
    assert settings.email == "finn@example.com"
    device, phone_code_hash = await _pending_sign_in(sandbox, phone)
    try:
        login_code = sandbox.login_code(phone)
        assert login_code is not None
        signing = device(functions.auth.SignInRequest(phone, phone_code_hash, login_code))
        assert await error_of(signing) == "SESSION_PASSWORD_NEEDED"
        sent = await device(functions.auth.RequestPasswordRecoveryRequest())
        assert sent.email_pattern == "f***@example.com"
        code = account_data(sandbox.world, me).recovery_code
        assert code is not None
        assert await error_of(device(functions.auth.CheckRecoveryPasswordRequest("123"))) == "CODE_INVALID"
        assert await device(functions.auth.CheckRecoveryPasswordRequest(code.code)) is True
        signed_in = await device(functions.auth.RecoverPasswordRequest(code.code))
        assert signed_in.user.id == me and (await device.get_me()).id == me
    finally:
        await device.disconnect()
    assert not (await owner(functions.account.GetPasswordRequest())).has_password
    no_password = owner(functions.auth.RequestPasswordRecoveryRequest())
    assert await error_of(no_password) == "PASSWORD_EMPTY"


async def test_recovery_email_codes_and_password_reset(
    make_client: ClientFactory, sandbox: SandboxServer
) -> None:
    """Without a confirmed recovery email there is no recovery (PASSWORD_RECOVERY_NA); an unconfirmed
    one can be re-sent and cancelled; resetPassword waits a week, can be declined, and once due
    removes the password; getTmpPassword needs the password and a sane period."""
    owner = await make_client(phone="9996682003", first_name="Gus")
    me = (await owner.get_me()).id
    assert await error_of(owner(functions.account.ResendPasswordEmailRequest())) == "EMAIL_HASH_EXPIRED"
    assert await owner.edit_2fa(new_password="pw")
    assert await error_of(owner(functions.auth.RequestPasswordRecoveryRequest())) == "PASSWORD_RECOVERY_NA"
    state = await owner(functions.account.GetPasswordRequest())
    new_email = types.account.PasswordInputSettings(email="gus@example.com")
    adding = owner(functions.account.UpdatePasswordSettingsRequest(compute_check(state, "pw"), new_email))
    assert await error_of(adding) == "EMAIL_UNCONFIRMED_6"
    state = await owner(functions.account.GetPasswordRequest())
    assert state.email_unconfirmed_pattern == "g***@example.com" and not state.has_recovery
    first = _email_code(sandbox, me)
    assert await owner(functions.account.ResendPasswordEmailRequest())
    second = _email_code(sandbox, me)
    if second != first:  # a new random code (equal one time in a million)
        assert await error_of(owner(functions.account.ConfirmPasswordEmailRequest(first))) == "CODE_INVALID"
    assert await owner(functions.account.CancelPasswordEmailRequest())
    late = owner(functions.account.ConfirmPasswordEmailRequest(second))
    assert await error_of(late) == "EMAIL_HASH_EXPIRED"

    period = functions.account.GetTmpPasswordRequest
    state = await owner(functions.account.GetPasswordRequest())
    assert await error_of(owner(period(compute_check(state, "pw"), 5))) == "TMP_PASSWORD_INVALID"
    state = await owner(functions.account.GetPasswordRequest())
    assert len((await owner(period(compute_check(state, "pw"), 600))).tmp_password) == 32

    waiting = await owner(functions.account.ResetPasswordRequest())
    assert isinstance(waiting, types.account.ResetPasswordRequestedWait)
    assert (await owner(functions.account.GetPasswordRequest())).pending_reset_date == waiting.until_date
    assert await owner(functions.account.DeclinePasswordResetRequest())
    assert await error_of(owner(functions.account.DeclinePasswordResetRequest())) == "RESET_REQUEST_MISSING"
    await owner(functions.account.ResetPasswordRequest())
    account_data(sandbox.world, me).password_reset_at = sandbox.world.now() - 1  # a week later
    assert isinstance(await owner(functions.account.ResetPasswordRequest()), types.account.ResetPasswordOk)
    assert not (await owner(functions.account.GetPasswordRequest())).has_password
    state = await owner(functions.account.GetPasswordRequest())
    refused = owner(period(types.InputCheckPasswordEmpty(), 600))
    assert state.has_password is False and await error_of(refused) == "PASSWORD_MISSING"


async def test_account_and_session_ttls_and_session_settings(
    make_client: ClientFactory, sandbox: SandboxServer
) -> None:
    """setAccountTTL stores days (30-730) getAccountTTL reads back; setAuthorizationTTL and
    changeAuthorizationSettings show in getAuthorizations; an unknown session hash is HASH_INVALID."""
    phone = "9996682004"
    first = await make_client(phone=phone, first_name="Hal")
    second = await make_client(phone=phone, first_name="Hal")
    assert (await first(functions.account.GetAccountTTLRequest())).days == 365
    too_short = first(functions.account.SetAccountTTLRequest(types.AccountDaysTTL(20)))
    assert await error_of(too_short) == "TTL_DAYS_INVALID"
    assert await first(functions.account.SetAccountTTLRequest(types.AccountDaysTTL(90)))
    assert (await second(functions.account.GetAccountTTLRequest())).days == 90
    assert await error_of(first(functions.account.SetAuthorizationTTLRequest(0))) == "TTL_DAYS_INVALID"
    assert await first(functions.account.SetAuthorizationTTLRequest(30))
    other = (await first(functions.account.GetAuthorizationsRequest())).authorizations[1]
    change = functions.account.ChangeAuthorizationSettingsRequest
    assert await error_of(first(change(hash=12345, call_requests_disabled=True))) == "HASH_INVALID"
    assert await first(change(hash=other.hash, call_requests_disabled=True))
    listed = await first(functions.account.GetAuthorizationsRequest())
    assert listed.authorization_ttl_days == 30
    assert [bool(a.call_requests_disabled) for a in listed.authorizations] == [False, True]


async def test_websites_signed_in_with_telegram(make_client: ClientFactory, sandbox: SandboxServer) -> None:
    """getWebAuthorizations lists the sites with their bot; one is logged out by hash (an unknown
    hash is HASH_INVALID), then all of them."""
    owner = await make_client(phone="9996682005", first_name="Ida")
    me = (await owner.get_me()).id
    bot = sandbox.world.add_user(first_name="Shop Login", username="shop_login_bot", bot=True)
    kept = add_web_authorization(sandbox.world, me, bot.id, "shop.example")
    dropped = add_web_authorization(sandbox.world, me, bot.id, "blog.example")
    listed = await owner(functions.account.GetWebAuthorizationsRequest())
    assert [a.domain for a in listed.authorizations] == ["shop.example", "blog.example"]
    assert [u.id for u in listed.users] == [bot.id]
    assert await error_of(owner(functions.account.ResetWebAuthorizationRequest(1))) == "HASH_INVALID"
    assert await owner(functions.account.ResetWebAuthorizationRequest(dropped.hash))
    listed = await owner(functions.account.GetWebAuthorizationsRequest())
    assert [a.hash for a in listed.authorizations] == [kept.hash]
    assert await owner(functions.account.ResetWebAuthorizationsRequest())
    assert (await owner(functions.account.GetWebAuthorizationsRequest())).authorizations == []


async def test_changing_the_phone_number_needs_a_code_to_the_new_one(
    make_client: ClientFactory, sandbox: SandboxServer
) -> None:
    """sendChangePhoneCode refuses a number in use; changePhone refuses a wrong code, then moves the
    account: it signs in with the new number."""
    owner = await make_client(phone="9996682006", first_name="Jo")
    await make_client(phone="9996682007", first_name="Kim")
    me = (await owner.get_me()).id
    settings = types.CodeSettings()
    taken = owner(functions.account.SendChangePhoneCodeRequest("9996682007", settings))
    assert await error_of(taken) == "PHONE_NUMBER_OCCUPIED"
    sent = await owner(functions.account.SendChangePhoneCodeRequest("9996682099", settings))
    wrong = owner(functions.account.ChangePhoneRequest("9996682099", sent.phone_code_hash, "12345"))
    assert await error_of(wrong) == "PHONE_CODE_INVALID"
    moved = await owner(functions.account.ChangePhoneRequest("9996682099", sent.phone_code_hash, "88888"))
    assert moved.id == me and moved.phone == "9996682099"
    again = await make_client(phone="9996682099")
    assert (await again.get_me()).id == me


async def test_passport_values_forms_and_authorizations(
    make_client: ClientFactory, sandbox: SandboxServer
) -> None:
    """Passport: saving needs a 2FA password; values are listed, fetched by type and deleted; a form
    needs a real bot and its key; accepting checks the value hashes."""
    owner = await make_client(phone="9996682008", first_name="Lea")
    value = types.InputSecureValue(
        type=types.SecureValueTypePersonalDetails(),
        data=types.SecureData(data=b"encrypted details", data_hash=b"h" * 32, secret=b"s" * 32),
    )
    save = functions.account.SaveSecureValueRequest(value, secure_secret_id=1)
    assert await error_of(owner(save)) == "PASSWORD_REQUIRED"
    assert await owner.edit_2fa(new_password="passport pw")
    saved = await owner(save)
    assert len(saved.hash) == 32 and saved.data.data == b"encrypted details"
    assert [type(v.type) for v in await owner(functions.account.GetAllSecureValuesRequest())] == [
        types.SecureValueTypePersonalDetails
    ]
    wanted = [types.SecureValueTypePassport(), types.SecureValueTypePersonalDetails()]
    assert len(await owner(functions.account.GetSecureValueRequest(wanted))) == 1
    bot = sandbox.world.add_user(first_name="Verifier", username="verify_me_bot", bot=True)
    form = functions.account.GetAuthorizationFormRequest
    assert await error_of(owner(form(bot_id=12345, scope="{}", public_key="KEY"))) == "BOT_INVALID"
    assert await error_of(owner(form(bot_id=bot.id, scope="{}", public_key=""))) == "PUBLIC_KEY_REQUIRED"
    got = await owner(form(bot_id=bot.id, scope="{}", public_key="KEY"))
    assert [u.id for u in got.users] == [bot.id] and len(got.values) == 1
    credentials = types.SecureCredentialsEncrypted(data=b"d", hash=b"h", secret=b"s")

    def accept(hash_: bytes) -> functions.account.AcceptAuthorizationRequest:
        hashes = [types.SecureValueHash(types.SecureValueTypePersonalDetails(), hash_)]
        return functions.account.AcceptAuthorizationRequest(bot.id, "{}", "KEY", hashes, credentials)

    assert await error_of(owner(accept(b"x" * 32))) == "SECURE_VALUE_HASH_INVALID"
    assert await owner(accept(saved.hash))
    assert await owner(functions.account.DeleteSecureValueRequest([types.SecureValueTypePersonalDetails()]))
    assert await owner(functions.account.GetAllSecureValuesRequest()) == []


async def test_devices_takeout_login_urls_and_sms_jobs(
    make_client: ClientFactory, sandbox: SandboxServer
) -> None:
    """registerDevice checks its token; initTakeoutSession answers a takeout id; acceptUrlAuth opens a
    plain URL as a link and finds no login button on a message; smsjobs.join: NOT_ELIGIBLE."""
    owner = await make_client(phone="9996682009", first_name="Max")
    me = (await owner.get_me()).id
    register = functions.account.RegisterDeviceRequest
    assert await error_of(owner(register(0, "tok", False, b"", []))) == "TOKEN_TYPE_INVALID"
    assert await error_of(owner(register(2, "", False, b"", []))) == "TOKEN_EMPTY"
    assert await owner(register(2, "fcm-token", False, b"", []))
    assert account_data(sandbox.world, me).devices == [(2, "fcm-token")]
    takeout = await owner(functions.account.InitTakeoutSessionRequest(contacts=True))
    assert account_data(sandbox.world, me).takeout_ids == [takeout.id]
    opened = await owner(functions.messages.AcceptUrlAuthRequest(url="https://example.com/login"))
    assert isinstance(opened, types.UrlAuthResultDefault)
    note = await owner.send_message("me", "a note")
    on_note = functions.messages.AcceptUrlAuthRequest(peer=types.InputPeerSelf(), msg_id=note.id, button_id=1)
    assert await error_of(owner(on_note)) == "BUTTON_ID_INVALID"
    missing = functions.messages.AcceptUrlAuthRequest(peer=types.InputPeerSelf(), msg_id=999, button_id=1)
    assert await error_of(owner(missing)) == "MESSAGE_ID_INVALID"
    assert await error_of(owner(functions.smsjobs.JoinRequest())) == "NOT_ELIGIBLE"
