"""``tenants.py --compare-guardrails``: what the guardrails cost per call, on vs off vs bare, in one run.

Three gateways over copies of the data dir ``tenants.py`` prepared (same tenants, same sandbox,
``--workers`` workers each), all running at once:

- ``on``: the defaults: policy ``all`` (``first_contact`` and ``delete_everyone`` on ``approve``),
  the audit journal, the call limit and write pacing. The limits' rates are raised out of the way
  (``MCPGRAM_CALL_RATE`` high, ``pace_*_seconds`` 0): their code runs on every call, they never wait;
- ``off``: what the issue's budget covers switched off, the rest as in ``on``: no policy
  (``bench/_guardprobe.py`` with ``GUARDPROBE_BARE=1``: no stored policy read, every tool listed,
  no verb, scope or approval check) and no audit journal, with the call limit and write pacing on.
  So ``on - off`` is the policy check and the audit journal, the budget's "policy on vs off";
- ``bare``: ``off`` with the call limit and pacing off too: no guardrail code on the call path, so
  ``on - bare`` is every guardrail, and ``off - bare`` the limits (issue 12's item 3, which the
  budget does not name).

Until 2026-12-07 17:00 UTC, ``off`` kept the policy on (profile ``all``, every tenant's approvals
on ``allow``) and switched the limits off: ``on - off`` then mixed a part of the policy with the
limits, and measured neither the budget nor the whole.

Before each measured phase the gateway runs a full garbage collection, and none on its minute
timer (``_guardprobe.install_phase_gc``): one full collection costs about 0.2 s at 50 tenants, the
same in every gateway, and landing in one 5 s phase it added about 0.09 ms per call to that phase
alone, as much as the budget measured. Until 2026-12-07 20:30 UTC the timer ran, and single rounds
of ``on - off`` ranged from -0.05 to +0.42 ms.

Every round starts three fresh gateway processes (``--guard-keep``: the same three for all rounds,
as until 2026-12-07 21:00 UTC). Three identical ``on`` gateways loaded in turn for 5 rounds differed
by +0.06 ms per read [90%: +0.001, +0.113] between two of them: a process's own speed (its hash
seed, its memory layout) differs by a few percent, so with the same processes every round such an
offset was read as the guardrails' cost, and its interval did not show it. With fresh processes it
is one more round-to-round difference, which the interval does include.

Each tenant first makes its calls once through each gateway (its Telegram client connected in each,
a first write made, so pacing knows the chat). Then, ``--guard-rounds`` times, each gateway in turn
(the order rotates every round; with ``--guard-together`` all three at once, each with
``--sessions`` sessions, so a drift of the machine hits the three alike) serves a read phase
(``find_chats`` / ``get_messages`` alternating, as ``load``) and a write phase (``send_message`` to
the Bench Peer chat, which every tenant has written in: no approval). Per gateway and phase: the
gateway's CPU ms per call (its whole process tree), calls/s, latency, errors; then per pair
(``on - bare``, ``on - off``, ``off - bare``) and phase the differences round by round, their median and
mean, and a 90% bootstrap interval of the mean: a verdict only when the interval is on one side of
the budget."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import signal
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import tenants as bench  # bench/tenants.py (its helpers; the script itself runs as __main__)

GATEWAYS = ("on", "off", "bare")
PAIRS = (("on", "bare"), ("on", "off"), ("off", "bare"))
PHASES = ("read", "write")
#: The issue's budget: the policy check and the audit append add at most this per call.
BUDGET_MS = 0.1

ON_ENV = {
    "MCPGRAM_PACE_WRITE_SECONDS": "0",
    "MCPGRAM_PACE_CHAT_SECONDS": "0",
    "MCPGRAM_PACE_NEW_RECIPIENT_SECONDS": "0",
}
#: The policy (by the probe) and the journal off; the limits as in ``on``.
OFF_ENV = {**ON_ENV, "MCPGRAM_AUDIT_JOURNAL": "false", "GUARDPROBE_BARE": "1"}
#: Every guardrail off.
BARE_ENV = {
    "MCPGRAM_AUDIT_JOURNAL": "false",
    "MCPGRAM_PACING": "false",
    "MCPGRAM_CALL_RATE": "0",
    "GUARDPROBE_BARE": "1",
}
PROBE = str(Path(__file__).with_name("_guardprobe.py"))
#: Every gateway of the comparison runs under the probe (``on`` too: without ``GUARDPROBE_BARE``
#: it is ``python -m mcpgram``), for its phase collections.
PROBED = (sys.executable, PROBE)
#: How each gateway is started: its environment on top of ``tenants.gateway_env`` and its launcher.
VARIANTS: dict[str, tuple[dict[str, str], tuple[str, ...]]] = {
    "on": (ON_ENV, ()),
    "off": (OFF_ENV, PROBED),
    "bare": (BARE_ENV, PROBED),
}
#: The GC counters each phase reports (``_guardprobe.install_phase_gc``): collections and CPU ns.
GC_KEYS = ("young", "young_ns", "full", "full_ns")
#: Resamples of the bootstrap interval (seeded: the same rounds give the same interval).
BOOTSTRAP = 4000


def write_plan(peer_id: int, calls: int) -> bench.Plan:
    return [("send_message", {"chat": str(peer_id), "text": f"bench write {n}"}) for n in range(calls)]


async def warm_gateway(name: str, url: str, tokens: list[str], peer_id: int, sessions: int) -> None:
    """Every tenant reads once and sends once through ``url`` (connected, its chat known to pacing)."""
    warm = await bench.warm_all(url, tokens, peer_id, sessions)
    warm_writes = bench.Tally()
    queue = iter(tokens)

    async def worker() -> None:
        for token in queue:
            await bench.tenant_session(url, token, write_plan(peer_id, 1), warm_writes, None)

    await asyncio.gather(*(worker() for _ in range(sessions)))
    errors = warm.errors + warm_writes.errors
    if errors:
        raise RuntimeError(f"{name}: warming up failed: {dict(errors.most_common(3))}")
    sent = warm_writes.texts.get("send_message", "")
    if "approv" in sent.lower() or '"id"' not in sent:  # a write that waits for a person is no measure
        raise RuntimeError(f"{name}: send_message did not send: {sent[:200]}")


async def start_variant(  # noqa: PLR0917 - a variant, its settings and what a caller adds
    name: str,
    work: Path,
    settings: Any,
    base_env: dict[str, str],
    extra: dict[str, str] | None = None,
    launcher: tuple[str, ...] | None = None,
    *,
    home: str | None = None,
) -> tuple[bench.Gateway, Path]:
    """Start gateway ``name`` (:data:`VARIANTS`) over its own copy of the prepared data dir.

    ``extra`` adds to its environment; ``launcher`` replaces its own (``python -m mcpgram``, or the
    probe for ``bare``); ``home`` names its directory under ``work`` (default ``guard-<name>``).
    """
    folder = work / (home or f"guard-{name}")
    folder.mkdir()
    shutil.copytree(settings.data_dir, folder / "data")  # a vault of its own, same tenants
    env, own = VARIANTS[name]
    full = {**base_env, **env, **(extra or {}), "MCPGRAM_DATA_DIR": str(folder / "data")}
    return await bench.start_gateway(full, folder, own if launcher is None else launcher), folder


async def compare_guardrails(  # noqa: PLR0917 - what tenants.measure holds, passed on as is
    args: argparse.Namespace,
    work: Path,
    settings: Any,
    tokens: list[str],
    peer_id: int,
    sandbox_pid: int,
) -> dict[str, Any]:
    """Start the gateways, warm every tenant in each, run the rotating read and write phases
    (fresh gateways every round unless ``--guard-keep``: see the module doc)."""
    base_env = bench.gateway_env(settings, args.tenants, args.workers)
    gateways: dict[str, bench.Gateway] = {}
    collections: dict[str, Path] = {}  # each gateway's phase-GC directory (``full_collection``)
    homes: dict[str, Path] = {}  # each gateway's folder (its data dir copy)
    setup: dict[str, float] = {f"{name}_start_and_warm_s": 0.0 for name in GATEWAYS}
    writes = write_plan(peer_id, args.calls_per_session)
    phases: dict[str, dict[str, list[dict[str, Any]]]] = {
        name: {phase: [] for phase in PHASES} for name in GATEWAYS
    }
    collected = dict.fromkeys(GATEWAYS, 0)

    async def start_all(turn: int) -> None:
        for name in GATEWAYS:
            clock = time.perf_counter()
            collections[name] = work / f"gc-{name}-{turn}"
            collections[name].mkdir()
            extra = {"GUARDPROBE_PHASE_GC": str(collections[name])}
            home = f"guard-{name}-{turn}"
            gateways[name], homes[name] = await start_variant(
                name, work, settings, base_env, extra, PROBED, home=home
            )
            await warm_gateway(name, f"{gateways[name].base}/v1/mcp", tokens, peer_id, args.sessions)
            setup[f"{name}_start_and_warm_s"] += time.perf_counter() - clock
        await asyncio.sleep(args.settle)

    async def stop_all() -> None:
        for name, gateway in gateways.items():
            await bench.stop(gateway.proc)
            collected[name] += _collections_done(collections[name])
            shutil.rmtree(homes[name], ignore_errors=True)  # its copy of the data dir
        gateways.clear()

    async def run_phase(name: str, phase: str) -> dict[str, Any]:
        gateway = gateways[name]
        start = await full_collection(collections[name])  # before the meter: see the module doc
        meter = bench.CpuMeter({"gateway": gateway.proc.pid, "sandbox": sandbox_pid})
        url = f"{gateway.base}/v1/mcp"
        plan = writes if phase == "write" else None
        out = await bench.load(url, tokens, peer_id, args, meter, server="gateway", plan=plan)
        end = await gc_counters(collections[name])
        return out | {"gc": {key: end[key] - start[key] for key in GC_KEYS}}

    keep = getattr(args, "guard_keep", False)
    try:
        for turn in range(args.guard_rounds):
            if not gateways:
                await start_all(turn)
            for phase in PHASES:
                if getattr(args, "guard_together", False):  # all three at once: the same machine state
                    runs = await asyncio.gather(*(run_phase(name, phase) for name in GATEWAYS))
                    for name, run in zip(GATEWAYS, runs, strict=True):
                        phases[name][phase].append(run)
                    continue
                shift = turn % len(GATEWAYS)  # who goes first rotates
                for name in GATEWAYS[shift:] + GATEWAYS[:shift]:
                    phases[name][phase].append(await run_phase(name, phase))
            if not keep:
                await stop_all()
    finally:
        await stop_all()
    return summarize(phases, setup) | {"full_collections": collected, "fresh_gateways_each_round": not keep}


async def full_collection(directory: Path) -> dict[str, int]:
    """Have every serving process of one gateway run its full collection now; its GC counters then
    (``_guardprobe.install_phase_gc``: each registered ``directory/<pid>``)."""
    return await _signalled(directory, signal.SIGRTMIN, "collections")


async def gc_counters(directory: Path) -> dict[str, int]:
    """The gateway's GC counters now (young and full collections, their CPU ns), all processes."""
    return await _signalled(directory, signal.SIGRTMIN + 1, "reports")


