"""The login state machine (pure) and its Telethon driver against the sandbox."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator

import pytest
import telethon
from telethon import TelegramClient, functions
from telethon.sessions import MemorySession

from mcpgram.errors import FloodWait
from mcpgram.sandbox import SandboxServer, World
from mcpgram.sandbox.srp import make_password_record
from mcpgram.telegram.login import (
    CODE_EXPIRED,
    CODE_INVALID,
    OUT_OF_ORDER,
    PASSWORD_EMPTY,
    PASSWORD_INVALID,
    PHONE_INVALID,
    CheckPassword,
    CodeDelivered,
    CodeSent,
    ExportQr,
    LoggedIn,
    LoginDriver,
    NeedPassword,
    NeedPhone,
    PollQr,
    QrPending,
    Refused,
    Restart,
    SendCode,
    SignIn,
    StartQr,
    SubmitCode,
    SubmitPassword,
    SubmitPhone,
    WaitQr,
    advance,
    mask_phone,
    normalize_phone,
    plan,
)

API_ID = 12345
API_HASH = "0123456789abcdef0123456789abcdef"
PHONE = "9996621111"  # test-DC number: its code is 22222
CODE = "22222"


@pytest.fixture
async def sandbox() -> AsyncIterator[SandboxServer]:
    async with SandboxServer(World()) as server:
        yield server


@pytest.fixture
async def client(sandbox: SandboxServer) -> AsyncIterator[TelegramClient]:
    """A connected, logged-out Telethon client pointed at the sandbox."""
    telethon.crypto.rsa.add_key(sandbox.public_key_pem, old=False)
    session = MemorySession()
    session.set_dc(sandbox.dc_id, sandbox.host, sandbox.port)
    tg = TelegramClient(session, API_ID, API_HASH, flood_sleep_threshold=0, request_retries=1, retry_delay=0)
    await tg.connect()
    yield tg
    with contextlib.suppress(Exception):
        await tg.disconnect()


# -- the pure machine ---------------------------------------------------------------------------------

HOSTILE_PHONES = [
    "",
    "   ",
    "abc",
    "+1234",  # too short
    "1234567890123456",  # too long
    "٩٩٩٦٦٢١١١١",  # Arabic-Indic digits are digits to str.isdigit, not to Telegram
    "99966\uff121111",  # a full-width digit
    "9996621111; DROP TABLE tenants",
    "9996621111\x00",
    "++9996621111",
    "tel:9996621111",
]


@pytest.mark.parametrize("raw", HOSTILE_PHONES)
def test_hostile_phone_input_is_refused_without_a_call(raw: str) -> None:
    """A phone that is not 5-15 ASCII digits gives PHONE_INVALID and no Telegram call."""
    assert normalize_phone(raw) is None
    assert plan(NeedPhone(), SubmitPhone(raw), now=0) == NeedPhone(PHONE_INVALID)


@pytest.mark.parametrize("raw", ["+999 662 1111", "(999) 662-1111", "9996621111", " +9996621111 "])
def test_typed_phone_formats_become_digits(raw: str) -> None:
    """Spaces, dashes, brackets and a leading plus are accepted and dropped."""
    assert plan(NeedPhone(), SubmitPhone(raw), now=0) == SendCode(PHONE)


def test_malformed_code_is_a_retryable_problem() -> None:
    """A code that is not digits stays in CodeSent with CODE_INVALID and one more attempt counted."""
    state = CodeSent(PHONE, "hash", "app", 5)
    assert plan(state, SubmitCode("12a45"), now=0) == CodeSent(PHONE, "hash", "app", 5, 1, CODE_INVALID)
    assert plan(state, SubmitCode("222 22"), now=0) == SignIn(PHONE, "hash", CODE)


def test_inputs_out_of_order_keep_the_state() -> None:
    """A code before a phone, or a password before it is asked for, answers OUT_OF_ORDER."""
    assert plan(NeedPhone(), SubmitCode(CODE), now=0) == NeedPhone(OUT_OF_ORDER)
    assert plan(NeedPhone(), SubmitPassword("pw"), now=0) == NeedPhone(OUT_OF_ORDER)
    assert plan(NeedPassword("hint"), SubmitPhone(PHONE), now=0) == NeedPassword("hint", OUT_OF_ORDER)
    assert plan(NeedPassword(), SubmitPassword("pw"), now=0) == CheckPassword("pw")
    assert plan(CodeSent(PHONE, "h", "sms"), Restart(), now=0) == NeedPhone()


def test_empty_password_is_refused_without_a_call() -> None:
    """An empty 2FA password stays in NeedPassword with PASSWORD_EMPTY."""
    assert plan(NeedPassword("hint"), SubmitPassword(""), now=0) == NeedPassword("hint", PASSWORD_EMPTY)


def test_qr_poll_waits_until_expiry_then_re_exports() -> None:
    """Polling a live QR token waits for the scan; polling an expired one exports a new token."""
    state = QrPending("tg://login?token=AAAA", expires=100.0)
    assert plan(state, PollQr(), now=99.0) == WaitQr(100.0)
    assert plan(state, PollQr(), now=100.0) == ExportQr()


def test_refusals_map_to_retry_or_restart() -> None:
    """Wrong code and password are retried in place; an expired code restarts at the phone."""
    sent = CodeSent(PHONE, "hash", "sms")
    wrong = advance(sent, SignIn(PHONE, "hash", "11111"), Refused("PHONE_CODE_INVALID"))
    assert wrong == CodeSent(PHONE, "hash", "sms", attempts=1, problem=CODE_INVALID)
    assert advance(sent, SignIn(PHONE, "hash", "1"), Refused("PHONE_CODE_EXPIRED")) == NeedPhone(CODE_EXPIRED)
    need = NeedPassword("hint")
    assert advance(need, CheckPassword("x"), Refused("PASSWORD_HASH_INVALID")) == NeedPassword(
        "hint", PASSWORD_INVALID
    )
    assert advance(NeedPhone(), SendCode(PHONE), Refused("PHONE_NUMBER_INVALID")) == NeedPhone(PHONE_INVALID)
    assert advance(NeedPhone(), SendCode(PHONE), CodeDelivered("h", "app", 5)) == CodeSent(
        PHONE, "h", "app", 5
    )


def test_reprs_hide_phone_code_password_and_token() -> None:
    """No state, input or action repr shows the phone, the code, the password or the QR token."""
    shown = repr(
        [
            CodeSent(PHONE, "secret-hash", "sms"),
            SubmitPhone(PHONE),
            SubmitCode(CODE),
            SubmitPassword("hunter2-pw"),
            SignIn(PHONE, "secret-hash", CODE),
            QrPending("tg://login?token=SECRETTOKEN", 1.0),
        ]
    )
    for secret in (PHONE, CODE, "hunter2-pw", "secret-hash", "SECRETTOKEN"):
        assert secret not in shown
    assert mask_phone(PHONE) == "+********11"


# -- the driver against the sandbox ---------------------------------------------------------------


async def test_code_login(client: TelegramClient, sandbox: SandboxServer) -> None:
    """Phone then code logs the client in and reports the account with a masked phone."""
    user = sandbox.world.add_user(first_name="Ada", phone=PHONE)
    driver = LoginDriver(client)
    sent = await driver.send(SubmitPhone("+999 662 1111"))
    assert isinstance(sent, CodeSent) and sent.code_type == "sms" and sent.code_length == 5
    done = await driver.send(SubmitCode(CODE))
    assert isinstance(done, LoggedIn)
    assert done.account.user_id == user.id and done.account.name == "Ada"
    assert done.account.phone == "+********11"
    assert await client.is_user_authorized()


async def test_wrong_code_then_right_code(client: TelegramClient, sandbox: SandboxServer) -> None:
    """A wrong code is a retryable problem and the right code afterwards logs in."""
    sandbox.world.add_user(first_name="Ada", phone=PHONE)
    driver = LoginDriver(client)
    await driver.send(SubmitPhone(PHONE))
    wrong = await driver.send(SubmitCode("12345"))
    assert isinstance(wrong, CodeSent) and wrong.problem == CODE_INVALID and wrong.attempts == 1
    assert isinstance(await driver.send(SubmitCode(CODE)), LoggedIn)


async def test_two_step_login_with_a_wrong_password_first(
    client: TelegramClient, sandbox: SandboxServer
) -> None:
    """A 2FA account asks for its password (with the hint); a wrong one is retried, the right one logs in."""
    user = sandbox.world.add_user(first_name="Ada", phone=PHONE)
    sandbox.world.users[user.id].password = make_password_record("pw", hint="the usual")
    driver = LoginDriver(client)
    await driver.send(SubmitPhone(PHONE))
    need = await driver.send(SubmitCode(CODE))
    assert need == NeedPassword("the usual")
    wrong = await driver.send(SubmitPassword("not-it"))
    assert wrong == NeedPassword("the usual", PASSWORD_INVALID)
    done = await driver.send(SubmitPassword("pw"))
    assert isinstance(done, LoggedIn) and done.account.user_id == user.id


async def test_expired_code_restarts_at_the_phone(client: TelegramClient, sandbox: SandboxServer) -> None:
    """A code entered after it expired sends the flow back to NeedPhone with CODE_EXPIRED."""
    sandbox.world.add_user(first_name="Ada", phone=PHONE)
    driver = LoginDriver(client)
    await driver.send(SubmitPhone(PHONE))
    sandbox.world.clock = lambda: time.time() + 3600
    assert await driver.send(SubmitCode(CODE)) == NeedPhone(CODE_EXPIRED)
    assert isinstance(await driver.send(SubmitPhone(PHONE)), CodeSent)


async def test_unregistered_number_is_a_phone_problem(client: TelegramClient) -> None:
    """A number with no account ends back at NeedPhone with PHONE_UNREGISTERED (no sign-up from here)."""
    driver = LoginDriver(client)
    await driver.send(SubmitPhone("9996631234"))
    state = await driver.send(SubmitCode("33333"))
    assert isinstance(state, NeedPhone) and state.problem is not None
    assert state.problem.code == "PHONE_UNREGISTERED"


async def test_flood_wait_raises_and_keeps_the_state(client: TelegramClient, sandbox: SandboxServer) -> None:
    """FLOOD_WAIT on sendCode raises FloodWait with retry_after and leaves the state unchanged."""
    sandbox.faults.flood_wait(functions.auth.SendCodeRequest, 120)
    driver = LoginDriver(client)
    with pytest.raises(FloodWait) as caught:
        await driver.send(SubmitPhone(PHONE))
    assert caught.value.retry_after == 120
    assert driver.state == NeedPhone()


async def test_qr_login_scanned_while_polling(client: TelegramClient, sandbox: SandboxServer) -> None:
    """A QR token accepted by the account's phone while the driver polls logs the client in."""
    user = sandbox.world.add_user(first_name="Ada", phone=PHONE)
    driver = LoginDriver(client)
    pending = await driver.send(StartQr())
    assert isinstance(pending, QrPending) and pending.url.startswith("tg://login?token=")
    poll = asyncio.create_task(driver.send(PollQr()))
    await asyncio.sleep(0.05)
    sandbox.accept_login_token(pending.token, user.id)
    done = await asyncio.wait_for(poll, 10)
    assert isinstance(done, LoggedIn) and done.account.user_id == user.id
    assert await client.is_user_authorized()


