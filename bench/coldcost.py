"""What each step of a journal append costs with its code and data out of the caches, as in a server.

In a busy gateway a write's journal append runs once among many other calls' work, so its code and
data are cold by then: ``guardcost.py`` found the whole append at about 40 µs in place, against
7 µs in a tight loop. This benchmark measures each step both ways, in this process:

- ``hot``: the step run ``--hot`` times in a loop, CPU ns per run (``time.thread_time_ns``);
- ``cold``: ``--cold`` times, the caches evicted first (``evict``: a pass over ``--evict-mib`` MiB of
  memory with a 64-byte stride, then some unrelated Python: JSON, sorting, dict walks), then the step
  timed alone. The same eviction followed by nothing is the baseline measured in the same run
  (``noop``), subtracted: the medians' difference is the step's cold cost.

The steps: the entry's time field, the content digest of a 200-character text, one HMAC of a
330-byte line under CPython's own SHA-256 (what ``audit/mac.py`` uses for short messages) and under
OpenSSL's (``hashlib.sha256``), the line's encoding from its template, one ``os.write`` of it, and a
whole :meth:`AuditJournal.append` (``hold_lock``, fsync ``never``). ``ratio`` is each cold cost over
the OpenSSL MAC's, measured in the same run (machines drift; ratios much less).

JSON on stdout, a table on stderr. Must not touch the user's data dir or ``.env``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import _common  # bench/_common.py
from mcpgram.audit import mac
from mcpgram.audit.entry import JournalKeys, encode_line, entry_template, time_field
from mcpgram.audit.journal import AuditJournal

TEXT = "bench write " + "x" * 188  # 200 characters, as bench/audit.py sends
TENANT = "tnt_0123456789abcdef"


def _openssl_mac(key: bytes) -> Callable[[bytes], str]:
    """HMAC-SHA256 as ``KeyedHash`` computes it, with OpenSSL's SHA-256 whatever the length."""
    padded = key.ljust(64, b"\0")
    inner0 = hashlib.sha256(bytes(b ^ 0x36 for b in padded))
    outer0 = hashlib.sha256(bytes(b ^ 0x5C for b in padded))

    def hexdigest(message: bytes) -> str:
        inner, outer = inner0.copy(), outer0.copy()
        inner.update(message)
        outer.update(inner.digest())
        return outer.hexdigest()

    return hexdigest


class Evictor:
    """Pushes this process's recent code and data out of the CPU caches (L1 and L2, mostly)."""

    def __init__(self, mib: int) -> None:
        self.memory = bytearray(mib * 1024 * 1024)
        self.objects = [{f"k{i}": i} for i in range(20_000)]
        self.random = random.Random(1)

    def __call__(self) -> None:
        memory = self.memory
        for i in range(0, len(memory), 64):
            memory[i] = (memory[i] + 1) & 255
        total = 0
        for item in self.objects[::7]:
            total += len(item)
        json.dumps(self.objects[:200])
        sorted(self.random.random() for _ in range(200))


def steps(work: Path) -> dict[str, Callable[[], object]]:
    keys = JournalKeys.derive(b"bench secret " * 3)
    journal = AuditJournal(work / "audit", keys, hold_lock=True, fsync="never")
    line = b"x" * 329 + b"\n"
    fd = os.open(work / "raw.jsonl", os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
    template = entry_template(TENANT, "write", "send_message", "ok")
    digest = keys.content_digest([TEXT])
    small = mac.KeyedHash(keys.chain)
    openssl = _openssl_mac(keys.chain)

    def append() -> None:
        journal.append(
            tenant=TENANT,
            kind="write",
            tool="send_message",
            chat=-1001234567890,
            outcome="ok",
            content=digest,
        )

    return {
        "noop": lambda: None,
        "time_field": lambda: time_field(time.time()),
        "content_digest": lambda: keys.content_digest([TEXT]),
        "mac_cpython_sha256": lambda: small.hexdigest(line),
        "mac_openssl_sha256": lambda: openssl(line),
        "encode_line": lambda: encode_line(keys, template, 7, time_field(time.time()), -1, digest, "0" * 64),
        "os_write": lambda: os.write(fd, line),
        "append": append,
    }


def hot_ns(step: Callable[[], object], runs: int) -> float:
    started = time.thread_time_ns()
    for _ in range(runs):
        step()
    return (time.thread_time_ns() - started) / runs


def cold_samples(step: Callable[[], object], evict: Evictor, runs: int) -> list[int]:
    clock = time.thread_time_ns
    samples = []
    for _ in range(runs):
        evict()
        started = clock()
        step()
        samples.append(clock() - started)
    return samples


def measure(work: Path, args: argparse.Namespace) -> dict[str, Any]:
    evict = Evictor(args.evict_mib)
    found = steps(work)
    for step in found.values():  # warm: every memo filled, every file open
        for _ in range(100):
            step()
    # Rounds rotate through the steps, so a drift of the machine hits them alike.
    samples: dict[str, list[int]] = {name: [] for name in found}
    per_round = max(1, args.cold // args.rounds)
    for _ in range(args.rounds):
        for name, step in found.items():
            samples[name] += cold_samples(step, evict, per_round)
    base = statistics.median(samples["noop"])
    cold = {name: max(0.0, statistics.median(values) - base) / 1000 for name, values in samples.items()}
    hot = {name: hot_ns(step, args.hot) / 1000 for name, step in found.items()}
    reference = cold["mac_openssl_sha256"] or 1.0
    return {
        name: {
            "hot_us": round(hot[name], 3),
            "cold_us": round(cold[name], 2),
            "cold_to_hot": round(cold[name] / hot[name], 1) if hot[name] > 0 else None,
            "ratio_to_openssl_mac_cold": round(cold[name] / reference, 2),
        }
        for name in found
        if name != "noop"
    } | {"noop": {"cold_baseline_us": round(base / 1000, 2)}}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cold", type=int, default=3000, help="cold runs per step (default 3000)")
    parser.add_argument("--hot", type=int, default=20_000, help="hot runs per step (default 20000)")
    parser.add_argument("--rounds", type=int, default=10, help="rounds the cold runs are spread over")
    parser.add_argument("--evict-mib", type=int, default=6, help="memory walked before each cold run")
    parser.add_argument("--output", type=Path, help="also write the JSON here")
    parser.add_argument("--quick", action="store_true", help="a short run (the smoke test)")
    args = parser.parse_args()
    if args.quick:
        args.cold, args.hot, args.rounds, args.evict_mib = 200, 2000, 2, 2
    with tempfile.TemporaryDirectory(prefix="mcpgram-coldcost-") as directory:
        measured = measure(Path(directory), args)
    result = {
        "benchmark": "coldcost",
        "quick": args.quick,
        "environment": _common.environment(small_sha256=mac.SMALL_HASHER),
        "parameters": {k: v for k, v in vars(args).items() if k != "output"},
        "measured": measured,
    }
    _common.emit(result, args.output)
    print(f"{'step':<22} {'hot µs':>8} {'cold µs':>8} {'cold/hot':>9} {'/ OpenSSL MAC':>14}", file=sys.stderr)
    for name, row in measured.items():
        if name != "noop":
            print(
                f"{name:<22} {row['hot_us']:>8.2f} {row['cold_us']:>8.1f} {row['cold_to_hot'] or 0:>9.1f}"
                f" {row['ratio_to_openssl_mac_cold']:>14.2f}",
                file=sys.stderr,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