async def _signalled(directory: Path, signum: int, counter: str, seconds: float = 20.0) -> dict[str, int]:
    before = _signal_all(directory, signum)
    deadline = time.monotonic() + seconds
    while True:
        now = {mark: _stats(mark) for mark in before}
        if all(now[mark][counter] > stats[counter] for mark, stats in before.items()):
            return {key: sum(stats[key] for stats in now.values()) for key in GC_KEYS}
        if time.monotonic() > deadline:
            raise RuntimeError("a gateway did not answer the bench's GC signal in time")
        await asyncio.sleep(0.01)


def _signal_all(directory: Path, signum: int) -> dict[Path, dict[str, int]]:
    before: dict[Path, dict[str, int]] = {}
    for mark in directory.iterdir():
        if mark.name.isdigit() and Path(f"/proc/{mark.name}").exists():
            before[mark] = _stats(mark)
            os.kill(int(mark.name), signum)
    if not before:
        raise RuntimeError(f"no gateway process registered in {directory} for phase collections")
    return before


def _stats(mark: Path) -> dict[str, int]:
    stats: dict[str, int] = json.loads(mark.read_text())
    return stats


def _collections_done(directory: Path) -> int:
    """How many phase collections the gateway's processes have run, all together."""
    return sum(_stats(mark)["collections"] for mark in directory.iterdir() if mark.name.isdigit())


