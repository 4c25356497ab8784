"""What RPC handlers may touch of the running server: :class:`ServerHandle`, and :class:`AuthRecord`.

The method modules (``rpc/``, ``messaging.py``, ``scheduled.py``) and the router reach the server
through ``Ctx.server``. They name it by this Protocol, not by ``server.SandboxServer``, so they
never depend on the module that loads them: ``server.py`` imports ``rpc`` (and ``router``) at
module level, and nothing they import points back at it.
"""

from __future__ import annotations

import os
import struct
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from telethon.tl import TLObject

    from .world import World


@dataclass
class AuthRecord:
    """One authorization key and what it is allowed to do (Telegram's "authorization")."""

    key: bytes
    key_id: int
    salts: list[int]
    created: int
    user_id: int | None = None
    #: Set when the authorization was terminated: the 401 message its next call gets.
    revoked: str | None = None
    #: User id waiting for its 2FA password (``SESSION_PASSWORD_NEEDED`` was answered).
    pending_password_user: int | None = None
    #: The open SRP challenge of the last ``account.getPassword``; single use.
    srp_challenge: Any = None
    #: The salts the last ``account.getPassword`` offered for a new password (``srp.NewSalts``).
    new_salts: Any = None
    device_model: str = ""
    app_version: str = ""
    system_version: str = ""
    api_id: int = 0
    hash: int = field(default_factory=lambda: int.from_bytes(os.urandom(8), "little", signed=True))
    #: When the key last made an RPC (the "last active" time of its session), 0 for never.
    active: int = 0
    #: MTProto sessions under this key by session_id (``session.Session``), kept across reconnects.
    sessions: dict[int, Any] = field(default_factory=dict)
    #: RPCs made under this key, by TL method name (see :attr:`SandboxServer.rpc_counts`).
    rpc_counts: Counter[str] = field(default_factory=Counter)

    @property
    def key_id_bytes(self) -> bytes:
        return struct.pack("<Q", self.key_id)


class ServerHandle(Protocol):
    """The slice of ``SandboxServer`` that handlers use (the server itself is the only implementation)."""

    @property
    def world(self) -> World: ...
    @property
    def host(self) -> str: ...
    @property
    def port(self) -> int: ...
    @property
    def dc_id(self) -> int: ...
    @property
    def auth_keys(self) -> dict[int, AuthRecord]: ...
    @property
    def login_tokens(self) -> dict[bytes, Any]: ...

    def count_rpc(self, auth: AuthRecord, request: Any) -> None: ...
    def authorizations_of(self, user_id: int) -> list[AuthRecord]: ...
    def push(self, user_id: int, updates: TLObject, *, exclude: AuthRecord | None = None) -> int: ...
    def push_to_auth(self, auth: AuthRecord, updates: TLObject) -> int: ...
    def deliver_login_code(self, user_id: int, code: str) -> bool: ...
    def close_session(self, auth: AuthRecord, session_id: int) -> None: ...
