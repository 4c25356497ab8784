"""Suite-wide guard: no test leaves a process running behind it.

Tests start real processes (``mcpgram serve``, the demo, benchmarks that start their own sandbox
and gateway). A test that times out, or a process killed without its children, used to leave a
sandbox running long after the suite (once for 18 minutes). After each test module, every
descendant of this pytest process that the module started and that is still alive is killed,
with its own children, and the module's last test is failed, naming what was left. Module-scoped
fixtures (the workers deployment) have finished by then, so their processes count too.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

#: multiprocessing's resource tracker: one per process that spawned (the workers tests do), by design
#: alive until that process exits, which it follows by itself; not something a test left behind.
SHARED_HELPERS = ("multiprocessing.resource_tracker",)


def descendants(pid: int) -> dict[int, str]:
    """Every live process below ``pid`` (Linux ``/proc``), by pid, with its command line."""
    children: dict[int, list[int]] = {}
    names: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        # The command name in field 2 may hold spaces and parentheses; the rest follows the last ")".
        fields = stat[stat.rfind(")") + 2 :].split()
        if fields[0] == "Z":  # a zombie is already dead, only not yet reaped
            continue
        if any(helper in cmdline for helper in SHARED_HELPERS):
            continue
        children.setdefault(int(fields[1]), []).append(int(entry.name))
        names[int(entry.name)] = cmdline.strip()[:160]
    found: dict[int, str] = {}
    stack = [pid]
    while stack:
        for child in children.get(stack.pop(), []):
            found[child] = names.get(child, "?")
            stack.append(child)
    return found


def kill_all(pids: dict[int, str]) -> None:
    """SIGKILL each process, then give them a moment to go."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(Path(f"/proc/{pid}").exists() for pid in pids):
        time.sleep(0.05)


_present: dict[str, dict[int, str]] = {}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    module = item.nodeid.split("::")[0]
    if module not in _present:
        _present[module] = descendants(os.getpid())
    yield
    if nextitem is not None and nextitem.nodeid.split("::")[0] == module:
        return
    # The module's fixtures are torn down: whatever it started must be gone.
    before = _present[module]
    deadline = time.monotonic() + 3  # a process told to stop may take a moment to exit
    while True:
        left = {pid: cmd for pid, cmd in descendants(os.getpid()).items() if pid not in before}
        if not left or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    if left:
        kill_all(left)
        listing = "; ".join(f"{pid}: {cmd}" for pid, cmd in sorted(left.items()))
        item.config.stash.setdefault(_LEAKS, []).append(f"{module} left processes running: {listing}")


_LEAKS = pytest.StashKey[list[str]]()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    leaks = session.config.stash.get(_LEAKS, [])
    left = descendants(os.getpid())
    if left:
        kill_all(left)
        leaks.append("processes still running at the end: " + "; ".join(map(str, sorted(left))))
    if leaks:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        for leak in leaks:
            if reporter is not None:
                reporter.write_line(f"LEAK: {leak}", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