def _side(runs: list[dict[str, Any]]) -> dict[str, Any]:
    calls = sum(run["calls"] for run in runs)
    seconds = sum(run["seconds"] for run in runs)

    def ms(process: str) -> float:
        spent: float = sum(run["cpu"][process]["cpu_s"] for run in runs)
        return spent / max(calls, 1) * 1000

    by_round = [run["cpu"]["gateway"]["ms_per_call"] for run in runs]
    return {
        "gateway_cpu_ms_per_call": ms("gateway"),
        "gateway_cpu_ms_per_call_median_of_rounds": statistics.median(by_round),
        "sandbox_cpu_ms_per_call": ms("sandbox"),
        "client_cpu_ms_per_call": ms("client"),
        "calls": calls,
        "calls_per_s": calls / seconds,
        "p50_ms": sum(run["latency"]["p50_ms"] for run in runs) / len(runs),
        "p99_ms": sum(run["latency"]["p99_ms"] for run in runs) / len(runs),
        "errors": sum(run["errors"] for run in runs),
        "error_kinds": [kind for run in runs for kind in run["error_kinds"]][:5],
        "gateway_cpu_ms_per_call_by_round": by_round,
        # Of the gateway's CPU: its collections other than the bench's own (young, and full ones
        # the thresholds started), per call, and how many ran in all the phases.
        "gc_young_ms_per_call": sum(run["gc"]["young_ns"] for run in runs) / max(calls, 1) / 1e6,
        "gc_full_ms_per_call": sum(run["gc"]["full_ns"] for run in runs) / max(calls, 1) / 1e6,
        "gc_young_collections": sum(run["gc"]["young"] for run in runs),
        "gc_full_collections": sum(run["gc"]["full"] for run in runs),
    }


