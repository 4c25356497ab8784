"""Logging a Telegram account in: a pure state machine, and the thin Telethon driver that runs it.

The machine decides and does no I/O: :func:`plan` turns the current state and the user's input into
either the next state (bad input needs no round trip) or an *action* for Telegram; :func:`advance`
turns the action's *outcome* into the next state. The clock is a parameter. A web setup page and
``mcpgram login`` drive the same machine through :class:`LoginDriver`, which performs each action
with Telethon and maps Telegram's answers to outcomes, in the style of httpx's auth flows::

    NeedPhone --phone--> CodeSent --code--> LoggedIn
        |                    |  \\--code (2FA account)--> NeedPassword --password--> LoggedIn
        \\--qr-start--> QrPending --qr-poll (scanned)--> LoggedIn | NeedPassword

Retryable mistakes (wrong code, wrong password, malformed phone) keep or restart the state with a
:class:`LoginProblem` to show; an expired code restarts at :class:`NeedPhone`. ``FLOOD_WAIT`` raises
:class:`~mcpgram.errors.FloodWait` and leaves the state as it was.

This module must never log or repr a login code, a 2FA password, a QR token or a full phone number.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Literal, TypeAlias

from telethon import TelegramClient, errors, events, functions, types

from ..errors import RPCFailed
from ..log import mask_phone as _log_mask_phone
from .errors import is_telethon_error, map_telethon_error, rpc_error_name

log = logging.getLogger(__name__)

Clock = Callable[[], float]
CodeType = Literal["app", "sms", "call", "flash_call", "missed_call", "email", "fragment", "other"]

#: How long one QR poll waits for the scan at most; the CLI polls again, a web page polls often.
DEFAULT_QR_WAIT = 30.0
_PHONE_RE = re.compile(r"^\+?[0-9]{5,15}$")
_CODE_RE = re.compile(r"^[0-9]{3,10}$")
_PHONE_PUNCTUATION = re.compile(r"[\s().-]")


def mask_phone(phone: str) -> str:
    """``"+********11"``: enough to recognise one's own number, too little to reuse it."""
    return _log_mask_phone("+" + phone.strip().lstrip("+"))


# -- states --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LoginProblem:
    """Why the last step did not go through: a stable ``code`` and a message safe to show anyone."""

    code: str
    message: str


@dataclass(frozen=True)
class AccountSummary:
    """Who logged in. ``phone`` is masked."""

    user_id: int
    name: str
    username: str | None
    phone: str | None


@dataclass(frozen=True)
class NeedPhone:
    """Waiting for a phone number (or a QR start)."""

    problem: LoginProblem | None = None


@dataclass(frozen=True)
class CodeSent:
    """Telegram sent a login code (``code_type`` says where); waiting for it."""

    phone: str = field(repr=False)
    phone_code_hash: str = field(repr=False)
    code_type: CodeType
    code_length: int | None = None
    attempts: int = 0
    problem: LoginProblem | None = None

    @property
    def masked_phone(self) -> str:
        return mask_phone(self.phone)


@dataclass(frozen=True)
class NeedPassword:
    """The account has two-step verification; waiting for its password."""

    hint: str = ""
    problem: LoginProblem | None = None


@dataclass(frozen=True)
class QrPending:
    """A QR login token is out: show ``url`` as a QR code until ``expires`` (Unix time) and poll."""

    url: str = field(repr=False)
    expires: float
    problem: LoginProblem | None = None

    @property
    def token(self) -> bytes:
        """The raw token inside ``url`` (what the scanning app accepts)."""
        encoded = self.url.partition("token=")[2]
        return base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))


@dataclass(frozen=True)
class LoggedIn:
    """Done: the client is authorized as ``account``."""

    account: AccountSummary


LoginState: TypeAlias = NeedPhone | CodeSent | NeedPassword | QrPending | LoggedIn

# -- inputs: what the user does ---------------------------------------------------------------------


@dataclass(frozen=True)
class SubmitPhone:
    phone: str = field(repr=False)


@dataclass(frozen=True)
class SubmitCode:
    code: str = field(repr=False)


@dataclass(frozen=True)
class SubmitPassword:
    password: str = field(repr=False)


@dataclass(frozen=True)
class StartQr:
    pass


@dataclass(frozen=True)
class PollQr:
    pass


@dataclass(frozen=True)
class Restart:
    """Start over (another number, or code instead of QR)."""


LoginInput: TypeAlias = SubmitPhone | SubmitCode | SubmitPassword | StartQr | PollQr | Restart

