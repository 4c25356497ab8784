"""Journal entries: the pinned format (known-answer vectors), and the chain check line by line."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable

import pytest

from mcpgram.audit.entry import (
    GENESIS,
    ChainCheck,
    JournalKeys,
    encode_entry,
    parse_entry,
    timestamp,
)
from mcpgram.audit.mac import SMALL, KeyedHash

SECRET = bytes(range(32))
KEYS = JournalKeys.derive(SECRET)
#: A journal written by this release must verify after any refactor: these bytes are the format.
LINE_1 = (
    b'{"v":1,"seq":1,"time":"2025-06-15T15:06:40.500Z","tenant":"tnt_0123456789abcdef","kind":"write",'
    b'"tool":"send_message","chat":-1001234567890,"outcome":"ok","content":"af83a6a0ed54d8e6dbc39f7413fe5686",'
    b'"prev":"0000000000000000000000000000000000000000000000000000000000000000",'
    b'"mac":"90438c65996e77655e4c6ff9a6d932c0faf227ffec93a9dd6b1fb919d2dfb01a"}\n'
)


def entry(seq: int, prev: str, **fields: object) -> tuple[bytes, str]:
    values: dict[str, object] = {
        "time": timestamp(1_750_000_000 + seq),
        "tenant": "tnt_0123456789abcdef",
        "kind": "write",
        "tool": "react",
        "chat": 42,
        "outcome": "ok",
        "content": None,
    }
    values.update(fields)
    return encode_entry(KEYS, seq=seq, prev=prev, **values)  # type: ignore[arg-type]


def chain(n: int) -> list[bytes]:
    lines, prev = [], GENESIS
    for seq in range(1, n + 1):
        line, prev = entry(seq, prev)
        lines.append(line)
    return lines


def test_keys_and_digests_match_the_known_answers() -> None:
    """Key derivation and content digests are pinned, and are the HMAC-SHA256 the docs describe."""
    assert KEYS.chain.hex() == "4c8c1aaa43c7d535e3c78620d802e4b19ad907492118d4cd1e5882b31dcec278"
    assert KEYS.content.hex() == "448cc2a40a762d9a7e27832ea034b108fca74bd8c4b5f8f897fb4677444c1194"
    assert KEYS.chain == hmac.new(SECRET, b"mcpgram/audit/chain/v1", hashlib.sha256).digest()
    assert KEYS.content_digest(["hello"]) == "af83a6a0ed54d8e6dbc39f7413fe5686"
    framed = b"t" + (5).to_bytes(8, "big") + b"hello"
    expected = hmac.new(KEYS.content, framed, hashlib.sha256).hexdigest()[:32]
    assert KEYS.content_digest(["hello"]) == expected
    assert KEYS.content_digest(["caption", b"\x89PNG", "handle"]) == "a15bec0db8d9f841360fca8071d635c9"
    # Text and the same bytes as a file are different content; parts cannot run into each other.
    assert KEYS.content_digest(["abc"]) != KEYS.content_digest([b"abc"])
    assert KEYS.content_digest(["ab", "c"]) != KEYS.content_digest(["a", "bc"])
    assert "***" in repr(KEYS) and KEYS.chain.hex() not in repr(KEYS)


def test_an_entry_encodes_to_the_pinned_line() -> None:
    line, mac = encode_entry(
        KEYS,
        seq=1,
        time=timestamp(1_750_000_000.5),
        tenant="tnt_0123456789abcdef",
        kind="write",
        tool="send_message",
        chat=-1001234567890,
        outcome="ok",
        content=KEYS.content_digest(["hello"]),
        prev=GENESIS,
    )
    assert line == LINE_1
    assert mac == hmac.new(KEYS.chain, LINE_1.split(b',"mac":')[0], hashlib.sha256).hexdigest()
    parsed = parse_entry(line)
    assert parsed.seq == 1 and parsed.chat == -1001234567890 and parsed.mac == mac


def test_an_intact_chain_passes_line_by_line() -> None:
    check = ChainCheck(KEYS)
    assert all(check.feed("audit.jsonl", n, line) for n, line in enumerate(chain(5), start=1))
    assert check.problem is None and check.count == 5 and check.last is not None and check.last.seq == 5


def _first_problem(lines: list[bytes], keys: JournalKeys = KEYS) -> str:
    check = ChainCheck(keys)
    for n, line in enumerate(lines, start=1):
        if not check.feed("audit.jsonl", n, line):
            break
    assert check.problem is not None
    return str(check.problem)


Lines = list[bytes]
#: Each tampering of a 5-entry chain, and the start of the problem it must be reported as.
TAMPERINGS: dict[str, tuple[Callable[[Lines], Lines], str]] = {
    "edited-outcome": (
        lambda ls: [*ls[:2], ls[2].replace(b'"outcome":"ok"', b'"outcome":"NO"'), *ls[3:]],
        "line 3: entry seq 3 does not match its mac",
    ),
    "edited-chat": (
        lambda ls: [*ls[:2], ls[2].replace(b'"chat":42', b'"chat":43'), *ls[3:]],
        "line 3: entry seq 3 does not match its mac",
    ),
    "deleted": (lambda ls: [*ls[:2], *ls[3:]], "line 3: seq 4 where 3 was expected (entries missing"),
    "swapped": (lambda ls: [ls[0], ls[2], ls[1], *ls[3:]], "line 2: seq 3 where 2 was expected"),
    "duplicated": (
        lambda ls: [*ls[:3], ls[2], *ls[3:]],
        "line 4: seq 3 where 4 was expected (entries repeated or out of order",
    ),
    "cut-mid-line": (lambda ls: [*ls[:4], ls[4][:-20]], "line 5: the line is incomplete"),
    "cut-newline": (lambda ls: [*ls[:4], ls[4][:-1]], "line 5: the line is incomplete"),
    "inserted": (lambda ls: [*ls[:1], b"garbage\n", *ls[1:]], "line 2: not a journal entry"),
    "first-removed": (lambda ls: ls[1:], "line 1: seq 2 where 1 was expected"),
}


@pytest.mark.parametrize("kind", TAMPERINGS)
def test_each_kind_of_tampering_names_the_first_broken_line(kind: str) -> None:
    tamper, expected = TAMPERINGS[kind]
    assert expected in _first_problem(tamper(chain(5)))


def test_a_line_rewritten_with_a_fresh_mac_still_breaks_the_chain_at_the_next_line() -> None:
    """Even an entry re-encoded whole with the key (new mac) is caught: the next prev points elsewhere."""
    lines = chain(4)
    forged, _ = entry(2, parse_entry(lines[0]).mac, outcome="NOT_ALLOWED")
    assert "line 3: entry seq 3 does not chain" in _first_problem([lines[0], forged, *lines[2:]])


def test_another_key_does_not_verify() -> None:
    assert "line 1: entry seq 1 does not match its mac" in _first_problem(
        chain(2), JournalKeys.derive(b"x" * 32)
    )


@pytest.mark.parametrize("key_size", [0, 1, 32, 64, 65, 200])
def test_the_keyed_hash_is_hmac_sha256(key_size: int) -> None:
    """KeyedHash gives hmac's HMAC-SHA256 for keys shorter, equal to and longer than a block, and
    for messages short (CPython's SHA-256) and long (OpenSSL's)."""
    key = bytes(range(256))[:key_size]
    for message in (b"", b"x", b"y" * 63, b"z" * 64, b"w" * 1000, b"v" * SMALL, b"u" * (SMALL + 1)):
        expected = hmac.new(key, message, hashlib.sha256).hexdigest()
        assert KeyedHash(key).hexdigest(message) == expected
        stream = KeyedHash(key).stream()
        stream.update(message[:7])
        stream.update(message[7:])
        assert stream.hexdigest() == expected
    assert "***" in repr(KeyedHash(key))
