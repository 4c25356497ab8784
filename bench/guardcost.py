"""What the guardrails cost one call, layer by layer, in a real gateway: CPU µs and instructions.

Issue 12's budget: the policy check and the audit append add at most 0.1 ms of CPU per call. The
whole gateway takes several ms of CPU per call, and on a shared 2-core machine its round-to-round
spread is larger than 0.1 ms (``tenants.py --compare-guardrails``), so this benchmark measures the
guardrails where they run instead, two ways, in one run:

- ``timed``: three gateways (``MCPGRAM_WORKERS=1``) started through ``bench/_guardprobe.py``, over
  copies of one data dir (same tenants, one sandbox in its own process): ``on`` (the defaults:
  policy, journal, call limit, pacing; the rates out of the way), ``off`` (the budget's part off:
  no policy, no journal; the call limit and pacing as in ``on``) and ``bare`` (``off`` with the
  limits off too: no guardrail at all; ``_guardrails.py``). Each
  layer of the guardrails is timed in place with ``time.thread_time_ns`` (its own code only, see
  ``_guardprobe.py``) while ``--sessions`` real MCP sessions (``bench/_mcp_http.py``) make read
  calls (``find_chats`` / ``get_messages``) and write calls (``send_message``), in ``--rounds``
  rounds, the gateways' order rotating. Per phase and gateway: µs per call of each layer, their
  sum, and the gateway process's whole CPU ms per call (``/proc``) in the same phases: the ratio;
- ``callgrind`` (``--callgrind``): the same three gateways, one at a time, without the probes and
  without the cyclic GC (a full collection runs on a timer, which would blur the counts), under
  ``valgrind --tool=callgrind``, which counts the instructions the process executes whatever else
  the machine is doing: ``--cg-calls`` sequential calls per phase after a warm-up, instructions
  per call (``callgrind_control -z`` before, ``-d`` after). ``on - off`` is what the policy check
  and the audit journal add (the issue's budget), ``on - bare`` what all the guardrails add; each
  is converted to µs with the ``bare`` gateway's own ns per instruction from the
  ``timed`` part (its CPU ms per call / its instructions per call), so the figure carries this
  run's cache misses, kernel time and clock speed. ``--cg-drop`` adds ``on`` without the journal,
  pacing or the call limit (one at a time, by their settings): each one's share; ``--before
  COMMIT`` adds ``on`` running that commit's ``src``; ``--cg-layers`` a probed ``on`` (its layers'
  share of CPU time under valgrind, in instructions: rough, the probes' own cost included).

The limits are timed by their decisions only (``_guardprobe.py``): a lower bound; ``--cg-drop``
counts them whole. See bench/README.md for what the numbers mean and how far to trust them.

JSON on stdout, a short table on stderr. Must not touch the user's data dir or ``.env``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx2 as httpx

import _common  # bench/_common.py
import _guardrails as guardrails  # bench/_guardrails.py
import tenants as bench  # bench/tenants.py
from _fronts import extract_before  # bench/_fronts.py

GATEWAYS = ("on", "off", "bare")
PHASES = ("read", "write")
POLICY = ("policy.lookup", "policy.listed", "policy.verbs", "policy.enforce")
AUDIT = ("audit.digest", "audit.append", "audit.note")
LIMITS = ("limits.call", "limits.pacing")
LAYERS = POLICY + AUDIT + LIMITS
PROBE = guardrails.PROBE
#: ``--cg-drop``: ``on`` with one guardrail off by its setting; ``on - on_without_<part>`` is its share.
DROPS = {
    "journal": {"MCPGRAM_AUDIT_JOURNAL": "false"},
    "pacing": {"MCPGRAM_PACING": "false"},
    "call_limit": {"MCPGRAM_CALL_RATE": "0"},
}
BUDGET_US = guardrails.BUDGET_MS * 1000


# -- timed -----------------------------------------------------------------------------------------


def _read_counters(out: Path) -> dict[str, Any] | None:
    if not out.exists():
        return None
    counters: dict[str, Any] = json.loads(out.read_text())
    out.unlink()
    return counters


async def zero_probes(gateway: bench.Gateway, out: Path) -> None:
    """Zero the gateway's probe counters (SIGUSR1; it measures the probes' own cost again first)."""
    marker = Path(f"{out}.zeroed")
    marker.unlink(missing_ok=True)  # noqa: ASYNC240 - one small file
    gateway.proc.send_signal(signal.SIGUSR1)
    for _ in range(2400):
        await asyncio.sleep(0.05)
        if marker.exists():  # noqa: ASYNC240 - one stat
            return
    raise RuntimeError("the gateway did not zero its probe counters")


async def _signal_and_read(gateway: bench.Gateway, out: Path) -> dict[str, Any]:
    """Ask the gateway for its probe counters (SIGUSR2) and read them once written."""
    gateway.proc.send_signal(signal.SIGUSR2)
    for _ in range(400):
        await asyncio.sleep(0.025)
        if (counters := _read_counters(out)) is not None:
            return counters
    raise RuntimeError("the gateway wrote no probe counters")


async def timed(
    args: argparse.Namespace, work: Path, settings: Any, tokens: list[str], peer_id: int
) -> dict[str, Any]:
    base_env = bench.gateway_env(settings, len(tokens), 1)
    gateways: dict[str, bench.Gateway] = {}
    outs = {name: work / f"probe-{name}.json" for name in GATEWAYS}
    runs: dict[str, dict[str, list[dict[str, Any]]]] = {n: {p: [] for p in PHASES} for n in GATEWAYS}
    try:
        for name in GATEWAYS:
            extra = {"GUARDPROBE_TIME": "1", "GUARDPROBE_OUT": str(outs[name])}
            gateways[name], _ = await guardrails.start_variant(
                name, work, settings, base_env, extra, (sys.executable, PROBE)
            )
            url = f"{gateways[name].base}/v1/mcp"
            await guardrails.warm_gateway(name, url, tokens, peer_id, args.sessions)
        writes = guardrails.write_plan(peer_id, args.calls_per_session)
        for turn in range(args.rounds):
            for phase in PHASES:
                shift = turn % len(GATEWAYS)
                for name in GATEWAYS[shift:] + GATEWAYS[:shift]:
                    gateway = gateways[name]
                    await zero_probes(gateway, outs[name])
                    meter = bench.CpuMeter({"gateway": gateway.proc.pid})
                    plan = writes if phase == "write" else None
                    url = f"{gateway.base}/v1/mcp"
                    user_before = _user_cpu_seconds(gateway.proc.pid)
                    run = await bench.load(url, tokens, peer_id, args, meter, server="gateway", plan=plan)
                    run["user_cpu_s"] = _user_cpu_seconds(gateway.proc.pid) - user_before
                    run["probes"] = await _signal_and_read(gateway, outs[name])
                    runs[name][phase].append(run)
    finally:
        for gateway in gateways.values():
            await bench.stop(gateway.proc)
    return {phase: {name: _timed_side(runs[name][phase]) for name in GATEWAYS} for phase in PHASES}


def _user_cpu_seconds(pid: int) -> float:
    """The gateway's user-mode CPU seconds (``utime`` in ``/proc``): the time its instructions run,
    which is what callgrind counts (it sees no kernel instructions)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) / os.sysconf("SC_CLK_TCK")


