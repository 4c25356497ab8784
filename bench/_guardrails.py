"""``tenants.py --compare-guardrails``: what the guardrails cost per call, on vs off, in one run.

Two gateways over copies of the data dir ``tenants.py`` prepared (same tenants, same sandbox,
``--workers`` workers each), both running at once:

- ``on``: the defaults: policy ``all`` (``first_contact`` and ``delete_everyone`` on ``approve``),
  the audit journal, the call limit and write pacing. The limits' rates are raised out of the way
  (``MCPGRAM_CALL_RATE`` high, ``pace_*_seconds`` 0): their code runs on every call, they never wait;
- ``off``: every tenant stores policy ``all`` with ``first_contact`` and ``delete_everyone`` on
  ``allow`` (every verb the profile has on allow), no journal, no call limit, no pacing.

Each tenant first makes its calls once through each gateway (its Telegram client connected in
both, a first write made, so pacing knows the chat). Then, ``--guard-rounds`` times, each gateway
in turn (``on`` first in even rounds, ``off`` first in odd ones) serves a read phase
(``find_chats`` / ``get_messages`` alternating, as ``load``) and a write phase (``send_message``
to the Bench Peer chat, which every tenant has written in: no approval). Per gateway and phase:
the gateway's CPU ms per call (its whole process tree), calls/s, latency, errors; then
``on - off`` per phase, over all rounds and per round.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import tenants as bench  # bench/tenants.py (its helpers; the script itself runs as __main__)
from mcpgram.datadir import server_secret_bytes
from mcpgram.policy.book import PolicyBook
from mcpgram.policy.model import profile
from mcpgram.vault.sqlite import SQLiteVault
from mcpgram.vault.vault import Vault

GATEWAYS = ("on", "off")
PHASES = ("read", "write")
#: The issue's budget: the policy check and the audit append add at most this per call.
BUDGET_MS = 0.1

ON_ENV = {
    "MCPGRAM_PACE_WRITE_SECONDS": "0",
    "MCPGRAM_PACE_CHAT_SECONDS": "0",
    "MCPGRAM_PACE_NEW_RECIPIENT_SECONDS": "0",
}
OFF_ENV = {"MCPGRAM_AUDIT_JOURNAL": "false", "MCPGRAM_PACING": "false", "MCPGRAM_CALL_RATE": "0"}


def write_plan(peer_id: int, calls: int) -> bench.Plan:
    return [("send_message", {"chat": str(peer_id), "text": f"bench write {n}"}) for n in range(calls)]


def allow_everything(data_dir: Path, server_secret: bytes) -> None:
    """Store, for every tenant in ``data_dir``'s vault, profile ``all`` with no approvals."""
    store = SQLiteVault(data_dir / "vault.db")
    try:
        book = PolicyBook(Vault(store, server_secret=server_secret), "all")
        open_policy = replace(profile("all"), first_contact="allow", delete_everyone="allow")
        for record in store.list_tenants():
            book.set(record.tenant_id, open_policy)
    finally:
        store.close()


async def compare_guardrails(  # noqa: PLR0917 - what tenants.measure holds, passed on as is
    args: argparse.Namespace,
    work: Path,
    settings: Any,
    tokens: list[str],
    peer_id: int,
    sandbox_pid: int,
) -> dict[str, Any]:
    """Start both gateways, warm every tenant in each, run the alternating read and write phases."""
    base_env = bench.gateway_env(settings, args.tenants, args.workers)
    gateways: dict[str, bench.Gateway] = {}
    setup: dict[str, float] = {}
    writes = write_plan(peer_id, args.calls_per_session)
    try:
        for name in GATEWAYS:
            home = work / f"guard-{name}"
            home.mkdir()
            shutil.copytree(settings.data_dir, home / "data")  # a vault of its own, same tenants
            if name == "off":
                allow_everything(home / "data", server_secret_bytes(settings))
            env = {
                **base_env,
                **(ON_ENV if name == "on" else OFF_ENV),
                "MCPGRAM_DATA_DIR": str(home / "data"),
            }
            clock = time.perf_counter()
            gateways[name] = gateway = await bench.start_gateway(env, home)
            url = f"{gateway.base}/v1/mcp"
            warm = await bench.warm_all(url, tokens, peer_id, args.sessions)
            warm_writes = bench.Tally()
            queue = iter(tokens)

            async def worker(url: str = url, tally: bench.Tally = warm_writes, queue: Any = queue) -> None:
                for token in queue:
                    await bench.tenant_session(url, token, write_plan(peer_id, 1), tally, None)

            await asyncio.gather(*(worker() for _ in range(args.sessions)))
            setup[f"{name}_start_and_warm_s"] = time.perf_counter() - clock
            errors = warm.errors + warm_writes.errors
            if errors:
                raise RuntimeError(f"{name}: warming up failed: {dict(errors.most_common(3))}")
            sent = warm_writes.texts.get("send_message", "")
            if (
                "approv" in sent.lower() or '"id"' not in sent
            ):  # a write that waits for a person is no measure
                raise RuntimeError(f"{name}: send_message did not send: {sent[:200]}")
        await asyncio.sleep(args.settle)
        phases: dict[str, dict[str, list[dict[str, Any]]]] = {
            name: {phase: [] for phase in PHASES} for name in GATEWAYS
        }
        for turn in range(args.guard_rounds):
            for phase in PHASES:
                for name in GATEWAYS if turn % 2 == 0 else GATEWAYS[::-1]:  # who goes first alternates
                    gateway = gateways[name]
                    meter = bench.CpuMeter({"gateway": gateway.proc.pid, "sandbox": sandbox_pid})
                    url = f"{gateway.base}/v1/mcp"
                    plan = writes if phase == "write" else None
                    run = await bench.load(url, tokens, peer_id, args, meter, server="gateway", plan=plan)
                    phases[name][phase].append(run)
    finally:
        for gateway in gateways.values():
            await bench.stop(gateway.proc)
    return summarize(phases, setup)


