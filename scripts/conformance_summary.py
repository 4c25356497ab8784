#!/usr/bin/env python3
"""Summarise one run of the MCP conformance suite's server scenarios against an allow-list.

Used by ``scripts/conformance.sh``. Reads the suite's results directory (one
``server-<scenario>-<timestamp>/checks.json`` per scenario), prints a table, and exits 1 when a
scenario failed that the allow-list does not name, when a listed scenario passed (the list is
stale), or when the suite produced no results. A scenario fails when any of its checks is a
FAILURE, as the suite itself counts; WARNING checks are shown but do not fail it.

Must not: print the server URL (it may carry a url_auth token); only scenario names and the
suite's check messages are shown. Standard library only (runs on any Python 3.11+).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

# ``server-<scenario>-2026-11-21T20-27-58-347Z``: the suite's result directory name.
RESULT_DIR = re.compile(r"^server-(?P<scenario>.+)-\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}-\d{3}Z$")
MESSAGE_WIDTH = 100


@dataclass
class Scenario:
    """What one scenario's checks came to."""

    name: str
    passed: bool
    failures: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def read_allow_list(path: Path) -> dict[str, str]:
    """Return ``{scenario: reason}`` from lines ``scenario  # reason`` (blank and ``#`` lines skipped)."""
    allowed: dict[str, str] = {}
    for raw in path.read_text(encoding="utf-8").splitlines():
        name, _, reason = raw.partition("#")
        if name.strip():
            allowed[name.strip()] = reason.strip()
    return allowed


def read_results(results: Path) -> list[Scenario]:
    """Return one :class:`Scenario` per result directory under ``results``, sorted by name."""
    scenarios: list[Scenario] = []
    for directory in sorted(results.iterdir()):
        match = RESULT_DIR.match(directory.name)
        if not match or not (directory / "checks.json").is_file():
            continue
        checks = json.loads((directory / "checks.json").read_text(encoding="utf-8"))
        failures = [_message(check) for check in checks if check.get("status") == "FAILURE"]
        warnings = [_message(check) for check in checks if check.get("status") == "WARNING"]
        scenarios.append(Scenario(match["scenario"], not failures, failures, warnings))
    return sorted(scenarios, key=lambda scenario: scenario.name)


def _message(check: dict[str, object]) -> str:
    text = str(check.get("errorMessage") or check.get("description") or "")
    return f"{check.get('id')}: {' '.join(text.split())}"[:MESSAGE_WIDTH]


def judge(scenarios: list[Scenario], allowed: dict[str, str]) -> tuple[list[str], list[str]]:
    """Return the unexpected failures and the stale allow-list entries (listed, yet passed)."""
    unexpected = [s.name for s in scenarios if not s.passed and s.name not in allowed]
    stale = [s.name for s in scenarios if s.passed and s.name in allowed]
    return unexpected, stale


def report(mode: str, scenarios: list[Scenario], allowed: dict[str, str]) -> int:
    """Print the table and the verdict for ``mode``; return the exit status."""
    if not scenarios:
        print(f"conformance: {mode}: the suite produced no results (see suite.log)")
        return 1
    unexpected, stale = judge(scenarios, allowed)
    width = max(len(s.name) for s in scenarios)
    print(f"\nconformance: {mode}")
    for s in scenarios:
        if s.passed:
            verdict = "STALE" if s.name in stale else "pass"
        else:
            verdict = "expected" if s.name in allowed else "UNEXPECTED"
        detail = s.failures[0] if s.failures else (s.warnings[0] if s.warnings else "")
        print(f"  {s.name:<{width}}  {verdict:<10}  {detail}")
        for extra in [*s.failures[1:], *s.warnings[int(not s.failures) :]]:
            print(f"  {'':<{width}}  {'':<10}  {extra}")
    passed = sum(s.passed for s in scenarios)
    print(
        f"conformance: {mode}: {len(scenarios)} scenarios: {passed} pass, "
        f"{len(scenarios) - passed - len(unexpected)} fail as listed, {len(unexpected)} fail unexpectedly, "
        f"{len(stale)} listed but pass"
    )
    for name in unexpected:
        print(f"conformance: {mode}: UNEXPECTED failure: {name}")
    for name in stale:
        print(f"conformance: {mode}: {name} passes now: remove it from the expected-failures list")
    return 1 if unexpected or stale else 0


def main(argv: list[str] | None = None) -> int:
    """Parse the arguments, summarise, and return the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("results", type=Path, help="the suite's --output-dir")
    parser.add_argument("--allow", type=Path, required=True, help="the expected-failures list")
    parser.add_argument("--mode", default="server", help="label for the output")
    args = parser.parse_args(argv)
    return report(args.mode, read_results(args.results), read_allow_list(args.allow))


if __name__ == "__main__":
    sys.exit(main())