def interval(differences: list[float], level: float = 0.90) -> tuple[float, float]:
    """A bootstrap interval of the mean of ``differences`` (percentile method, seeded)."""
    rng = random.Random(12)
    n = len(differences)
    means = sorted(sum(rng.choices(differences, k=n)) / n for _ in range(BOOTSTRAP))
    tail = (1 - level) / 2
    return means[int(tail * BOOTSTRAP)], means[min(BOOTSTRAP - 1, int((1 - tail) * BOOTSTRAP))]


def verdict(low: float, high: float, budget: float = BUDGET_MS) -> str:
    """``within`` or ``over`` the budget when the whole interval is on one side; else ``unresolved``."""
    if high <= budget:
        return "within"
    if low > budget:
        return "over"
    return "unresolved"


def difference(first: dict[str, Any], second: dict[str, Any]) -> dict[str, Any]:
    """``first - second``, gateway CPU ms per call, round by round (rounds pair the phases run together)."""
    rounds = [
        a - b
        for a, b in zip(
            first["gateway_cpu_ms_per_call_by_round"], second["gateway_cpu_ms_per_call_by_round"], strict=True
        )
    ]
    low, high = interval(rounds)
    return {
        "ms_by_round": rounds,
        "median_ms": statistics.median(rounds),
        "mean_ms": statistics.fmean(rounds),
        "interval_90_ms": [low, high],
        "overall_ms": first["gateway_cpu_ms_per_call"] - second["gateway_cpu_ms_per_call"],
        "ratio": first["gateway_cpu_ms_per_call"] / second["gateway_cpu_ms_per_call"],
        "budget": verdict(low, high),
    }


def summarize(phases: dict[str, dict[str, list[dict[str, Any]]]], setup: dict[str, float]) -> dict[str, Any]:
    out: dict[str, Any] = {"rounds": len(phases["on"]["read"]), "setup": setup, "budget_ms": BUDGET_MS}
    for phase in PHASES:
        sides = {name: _side(phases[name][phase]) for name in GATEWAYS}
        out[phase] = {
            **sides,
            **{f"{a}_minus_{b}": difference(sides[a], sides[b]) for a, b in PAIRS},
        }
    return out | {"phases": phases}


def report_rows(guard: dict[str, Any]) -> list[tuple[str, str]]:
    """Lines for ``tenants.py``'s stderr table."""
    rows = []
    for phase in PHASES:
        part = guard[phase]
        cpu = " / ".join(f"{part[name]['gateway_cpu_ms_per_call']:.3f}" for name in GATEWAYS)
        rows.append(
            (f"guardrails {phase} ({guard['rounds']} rounds): gateway CPU ms/call on / off / bare", cpu)
        )
        for a, b in PAIRS:
            diff = part[f"{a}_minus_{b}"]
            low, high = diff["interval_90_ms"]
            rows.append(
                (
                    f"  {a} - {b}: median, mean [90% interval]",
                    f"{diff['median_ms']:+.3f}, {diff['mean_ms']:+.3f} [{low:+.3f}, {high:+.3f}] ms:"
                    f" {diff['budget']} ({BUDGET_MS} ms)",
                )
            )
        rows.append(
            (
                "  calls/s, p50 ms, errors on / off / bare",
                " / ".join(
                    f"{part[n]['calls_per_s']:.0f}, {part[n]['p50_ms']:.0f}, {part[n]['errors']}"
                    for n in GATEWAYS
                ),
            )
        )
        rows.append(
            (
                "  of which GC ms/call (young + full) on / off / bare",
                " / ".join(
                    f"{part[n]['gc_young_ms_per_call']:.3f} + {part[n]['gc_full_ms_per_call']:.3f}"
                    for n in GATEWAYS
                ),
            )
        )
    return rows
