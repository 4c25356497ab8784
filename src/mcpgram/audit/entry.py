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
content's parts: each part is SHA-256 of a one-byte tag and its bytes, so the operator can tell
whether a given text was sent (``mcpgram audit --content-stdin``), and a tenant reading its own
entries cannot.

Both keys derive from the server secret by HMAC-SHA256 with a fixed label. The line format and the
derivations are pinned by known-answer vectors (``tests/audit/test_entry.py``): a journal written
today must verify after any refactor.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

__all__ = [
    "GENESIS",
    "ChainCheck",
    "Entry",
    "JournalKeys",
    "Kind",
    "Problem",
    "encode_entry",
    "parse_entry",
    "part_digest",
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
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_HEX_CONTENT = re.compile(rf"^[0-9a-f]{{{CONTENT_HEX}}}$")
_FIELDS = ("v", "seq", "time", "tenant", "kind", "tool", "chat", "outcome", "content", "prev", "mac")


@dataclass(frozen=True, repr=False)
class JournalKeys:
    """The chain key (entry MACs) and the content key (content digests), from the server secret."""

    chain: bytes
    content: bytes

    @classmethod
    def derive(cls, server_secret: bytes) -> JournalKeys:
        def label(name: bytes) -> bytes:
            return hmac.new(server_secret, b"mcpgram/audit/" + name + b"/v1", hashlib.sha256).digest()

        return cls(chain=label(b"chain"), content=label(b"content"))

    def __repr__(self) -> str:
        return "JournalKeys(***)"

    def content_digest(self, part_digests: Iterable[bytes]) -> str:
        """The ``content`` field for parts already reduced by :func:`part_digest`."""
        mac = hmac.new(self.content, b"".join(part_digests), hashlib.sha256)
        return mac.hexdigest()[:CONTENT_HEX]


def part_digest(part: str | bytes, *, tag: bytes | None = None) -> bytes:
    """SHA-256 of one content part: ``t`` + UTF-8 for text, ``b`` + the bytes for a file.

    A file hashed from disk in pieces must give the same digest: ``hashlib.sha256(b"b")`` updated
    with its bytes (see ``journal.file_part_digest``).
    """
    if isinstance(part, str):
        return hashlib.sha256((tag or b"t") + part.encode("utf-8", "surrogatepass")).digest()
    return hashlib.sha256((tag or b"b") + part).digest()


def clean_name(name: str) -> str:
    """A tool, method or outcome as an identifier of at most 64 characters (never free text)."""
    return _NAME.sub("_", name)[:_MAX_NAME] or "_"


def timestamp(now: float) -> str:
    """UTC ISO 8601 with milliseconds and ``Z``."""
    moment = datetime.fromtimestamp(now, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


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
    """The entry's line (ending in a newline) and its ``mac``."""
    fields = {
        "v": FORMAT_VERSION,
        "seq": seq,
        "time": time,
        "tenant": tenant,
        "kind": kind,
        "tool": tool,
        "chat": chat,
        "outcome": outcome,
        "content": content,
        "prev": prev,
    }
    body = json.dumps(fields, ensure_ascii=True, separators=(",", ":"))[:-1].encode("ascii")
    mac = hmac.new(keys.chain, body, hashlib.sha256).hexdigest()
    return body + b',"mac":"' + mac.encode("ascii") + b'"}\n', mac


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
    return match.group(1).decode("ascii"), hmac.new(keys.chain, body, hashlib.sha256).hexdigest()


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