# -- actions: what Telegram must be asked, and outcomes: what it answered ----------------------------


@dataclass(frozen=True)
class SendCode:
    phone: str = field(repr=False)


@dataclass(frozen=True)
class SignIn:
    phone: str = field(repr=False)
    phone_code_hash: str = field(repr=False)
    code: str = field(repr=False)


@dataclass(frozen=True)
class CheckPassword:
    password: str = field(repr=False)


@dataclass(frozen=True)
class ExportQr:
    pass


@dataclass(frozen=True)
class WaitQr:
    """Wait for the QR token to be accepted, until ``deadline`` (Unix time) at most."""

    deadline: float


Action: TypeAlias = SendCode | SignIn | CheckPassword | ExportQr | WaitQr


@dataclass(frozen=True)
class CodeDelivered:
    phone_code_hash: str = field(repr=False)
    code_type: CodeType
    code_length: int | None = None


@dataclass(frozen=True)
class Authorized:
    account: AccountSummary


@dataclass(frozen=True)
class PasswordNeeded:
    hint: str = ""


@dataclass(frozen=True)
class QrIssued:
    url: str = field(repr=False)
    expires: float


@dataclass(frozen=True)
class QrNotYet:
    pass


@dataclass(frozen=True)
class Refused:
    """Telegram refused the step; ``reason`` is its error name (``PHONE_CODE_INVALID``)."""

    reason: str


Outcome: TypeAlias = CodeDelivered | Authorized | PasswordNeeded | QrIssued | QrNotYet | Refused

# -- the machine ------------------------------------------------------------------------------------

PHONE_INVALID = LoginProblem(
    "PHONE_INVALID", "That is not a valid phone number; use the international format."
)
CODE_INVALID = LoginProblem("CODE_INVALID", "That code is not right; check it and try again.")
CODE_EXPIRED = LoginProblem("CODE_EXPIRED", "The code expired; enter the phone number again for a new one.")
PASSWORD_INVALID = LoginProblem("PASSWORD_INVALID", "That password is not right; try again.")
PASSWORD_EMPTY = LoginProblem("PASSWORD_EMPTY", "Enter the two-step verification password.")
OUT_OF_ORDER = LoginProblem("OUT_OF_ORDER", "That step does not apply now.")

#: Telegram's refusals the machine recovers from, by error name: (problem, where to go).
_REFUSALS: dict[str, tuple[LoginProblem, Literal["phone", "code", "password"]]] = {
    "PHONE_NUMBER_INVALID": (PHONE_INVALID, "phone"),
    "PHONE_NUMBER_BANNED": (LoginProblem("PHONE_BANNED", "Telegram has banned this number."), "phone"),
    "PHONE_NUMBER_UNOCCUPIED": (
        LoginProblem(
            "PHONE_UNREGISTERED", "No Telegram account uses this number; sign up in a Telegram app first."
        ),
        "phone",
    ),
    "PHONE_CODE_EXPIRED": (CODE_EXPIRED, "phone"),
    "PHONE_CODE_HASH_EMPTY": (CODE_EXPIRED, "phone"),
    "PHONE_CODE_INVALID": (CODE_INVALID, "code"),
    "PHONE_CODE_EMPTY": (CODE_INVALID, "code"),
    "PASSWORD_HASH_INVALID": (PASSWORD_INVALID, "password"),
    "AUTH_TOKEN_EXPIRED": (LoginProblem("QR_EXPIRED", "The QR code expired; start again."), "phone"),
    "AUTH_TOKEN_INVALID": (LoginProblem("QR_EXPIRED", "The QR code expired; start again."), "phone"),
}
REFUSALS = frozenset(_REFUSALS)


def normalize_phone(raw: str) -> str | None:
    """The digits of a phone number typed by a person, or None when it cannot be one (ASCII digits only)."""
    candidate = _PHONE_PUNCTUATION.sub("", raw.strip())
    if not _PHONE_RE.match(candidate):
        return None
    return candidate.lstrip("+")


def _with_problem(state: LoginState, problem: LoginProblem) -> LoginState:
    return state if isinstance(state, LoggedIn) else replace(state, problem=problem)