def _timed_side(runs: list[dict[str, Any]]) -> dict[str, Any]:
    calls = sum(run["calls"] for run in runs)
    layers = {
        layer: sum(run["probes"]["probes"].get(layer, {}).get("ns_net", 0) for run in runs) / calls / 1000
        for layer in (*LAYERS, "other", "call.resolve")
    }
    steps = sum(p["steps"] for run in runs for p in run["probes"]["probes"].values()) / calls
    overhead_ns = statistics.median(run["probes"]["step_overhead_ns"] for run in runs)
    per_round = [
        sum(run["probes"]["probes"].get(layer, {}).get("ns_net", 0) for layer in LAYERS) / run["calls"] / 1000
        for run in runs
    ]
    cpu_s = sum(run["cpu"]["gateway"]["cpu_s"] for run in runs)
    return {
        "calls": calls,
        "errors": sum(run["errors"] for run in runs),
        "error_kinds": [kind for run in runs for kind in run["error_kinds"]][:5],
        "calls_per_s": calls / sum(run["seconds"] for run in runs),
        "layers_us_per_call": layers,
        "policy_us_per_call": sum(layers[k] for k in POLICY),
        "audit_us_per_call": sum(layers[k] for k in AUDIT),
        "limits_us_per_call": sum(layers[k] for k in LIMITS),
        "guardrails_us_per_call": sum(layers[k] for k in LAYERS),
        "guardrails_us_per_call_by_round": per_round,
        "probe_steps_per_call": steps,
        "probe_step_overhead_ns": overhead_ns,
        "gateway_cpu_ms_per_call": cpu_s / calls * 1000,
        "gateway_cpu_ms_per_call_by_round": [run["cpu"]["gateway"]["ms_per_call"] for run in runs],
        "gateway_user_cpu_ms_per_call": sum(run["user_cpu_s"] for run in runs) / calls * 1000,
    }


