"""Telethon exceptions become mcpgram errors: every mapping in a table, then end to end from the sandbox."""

from __future__ import annotations

import pytest
from telethon import errors as tg
from telethon import functions

from mcpgram.errors import (
    ChatNotFound,
    FloodWait,
    LoginRequired,
    MCPGramError,
    NotAllowed,
    RateLimited,
    RPCFailed,
    TelegramError,
)
from mcpgram.sandbox import SandboxServer
from mcpgram.telegram.errors import UNREACHABLE, map_telethon_error, rpc_error_name, translate
from mcpgram.telegram.pool import ClientPool
from mcpgram.vault.vault import Vault

from .conftest import PoolFactory, login_tenant, user_id_of, whoami

MAPPINGS: list[tuple[BaseException, type[MCPGramError]]] = [
    (tg.FloodWaitError(request=None, capture=42), FloodWait),
    (tg.FloodPremiumWaitError(request=None, capture=42), FloodWait),
    (tg.SlowModeWaitError(request=None, capture=42), FloodWait),
    (tg.AuthKeyUnregisteredError(request=None), LoginRequired),
    (tg.SessionRevokedError(request=None), LoginRequired),
    (tg.SessionExpiredError(request=None), LoginRequired),
    (tg.UserDeactivatedError(request=None), LoginRequired),
    (tg.UserDeactivatedBanError(request=None), LoginRequired),
    (tg.AuthKeyDuplicatedError(request=None), LoginRequired),
    (tg.UnauthorizedError(request=None, message="SOME_NEW_401", code=401), LoginRequired),
    (tg.ChatAdminRequiredError(request=None), NotAllowed),
    (tg.ChatWriteForbiddenError(request=None), NotAllowed),
    (tg.UserPrivacyRestrictedError(request=None), NotAllowed),
    (tg.MessageAuthorRequiredError(request=None), NotAllowed),
    (tg.ForbiddenError(request=None, message="SOME_NEW_403", code=403), NotAllowed),
    (tg.ChannelPrivateError(request=None), ChatNotFound),
    (tg.PeerIdInvalidError(request=None), ChatNotFound),
    (tg.UsernameNotOccupiedError(request=None), ChatNotFound),
    (tg.UsernameInvalidError(request=None), ChatNotFound),
    (tg.ChannelInvalidError(request=None), ChatNotFound),
    (tg.ChatIdInvalidError(request=None), ChatNotFound),
    (tg.UserIdInvalidError(request=None), ChatNotFound),
    (tg.PhoneNotOccupiedError(request=None), ChatNotFound),
    (tg.MsgIdInvalidError(request=None), ChatNotFound),
    (tg.MessageIdInvalidError(request=None), ChatNotFound),
    (tg.MessageTooLongError(request=None), RPCFailed),
    (tg.BadRequestError(request=None, message="SOME_NEW_400", code=400), RPCFailed),
    (tg.RPCError(None, "SOME_NEW_ERROR", 500), RPCFailed),
    (ConnectionError("reset by peer"), TelegramError),
    (OSError("no route to host"), TelegramError),
    (TimeoutError(), TelegramError),
    (tg.InvalidBufferError(b"\x6c\xfe\xff\xff"), TelegramError),
]


@pytest.mark.parametrize(("exc", "expected"), MAPPINGS, ids=lambda v: type(v).__name__)
def test_every_telethon_error_maps_to_its_mcpgram_error(
    exc: BaseException, expected: type[MCPGramError]
) -> None:
    """Each Telethon (or network) exception maps to exactly the mcpgram error class in the table."""
    mapped = map_telethon_error(exc)
    assert type(mapped) is expected


@pytest.mark.parametrize("cls", [tg.FloodWaitError, tg.FloodPremiumWaitError, tg.SlowModeWaitError])
def test_flood_waits_carry_their_seconds(cls: type[tg.FloodError]) -> None:
    """Flood and slow-mode waits become FloodWait with Telegram's seconds as retry_after, answered
    as RATE_LIMITED like the gateway's own limits (and still a TelegramError)."""
    mapped = map_telethon_error(cls(request=None, capture=37))
    assert isinstance(mapped, FloodWait) and isinstance(mapped, RateLimited | TelegramError)
    assert mapped.retry_after == 37 and mapped.code == "RATE_LIMITED"


