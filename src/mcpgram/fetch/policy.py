"""Which URLs and addresses mcpgram may fetch: pure checks, no I/O (the fetcher does the network part).

:func:`check_url` parses a URL once into a :class:`ParsedTarget` (scheme, ASCII host, port, path),
refusing what must never be fetched: schemes other than ``https`` (and ``http`` when the operator
allows it), user names or passwords in the URL, control characters and backslashes (parsers disagree
on them), IP addresses written in non-standard forms (``2130706433``, ``0177.0.0.1``, ``0x7f.1``,
``127.1``), single-label and local-only names (``localhost``, ``*.local``, ``*.internal``...), IPv6
zone ids, hosts the operator's :class:`HostRules` deny, and IP literals that are not public.
Non-ASCII hosts are mapped with IDNA first, so ``ⓛⓞⓒⓐⓛⓗⓞⓢⓣ`` is checked as ``localhost`` and
``①②⑦.⓪.⓪.①`` as ``127.0.0.1``. The fetcher builds its request from the parsed parts, never from
the caller's string, so no second parser ever reads the URL.

:func:`is_public_address` decides whether an address may be dialed. It is FastMCP's
``is_ip_allowed`` (``fastmcp.server.auth.ssrf``: Python's ``is_global``, minus multicast, minus IPv6
forms whose embedded IPv4 address is blocked) **and** a table of our own, because FastMCP's answer
follows Python's special-purpose tables, which change between Python releases, and lets through on
Python 3.11 what we refuse: ``fec0::/10`` (site-local), ``192.0.0.0/24`` (partly), ``192.88.99.0/24``
(6to4 relays), and every IPv4-in-IPv6 form whose embedded address is public (mapped, compatible, 6to4,
NAT64 ``64:ff9b::/96``, ISATAP, SIIT). Ours refuses those forms outright (a file server has a plain
address; a translated one only hides where the packet goes) and accepts IPv6 only inside the global
unicast block ``2000::/3``. Refusals say *that* an address is not public, never which one: the
resolved address of an internal host is itself a leak.

On networks behind NAT64/DNS64 every IPv4-only site resolves into ``64:ff9b::/96``, so those sites
cannot be fetched there. That is deliberate: which IPv4 host a translator really reaches depends on
that network's setup, which the gateway cannot see.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import SplitResult, quote, urlsplit, urlunsplit

from fastmcp.server.auth.ssrf import is_ip_allowed

from ..errors import BlockedURL

__all__ = ["ANY_HOST", "HostRules", "IPAddress", "ParsedTarget", "check_url", "is_public_address"]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_HINT = "use a link to a file on the public internet"
#: Names that only ever mean this machine or a local network (RFC 6761, RFC 6762, RFC 8375, ICANN's
#: .internal), refused by name before any lookup. The address check would refuse most of them too;
#: refusing the name gives a clear message and saves a lookup that may reach an internal resolver.
_LOCAL_SUFFIXES = ("localhost", "local", "internal", "localdomain", "home.arpa", "invalid", "test")
#: IPv4 special-purpose blocks (IANA registry) that are not globally reachable, plus multicast and
#: the 6to4 relay anycast block. Python's ``is_global`` covers most; these hold whatever it says.
_BLOCKED_V4 = tuple(
    ipaddress.IPv4Network(net)
    for net in (
        "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
        "192.0.0.0/24", "192.0.2.0/24", "192.88.99.0/24", "192.168.0.0/16", "198.18.0.0/15",
        "198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4",
    )
)  # fmt: skip
_GLOBAL_UNICAST_V6 = ipaddress.IPv6Network("2000::/3")
#: Inside 2000::/3: IETF protocol assignments (Teredo 2001::/32, benchmarking, ORCHID), the two
#: documentation blocks, and 6to4.
_BLOCKED_V6 = tuple(
    ipaddress.IPv6Network(net) for net in ("2001::/23", "2001:db8::/32", "2002::/16", "3fff::/20")
)
#: ISATAP interface ids (RFC 5214): bytes 8-11 are 00-00-5E-FE, with the u/g bits in the first.
_ISATAP_IDS = frozenset(bytes((flags, 0x00, 0x5E, 0xFE)) for flags in (0x00, 0x01, 0x02, 0x03))
_LABEL_RE = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)$")
# WHATWG URL parsing (browsers, and resolvers through inet_aton) reads a host whose last label is a
# number as an IPv4 address in any of its old forms: decimal, octal, hex, or fewer than 4 parts.
_NUMERIC_LABEL_RE = re.compile(r"^(?:0x[0-9a-f]*|[0-9]+)$")
_SAFE_PATH = "/%:@!$&'()*+,;=-._~"
_MAX_URL_LENGTH = 8192


@dataclass(frozen=True)
class HostRules:
    """The operator's host allowlist and denylist.

    A rule is a host name (``files.example.com``: that host only) or ``*.`` and a domain
    (``*.example.com``: any name under it, not the domain itself). The denylist wins; a non-empty
    allowlist admits only the hosts it matches. An allowed host must still resolve to public
    addresses: the allowlist narrows what may be fetched, it never opens an internal address.
    """

    allow: tuple[str, ...] = ()
    deny: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "allow", tuple(_normalize_rule(rule) for rule in self.allow))
        object.__setattr__(self, "deny", tuple(_normalize_rule(rule) for rule in self.deny))

    def admits(self, host: str) -> bool:
        """Return whether ``host`` (lower-case ASCII, as :func:`check_url` gives it) may be fetched."""
        if _matches_any(host, self.deny):
            return False
        return not self.allow or _matches_any(host, self.allow)


ANY_HOST = HostRules()
"""No allowlist and no denylist: any host that passes the other checks."""


@dataclass(frozen=True)
class ParsedTarget:
    """A URL that passed :func:`check_url`, in the parts the fetcher builds its request from.

    Attributes:
        scheme: ``https`` or ``http``.
        host: the lower-case ASCII host name (IDNA-encoded), or an IP literal without brackets.
        port: the port to connect to (443 or 80 when the URL names none).
        target: the path and query, percent-encoded, starting with ``/``.
        address: the address itself when the host is an IP literal, else ``None``.
    """

    scheme: str
    host: str
    port: int
    target: str
    address: IPAddress | None = None

    @property
    def default_port(self) -> bool:
        return self.port == (443 if self.scheme == "https" else 80)

    @property
    def authority(self) -> str:
        """``host[:port]`` as the Host header carries it (the port only when it is not the default)."""
        host = f"[{self.host}]" if isinstance(self.address, ipaddress.IPv6Address) else self.host
        return host if self.default_port else f"{host}:{self.port}"

    @property
    def origin(self) -> str:
        """``scheme://host[:port]``: what logs may show (the path and query may hold tokens)."""
        return f"{self.scheme}://{self.authority}"

    @property
    def url(self) -> str:
        return self.origin + self.target


