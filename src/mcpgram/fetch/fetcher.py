"""Downloading a URL to a temporary file: the network half of safe fetching (:mod:`.policy` decides).

What FastMCP's ``fastmcp.server.auth.ssrf`` gives and we reuse: ``resolve_hostname`` (one
``getaddrinfo``, the only lookup), and its way of pinning a connection (an IP-literal URL with the
``Host`` header and the ``sni_hostname`` extension set to the checked name, so TLS verifies the
name while TCP goes to the checked address). What it lacks and this module adds: redirects checked
hop by hop (at most ``max_redirects``), streaming to a file under a byte cap that holds whether
``Content-Length`` is present, absent or lying, a total deadline, refusals that never name the
resolved address, no proxies from the environment (``trust_env=False``), and the seams tests need:
an injectable resolver, address policy and TLS context.

Each hop resolves its host **once**, refuses the hop if any answer is not public, and connects only
to those checked answers: a second lookup (DNS rebinding) cannot happen. The body is asked for
uncompressed (``Accept-Encoding: identity``) and anything else is refused, so the cap counts the
bytes that land on disk and a small compressed body cannot inflate past it in memory.

Logs carry at most ``scheme://host[:port]``: paths and queries may hold tokens. Must not: read a
body whole, follow a redirect without :func:`.policy.check_url`, or dial an unchecked address.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import os
import ssl
import tempfile
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin

import httpx2
from fastmcp.server.auth.ssrf import SSRFError, resolve_hostname

from .. import __version__
from ..errors import BlockedURL, FetchFailed, InvalidArgument, TooLarge
from .policy import ANY_HOST, HostRules, IPAddress, ParsedTarget, check_url, is_public_address
from .streaming import Streaming

__all__ = ["AddressPolicy", "FetchLimits", "Fetched", "Fetcher", "Resolver", "public_only", "resolve_host"]

log = logging.getLogger(__name__)

Resolver = Callable[[str, int], Awaitable[Sequence[str]]]
"""``(host, port) -> addresses``: every A/AAAA answer for ``host``; raises ``OSError`` when none."""
AddressPolicy = Callable[[str, IPAddress], bool]
"""``(host, address) -> may connect``. The default, :func:`public_only`, ignores the host."""

#: Same as the largest local file sent (``telegram/local_files.py``).
DEFAULT_MAX_BYTES = 50 * 1024 * 1024
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_HINT_PUBLIC = "use a link to a file on the public internet"
_USER_AGENT = f"mcpgram/{__version__}"


@dataclass(frozen=True)
class FetchLimits:
    """How much one fetch may take, like httpx's ``Timeout`` and ``Limits``.

    Attributes:
        max_bytes: largest body saved; one byte more aborts the download.
        connect_timeout: seconds to open a connection (TCP and TLS) to one address.
        read_timeout: seconds the server may stay silent while headers or body are expected.
        total_timeout: seconds for the whole fetch: lookups, every redirect hop and the body (a slow
            trickle that never trips ``read_timeout`` still ends here).
        max_redirects: redirects followed, each checked like the first URL.
        max_files_per_call: URLs one :meth:`Fetcher.fetch_all` call takes.
    """

    max_bytes: int = DEFAULT_MAX_BYTES
    connect_timeout: float = 10.0
    read_timeout: float = 30.0
    total_timeout: float = 120.0
    max_redirects: int = 3
    max_files_per_call: int = 10

    def __post_init__(self) -> None:
        if min(self.max_bytes, self.connect_timeout, self.read_timeout, self.total_timeout) <= 0:
            raise ValueError("fetch limits must be positive")
        if self.max_redirects < 0 or self.max_files_per_call < 1:
            raise ValueError("max_redirects must be >= 0 and max_files_per_call >= 1")


@dataclass(frozen=True)
class Fetched:
    """A downloaded body in a temporary file (mode 0600) that the caller owns and must :meth:`remove`.

    Attributes:
        path: the temporary file.
        size: its size in bytes (at most ``max_bytes``).
        content_type: the media type the server declared (``image/png``), lower-case, or ``None``.
        final_url: the URL the body came from, after redirects (may hold a query: do not log it).
    """

    path: Path
    size: int
    content_type: str | None
    final_url: str

    def remove(self) -> None:
        _discard(self.path)


async def resolve_host(host: str, port: int) -> Sequence[str]:
    """The default :data:`Resolver`: FastMCP's ``resolve_hostname`` (``getaddrinfo``, A and AAAA)."""
    try:
        return await resolve_hostname(host, port)
    except SSRFError as exc:
        raise OSError("lookup failed") from exc


