"""``GET``/``HEAD /v1/attachments/<capability>``: one media file, streamed from Telegram to the client.

No bearer token: the capability (``signing.py``) is the credential. Before Telegram is touched, in
this order, a request is refused if the capability does not open under the server's attachment
keys (404), has expired (410), was minted under a token that has since been rotated or revoked, or
for a tenant that no longer exists (404), or the tenant's policy now denies ``read``/``download``
(403). Then, with the tenant's own client from the pool (the data key in the capability opens its
sealed session), the chat is checked against the read scope, a link not minted by a download a
person approved is refused (403 ``APPROVAL_REQUIRED``) while the policy sets ``read`` or
``download`` to ``approve`` (so a link made before the operator asked for approvals stops working;
an approved one serves its one file until it expires, ranges and retries included), the media is looked up
(``telegram/media.media_info``: it must still be the media the link names) and its bytes are
streamed in Telegram-sized pieces (``telegram/media.media_chunks``), each piece its own pool call with
its own timeout, so memory stays constant and a long download is not cut by the call timeout.

The answer: ``Content-Length``; one ``Range`` -> 206 with ``Content-Range``; unsatisfiable -> 416
with ``Content-Range: bytes */N``; several ranges -> 200, whole (``web/byteranges.py``);
``Content-Disposition: attachment`` with a safe name; ``Cache-Control: no-store``, ``nosniff``,
``no-referrer`` (the security headers middleware adds them to every response too). Files over
``attachment_max_bytes`` are refused (403). Refusals are the edge's JSON (``{"error", "message"}``)
and say nothing about which check failed beyond what the holder of a genuine link may know.

Must not: log the capability (the access log shows ``/v1/attachments/[redacted]``), buffer a file.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

from starlette.types import Receive, Scope, Send

from .. import telegram
from ..errors import (
    FloodWait,
    InvalidArgument,
    LoginRequired,
    MCPGramError,
    MediaNotFound,
    MessageNotFound,
    NotAuthenticated,
    PolicyRefused,
    TelegramError,
    TicketExpired,
    TicketInvalid,
    VaultError,
)
from ..log import bind_tenant, tenant_label
from ..policy import guard
from ..policy.model import Policy, Verb
from ..signing import Capability, Keyring, open_capability
from ..vault.vault import TenantKeys, Vault
from .byteranges import UNSATISFIABLE, ByteRange, content_disposition, media_type, parse_range
from .security import ACCESS_RECORD_KEY, ATTACHMENTS_PREFIX, AccessRecord

if TYPE_CHECKING:
    from ..tools.context import ClientLender

__all__ = ["ATTACHMENTS_PREFIX", "AttachmentEndpoint", "Refused"]

log = logging.getLogger(__name__)

#: Verbs a download needs in the tenant's policy (and the chat must be in its read scope).
VERBS: tuple[Verb, ...] = ("read", "download")


class Refused(Exception):
    """An answer other than the file."""

    def __init__(self, status: int, code: str, message: str, retry_after: int | None = None) -> None:
        super().__init__(code)
        self.status, self.code, self.message, self.retry_after = status, code, message, retry_after


def _not_found() -> Refused:
    return Refused(404, "ATTACHMENT_NOT_FOUND", "This download link is not valid.")


def _needs_approval() -> Refused:
    return Refused(
        403,
        "APPROVAL_REQUIRED",
        "Downloads from this account need a person's approval: ask for the file again with"
        " download_media, which asks them.",
    )


def _refusal(exc: MCPGramError) -> Refused:
    """Our errors as answers; nothing internal in the message."""
    if isinstance(exc, TicketExpired):
        return Refused(410, "ATTACHMENT_EXPIRED", "This download link has expired; ask for a new one.")
    if isinstance(exc, TicketInvalid | NotAuthenticated | VaultError | MessageNotFound | MediaNotFound):
        return _not_found()
    if isinstance(exc, InvalidArgument):  # a size choice the media lacks (SIZE_UNAVAILABLE)
        return Refused(404, exc.code, "This file is not available in that size.")
    if isinstance(exc, PolicyRefused):
        return Refused(403, "NOT_ALLOWED", "The account's policy does not allow this download.")
    if isinstance(exc, LoginRequired):
        return Refused(403, "LOGIN_REQUIRED", "The account must log in to Telegram again.")
    if isinstance(exc, FloodWait):
        return Refused(429, "FLOOD_WAIT", "Telegram asks to wait; retry later.", max(1, exc.retry_after))
    if isinstance(exc, TelegramError):
        return Refused(502, "TELEGRAM_ERROR", "Telegram did not serve the file; retry later.")
    return Refused(500, "INTERNAL", "Internal server error.")


class AttachmentEndpoint:
    """The ASGI app mounted at ``/v1/attachments`` (see the module doc).

    Args:
        keyring: The server's attachment keys.
        vault: For the token generation and status of the capability's tenant.
        pool: The tenants' Telegram clients.
        policy_of: The tenant's effective policy by id (read at every download).
        max_bytes: Files larger than this are refused.
        clock: Unix time in seconds (tests pass a fake one).
    """

    def __init__(
        self,
        *,
        keyring: Keyring,
        vault: Vault,
        pool: ClientLender,
        policy_of: Callable[[str], Policy],
        max_bytes: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.keyring = keyring
        self.vault = vault
        self.pool = pool
        self.policy_of = policy_of
        self.max_bytes = max_bytes
        self.clock = clock

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        method = scope["method"]
        if method not in ("GET", "HEAD"):
            await _refuse(send, Refused(405, "METHOD_NOT_ALLOWED", "Use GET or HEAD."), allow=True)
            return
        # A Mount strips the prefix: the rest is "/<capability>" (anything more is not one).
        text = str(scope.get("path", "")).removeprefix(ATTACHMENTS_PREFIX).removeprefix("/")
        try:
            cap = await self._admit(text)
        except Refused as refused:
            await _refuse(send, refused)
            return
        except MCPGramError as exc:
            await _refuse(send, _refusal(exc))
            return
        record = scope.get(ACCESS_RECORD_KEY)
        if isinstance(record, AccessRecord):
            record.tenant = tenant_label(cap.tenant_id)
        with bind_tenant(cap.tenant_id):
            await self._serve(cap, scope, receive, send, head=method == "HEAD")

    async def _admit(self, text: str) -> Capability:
        """The capability, if every check that needs no Telegram passes."""
        cap = open_capability(self.keyring, text, now=self.clock())
        # One read on the store's locked connection: off the event loop (it may wait for a seal).
        record = await asyncio.to_thread(self.vault.get_tenant, cap.tenant_id)
        if record is None or record.status == "revoked" or record.key_version != cap.key_version:
            raise _not_found()
        policy = self.policy_of(cap.tenant_id)
        guard.check_verbs(policy, guard.Action(VERBS, read=(cap.chat,)))
        if not cap.approved and any(policy.rule(verb) == "approve" for verb in VERBS):
            raise _needs_approval()  # before Telegram (``_serve`` checks what enforce says too)
        return cap

    async def _serve(
        self, cap: Capability, scope: Scope, receive: Receive, send: Send, *, head: bool
    ) -> None:
        keys = TenantKeys(cap.tenant_id, cap.data_key)
        ref = (cap.chat, cap.message, cap.media)
        policy = self.policy_of(cap.tenant_id)
        action = guard.Action(VERBS, read=(cap.chat,))
        started = False
        try:
            async with self.pool.client(keys) as tenant_client:

                async def checked_info(client: Any) -> Any:
                    if await guard.enforce(client, policy, action) and not cap.approved:
                        return None  # asks a person: only a link of an approved download goes on
                    return await telegram.media.media_info(client, ref, cap.size)  # type: ignore[arg-type]

                info = await tenant_client.run(checked_info)
                if info is None:
                    raise _needs_approval()
                size = int(info.size)
                if size > self.max_bytes:
                    raise Refused(403, "ATTACHMENT_TOO_LARGE", "This file is larger than the server serves.")
                headers = _file_headers(info)
                wanted = parse_range(_header(scope, b"range"), size, if_range=_header(scope, b"if-range"))
                if wanted is UNSATISFIABLE:
                    extra = [(b"content-range", b"bytes */%d" % size)]
                    await _refuse(
                        send,
                        Refused(416, "RANGE_NOT_SATISFIABLE", "The range is outside the file."),
                        extra=extra,
                    )
                    return
                part = wanted if isinstance(wanted, ByteRange) else None
                offset, length = (part.start, part.length) if part else (0, size)
                headers.append((b"content-length", b"%d" % length))
                if part is not None:
                    headers.append((b"content-range", part.content_range().encode()))
                await send(
                    {"type": "http.response.start", "status": 206 if part else 200, "headers": headers}
                )
                started = True
                if not head and length:
                    async with (
                        _watch_disconnect(receive) as gone,
                        contextlib.aclosing(_pieces(tenant_client, ref, cap.size, offset, length)) as pieces,
                    ):
                        async for chunk in pieces:
                            if gone.is_set():  # the client left: stop reading Telegram for nobody
                                return
                            await send({"type": "http.response.body", "body": chunk, "more_body": True})
                await send({"type": "http.response.body", "body": b""})
        except Refused as refused:
            if not started:
                await _refuse(send, refused)
        except MCPGramError as exc:
            if not started:
                await _refuse(send, _refusal(exc))
            else:  # the head is out: the body stops short of Content-Length, which the client sees
                log.info("attachment.cut_short", extra={"error": exc.code})


@contextlib.asynccontextmanager
async def _watch_disconnect(receive: Receive) -> AsyncIterator[asyncio.Event]:
    """An event set once the client disconnects (a GET has no body left to read)."""
    gone = asyncio.Event()

    async def watch() -> None:
        while (await receive())["type"] != "http.disconnect":
            pass
        gone.set()

    watcher = asyncio.ensure_future(watch())
    try:
        yield gone
    finally:
        watcher.cancel()
        await asyncio.gather(watcher, return_exceptions=True)


async def _pieces(
    tenant_client: Any, ref: tuple[int, int, int], size: str, offset: int, length: int
) -> AsyncGenerator[bytes, None]:
    """``length`` bytes from ``offset``, each Telegram piece fetched in its own pool call."""
    chunks: AsyncIterator[bytes] | None = None

    async def start(client: Any) -> None:
        nonlocal chunks
        chunks = telegram.media.media_chunks(client, ref, size, offset, length).__aiter__()  # type: ignore[arg-type]

    await tenant_client.run(start)
    assert chunks is not None
    source = chunks
    sent = 0

    async def step(_: Any) -> bytes | None:
        return await anext(source, None)

    try:
        while sent < length:
            chunk = await tenant_client.run(step)
            if chunk is None:
                break
            chunk = chunk[: length - sent]
            sent += len(chunk)
            yield chunk
    finally:
        closer = getattr(source, "aclose", None)
        if closer is not None:
            await closer()
    if sent != length:  # Telegram served less than it said the file holds: do not pretend otherwise
        raise TelegramError("the file ended early")


def _header(scope: Scope, name: bytes) -> str | None:
    values = [value for key, value in scope["headers"] if key == name]
    return values[0].decode("latin-1") if len(values) == 1 else None


def _file_headers(info: Any) -> list[tuple[bytes, bytes]]:
    return [
        (b"content-type", media_type(getattr(info, "mime", None)).encode()),
        (b"content-disposition", content_disposition(getattr(info, "name", None)).encode()),
        (b"accept-ranges", b"bytes"),
        (b"cache-control", b"no-store"),
        (b"x-content-type-options", b"nosniff"),
        (b"referrer-policy", b"no-referrer"),
    ]


async def _refuse(
    send: Send, refused: Refused, *, allow: bool = False, extra: list[tuple[bytes, bytes]] | None = None
) -> None:
    # The edge's JSON refusal; its security headers come from the middleware, as on every answer.
    body = json.dumps({"error": refused.code, "message": refused.message}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    if refused.retry_after is not None:
        headers.append((b"retry-after", b"%d" % refused.retry_after))
    if allow:
        headers.append((b"allow", b"GET, HEAD"))
    headers += extra or []
    await send({"type": "http.response.start", "status": refused.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
