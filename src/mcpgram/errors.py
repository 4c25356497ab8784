"""mcpgram's exception hierarchy, grouped by what the caller can do about an error.

Imports nothing from mcpgram (leaf module, like structlog's ``exceptions.py``: factored out to avoid
import loops). Every error carries a stable ``code`` that tools put on the wire, a one-line message
that is safe to show to a client (no secrets, paths, phone numbers or message text), and an optional
``hint`` saying what to try next::

    MCPGramError
    ├── InvalidArgument        the arguments cannot work: fix them, do not retry as is
    │   │                      (``code`` may be more precise: MESSAGE_TOO_LONG, FILE_NOT_FOUND...)
    │   ├── InvalidCursor      a cursor this server did not mint for this tenant and query
    │   └── TooLarge           a file over the size limit (a local file, or a URL's body)
    ├── RateLimited            slow down: retry after ``retry_after`` seconds (code RATE_LIMITED);
    │                          this gateway's limits and pacing, and Telegram's FLOOD_WAIT below
    ├── TenantError            who is asking, and may they?
    │   ├── NotAuthenticated   missing, malformed, unknown or revoked token
    │   ├── LoginRequired      the tenant's Telegram authorization is gone; log in again
    │   ├── PolicyRefused      the tenant's policy refuses it (code NOT_ALLOWED; names the rule)
    │   └── ApprovalError      a person's approval is needed (``approvals/``); nothing was done
    │       ├── ApprovalPending    asked, not answered yet: retry the same call once they answer
    │       ├── ApprovalRefused    the person said no (or the approval was used already)
    │       └── ApprovalExpired    nobody answered in time: call again to ask again
    ├── TelegramError          Telegram refused or failed
    │   ├── FloodWait          Telegram's FLOOD_WAIT_X; also a RateLimited (RATE_LIMITED, retry_after=X)
    │   ├── NotAllowed         the account may not do that here
    │   │   └── PremiumRequired    only with Telegram Premium
    │   ├── ChatNotFound       the chat does not resolve
    │   ├── MessageNotFound    no such message in that chat
    │   │   └── MediaNotFound  the message holds no such photo or document (any more)
    │   ├── FolderNotFound     no chat folder by that name or id
    │   ├── ReactionInvalid    the chat does not take that reaction
    │   ├── NotVoice           not a voice or round video message
    │   └── RPCFailed          any other Telegram error
    ├── FetchError             fetching a URL for the agent
    │   ├── BlockedURL         the URL, its host or an address it resolves to is not allowed: use another
    │   └── FetchFailed        unreachable, timed out, refused or an HTTP error: check the URL, retry later
    ├── VaultError             stored secrets
    │   └── DecryptFailed      wrong key, tampered or swapped data
    ├── TicketError            a signed download link (``signing.py``)
    │   ├── TicketInvalid      malformed, altered, unknown key, or no longer honoured: get a new link
    │   └── TicketExpired      authentic but past its expiry: get a new link
    └── ConfigError            settings that cannot work
"""

from __future__ import annotations


class MCPGramError(Exception):
    """Base class. ``str(error)`` is the client-safe message."""

    code = "INTERNAL"

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class InvalidArgument(MCPGramError):
    code = "INVALID_ARGUMENT"

    def __init__(self, message: str, *, hint: str | None = None, code: str | None = None) -> None:
        super().__init__(message, hint=hint)
        if code is not None:
            self.code = code


class InvalidCursor(InvalidArgument):
    code = "INVALID_CURSOR"


class TooLarge(InvalidArgument):
    code = "TOO_LARGE"


class RateLimited(MCPGramError):
    """Too many calls or writes for now; ``retry_after`` is whole seconds, at least 1."""

    code = "RATE_LIMITED"

    def __init__(self, message: str, *, retry_after: int, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.retry_after = max(int(retry_after), 1)


class TenantError(MCPGramError):
    code = "TENANT"


class NotAuthenticated(TenantError):
    code = "NOT_AUTHENTICATED"


class LoginRequired(TenantError):
    code = "LOGIN_REQUIRED"


class PolicyRefused(TenantError):
    """The tenant's own policy refuses the call; ``rule`` names the rule (``verbs.send``, ``read``...)."""

    code = "NOT_ALLOWED"

    def __init__(self, message: str, *, rule: str, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.rule = rule


class ApprovalError(TenantError):
    """The call needs a person's approval and does not have it; nothing was sent or changed."""


class ApprovalPending(ApprovalError):
    code = "APPROVAL_PENDING"


class ApprovalRefused(ApprovalError):
    code = "APPROVAL_REFUSED"


class ApprovalExpired(ApprovalError):
    code = "APPROVAL_EXPIRED"


class TelegramError(MCPGramError):
    code = "TELEGRAM"


class FloodWait(RateLimited, TelegramError):
    """Telegram answered FLOOD_WAIT_X: the same code and ``retry_after`` as this gateway's own limits."""

    code = "RATE_LIMITED"

    def __init__(self, retry_after: int, *, hint: str | None = None) -> None:
        message = f"Telegram asks to wait {retry_after} s before retrying (FLOOD_WAIT)"
        super().__init__(message, retry_after=retry_after, hint=hint)


class NotAllowed(TelegramError):
    code = "NOT_ALLOWED"


class PremiumRequired(NotAllowed):
    code = "PREMIUM_REQUIRED"


class ChatNotFound(TelegramError):
    code = "CHAT_NOT_FOUND"


class MessageNotFound(TelegramError):
    code = "MESSAGE_NOT_FOUND"


class MediaNotFound(MessageNotFound):
    code = "MEDIA_NOT_FOUND"


class FolderNotFound(TelegramError):
    code = "FOLDER_NOT_FOUND"


class ReactionInvalid(TelegramError):
    code = "REACTION_INVALID"


class NotVoice(TelegramError):
    code = "NOT_VOICE"


class RPCFailed(TelegramError):
    code = "TELEGRAM_ERROR"

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        rpc_code: int | None = None,
        rpc_name: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        #: Telegram's own numeric code and error name, kept for raw MTProto calls (``telegram/rawcall.py``).
        self.rpc_code = rpc_code
        self.rpc_name = rpc_name


class FetchError(MCPGramError):
    code = "FETCH"


class BlockedURL(FetchError):
    code = "BLOCKED_URL"


class FetchFailed(FetchError):
    code = "FETCH_FAILED"


class VaultError(MCPGramError):
    code = "VAULT"


class DecryptFailed(VaultError):
    code = "DECRYPT_FAILED"


class TicketError(MCPGramError):
    code = "TICKET"


class TicketInvalid(TicketError):
    code = "TICKET_INVALID"


class TicketExpired(TicketError):
    code = "TICKET_EXPIRED"


class ConfigError(MCPGramError):
    code = "CONFIG"