# -- callgrind ---------------------------------------------------------------------------------------


def _callgrind(pid: int, *command: str) -> None:
    control = shutil.which("callgrind_control") or "callgrind_control"
    subprocess.run([control, *command, str(pid)], check=True, capture_output=True, timeout=120)  # noqa: S603


def _newest_totals(out: Path) -> dict[str, int]:
    """The newest dump's totals by event: ``Ir`` (instructions), and with ``--cg-cache`` the
    simulated cache's reads, writes and misses (``I1mr``, ``D1mr``, ``D1mw``, ``ILmr``...)."""
    dumps = sorted(out.parent.glob(out.name + ".*"), key=lambda p: int(p.suffix[1:]))
    events = ["Ir"]
    for line in dumps[-1].read_text().splitlines():
        if line.startswith("events:"):
            events = line.split()[1:]
        if line.startswith(("summary:", "totals:")):
            return dict(zip(events, (int(value) for value in line.split()[1:]), strict=False))
    raise RuntimeError(f"no totals in {dumps[-1].name}")


async def _load(url: str, tokens: list[str], plan: bench.Plan, calls: int, sessions: int = 1) -> bench.Tally:
    """About ``calls`` calls, ``len(plan)`` per session, tenants in turn: one session at a time, or
    ``sessions`` at once (each cycling through its share of the tenants; the last may overshoot)."""
    tally = bench.Tally()

    def done() -> int:
        return tally.calls + sum(tally.errors.values())

    async with httpx.AsyncClient(timeout=600, limits=httpx.Limits(max_connections=sessions)) as http:

        async def worker(first: int) -> None:
            index = first
            while done() < calls:
                left = calls - done() if sessions == 1 else len(plan)
                await bench.tenant_session(
                    url, tokens[index % len(tokens)], plan[:left], tally, None, http=http
                )
                index += sessions

        await asyncio.gather(*(worker(first) for first in range(sessions)))
    return tally


async def callgrind(  # noqa: PLR0915 - one variant after another, each counted the same way
    args: argparse.Namespace, work: Path, settings: Any, tokens: list[str], peer_id: int
) -> dict[str, Any]:
    base_env = bench.gateway_env(settings, len(tokens), 1)
    base_env["MCPGRAM_TELEGRAM_TIMEOUT"] = "120"
    plans = {
        "read": bench.plan_for(peer_id, args.calls_per_session),
        "write": guardrails.write_plan(peer_id, args.calls_per_session),
    }
    out: dict[str, Any] = {phase: {} for phase in PHASES}
    variants = [(name, name, False) for name in GATEWAYS]
    if args.cg_layers:
        variants.append(("on_probed", "on", True))
    if args.before:
        variants.append(("on_before", "on", False))
        before_src = extract_before(work, args.before)
    if args.cg_drop:
        variants += [(f"on_without_{part}", "on", False) for part in DROPS]
    for key, name, probed in variants:
        target = work / f"cg-{key}.out"
        python = (sys.executable, PROBE)  # GUARDPROBE_NOGC for every one; BARE, TIME as the variant says
        valgrind = ("valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={target}")
        if args.cg_cache:
            valgrind = (*valgrind[:2], "--cache-sim=yes", *valgrind[2:])
        counters = work / f"cg-{key}.json"
        extra = {"GUARDPROBE_NOGC": "1"}
        if probed:
            extra |= {"GUARDPROBE_TIME": "1", "GUARDPROBE_OUT": str(counters)}
        if key == "on_before":
            extra["PYTHONPATH"] = str(before_src)  # that commit's mcpgram, the same settings as on
        if key.startswith("on_without_"):
            extra |= DROPS[key.removeprefix("on_without_")]  # one guardrail off: its share is on - this
        gateway, _ = await guardrails.start_variant(
            name, work, settings, base_env, extra, (*valgrind, *python), home=f"cg-{key}"
        )
        try:
            url = f"{gateway.base}/v1/mcp"
            pid = gateway.proc.pid
            await guardrails.warm_gateway(name, url, tokens, peer_id, 1)
            _callgrind(pid, "-i", "on")
            for phase in PHASES:  # warm the instrumented code paths
                await _load(url, tokens, plans[phase], args.calls_per_session)
            for phase in PHASES:
                if probed:
                    await zero_probes(gateway, counters)  # before -z: its calibration is not a call's
                _callgrind(pid, "-z")
                meter = bench.CpuMeter({"gateway": pid})
                clock = time.perf_counter()
                tally = await _load(url, tokens, plans[phase], args.cg_calls, args.cg_sessions)
                seconds = time.perf_counter() - clock
                _callgrind(pid, "-d")
                if tally.errors:
                    raise RuntimeError(f"{key} {phase}: {dict(tally.errors.most_common(3))}")
                totals = _newest_totals(target)
                total = totals["Ir"]
                found = {
                    "calls": tally.calls,
                    "instructions": total,
                    "instructions_per_call": total / tally.calls,
                    "seconds": seconds,
                }
                if args.cg_cache:
                    found["events_per_call"] = {event: n / tally.calls for event, n in totals.items()}
                if probed:
                    cpu_ns = meter.used(seconds, tally.calls)["gateway"]["cpu_s"] * 1e9
                    probes = (await _signal_and_read(gateway, counters))["probes"]
                    # Under valgrind CPU time follows the instructions run: each layer's share of
                    # the process's CPU time, in instructions.
                    found["layers_instructions_per_call"] = {
                        layer: probes.get(layer, {}).get("ns_net", 0) / cpu_ns * total / tally.calls
                        for layer in LAYERS
                    }
                out[phase][key] = found
        finally:
            await bench.stop(gateway.proc)
    return out