def plan(state: LoginState, event: LoginInput, *, now: float) -> Action | LoginState:
    """Decide what ``event`` means in ``state``: the Telegram call to make, or directly the next state.

    Args:
        state: Where the login is.
        event: What the user did.
        now: The current Unix time (QR tokens expire).

    Returns:
        An action for the driver to perform, or the next state when no call is needed
        (malformed input, an input that does not apply now, or a restart).
    """
    if isinstance(state, LoggedIn):
        return state
    if isinstance(event, Restart):
        return NeedPhone()
    if isinstance(event, SubmitPhone) and not isinstance(state, NeedPassword):
        phone = normalize_phone(event.phone)
        return SendCode(phone) if phone is not None else NeedPhone(PHONE_INVALID)
    if isinstance(event, StartQr) and not isinstance(state, NeedPassword):
        return ExportQr()
    if isinstance(event, SubmitCode) and isinstance(state, CodeSent):
        code = _PHONE_PUNCTUATION.sub("", event.code)
        if not _CODE_RE.match(code):
            return replace(state, attempts=state.attempts + 1, problem=CODE_INVALID)
        return SignIn(state.phone, state.phone_code_hash, code)
    if isinstance(event, SubmitPassword) and isinstance(state, NeedPassword):
        return CheckPassword(event.password) if event.password else replace(state, problem=PASSWORD_EMPTY)
    if isinstance(event, PollQr) and isinstance(state, QrPending):
        return ExportQr() if now >= state.expires else WaitQr(state.expires)
    return _with_problem(state, OUT_OF_ORDER)


def advance(state: LoginState, action: Action, outcome: Outcome) -> LoginState:
    """The state after Telegram answered ``action`` (made from ``state``) with ``outcome``."""
    if isinstance(outcome, Authorized):
        return LoggedIn(outcome.account)
    if isinstance(outcome, PasswordNeeded):
        return NeedPassword(outcome.hint)
    if isinstance(outcome, CodeDelivered) and isinstance(action, SendCode):
        return CodeSent(action.phone, outcome.phone_code_hash, outcome.code_type, outcome.code_length)
    if isinstance(outcome, QrIssued):
        return QrPending(outcome.url, outcome.expires)
    if isinstance(outcome, QrNotYet):
        return state
    if isinstance(outcome, Refused) and outcome.reason in _REFUSALS:
        problem, target = _REFUSALS[outcome.reason]
        if target == "code" and isinstance(state, CodeSent):
            return replace(state, attempts=state.attempts + 1, problem=problem)
        if target == "password" and isinstance(state, NeedPassword):
            return replace(state, problem=problem)
        return NeedPhone(problem)
    reason = outcome.reason if isinstance(outcome, Refused) else "UNEXPECTED_ANSWER"
    return _with_problem(state, LoginProblem(reason, "Telegram refused this step."))


# -- the Telethon driver ----------------------------------------------------------------------------

_CODE_TYPES: dict[type[Any], CodeType] = {
    types.auth.SentCodeTypeApp: "app",
    types.auth.SentCodeTypeSms: "sms",
    types.auth.SentCodeTypeCall: "call",
    types.auth.SentCodeTypeFlashCall: "flash_call",
    types.auth.SentCodeTypeMissedCall: "missed_call",
    types.auth.SentCodeTypeEmailCode: "email",
    types.auth.SentCodeTypeFragmentSms: "fragment",
}


def account_summary(user: Any) -> AccountSummary:
    """Plain data about a Telethon ``User``, with the phone masked."""
    name = " ".join(part for part in (user.first_name, user.last_name) if part) or "(no name)"
    return AccountSummary(user.id, name, user.username, mask_phone(user.phone) if user.phone else None)