def test_network_failures_say_telegram_is_unreachable() -> None:
    """Connection errors and timeouts become a TelegramError saying Telegram is unreachable."""
    for exc in (ConnectionError("127.0.0.1:443 refused"), TimeoutError()):
        mapped = map_telethon_error(exc)
        assert mapped.message == UNREACHABLE
        assert "127.0.0.1" not in str(mapped)


@pytest.mark.parametrize(
    ("exc", "name"),
    [
        (tg.ChatSendPlainForbiddenError(request=None), "CHAT_SEND_PLAIN_FORBIDDEN"),
        (tg.MessageTooLongError(request=None), "MESSAGE_TOO_LONG"),
        (tg.FloodWaitError(request=None, capture=3), "FLOOD_WAIT_X"),
        (tg.BadRequestError(request=None, message="BRAND_NEW_ERROR", code=400), "BRAND_NEW_ERROR"),
        # Free text from the server is never passed on, only something shaped like a name.
        (tg.RPCError(None, "call +99966 12345 now", 400), "UNKNOWN"),
        (tg.RPCError(None, "lowercase_is_not_a_name", 400), "UNKNOWN"),
        (tg.RPCError(None, "A" * 65, 400), "UNKNOWN"),
    ],
)
def test_rpc_errors_are_named_never_described(exc: tg.RPCError, name: str) -> None:
    """Telegram errors are reported by their error name, never Telethon's or the server's text."""
    assert rpc_error_name(exc) == name
    text = str(map_telethon_error(exc))
    assert str(exc).split(" (caused")[0] not in text
    assert "caused by" not in text
    if not isinstance(exc, tg.FloodError):
        assert name in text


def test_multi_error_maps_its_first_failure() -> None:
    """A batch failure maps like its first failing request."""
    multi = tg.MultiError(
        [None, tg.ChatWriteForbiddenError(request=None)],
        [object(), None],
        [functions.help.GetConfigRequest(), functions.help.GetConfigRequest()],
    )
    assert isinstance(map_telethon_error(multi), NotAllowed)


async def test_translate_raises_from_the_original() -> None:
    """translate() raises the mapped error with the Telethon exception as its cause."""
    original = tg.PeerIdInvalidError(request=None)
    with pytest.raises(ChatNotFound) as info:
        async with translate():
            raise original
    assert info.value.__cause__ is original


async def test_translate_also_decorates() -> None:
    """translate() used as a decorator converts what the decorated coroutine raises."""

    @translate()
    async def resolve() -> None:
        raise tg.UsernameNotOccupiedError(request=None)

    with pytest.raises(ChatNotFound):
        await resolve()


@pytest.mark.parametrize("exc", [ValueError("bug"), KeyError("bug"), LoginRequired("already ours")])
async def test_translate_leaves_other_errors_alone(exc: Exception) -> None:
    """Programming errors and mcpgram errors pass through translate() unchanged."""
    with pytest.raises(type(exc)) as info:
        async with translate():
            raise exc
    assert info.value is exc


async def test_sandbox_errors_arrive_as_mcpgram_errors(
    sandbox: SandboxServer, vault: Vault, make_pool: PoolFactory
) -> None:
    """Errors the sandbox injects come out of TenantClient.run as NotAllowed, RPCFailed and FloodWait."""
    pool: ClientPool = make_pool(flood_sleep_threshold=0)
    keys = await login_tenant(pool, vault, sandbox, "9996630001")
    get_users = functions.users.GetUsersRequest
    cases: list[tuple[int, str, type[MCPGramError]]] = [
        (403, "CHAT_WRITE_FORBIDDEN", NotAllowed),
        (400, "SOME_FUTURE_ERROR", RPCFailed),
        (400, "PEER_ID_INVALID", ChatNotFound),
        (420, "FLOOD_WAIT_30", FloodWait),
    ]
    async with pool.client(keys) as tc:
        for code, message, expected in cases:
            sandbox.faults.error(get_users, code, message)
            with pytest.raises(expected) as info:
                await tc.run(whoami)
            assert isinstance(info.value.__cause__, tg.RPCError)


async def test_sandbox_revoke_arrives_as_login_required(
    sandbox: SandboxServer, vault: Vault, make_pool: PoolFactory
) -> None:
    """A terminated authorization comes out of TenantClient.run as LoginRequired."""
    pool = make_pool()
    keys = await login_tenant(pool, vault, sandbox, "9996630002")
    sandbox.revoke(user_id_of(sandbox, "9996630002"))
    async with pool.client(keys) as tc:
        with pytest.raises(LoginRequired):
            await tc.run(whoami)
