"""Journal entries as bytes: their fields, the keys, the content digest and the chain check. Pure.

One entry is one JSON line, its keys in this order::

    {"v":1,"seq":7,"time":"2026-12-07T10:12:51.123Z","tenant":"tnt_0123456789abcdef",
     "kind":"write","tool":"send_message","chat":-1001234567890,"outcome":"ok",
     "content":"<32 hex>","prev":"<64 hex>","mac":"<64 hex>"}

``mac`` is HMAC-SHA256 under the *chain key* of the line's bytes up to ``,"mac":``; ``prev`` is the
previous entry's ``mac`` (:data:`GENESIS` for the first entry ever), and ``seq`` counts from 1
across every file. So changing any byte of an entry breaks its own ``mac``, and removing, adding
or reordering entries breaks ``seq`` and ``prev``; without the server secret nobody can write an
entry that verifies. ``content`` is HMAC-SHA256 (cut to 128 bits) under the *content key* of the
content's parts, each framed by a tag and its length (:meth:`JournalKeys.content_mac`), so the
operator can tell whether a given text was sent (``mcpgram audit --content-stdin``), and a tenant
reading its own entries cannot.

Both keys derive from the server secret by HMAC-SHA256 with a fixed label. The line format and the
derivations are pinned by known-answer vectors (``tests/audit/test_entry.py``): a journal written
today must verify after any refactor.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from .mac import KeyedHash, KeyedStream

__all__ = [
    "GENESIS",
    "ChainCheck",
    "Entry",
    "JournalKeys",
    "Kind",
    "Problem",
    "content_hex",
    "encode_entry",
    "encode_line",
    "entry_template",
    "parse_entry",
    "part_frame",
    "time_field",
    "timestamp",
]

Kind = Literal["write", "approval", "raw"]
KINDS: tuple[Kind, ...] = ("write", "approval", "raw")
FORMAT_VERSION = 1
#: The ``prev`` of the first entry ever written.
GENESIS = "0" * 64
#: Hex digits of a content digest (128 bits).
CONTENT_HEX = 32
#: Names and codes are identifiers: no free text can travel in them.
_NAME = re.compile(r"[^A-Za-z0-9_.:-]")
_MAX_NAME = 64
_MAC_TAIL = re.compile(rb',"mac":"([0-9a-f]{64})"}\n?$')
_PLAIN = re.compile(r"[A-Za-z0-9_.:+ -]*")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_HEX_CONTENT = re.compile(rf"^[0-9a-f]{{{CONTENT_HEX}}}$")
_FIELDS = ("v", "seq", "time", "tenant", "kind", "tool", "chat", "outcome", "content", "prev", "mac")


@dataclass(frozen=True, repr=False)
class JournalKeys:
    """The chain key (entry MACs) and the content key (content digests), from the server secret."""

    chain: bytes
    content: bytes
    _chain: KeyedHash = field(init=False, compare=False)
    _content: KeyedHash = field(init=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_chain", KeyedHash(self.chain))
        object.__setattr__(self, "_content", KeyedHash(self.content))

    @classmethod
    def derive(cls, server_secret: bytes) -> JournalKeys:
        def label(name: bytes) -> bytes:
            return hmac.new(server_secret, b"mcpgram/audit/" + name + b"/v1", hashlib.sha256).digest()

        return cls(chain=label(b"chain"), content=label(b"content"))

    def __repr__(self) -> str:
        return "JournalKeys(***)"

    def chain_mac(self, body: bytes) -> str:
        """An entry's ``mac``: HMAC-SHA256 under the chain key of its line before ``,"mac":``."""
        return self._chain.hexdigest(body)

    def content_digest(self, parts: Sequence[str | bytes]) -> str:
        """The ``content`` field for these parts (see :meth:`content_mac` for the framing)."""
        if len(parts) == 1:  # the usual case, a text: one pass (bench/audit.py)
            data = _part_bytes(parts[0])
            return self._content.hexdigest(part_frame(parts[0], len(data)) + data)[:CONTENT_HEX]
        mac = self.content_mac()
        for part in parts:
            data = _part_bytes(part)
            mac.update(part_frame(part, len(data)))
            mac.update(data)
        return content_hex(mac)

    def content_mac(self) -> KeyedStream:
        """An HMAC to feed framed parts into (a file from disk in pieces); :func:`content_hex` ends it.

        Each part is fed as a one-byte tag (``t`` text in UTF-8, ``b`` bytes), its length as 8 bytes
        big-endian, then its bytes, so parts cannot run into each other.
        """
        return self._content.stream()