class LoginDriver:
    """Runs the login machine against Telegram through one connected, not yet authorized, Telethon client.

    Example::

        driver = LoginDriver(client)
        state = await driver.send(SubmitPhone("+99 966 1 0000"))   # CodeSent
        state = await driver.send(SubmitCode("11111"))             # LoggedIn or NeedPassword

    Args:
        client: A connected Telethon client; for QR login it must receive updates.
        clock: Unix time source (QR tokens expire).
        qr_wait: The longest one :class:`PollQr` waits for the scan.
    """

    def __init__(
        self, client: TelegramClient, *, clock: Clock = time.time, qr_wait: float = DEFAULT_QR_WAIT
    ) -> None:
        self._client = client
        self._clock = clock
        self._qr_wait = qr_wait
        self._state: LoginState = NeedPhone()
        self._qr_accepted = asyncio.Event()
        self._listening = False

    @property
    def state(self) -> LoginState:
        return self._state

    def resume(self, state: LoginState) -> None:
        """Continue from ``state`` (saved by a web page between requests, on the same session)."""
        self._state = state

    async def send(self, event: LoginInput) -> LoginState:
        """Apply ``event``: plan, call Telegram if needed, advance, and return the new state.

        Raises:
            FloodWait: Telegram asks to wait; the state is unchanged.
            TelegramError: Telegram failed in a way the user cannot fix by retyping.
        """
        step = plan(self._state, event, now=self._clock())
        if isinstance(step, LoginState):
            self._state = step
        else:
            self._state = advance(self._state, step, await self._perform(step))
        self._log_state()
        if isinstance(self._state, LoggedIn):
            self.close()
        return self._state

    def close(self) -> None:
        """Stop listening for QR acceptance; the client itself belongs to the caller."""
        if self._listening:
            self._client.remove_event_handler(self._on_login_token)
            self._listening = False

    def _log_state(self) -> None:
        state = self._state
        fields: dict[str, object] = {"state": type(state).__name__}
        problem = getattr(state, "problem", None)
        if isinstance(problem, LoginProblem):
            fields["problem"] = problem.code
        if isinstance(state, CodeSent):
            fields.update(phone=state.masked_phone, code_type=state.code_type)
        if isinstance(state, LoggedIn):
            fields["user_id"] = state.account.user_id
        log.info("login.state", extra=fields)

    async def _perform(self, action: Action) -> Outcome:
        try:
            return await self._call(action)
        except errors.SessionPasswordNeededError:
            password = await self._client(functions.account.GetPasswordRequest())
            return PasswordNeeded(password.hint or "")
        except Exception as exc:
            if isinstance(exc, errors.RPCError) and (name := rpc_error_name(exc)) in REFUSALS:
                return Refused(name)
            if not is_telethon_error(exc):
                raise
            # FLOOD_WAIT becomes FloodWait (state unchanged), the rest RPCFailed or "unreachable".
            raise map_telethon_error(exc) from exc

    async def _call(self, action: Action) -> Outcome:
        client = self._client
        if isinstance(action, SendCode):
            sent = await client(
                functions.auth.SendCodeRequest(
                    action.phone, client.api_id, client.api_hash, types.CodeSettings()
                )
            )
            # SentCodeSuccess only answers future-auth tokens, which this driver never sends.
            if not isinstance(sent, types.auth.SentCode):
                raise RPCFailed("Telegram answered the code request unexpectedly")
            return CodeDelivered(
                sent.phone_code_hash, _CODE_TYPES.get(type(sent.type), "other"), _length(sent.type)
            )
        if isinstance(action, SignIn):
            user = await client.sign_in(action.phone, action.code, phone_code_hash=action.phone_code_hash)
            return Authorized(account_summary(user))
        if isinstance(action, CheckPassword):
            user = await client.sign_in(password=action.password)
            return Authorized(account_summary(user))
        if isinstance(action, ExportQr):
            return await self._export_qr()
        return await self._wait_qr(action.deadline)

    async def _export_qr(self) -> Outcome:
        client = self._client
        if not self._listening:
            # Listen from the first export on: an acceptance between two polls must not be missed.
            client.add_event_handler(self._on_login_token, events.Raw(types.UpdateLoginToken))
            self._listening = True
        self._qr_accepted.clear()
        answer = await client(
            functions.auth.ExportLoginTokenRequest(client.api_id, client.api_hash, except_ids=[])
        )
        if isinstance(answer, types.auth.LoginTokenMigrateTo):
            # The account lives on another DC: Telethon's own QRLogin does the same two calls.
            await client._switch_dc(answer.dc_id)
            answer = await client(functions.auth.ImportLoginTokenRequest(answer.token))
        if isinstance(answer, types.auth.LoginTokenSuccess):
            user = answer.authorization.user
            # What sign_in does after success: mark the client authorized and sync the update state.
            await client._on_login(user)
            return Authorized(account_summary(user))
        if isinstance(answer, types.auth.LoginToken):
            token = base64.urlsafe_b64encode(answer.token).decode().rstrip("=")
            return QrIssued(f"tg://login?token={token}", answer.expires.timestamp())
        raise RPCFailed("Telegram answered the QR login unexpectedly")

    async def _wait_qr(self, deadline: float) -> Outcome:
        timeout = max(0.0, min(deadline - self._clock(), self._qr_wait))
        try:
            await asyncio.wait_for(self._qr_accepted.wait(), timeout)
        except TimeoutError:
            return QrNotYet()
        return await self._export_qr()

    async def _on_login_token(self, update: object) -> None:
        del update
        self._qr_accepted.set()


def _length(code_type: Any) -> int | None:
    length = getattr(code_type, "length", None)
    return length if isinstance(length, int) else None