# -- the result --------------------------------------------------------------------------------------


def _l1_misses(events: dict[str, float]) -> float:
    """First-level cache misses per call: instruction fetches, data reads and data writes."""
    return events.get("I1mr", 0) + events.get("D1mr", 0) + events.get("D1mw", 0)


def derive(timed_part: dict[str, Any], cg: dict[str, Any] | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for phase in PHASES:
        on, off, bare = (timed_part[phase][name] for name in GATEWAYS)
        part: dict[str, Any] = {
            "guardrails_us": on["guardrails_us_per_call"] - bare["guardrails_us_per_call"],
            "policy_and_audit_us": on["policy_us_per_call"] + on["audit_us_per_call"],
            "policy_us": on["policy_us_per_call"],
            "audit_us": on["audit_us_per_call"],
            "limits_us": on["limits_us_per_call"],
            "off_policy_us": off["policy_us_per_call"],
            "share_of_gateway_cpu": on["guardrails_us_per_call"] / 1000 / on["gateway_cpu_ms_per_call"],
            "within_budget_timed": on["policy_us_per_call"] + on["audit_us_per_call"] <= BUDGET_US,
        }
        if cg is not None:
            ipc = {name: cg[phase][name]["instructions_per_call"] for name in GATEWAYS}
            bare_ipc = ipc["bare"]
            ns_per_instruction = bare["gateway_cpu_ms_per_call"] * 1e6 / bare_ipc
            added = ipc["on"] - ipc["bare"]
            part |= {
                "instructions_per_call": ipc,
                "on_minus_bare_instructions": added,
                "on_minus_off_instructions": ipc["on"] - ipc["off"],
                "off_minus_bare_instructions": ipc["off"] - ipc["bare"],
                "on_to_bare_instructions": ipc["on"] / ipc["bare"],
                "ns_per_instruction": ns_per_instruction,
                # The budget, the policy check and the audit journal: on - off (``off`` has
                # the limits on, as ``on``); every guardrail, the limits too: on - bare.
                "policy_and_audit_us_callgrind": (ipc["on"] - ipc["off"]) * ns_per_instruction / 1000,
                "within_budget_callgrind": (ipc["on"] - ipc["off"]) * ns_per_instruction / 1000 <= BUDGET_US,
                "guardrails_us_callgrind": added * ns_per_instruction / 1000,
                "all_guardrails_within_budget_callgrind": added * ns_per_instruction / 1000 <= BUDGET_US,
                # The same in user time only: the bare gateway's kernel time (sockets, epoll) has no
                # instructions in callgrind's count, so the figure above charges it to every
                # instruction; the guardrails' own system calls are few (the journal's four).
                "ns_per_instruction_user": (user_ns := bare["gateway_user_cpu_ms_per_call"] * 1e6 / bare_ipc),
                "guardrails_us_callgrind_user": added * user_ns / 1000,
            }
            shares = {
                drop: ipc["on"] - cg[phase][f"on_without_{drop}"]["instructions_per_call"]
                for drop in DROPS
                if f"on_without_{drop}" in cg[phase]
            }
            if shares:  # what is left of on - bare is the policy's (and the noise)
                part["instructions_by_guardrail"] = {
                    **shares,
                    "policy_and_rest": added - sum(shares.values()),
                }
            if "events_per_call" in cg[phase]["on"]:  # --cg-cache: the simulated first-level misses
                events = {name: cg[phase][name]["events_per_call"] for name in GATEWAYS}
                part["l1_misses_per_call"] = {name: _l1_misses(found) for name, found in events.items()}
                part["on_minus_off_l1_misses"] = _l1_misses(events["on"]) - _l1_misses(events["off"])
                part["on_minus_off_events"] = {
                    k: events["on"][k] - events["off"].get(k, 0) for k in events["on"]
                }
            if "on_before" in cg[phase]:
                before = cg[phase]["on_before"]["instructions_per_call"]
                part["before_on_minus_bare_instructions"] = before - ipc["bare"]
                part["before_on_minus_off_instructions"] = before - ipc["off"]
                part["before_policy_and_audit_us_callgrind"] = (
                    (before - ipc["off"]) * ns_per_instruction / 1000
                )
                part["before_guardrails_us_callgrind"] = (before - ipc["bare"]) * ns_per_instruction / 1000
                part["before_guardrails_us_callgrind_user"] = (
                    (before - ipc["bare"]) * part["ns_per_instruction_user"] / 1000
                )
        out[phase] = part
    return out


async def measure(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    sandbox, info = await bench.spawn_json(
        bench.__file__, "--serve-sandbox", "--tenants", str(args.tenants), "--messages", "30"
    )
    try:
        settings = bench.gateway_settings(work, info)
        tokens = await bench.log_in_tenants(settings, info, args.tenants, 10)
        peer_id = info["peer_id"]
        timed_part = await timed(args, work, settings, tokens, peer_id)
        cg = (
            await callgrind(args, work, settings, tokens[: args.cg_tenants], peer_id)
            if args.callgrind
            else None
        )
    except BaseException:
        bench.print_last_output({"sandbox": sandbox})
        raise
    finally:
        await bench.stop(sandbox)
    return {"timed": timed_part, "callgrind": cg, "result": derive(timed_part, cg)}


def report(result: dict[str, Any]) -> None:
    rows: list[tuple[str, str]] = []
    for phase in PHASES:
        timed_part, derived = result["timed"][phase], result["result"][phase]
        on = timed_part["on"]
        cpu = " / ".join(f"{timed_part[n]['gateway_cpu_ms_per_call']:.3f}" for n in GATEWAYS)
        rows += [
            (f"{phase}: gateway CPU ms/call on / off / bare (timed)", cpu),
            (
                "  guardrails in place, µs/call: policy + audit (+ limits)",
                f"{derived['policy_us']:.1f} + {derived['audit_us']:.1f} (+ {derived['limits_us']:.1f})"
                f" = {on['guardrails_us_per_call']:.1f}; {derived['share_of_gateway_cpu']:.1%} of the call",
            ),
            (
                "  layers µs/call",
                ", ".join(f"{k} {v:.1f}" for k, v in on["layers_us_per_call"].items() if k != "other"),
            ),
        ]
        if "instructions_per_call" in derived:
            ipc = derived["instructions_per_call"]
            probed = result["callgrind"][phase].get("on_probed")
            if probed is not None:
                layers = probed["layers_instructions_per_call"].items()
                by_layer = ", ".join(f"{k} {v / 1e3:.0f}" for k, v in layers)
                rows.append(("  callgrind k instructions/call by layer (probed on)", by_layer))
            rows += [
                (
                    "  on - off: the policy check and the audit journal (the budget)",
                    f"{derived['on_minus_off_instructions'] / 1e3:+.0f} k instructions"
                    f" = {derived['policy_and_audit_us_callgrind']:.1f} µs",
                ),
                (
                    "  callgrind instructions/call on / off / bare",
                    " / ".join(f"{ipc[n] / 1e6:.3f} M" for n in GATEWAYS),
                ),
                (
                    "  on - bare",
                    f"{derived['on_minus_bare_instructions'] / 1e3:+.0f} k instructions"
                    f" x {derived['ns_per_instruction']:.3f} ns"
                    f" = {derived['guardrails_us_callgrind']:.1f} µs"
                    f" (user time only: x {derived['ns_per_instruction_user']:.3f} ns"
                    f" = {derived['guardrails_us_callgrind_user']:.1f} µs)",
                ),
            ]
            if "l1_misses_per_call" in derived:
                misses = derived["l1_misses_per_call"]
                rows.append(
                    (
                        "  simulated L1 misses/call on / off / bare (on - off)",
                        " / ".join(f"{misses[n] / 1e3:.1f} k" for n in GATEWAYS)
                        + f" ({derived['on_minus_off_l1_misses'] / 1e3:+.1f} k)",
                    )
                )
            if "instructions_by_guardrail" in derived:
                rows.append(
                    (
                        "  k instructions/call by guardrail (on - on without it)",
                        ", ".join(
                            f"{k} {v / 1e3:+.0f}" for k, v in derived["instructions_by_guardrail"].items()
                        ),
                    )
                )
            if "before_on_minus_bare_instructions" in derived:
                rows.append(
                    (
                        f"  on - bare at {result['config']['before']}",
                        f"{derived['before_on_minus_bare_instructions'] / 1e3:+.0f} k instructions"
                        f" = {derived['before_guardrails_us_callgrind']:.1f} µs; on - off"
                        f" {derived['before_on_minus_off_instructions'] / 1e3:+.0f} k"
                        f" = {derived['before_policy_and_audit_us_callgrind']:.1f} µs",
                    )
                )
    width = max(len(label) for label, _ in rows)
    for label, value in rows:
        print(f"{label:<{width}}  {value}", file=sys.stderr)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--tenants", type=int, default=20, help="tenants logged in (default 20)")
    parser.add_argument("--sessions", type=int, default=8, help="concurrent MCP sessions (default 8)")
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each phase (default 5)")
    parser.add_argument(
        "--rounds", type=int, default=4, help="rounds of the read and write phases (default 4)"
    )
    parser.add_argument(
        "--calls-per-session", type=int, default=10, help="tool calls per session (default 10)"
    )
    parser.add_argument("--callgrind", action="store_true", help="also count instructions under valgrind")
    parser.add_argument(
        "--cg-calls", type=int, default=40, help="calls per phase under callgrind (default 40)"
    )
    parser.add_argument(
        "--cg-sessions",
        type=int,
        default=1,
        help="with --callgrind: MCP sessions at once in the counted phases (default 1: a call at a time)",
    )
    parser.add_argument(
        "--cg-tenants",
        type=int,
        default=2,
        help="with --callgrind: tenants the calls cycle through (default 2)",
    )
    parser.add_argument(
        "--cg-cache",
        action="store_true",
        help="with --callgrind: simulate the caches too (--cache-sim=yes): first-level misses per call",
    )
    parser.add_argument(
        "--cg-layers",
        action="store_true",
        help="with --callgrind: also a probed 'on' gateway under callgrind (instructions by layer)",
    )
    parser.add_argument(
        "--before",
        metavar="COMMIT",
        help="with --callgrind: also an 'on' gateway on this commit's src (git archive): before/after",
    )
    parser.add_argument(
        "--cg-drop",
        action="store_true",
        help="with --callgrind: also 'on' without the journal, pacing, the call limit, one at a time",
    )
    parser.add_argument("--output", type=Path, help="also write the JSON here (e.g. bench/results/...)")
    args = parser.parse_args()
    args.client = "lean"
    return args


def main() -> int:
    args = parse_args()

    def build(measured: dict[str, Any]) -> dict[str, Any]:
        keys = (
            "tenants",
            "sessions",
            "seconds",
            "rounds",
            "calls_per_session",
            "callgrind",
            "cg_calls",
            "cg_layers",
            "before",
            "cg_drop",
            "cg_sessions",
            "cg_tenants",
            "cg_cache",
        )
        return {
            "benchmark": "guardcost",
            "environment": _common.environment(),
            "config": {key: getattr(args, key) for key in keys},
            "budget_us": BUDGET_US,
            **measured,
        }

    return _common.run("guardcost", lambda work: measure(args, work), build, report, args.output)


if __name__ == "__main__":
    raise SystemExit(main())