def _part_bytes(part: str | bytes) -> bytes:
    return part.encode("utf-8", "surrogatepass") if isinstance(part, str) else part


def part_frame(part: str | bytes, size: int) -> bytes:
    """The tag and length that go before a part's bytes (bytes: also a file's)."""
    return (b"t" if isinstance(part, str) else b"b") + size.to_bytes(8, "big")


def content_hex(mac: KeyedStream) -> str:
    return mac.hexdigest()[:CONTENT_HEX]


def clean_name(name: str) -> str:
    """A tool, method or outcome as an identifier of at most 64 characters (never free text)."""
    cleaned = _CLEANED.get(name)
    if cleaned is None:
        cleaned = _NAME.sub("_", name)[:_MAX_NAME] or "_"
        if len(_CLEANED) < _MAX_CLEANED:  # names come from a caller: the memo stays bounded
            _CLEANED[name] = cleaned
    return cleaned


#: The few names a server uses (tools, methods, codes), cleaned once.
_CLEANED: dict[str, str] = {}
_MAX_CLEANED = 1024


def timestamp(now: float) -> str:
    """UTC ISO 8601 with milliseconds and ``Z``."""
    return time_field(now)[1:-1].decode("ascii")


def time_field(now: float) -> bytes:
    """:func:`timestamp` as the line carries it: quoted, in bytes."""
    second = int(now // 1)
    cached = _SECOND
    if cached[0] != second:  # one strftime a second, not one per entry (bench/audit.py)
        text = datetime.fromtimestamp(second, UTC).strftime('"%Y-%m-%dT%H:%M:%S.')
        cached = (second, text.encode("ascii"))
        globals()["_SECOND"] = cached
    return b'%b%03dZ"' % (cached[1], int((now - second) * 1000))


_SECOND: tuple[int, bytes] = (-1, b"")


def _quoted(value: str) -> str:
    """A JSON string: as is when it needs no escaping (the usual case, and the fast one)."""
    return f'"{value}"' if _PLAIN.fullmatch(value) else json.dumps(value, ensure_ascii=True)


def _hex_field(value: str) -> bytes:
    """A digest or mac quoted (hex: ASCII letters and digits, tested without a regex)."""
    if value.isascii() and value.isalnum():
        return b'"%b"' % value.encode("ascii")
    return _quoted(value).encode("ascii")


def entry_template(tenant: str, kind: str, tool: str, outcome: str) -> bytes:
    """The line up to ``,"mac":`` with its four names filled in and ``%`` holes for the rest.

    The holes, in order: seq (``%d``), then the time, chat, content and prev fields as bytes. A
    server writes few distinct (tenant, kind, tool, outcome), so each template is built once
    (:func:`encode_line` then fills it with one ``%``); ``tool`` and ``outcome`` are cleaned here.
    """
    key = (tenant, kind, tool, outcome)
    template = _TEMPLATES.get(key)
    if template is None:

        def name(value: str) -> bytes:
            return _quoted(value).encode("ascii").replace(b"%", b"%%")

        template = b"".join(
            (
                b'{"v":%d,"seq":%%d,"time":%%b,"tenant":' % FORMAT_VERSION,
                name(tenant),
                b',"kind":',
                name(kind),
                b',"tool":',
                name(clean_name(tool)),
                b',"chat":%b,"outcome":',
                name(clean_name(outcome)),
                b',"content":%b,"prev":%b',
            )
        )
        if len(_TEMPLATES) < _MAX_CLEANED:  # names come from a caller: the memo stays bounded
            _TEMPLATES[key] = template
    return template


_TEMPLATES: dict[tuple[str, str, str, str], bytes] = {}


def encode_line(  # noqa: PLR0917  # the template's holes, in order
    keys: JournalKeys,
    template: bytes,
    seq: int,
    time: bytes,
    chat: int | None,
    content: str | None,
    prev: str,
) -> tuple[bytes, str]:
    """The entry's line (ending in a newline) and its ``mac``, from :func:`entry_template`'s
    template and :func:`time_field`'s time."""
    body = template % (
        seq,
        time,
        b"null" if chat is None else b"%d" % chat,
        b"null" if content is None else _hex_field(content),
        _hex_field(prev),
    )
    mac = keys.chain_mac(body)
    return b'%b,"mac":"%b"}\n' % (body, mac.encode("ascii")), mac


def encode_entry(  # one argument per field of the line
    keys: JournalKeys,
    *,
    seq: int,
    time: str,
    tenant: str,
    kind: Kind,
    tool: str,
    chat: int | None,
    outcome: str,
    content: str | None,
    prev: str,
) -> tuple[bytes, str]:
    """The entry's line (ending in a newline) and its ``mac``.

    The same bytes as ``json.dumps`` of the fields in order with ``separators=(",", ":")`` and
    ASCII escapes (the known-answer test holds it to that), written out by hand
    (:func:`entry_template`, :func:`encode_line`: the journal's own path): a third of the cost of
    an append otherwise.
    """
    template = entry_template(tenant, kind, tool, outcome)
    return encode_line(keys, template, int(seq), _quoted(time).encode("ascii"), chat, content, prev)


@dataclass(frozen=True)
class Entry:
    """One parsed entry (fields as in the module doc)."""

    seq: int
    time: str
    tenant: str
    kind: str
    tool: str
    chat: int | None
    outcome: str
    content: str | None
    prev: str
    mac: str

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in _FIELDS if name != "v"}