def public_only(host: str, address: IPAddress) -> bool:
    """The default :data:`AddressPolicy`: :func:`.policy.is_public_address`, whatever the host."""
    return is_public_address(address)


class Fetcher:
    """Downloads URLs that pass :func:`.policy.check_url` to temporary files, within :class:`FetchLimits`.

    Args:
        limits: sizes, timeouts, redirects and files per call.
        allow_http: also fetch plain ``http`` URLs (and follow redirects to them).
        hosts: the operator's allowlist and denylist.
        directory: where temporary files go (the system's temporary directory by default).
        resolver: the one lookup per hop (tests inject answers).
        address_ok: which resolved addresses may be dialed (tests admit one test host's loopback).
        ssl_context: TLS settings for ``https`` (tests trust their own CA); system CAs by default.

    Example::

        fetched = await Fetcher(FetchLimits(max_bytes=10_000_000)).fetch("https://example.com/a.png")
        try:
            ...  # send fetched.path
        finally:
            fetched.remove()
    """

    def __init__(
        self,
        limits: FetchLimits = FetchLimits(),
        *,
        allow_http: bool = False,
        hosts: HostRules = ANY_HOST,
        directory: Path | None = None,
        resolver: Resolver = resolve_host,
        address_ok: AddressPolicy = public_only,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.limits = limits
        self.allow_http = allow_http
        self.hosts = hosts
        self.directory = directory
        self._resolver = resolver
        self._address_ok = address_ok
        self._verify: ssl.SSLContext | bool = ssl_context if ssl_context is not None else True

    async def fetch_all(self, urls: Sequence[str]) -> list[Fetched]:
        """Fetch each URL in turn; on any failure remove the files already fetched and raise.

        Raises:
            InvalidArgument: ``TOO_MANY_FILES``, more URLs than ``max_files_per_call``.
            BlockedURL, FetchFailed, TooLarge: as :meth:`fetch`.
        """
        limit = self.limits.max_files_per_call
        if len(urls) > limit:
            message = f"at most {limit} URLs can be fetched per call"
            raise InvalidArgument(message, code="TOO_MANY_FILES", hint="split them over calls")
        fetched: list[Fetched] = []
        try:
            for url in urls:
                fetched.append(await self.fetch(url))
        except BaseException:
            for item in fetched:
                item.remove()
            raise
        return fetched

    async def stream(self, url: str) -> Streaming:
        """:meth:`fetch` as a task: returns once the headers are in, while the body still arrives
        (see :mod:`.streaming`). The caller must :meth:`Streaming.remove` it.

        Raises:
            BlockedURL, FetchFailed, TooLarge: as :meth:`fetch`, for what happens before the body.
        """
        streaming = Streaming()
        streaming.run(self.fetch(url, watch=streaming))
        try:
            await streaming.wait_started()
        except BaseException:
            streaming.remove()
            raise
        return streaming

    async def fetch(self, url: str, *, watch: Streaming | None = None) -> Fetched:
        """Download ``url`` to a temporary file (telling ``watch`` how it goes, if given).

        Raises:
            BlockedURL: the URL, a redirect, or an address a host resolves to is not allowed.
            FetchFailed: no answer, a timeout, a TLS or HTTP error, a non-200 status, too many redirects.
            TooLarge: the body is over ``max_bytes`` (nothing is left on disk).
        """
        target = check_url(url, allow_http=self.allow_http, hosts=self.hosts)
        try:
            async with asyncio.timeout(self.limits.total_timeout):
                fetched = await self._follow(target, watch)
        except (BlockedURL, FetchFailed, TooLarge) as exc:
            _log_refusal(target, exc)
            raise
        except TimeoutError as exc:
            seconds = self.limits.total_timeout
            error = FetchFailed(f"the download took longer than {seconds:g} s", hint="try a faster source")
            _log_refusal(target, error)
            raise error from exc
        except httpx2.HTTPError as exc:
            error = _failure(exc, self.limits)
            _log_refusal(target, error)
            raise error from exc
        log.info("fetch.done", extra={"origin": target.origin, "size": fetched.size})
        return fetched

    async def _follow(self, target: ParsedTarget, watch: Streaming | None) -> Fetched:
        for _hop in range(self.limits.max_redirects + 1):
            addresses = await self._addresses(target)
            async with AsyncExitStack() as stack:
                response = await self._connect(target, addresses, stack)
                if response.status_code not in _REDIRECTS:
                    if response.status_code != 200:
                        raise FetchFailed(
                            f"the server answered HTTP {response.status_code}", hint="check the URL"
                        )
                    return await self._save(target, response, watch)
                location = response.headers.get("location")
                if not location:
                    raise FetchFailed("the server redirected without saying where")
                try:
                    target = check_url(
                        urljoin(target.url, location), allow_http=self.allow_http, hosts=self.hosts
                    )
                except BlockedURL as exc:
                    raise BlockedURL(
                        f"the URL redirects where mcpgram may not go: {exc.message}", hint=exc.hint
                    ) from exc
        redirects = self.limits.max_redirects
        raise FetchFailed(f"the URL redirects more than {redirects} times", hint="give the final URL")

    async def _addresses(self, target: ParsedTarget) -> list[IPAddress]:
        """The checked addresses of ``target``: its one lookup, all answers public, or a refusal."""
        if target.address is not None:
            answers: Sequence[str] = [str(target.address)]
        else:
            try:
                answers = await self._resolver(target.host, target.port)
            except OSError:
                answers = []
        if not answers:
            raise FetchFailed("the URL's host name does not resolve", hint="check the URL")
        addresses: list[IPAddress] = []
        for answer in dict.fromkeys(answers):
            try:
                address = ipaddress.ip_address(answer)
            except ValueError:
                address = None
            # Any bad answer refuses the host: an attacker's name that mixes one public and one
            # internal address must not get a connection to either.
            if address is None or not self._address_ok(target.host, address):
                raise BlockedURL("the URL's host resolves to a non-public address", hint=_HINT_PUBLIC)
            addresses.append(address)
        return addresses

    async def _connect(
        self, target: ParsedTarget, addresses: Sequence[IPAddress], stack: AsyncExitStack
    ) -> httpx2.Response:
        """Send the GET to the first checked address that accepts a connection, pinned to it."""
        timeout = httpx2.Timeout(
            connect=self.limits.connect_timeout,
            read=self.limits.read_timeout,
            write=self.limits.read_timeout,
            pool=self.limits.connect_timeout,
        )
        headers = {"Host": target.authority, "Accept-Encoding": "identity", "User-Agent": _USER_AGENT}
        pinned_name = target.scheme == "https" and target.address is None
        extensions = {"sni_hostname": target.host} if pinned_name else {}
        last: httpx2.TransportError | None = None
        for address in addresses:
            host = f"[{address}]" if isinstance(address, ipaddress.IPv6Address) else str(address)
            # A fresh client per hop: no cookies or pooled connections carry over to another host.
            client = httpx2.AsyncClient(verify=self._verify, trust_env=False, timeout=timeout)
            await stack.enter_async_context(client)
            request = client.build_request(
                "GET",
                f"{target.scheme}://{host}:{target.port}{target.target}",
                headers=headers,
                extensions=extensions,
            )
            try:
                response = await client.send(request, stream=True)
            except (httpx2.ConnectError, httpx2.ConnectTimeout) as exc:
                last = exc
                continue
            stack.push_async_callback(response.aclose)
            return response
        assert last is not None  # addresses is never empty
        raise last

    async def _save(
        self, target: ParsedTarget, response: httpx2.Response, watch: Streaming | None
    ) -> Fetched:
        """Stream the body to a new temporary file, aborting as soon as it passes ``max_bytes``."""
        limit = self.limits.max_bytes
        message = f"the file at the URL is over the {limit / 1e6:.3g} MB limit"
        too_large = TooLarge(message, hint="link a smaller file")
        encoding = response.headers.get("content-encoding", "identity").strip().lower()
        if encoding not in ("", "identity"):
            raise FetchFailed("the server sent a compressed body, which mcpgram does not accept")
        declared = response.headers.get("content-length", "").strip()
        if declared.isdigit() and int(declared) > limit:
            raise too_large
        descriptor, name = tempfile.mkstemp(prefix="mcpgram-fetch-", dir=self.directory)
        path = Path(name)
        size = 0
        content_type = _media_type(response.headers.get("content-type"))
        try:
            if watch is not None:
                watch.started(path, int(declared) if declared.isdigit() else None, content_type, target.url)
            with os.fdopen(descriptor, "wb") as out:
                # h11 stops at a declared Content-Length, so a lying one cannot push more through;
                # without one (chunked or close-delimited) this count is the only limit.
                async for chunk in response.aiter_raw():
                    size += len(chunk)
                    if size > limit:
                        raise too_large
                    # A blocking write of one chunk (at most 64 KiB) to local disk: shorter than a
                    # thread hop would be.
                    out.write(chunk)
                    if watch is not None:
                        out.flush()  # readable by the uploader before it is told
                        watch.wrote(size)
        except BaseException:
            _discard(path)
            raise
        return Fetched(path, size, content_type, target.url)


def _discard(path: Path) -> None:
    # Removing one file on local disk: a plain call, not worth a thread.
    path.unlink(missing_ok=True)


def _log_refusal(target: ParsedTarget, error: BlockedURL | FetchFailed | TooLarge) -> None:
    log.info("fetch.refused", extra={"origin": target.origin, "error": error.code})


def _media_type(header: str | None) -> str | None:
    """``type/subtype`` from a Content-Type header, lower-case, or ``None`` if absent or odd."""
    value = (header or "").partition(";")[0].strip().lower()
    kind, slash, subtype = value.partition("/")
    token = set("abcdefghijklmnopqrstuvwxyz0123456789!#$&-^_.+")
    if not slash or not kind or not subtype or len(value) > 127 or not set(kind + subtype) <= token:
        return None
    return value


def _failure(exc: httpx2.HTTPError, limits: FetchLimits) -> FetchFailed:
    """httpx2's errors as ours, with no addresses, paths or library text in the message."""
    if isinstance(exc, httpx2.ConnectTimeout):
        return FetchFailed(f"the host did not accept a connection within {limits.connect_timeout:g} s")
    if isinstance(exc, httpx2.TimeoutException):
        return FetchFailed(f"the server sent nothing for {limits.read_timeout:g} s", hint="retry later")
    if isinstance(exc, httpx2.ConnectError):
        if _caused_by(exc, ssl.SSLCertVerificationError):
            return FetchFailed("the server's TLS certificate is not valid for its host name")
        if _caused_by(exc, ssl.SSLError):
            return FetchFailed("the TLS handshake with the server failed")
        return FetchFailed("could not connect to the host", hint="check the URL, or retry later")
    if isinstance(exc, httpx2.ProtocolError):
        return FetchFailed("the server's answer is not valid HTTP (or its headers are too large)")
    return FetchFailed("the connection to the server failed", hint="retry later")


def _caused_by(exc: BaseException, kind: type[BaseException]) -> bool:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, kind):
            return True
        seen = seen.__cause__ or seen.__context__
    return False