def is_public_address(address: IPAddress) -> bool:
    """Return whether ``address`` is public unicast, so that mcpgram may connect to it.

    Both FastMCP's ``is_ip_allowed`` and our own table must agree (see the module docstring).
    """
    if isinstance(address, ipaddress.IPv4Address):
        ours = not any(address in net for net in _BLOCKED_V4)
    else:
        ours = (
            address.scope_id is None
            and address in _GLOBAL_UNICAST_V6
            and not any(address in net for net in _BLOCKED_V6)
            and address.packed[8:12] not in _ISATAP_IDS
        )
    return ours and is_ip_allowed(str(address))


def check_url(url: str, *, allow_http: bool = False, hosts: HostRules | None = None) -> ParsedTarget:
    """Parse ``url`` and refuse it unless mcpgram may fetch it (before any lookup).

    Args:
        url: the URL as the agent gave it (or a redirect's resolved ``Location``).
        allow_http: also accept plain ``http`` (the operator's choice; ``https`` is always accepted).
        hosts: the operator's allowlist and denylist.

    Returns:
        The parsed target. A host name still has to resolve to public addresses, which the fetcher
        checks with :func:`is_public_address`.

    Raises:
        BlockedURL: the URL is malformed or not allowed; the message says why, without internals.
    """
    if len(url) > _MAX_URL_LENGTH:
        raise BlockedURL("the URL is too long", hint=_HINT)
    if any(ord(char) <= 0x20 or ord(char) == 0x7F or char == "\\" for char in url):
        raise BlockedURL("the URL contains spaces, control characters or backslashes", hint="encode them")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise BlockedURL("the URL is malformed", hint="give a full https:// link") from exc
    schemes = ("https", "http") if allow_http else ("https",)
    if parts.scheme.lower() not in schemes:
        allowed = "http and https" if allow_http else "https"
        raise BlockedURL(f"only {allowed} URLs can be fetched", hint="give a full https:// link")
    scheme = parts.scheme.lower()
    if "@" in parts.netloc:
        raise BlockedURL("the URL carries a user name or password", hint="remove the part before @")
    if port == 0:
        raise BlockedURL("the URL's port is invalid", hint=_HINT)
    host, address = _check_host(parts)
    if not (hosts or ANY_HOST).admits(host):
        raise BlockedURL("this server does not fetch from that host", hint="use another host")
    return ParsedTarget(
        scheme=scheme,
        host=host,
        port=port or (443 if scheme == "https" else 80),
        target=_request_target(parts),
        address=address,
    )


