"""One client TCP connection: transport framing, plain and encrypted MTProto messages, service messages.

Implements the server half of https://core.telegram.org/mtproto/description and
https://core.telegram.org/mtproto/service_messages: key exchange on plain messages, then MTProto 2.0
encrypted messages with msg_id / seq_no / salt checks, ``new_session_created``, containers,
``gzip_packed``, acks, pings, ``rpc_result`` / ``rpc_error`` and the ``invokeWith*`` wrappers.
RPC calls go to the server's router; pushed updates come back through :meth:`Connection.push`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import struct
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from telethon.errors import TypeNotFoundError
from telethon.extensions import BinaryReader
from telethon.tl import TLObject, functions, types
from telethon.tl.core import GzipPacked, MessageContainer

from .crypto import decrypt_from_client, encrypt_from_server
from .handshake import Handshake, HandshakeError
from .router import Ctx, RpcError, call_route, method_name
from .session import MsgIds, Session
from .transport import ByteSource, Codec, TransportError, detect_codec

if TYPE_CHECKING:
    from .handle import AuthRecord
    from .server import SandboxServer

log = logging.getLogger("mcpgram.sandbox.mtproto")

_RPC_RESULT = 0xF35C6D01
_CONTAINER = struct.pack("<I", MessageContainer.CONSTRUCTOR_ID)
_BOOL_TRUE = struct.pack("<I", 0x997275B5)
_BOOL_FALSE = struct.pack("<I", 0xBC799737)
_VECTOR = 0x1CB5C415
_GZIP_ABOVE = 16 * 1024
#: Seconds a client msg_id may lag the server's clock: Telegram allows 300, but a client ignores
#: every server message more than 30 s ahead of its own clock (MTProto's rule; Telethon's too), so a
#: client whose clock lags more (e.g. its event loop stalled during the key exchange, which set its
#: clock offset) could never read an answer. "Too low" (16) makes it take the server's time and resend.
_MSG_TOO_OLD = 30
_MSG_TOO_NEW = 30
_WRITE_HIGH_WATER = 1 << 20
_SESSIONS_PER_KEY = 32
_WRAPPERS = (
    functions.InvokeWithLayerRequest,
    functions.InitConnectionRequest,
    functions.InvokeWithoutUpdatesRequest,
    functions.InvokeAfterMsgRequest,
    functions.InvokeAfterMsgsRequest,
)


def serialize_result(result: Any) -> bytes:
    """TL-serialise what a handler returned: an object, a bool, or a vector of objects or ints."""
    if result is True:
        return _BOOL_TRUE
    if result is False:
        return _BOOL_FALSE
    if isinstance(result, list):
        head = struct.pack("<Ii", _VECTOR, len(result))
        if result and isinstance(result[0], int):
            return head + struct.pack(f"<{len(result)}i", *result)
        return head + b"".join(bytes(item) for item in result)
    if isinstance(result, bytes):
        return result
    return bytes(result)


class Connection:
    """Serves one TCP connection until the client leaves or breaks the protocol."""

    def __init__(
        self,
        server: SandboxServer,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        *,
        detect: Callable[[ByteSource], Awaitable[Codec]] = detect_codec,
    ) -> None:
        self.server = server
        #: Picks the transport from the first bytes (an MTProto proxy endpoint also runs its handshake).
        self._detect = detect
        self.reader = reader
        self.writer = writer
        self.codec: Codec | None = None
        self.handshake = Handshake(server.key)
        self.auth: AuthRecord | None = None
        self.session: Session | None = None
        self.tasks: set[asyncio.Task[None]] = set()
        self.closed = False

    # -- lifecycle ---------------------------------------------------------------------------

    async def serve(self) -> None:
        try:
            self.codec = await self._detect(self.reader)
            while not self.closed:
                packet = await self.codec.read(self.reader)
                await self._on_packet(packet)
        except HandshakeError as exc:  # which step did not check out: shown with a failing test's log
            log.info("sandbox.handshake_refused", extra={"reason": str(exc)})
        except (asyncio.IncompleteReadError, ConnectionError, TransportError) as exc:
            log.debug("connection closed: %s", type(exc).__name__)
        except Exception:
            log.exception("sandbox connection failed; closing it")
        finally:
            self.close()

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        for task in self.tasks:
            task.cancel()
        with contextlib.suppress(Exception):
            self.writer.close()
        self.server.forget_connection(self)

    def _write(self, payload: bytes) -> None:
        if self.closed or self.codec is None:
            return
        self.writer.write(self.codec.encode(payload))

    async def _drain(self) -> None:
        transport = self.writer.transport
        if transport.get_write_buffer_size() > _WRITE_HIGH_WATER:
            await self.writer.drain()

    def send_transport_error(self, code: int) -> None:
        """Telegram's 4-byte negative error packets, e.g. -404 for an unknown auth key."""
        self._write(struct.pack("<i", -code))

    # -- packets -----------------------------------------------------------------------------

    async def _on_packet(self, packet: bytes) -> None:
        if len(packet) < 8:
            raise TransportError("packet too short")
        (key_id,) = struct.unpack_from("<Q", packet)
        if key_id == 0:
            self._on_plain(packet)
            return
        auth = self.server.auth_keys.get(key_id)
        if auth is None:
            self.send_transport_error(404)
            await self.writer.drain()
            raise TransportError("unknown auth key")
        plain = decrypt_from_client(auth.key, packet)
        if plain is None:
            self.send_transport_error(404)
            raise TransportError("message does not decrypt under its auth key")
        salt, session_id, msg_id, seq_no, length = struct.unpack_from("<qqqii", plain)
        body = plain[32 : 32 + length]
        self._bind(auth, session_id, msg_id)
        assert self.session is not None
        if not self._check_msg_id(msg_id, seq_no):
            return
        if salt not in auth.salts:
            self._send(types.BadServerSalt(msg_id, seq_no, 48, auth.salts[0]), content_related=False)
            return
        await self._on_message(msg_id, seq_no, body)
        await self._drain()

    def _on_plain(self, packet: bytes) -> None:
        if len(packet) < 20:
            raise HandshakeError("plain message shorter than its header")
        _msg_id, length = struct.unpack_from("<qi", packet, 8)
        if length <= 0 or 20 + length > len(packet):
            raise HandshakeError("plain message length out of range")
        try:
            request = BinaryReader(packet[20 : 20 + length]).tgread_object()
        except Exception as exc:  # an unknown constructor or a truncated body: not a handshake step
            raise HandshakeError(f"unparsable plain message: {type(exc).__name__}") from exc
        answer, new_key = self.handshake.handle(request)
        if new_key is not None:
            self.server.register_auth_key(new_key)
        body = bytes(answer)
        server_msg_id = MsgIds().next(answer=True)
        self._write(struct.pack("<qqi", 0, server_msg_id, len(body)) + body)

    def _bind(self, auth: AuthRecord, session_id: int, first_msg_id: int) -> None:
        if self.session is not None and self.session.session_id == session_id and self.auth is auth:
            return
        self.auth = auth
        self.server.attach(self)
        known = auth.sessions.get(session_id)
        if known is not None:
            # A session outlives its TCP connection: resuming it is not a new session.
            known.no_updates = False
            self.session = known
            return
        previous = next(reversed(auth.sessions.values()), None)
        self.session = auth.sessions[session_id] = Session(auth, session_id)
        # The layer a client announced belongs to its key; a new session (Telethon opens one per
        # reconnect) keeps speaking it without repeating invokeWithLayer.
        self.session.layer = previous.layer if previous is not None else 0
        while len(auth.sessions) > _SESSIONS_PER_KEY:
            del auth.sessions[next(iter(auth.sessions))]
        created = types.NewSessionCreated(
            first_msg_id, int.from_bytes(os.urandom(8), "little", signed=True), auth.salts[0]
        )
        self._send(created, content_related=True)

    def _check_msg_id(self, msg_id: int, seq_no: int) -> bool:
        assert self.session is not None
        error = 0
        now = time.time()
        if msg_id % 4:
            error = 18
        elif (msg_id >> 32) < now - _MSG_TOO_OLD:
            error = 16
        elif (msg_id >> 32) > now + _MSG_TOO_NEW:
            error = 17
        elif msg_id <= self.session.seen.floor:
            error = 16  # older than every id the session still remembers: resend it under a new one
        if error:
            self._send(types.BadMsgNotification(msg_id, seq_no, error), content_related=False)
            return False
        return self.session.remember(msg_id)

    # -- messages ----------------------------------------------------------------------------

    async def _on_message(self, msg_id: int, seq_no: int, body: bytes) -> None:
        if body[:4] == _CONTAINER:
            await self._on_container(msg_id, body)
            return
        try:
            obj = BinaryReader(body).tgread_object()
        except TypeNotFoundError as exc:
            (constructor,) = struct.unpack_from("<I", body) if len(body) >= 4 else (None,)
            if exc.invalid_constructor_id == constructor:
                error = RpcError(400, f"INPUT_METHOD_INVALID_{exc.invalid_constructor_id}")
            else:
                error = RpcError(400, "INPUT_CONSTRUCTOR_INVALID")
            self._send_result(msg_id, error)
            return
        except Exception:  # a body that does not parse is the client's error, reported as such
            self._send_result(msg_id, RpcError(400, "INPUT_FETCH_ERROR"))
            return
        await self._on_object(msg_id, seq_no, obj)

    async def _on_container(self, msg_id: int, body: bytes) -> None:
        """Split ``msg_container`` by hand, so one message that does not parse spoils only itself."""
        assert self.session is not None
        inner: list[tuple[int, int, bytes]] = []
        try:
            (count,) = struct.unpack_from("<i", body, 4)
            offset = 8
            for _ in range(count):
                inner_id, inner_seq, length = struct.unpack_from("<qii", body, offset)
                offset += 16
                if length < 0 or offset + length > len(body):
                    raise struct.error("inner message runs past its container")
                inner.append((inner_id, inner_seq, body[offset : offset + length]))
                offset += length
        except struct.error:
            # The framing itself is broken: nothing in it can be answered reliably.
            self._send(types.BadMsgNotification(msg_id, 0, 64), content_related=False)
            return
        for inner_id, inner_seq, inner_body in inner:
            if inner_body[:4] != _CONTAINER and self.session.remember(inner_id):
                await self._on_message(inner_id, inner_seq, inner_body)

    async def _on_object(self, msg_id: int, seq_no: int, obj: TLObject) -> None:
        if isinstance(obj, GzipPacked):
            await self._on_message(msg_id, seq_no, obj.data)
            return
        if isinstance(obj, types.MsgsAck):
            return
        if isinstance(obj, functions.PingRequest | functions.PingDelayDisconnectRequest):
            self._send(types.Pong(msg_id, obj.ping_id), content_related=False)
            return
        if isinstance(obj, types.MsgsStateReq):
            self._send(types.MsgsStateInfo(msg_id, bytes([1] * len(obj.msg_ids))), content_related=False)
            return
        if isinstance(obj, functions.GetFutureSaltsRequest):
            self._send_result(msg_id, self.server.future_salts(self.auth, obj.num))
            return
        if isinstance(obj, functions.DestroySessionRequest):
            self._send_result(msg_id, types.DestroySessionOk(obj.session_id))
            return
        if isinstance(obj, functions.RpcDropAnswerRequest):
            self._send_result(msg_id, types.RpcAnswerUnknown())
            return
        if getattr(obj, "SUBCLASS_OF_ID", None) is None or not _is_request(obj):
            return  # a stray type object the client sent; Telegram ignores it
        await self._on_request(msg_id, obj)

    async def _on_request(self, msg_id: int, request: TLObject) -> None:
        assert self.session is not None and self.auth is not None
        layer = self.session.layer
        while isinstance(request, _WRAPPERS):
            if isinstance(request, functions.InvokeWithLayerRequest):
                layer = self.session.layer = request.layer
            elif isinstance(request, functions.InitConnectionRequest):
                self.server.note_init_connection(self.auth, request)
            elif isinstance(request, functions.InvokeWithoutUpdatesRequest):
                self.session.no_updates = True
            request = request.query
        self.server.rpc_received[method_name(request)] += 1
        route = self.server.routes.get(request.CONSTRUCTOR_ID)
        ctx = Ctx(self.server, self.auth, self.session.session_id, msg_id, layer)
        delay = self.server.faults.delay_for(request, self.auth.user_id)
        if delay or (route is not None and route.is_async):
            task = asyncio.get_running_loop().create_task(self._answer(ctx, route, request, delay))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)
        else:
            await self._answer(ctx, route, request, 0.0)

    async def _answer(self, ctx: Ctx, route: Any, request: TLObject, delay: float) -> None:
        if delay:
            await asyncio.sleep(delay)
        try:
            self.server.faults.check(ctx, request)
            if route is None:
                raise RpcError(400, "INPUT_METHOD_INVALID")
            result: Any = await call_route(route, ctx, request)
        except RpcError as exc:
            result = exc
        except Exception:
            log.exception("sandbox handler for %s failed", type(request).__name__)
            result = RpcError(500, "INTERNAL_SERVER_ERROR")
        self._send_result(ctx.msg_id, result)

    # -- output ------------------------------------------------------------------------------

    def _send_result(self, req_msg_id: int, result: Any) -> None:
        if isinstance(result, RpcError):
            body = bytes(types.RpcError(result.code, result.message))
        else:
            body = serialize_result(result)
            if len(body) > _GZIP_ABOVE and not isinstance(result, types.upload.File):
                body = bytes(GzipPacked(body))
        self._send_raw(struct.pack("<Iq", _RPC_RESULT, req_msg_id) + body, content_related=True, answer=True)

    def _send(self, obj: TLObject, *, content_related: bool) -> None:
        self._send_raw(bytes(obj), content_related=content_related, answer=True)

    def push(self, update: TLObject) -> None:
        """Send a server-initiated message (an update) on this connection."""
        if self.session is None or self.session.no_updates:
            return
        self._send_raw(bytes(update), content_related=True, answer=False)

    def _send_raw(self, body: bytes, *, content_related: bool, answer: bool) -> None:
        session, auth = self.session, self.auth
        if session is None or auth is None or self.closed:
            return
        msg_id = session.msg_ids.next(answer=answer)
        seq = session.next_seq(content_related)
        plain = struct.pack("<qqqii", auth.salts[0], session.session_id, msg_id, seq, len(body)) + body
        self._write(encrypt_from_server(auth.key, auth.key_id_bytes, plain))


def _is_request(obj: TLObject) -> bool:
    return hasattr(obj, "read_result")