def parse_entry(line: bytes) -> Entry:
    """An entry from its line (with or without the newline); ValueError if it is not one.

    Checks the shape only, not the MAC: that needs the key (:meth:`ChainCheck.feed`).
    """
    raw: Any = json.loads(line)
    if not isinstance(raw, dict) or tuple(raw) != _FIELDS or raw["v"] != FORMAT_VERSION:
        raise ValueError("not a journal entry")
    entry = Entry(**{name: raw[name] for name in _FIELDS if name != "v"})
    ok = (
        type(entry.seq) is int
        and entry.seq >= 1
        and all(isinstance(v, str) for v in (entry.time, entry.tenant, entry.kind, entry.tool, entry.outcome))
        and (entry.chat is None or type(entry.chat) is int)
        and (entry.content is None or bool(_HEX_CONTENT.match(str(entry.content))))
        and bool(_HEX64.match(str(entry.prev)))
        and bool(_HEX64.match(str(entry.mac)))
    )
    if not ok:
        raise ValueError("not a journal entry")
    return entry


def mac_of(keys: JournalKeys, line: bytes) -> tuple[str, str] | None:
    """``(mac the line carries, mac its bytes have)``, or None when the line has no ``mac`` tail."""
    match = _MAC_TAIL.search(line)
    if match is None:
        return None
    body = line[: match.start()]
    return match.group(1).decode("ascii"), keys.chain_mac(body)


@dataclass(frozen=True)
class Problem:
    """The first place the chain does not hold: a file, a 1-based line number and why."""

    file: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.file} line {self.line}: {self.reason}"


class ChainCheck:
    """Checks lines in journal order, one at a time; :attr:`problem` is the first break found.

    Args:
        keys: The journal's keys (the chain key checks each line's MAC).
    """

    def __init__(self, keys: JournalKeys) -> None:
        self._keys = keys
        self.expected = 1
        self.prev = GENESIS
        self.count = 0
        self.last: Entry | None = None
        self.problem: Problem | None = None

    def feed(self, file: str, line_number: int, line: bytes) -> bool:
        """Check one line (with its newline); False once the chain is broken."""
        if self.problem is not None:
            return False
        reason = self._reason(line)
        if reason is not None:
            self.problem = Problem(file, line_number, reason)
            return False
        return True

    def _reason(self, line: bytes) -> str | None:
        if not line.endswith(b"\n"):
            return "the line is incomplete (the file was cut, or a write was interrupted)"
        try:
            entry = parse_entry(line)
        except ValueError:
            return "not a journal entry (the line was edited or damaged)"
        macs = mac_of(self._keys, line)
        if macs is None or not hmac.compare_digest(macs[0], macs[1]):
            return (
                f"entry seq {entry.seq} does not match its mac (the line was edited, or another key wrote it)"
            )
        if entry.seq != self.expected:
            what = "missing" if entry.seq > self.expected else "repeated or out of order"
            return f"seq {entry.seq} where {self.expected} was expected (entries {what} before this line)"
        if entry.prev != self.prev:
            return f"entry seq {entry.seq} does not chain to the entry before it (prev differs)"
        self.prev, self.expected, self.last = entry.mac, entry.seq + 1, entry
        self.count += 1
        return None
