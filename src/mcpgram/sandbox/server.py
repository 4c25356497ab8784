"""The sandbox server: listens on 127.0.0.1, owns the world, the auth keys and the live connections.

This is also the Python API tests use to play the parts Telegram's other clients would play: read a
login code, accept a QR login token, inject faults, drop connections, revoke authorizations.

Example::

    async with SandboxServer(world) as server:
        telethon.crypto.rsa.add_key(server.public_key_pem, old=False)
        client = TelegramClient(MemorySession(), api_id, api_hash)
        client.session.set_dc(server.dc_id, server.host, server.port)
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
from collections import Counter
from types import TracebackType
from typing import Any

from telethon.tl import TLObject, types

from .crypto import SandboxKey
from .faults import Faults
from .handle import AuthRecord
from .handshake import NewAuthKey
from .messaging import Changes, post, push_changes
from .mtproto import Connection
from .mtproxy import ProxyEndpoint, ProxySecret
from .router import Router, method_name
from .rpc import build_router
from .rpc.qr import accept_token
from .world import SERVICE_USER_ID, Content, World, user_peer

log = logging.getLogger("mcpgram.sandbox")

DEFAULT_DC_ID = 2
_TEST_PHONE = re.compile(r"^99966\d{5}$")
_LOGIN_CODE_TEXT = (
    "Login code: {code}. Do not give this code to anyone, even if they say they are from Telegram!\n\n"
    "This code can be used to log in to your Telegram account. We never ask it for anything else.\n\n"
    "If you didn't request this code by trying to log in on another device, simply ignore this message."
)
_SHARED_KEY: SandboxKey | None = None


def shared_key() -> SandboxKey:
    """One RSA key per process: generating a 2048-bit key costs ~100 ms, and tests start many servers."""
    global _SHARED_KEY  # noqa: PLW0603 - a process-wide cache of an immutable value
    if _SHARED_KEY is None:
        _SHARED_KEY = SandboxKey.generate()
    return _SHARED_KEY


class SandboxServer:
    """An MTProto server on 127.0.0.1 speaking the TL layer of the installed Telethon."""

    def __init__(
        self,
        world: World | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        key: SandboxKey | None = None,
        dc_id: int = DEFAULT_DC_ID,
        router: Router | None = None,
        proxy_secret: ProxySecret | None = None,
        proxy_port: int = 0,
    ) -> None:
        self.world = world if world is not None else World()
        self.host = host
        self.port = port
        self.key = key or shared_key()
        self.dc_id = dc_id
        self.routes = (router or build_router()).routes
        self.faults = Faults()
        self.auth_keys: dict[int, AuthRecord] = {}
        self.connections: set[Connection] = set()
        self.login_tokens: dict[bytes, Any] = {}
        #: RPCs the method handlers received, by TL method name (``messages.getHistory``), all keys
        #: together; per key in ``AuthRecord.rpc_counts``. MTProto service messages (pings, acks,
        #: salts) are not RPCs and the ``invokeWith*``/``initConnection`` wrappers are unwrapped, so
        #: this is what a client's calls cost Telegram. Calls answered by an injected fault or for
        #: an unknown method never reach a handler and are not counted. Tests may clear it.
        self.rpc_counts: Counter[str] = Counter()
        #: Every RPC that arrived, by TL method name, whether a handler, a fault or the unknown-method
        #: answer took it: "never reached Telegram" for methods the sandbox does not implement.
        self.rpc_received: Counter[str] = Counter()
        #: With a secret, a second port (``proxy_port``) acts as an MTProto proxy in front of this
        #: server (``mtproxy.py``): plain, ``dd`` or fake-TLS ``ee``, as the secret says.
        self.proxy = ProxyEndpoint(proxy_secret, {dc_id}) if proxy_secret is not None else None
        self.proxy_port = proxy_port
        self._server: asyncio.Server | None = None
        self._proxy_server: asyncio.Server | None = None
        self._handlers: set[asyncio.Task[None]] = set()

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> SandboxServer:
        """Listen; after a :meth:`stop`, listen again on the same port with all state kept."""
        self._server = await asyncio.start_server(self._on_client, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        log.info("sandbox.listening", extra={"host": self.host, "port": self.port})
        if self.proxy is not None:
            self._proxy_server = await asyncio.start_server(self._on_proxy_client, self.host, self.proxy_port)
            self.proxy_port = self._proxy_server.sockets[0].getsockname()[1]
            log.info("sandbox.proxy_listening", extra={"host": self.host, "port": self.proxy_port})
        return self

    async def stop(self) -> None:
        """Stop listening and drop every connection (state stays, as after a Telegram restart)."""
        if self._server is not None:
            self._server.close()
            self.drop_connections()
            await self._server.wait_closed()
            self._server = None
        if self._proxy_server is not None:
            self._proxy_server.close()
            await self._proxy_server.wait_closed()
            self._proxy_server = None
        for task in list(self._handlers):
            task.cancel()
        if self._handlers:
            await asyncio.gather(*self._handlers, return_exceptions=True)

    async def __aenter__(self) -> SandboxServer:
        return await self.start()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    @property
    def public_key_pem(self) -> str:
        return self.key.public_pem

    async def _on_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        try:
            await Connection(self, reader, writer).serve()
        except asyncio.CancelledError:
            # stop() cancels live handlers. Ending normally keeps Python 3.11's start_server callback,
            # which asks a finished handler task for its exception, from printing a traceback each.
            return
        finally:
            self._handlers.discard(task)

    async def _on_proxy_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None and self.proxy is not None
        self._handlers.add(task)
        accept = self.proxy.accept
        try:
            await Connection(self, reader, writer, detect=lambda source: accept(source, writer)).serve()
        except asyncio.CancelledError:
            # stop() cancels live handlers. Ending normally keeps Python 3.11's start_server callback,
            # which asks a finished handler task for its exception, from printing a traceback each.
            return
        finally:
            self._handlers.discard(task)

    # -- connections and auth keys -------------------------------------------------------------

    def register_auth_key(self, new_key: NewAuthKey) -> AuthRecord:
        salt = int.from_bytes(os.urandom(8), "little", signed=True)
        record = AuthRecord(
            key=new_key.key, key_id=new_key.key_id, salts=[salt, new_key.first_salt], created=self.world.now()
        )
        self.auth_keys[new_key.key_id] = record
        return record

    def attach(self, connection: Connection) -> None:
        self.connections.add(connection)

    def forget_connection(self, connection: Connection) -> None:
        self.connections.discard(connection)

    def note_init_connection(self, auth: AuthRecord, request: Any) -> None:
        auth.api_id = request.api_id
        auth.device_model = request.device_model
        auth.app_version = request.app_version
        auth.system_version = request.system_version

    def count_rpc(self, auth: AuthRecord, request: Any) -> None:
        name = method_name(request)
        self.rpc_counts[name] += 1
        auth.rpc_counts[name] += 1
        auth.active = self.world.now()

    def future_salts(self, auth: AuthRecord | None, num: int) -> TLObject:
        now = self.world.now()
        salt = auth.salts[0] if auth else 0
        salts = [types.FutureSalt(now - 60, now + 3600 * 24, salt)]
        return types.FutureSalts(req_msg_id=0, now=now, salts=salts[: max(1, num)])

    def authorizations_of(self, user_id: int) -> list[AuthRecord]:
        return [a for a in self.auth_keys.values() if a.user_id == user_id and not a.revoked]

    # -- pushing updates -----------------------------------------------------------------------

    def push(self, user_id: int, updates: TLObject, *, exclude: AuthRecord | None = None) -> int:
        """Send ``updates`` to every live session of ``user_id`` except ``exclude``; returns how many."""
        sent = 0
        for connection in list(self.connections):
            auth = connection.auth
            if auth is None or auth is exclude or auth.user_id != user_id or auth.revoked:
                continue
            connection.push(updates)
            sent += 1
        return sent

    def push_to_auth(self, auth: AuthRecord, updates: TLObject) -> int:
        """Send ``updates`` to the live sessions of one key, signed in or not (QR login waits unsigned)."""
        sent = 0
        for connection in list(self.connections):
            if connection.auth is auth:
                connection.push(updates)
                sent += 1
        return sent

    def close_session(self, auth: AuthRecord, session_id: int) -> None:
        """Close the connections serving MTProto session ``session_id`` of ``auth``."""
        for connection in list(self.connections):
            session = connection.session
            if connection.auth is auth and session is not None and session.session_id == session_id:
                connection.close()

    # -- the test API --------------------------------------------------------------------------

    def login_code(self, phone: str) -> str | None:
        """The code of the newest pending login for ``phone``, as the user's phone would show it."""
        digits = "".join(ch for ch in phone if ch.isdigit())
        pending = [c for c in self.world.codes.values() if c.phone == digits]
        return pending[-1].code if pending else None

    def deliver_login_code(self, user_id: int, code: str) -> bool:
        """Telegram sends a login code to the account's other sessions; True if any is logged in."""
        if not self.authorizations_of(user_id):
            return False
        hook = getattr(self, "on_login_code", None)
        if hook is not None:
            hook(user_id, code)
        phone = self.world.users[user_id].phone or ""
        # Test-DC numbers never get the message on Telegram either; it would also clutter every test.
        if not _TEST_PHONE.match(phone):
            self._post_login_code(user_id, code)
        return True

    def _post_login_code(self, user_id: int, code: str) -> None:
        text = _LOGIN_CODE_TEXT.format(code=code)
        bold = types.MessageEntityBold(offset=len("Login code: "), length=len(code))
        changes = Changes()
        content = Content(text=text, entities=[bold])
        post(self.world, changes, sender_id=SERVICE_USER_ID, peer=user_peer(user_id), content=content)
        push_changes(self, changes)

    def accept_login_token(self, token: bytes, user_id: int) -> TLObject:
        """Play the phone that scans a QR code: ``user_id`` accepts ``token`` (see ``rpc/qr.py``).

        Returns the ``authorization`` describing the new session; raises :class:`RpcError` for an
        unknown, expired or already accepted token, as ``auth.acceptLoginToken`` would answer.
        """
        return accept_token(self, token, user_id)

    def drop_connections(self, user_id: int | None = None) -> int:
        """Close live TCP connections (of one user, or all); clients see a disconnect and reconnect."""
        dropped = 0
        for connection in list(self.connections):
            if user_id is None or (connection.auth is not None and connection.auth.user_id == user_id):
                connection.close()
                dropped += 1
        return dropped

    def revoke(self, user_id: int, *, reason: str = "SESSION_REVOKED") -> int:
        """Terminate every authorization of ``user_id``; their next call fails with ``401 <reason>``.

        ``SESSION_REVOKED`` is what a client sees after "terminate session" on another device;
        ``AUTH_KEY_UNREGISTERED`` is what it sees when the key is simply no longer logged in.
        """
        count = 0
        for auth in self.auth_keys.values():
            if auth.user_id == user_id and not auth.revoked:
                auth.revoked = reason
                count += 1
        return count