def _side(runs: list[dict[str, Any]]) -> dict[str, Any]:
    calls = sum(run["calls"] for run in runs)
    seconds = sum(run["seconds"] for run in runs)

    def ms(process: str) -> float:
        spent: float = sum(run["cpu"][process]["cpu_s"] for run in runs)
        return spent / max(calls, 1) * 1000

    return {
        "gateway_cpu_ms_per_call": ms("gateway"),
        "sandbox_cpu_ms_per_call": ms("sandbox"),
        "client_cpu_ms_per_call": ms("client"),
        "calls": calls,
        "calls_per_s": calls / seconds,
        "p50_ms": sum(run["latency"]["p50_ms"] for run in runs) / len(runs),
        "p99_ms": sum(run["latency"]["p99_ms"] for run in runs) / len(runs),
        "errors": sum(run["errors"] for run in runs),
        "error_kinds": [kind for run in runs for kind in run["error_kinds"]][:5],
        "gateway_cpu_ms_per_call_by_round": [run["cpu"]["gateway"]["ms_per_call"] for run in runs],
    }


def summarize(phases: dict[str, dict[str, list[dict[str, Any]]]], setup: dict[str, float]) -> dict[str, Any]:
    out: dict[str, Any] = {"rounds": len(phases["on"]["read"]), "setup": setup, "budget_ms": BUDGET_MS}
    for phase in PHASES:
        on, off = _side(phases["on"][phase]), _side(phases["off"][phase])
        difference = on["gateway_cpu_ms_per_call"] - off["gateway_cpu_ms_per_call"]
        out[phase] = {
            "on": on,
            "off": off,
            "on_minus_off_ms": difference,
            "on_to_off": on["gateway_cpu_ms_per_call"] / off["gateway_cpu_ms_per_call"],
            "on_minus_off_ms_by_round": [
                a - b
                for a, b in zip(
                    on["gateway_cpu_ms_per_call_by_round"],
                    off["gateway_cpu_ms_per_call_by_round"],
                    strict=True,
                )
            ],
            "within_budget": difference <= BUDGET_MS,
        }
    return out | {"phases": phases}


def report_rows(guard: dict[str, Any]) -> list[tuple[str, str]]:
    """Lines for ``tenants.py``'s stderr table."""
    rows = []
    for phase in PHASES:
        part = guard[phase]
        on, off = part["on"], part["off"]
        rounds = ", ".join(f"{d:+.3f}" for d in part["on_minus_off_ms_by_round"])
        rows += [
            (
                f"guardrails {phase} ({guard['rounds']} rounds): gateway CPU ms/call on / off",
                f"{on['gateway_cpu_ms_per_call']:.3f} / {off['gateway_cpu_ms_per_call']:.3f}",
            ),
            (
                "  on - off (by round)",
                f"{part['on_minus_off_ms']:+.3f} ms ({rounds});"
                f" {'within' if part['within_budget'] else 'over'} {BUDGET_MS}",
            ),
            (
                "  calls/s, p50 ms, errors on / off",
                f"{on['calls_per_s']:.0f}, {on['p50_ms']:.0f}, {on['errors']}"
                f" / {off['calls_per_s']:.0f}, {off['p50_ms']:.0f}, {off['errors']}",
            ),
        ]
    return rows