def _check_host(parts: SplitResult) -> tuple[str, IPAddress | None]:
    netloc = parts.netloc.rpartition("@")[2]
    if netloc.startswith("["):
        literal = netloc[1:].partition("]")[0]
        if "%" in literal:
            raise BlockedURL("IPv6 zone ids are not allowed in a URL", hint=_HINT)
        try:
            address: IPAddress = ipaddress.IPv6Address(literal)
        except ValueError as exc:
            raise BlockedURL("the URL's IPv6 address is malformed", hint=_HINT) from exc
        return _checked_literal(address), address
    raw = parts.hostname or ""
    if not raw:
        raise BlockedURL("the URL has no host", hint="give a full https:// link")
    host = _to_ascii(raw)
    labels = host.split(".")
    if _NUMERIC_LABEL_RE.match(labels[-1]):
        try:
            address = ipaddress.IPv4Address(host)
        except ValueError as exc:
            raise BlockedURL("the URL's IP address is written in a non-standard form", hint=_HINT) from exc
        return _checked_literal(address), address
    if any(host == suffix or host.endswith("." + suffix) for suffix in _LOCAL_SUFFIXES):
        raise BlockedURL("the URL's host is a local-only name", hint=_HINT)
    # A single label would be completed by the resolver's search domains: an intranet name.
    if len(labels) < 2 or not all(_LABEL_RE.match(label) for label in labels) or len(host) > 253:
        raise BlockedURL("the URL's host is not a public domain name", hint=_HINT)
    return host, None


def _to_ascii(raw: str) -> str:
    """Lower-case, drop one trailing dot, and IDNA-encode a host (nameprep maps ``ⓛ`` to ``l``)."""
    host = raw.lower()
    if not host.isascii():
        try:
            host = host.encode("idna").decode("ascii").lower()
        except UnicodeError as exc:
            raise BlockedURL("the URL's host is not a valid domain name", hint=_HINT) from exc
    return host[:-1] if host.endswith(".") else host


def _checked_literal(address: IPAddress) -> str:
    if not is_public_address(address):
        raise BlockedURL("the URL points to a non-public address", hint=_HINT)
    return str(address)


def _request_target(parts: SplitResult) -> str:
    path = quote(parts.path or "/", safe=_SAFE_PATH)
    query = quote(parts.query, safe=_SAFE_PATH + "?")
    return urlunsplit(("", "", path if path.startswith("/") else "/" + path, query, ""))


def _normalize_rule(rule: str) -> str:
    wildcard = rule.startswith("*.")
    host = _to_ascii(rule[2:] if wildcard else rule)
    if not host or not all(_LABEL_RE.match(label) for label in host.split(".")):
        raise ValueError(f"not a host name or *.domain rule: {rule!r}")
    return "*." + host if wildcard else host


def _matches_any(host: str, rules: Iterable[str]) -> bool:
    return any(host.endswith(rule[1:]) if rule.startswith("*.") else host == rule for rule in rules)