async def test_qr_login_scanned_between_polls_with_2fa(
    client: TelegramClient, sandbox: SandboxServer
) -> None:
    """A QR token accepted before the poll still counts, and a 2FA account then asks for the password."""
    user = sandbox.world.add_user(first_name="Ada", phone=PHONE)
    sandbox.world.users[user.id].password = make_password_record("pw")
    driver = LoginDriver(client)
    pending = await driver.send(StartQr())
    assert isinstance(pending, QrPending)
    sandbox.accept_login_token(pending.token, user.id)
    await asyncio.sleep(0.05)
    assert await asyncio.wait_for(driver.send(PollQr()), 10) == NeedPassword("")
    assert isinstance(await driver.send(SubmitPassword("pw")), LoggedIn)


async def test_expired_qr_token_is_replaced(client: TelegramClient) -> None:
    """Polling after the token expired exports a new token with a new URL."""
    offset = 0.0
    driver = LoginDriver(client, clock=lambda: time.time() + offset, qr_wait=0.01)
    first = await driver.send(StartQr())
    assert isinstance(first, QrPending)
    assert await driver.send(PollQr()) == first  # not scanned yet, not expired: same token
    offset = 3600.0
    second = await driver.send(PollQr())
    assert isinstance(second, QrPending) and second.url != first.url


async def test_logs_never_show_code_password_or_phone(
    client: TelegramClient, sandbox: SandboxServer, caplog: pytest.LogCaptureFixture
) -> None:
    """A full 2FA login at DEBUG logs no code, password or full phone number, but does log progress."""
    user = sandbox.world.add_user(first_name="Ada", phone=PHONE)
    sandbox.world.users[user.id].password = make_password_record("planted-pw-93")
    caplog.set_level(logging.DEBUG)
    driver = LoginDriver(client)
    await driver.send(SubmitPhone(PHONE))
    await driver.send(SubmitCode(CODE))
    await driver.send(SubmitPassword("planted-pw-93"))
    text = caplog.text + repr([record.__dict__ for record in caplog.records])
    assert "login.state" in text
    for secret in (PHONE, CODE, "planted-pw-93"):
        assert secret not in text
