"""Runs ``mcpgram`` with the guardrail layers timed (or switched off), for ``bench/guardcost.py``.

``python bench/_guardprobe.py serve --transport http ...`` is ``python -m mcpgram serve ...`` (one
gateway process: ``MCPGRAM_WORKERS=1``) with, first:

- ``GUARDPROBE_TIME=1``: every guardrail layer wrapped in a probe that adds up the CPU time its
  own code takes (``time.thread_time_ns``), without what it calls that is not a guardrail (the
  tool's Telegram call inside pacing, the rest of the server inside the call-limit middleware).
  An async layer is timed step by step (each ``send`` into its coroutine), so time spent in other
  tasks while it waits is not counted. ``SIGUSR1`` zeroes the counters, ``SIGUSR2`` writes them as
  JSON to ``GUARDPROBE_OUT``.
- ``GUARDPROBE_BARE=1``: the policy itself switched off (no policy middleware, no stored policy
  read, no verb or scope check): with the journal, the call limit and pacing off by settings, a gateway
  with no guardrail code on the call path, for a ``bare`` baseline.
- ``GUARDPROBE_PHASE_GC=<directory>``: the minutely full collection runs when the bench signals
  (``SIGRTMIN``) between phases instead of on its timer (:func:`install_phase_gc`).

The layers, by what the issue's budget covers:

- ``policy.lookup``: ``PolicyBook.get``, the tenant's stored policy (an indexed SQLite read);
- ``policy.listed``: ``tool_listed`` in the policy middleware (may this tenant call this tool);
- ``policy.verbs``: ``guard.check_verbs`` (before Telegram) and ``looks_like_answer``;
- ``policy.enforce``: ``guard.enforce``: scopes, first contact (the written-chats memory), delete
  for everyone;
- ``limits.call``: ``CallLimiter.check`` (the bucket), not the middleware's hop;
- ``limits.pacing``: the pacer's bucket takes and ``WritePacer.paces``, not the rest of
  ``WritePacer.run`` (resolving the chat, building its buckets, awaiting the write);
- ``audit.digest``: the content's keyed digest (``journal_digest``, or inline for a text:
  ``digested_here`` and ``JournalKeys.content_digest``);
- ``audit.append``: ``AuditJournal.append``: encode, MAC chain, ``flock``, ``fstat``, ``write``,
  the fsync policy;
- ``audit.note``: the rest of the entry: ``journaled``, ``JournalNote.write`` without the append,
  ``written_chat``.

``other`` is what an async layer awaits that is not its own (``hole``), not counted; nor is
``call.resolve``, the look-up of a write's chat in the entity cache, which the guard does first
and the call itself then reuses (``bare`` does it in the call). The two limits
are timed by their decisions only, so the sum is a lower bound for them; ``guardcost.py --cg-drop``
counts each guardrail whole, under callgrind.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import json
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Generator
from typing import Any

from fastmcp import FastMCP

from mcpgram import app
from mcpgram.audit.entry import JournalKeys
from mcpgram.audit.journal import AuditJournal
from mcpgram.cli import main as cli_main
from mcpgram.limits.pacing import CallLimiter, WritePacer
from mcpgram.policy import guard
from mcpgram.policy.book import PolicyBook
from mcpgram.telegram import chats
from mcpgram.tools import context, journaling, visibility

_clock = time.thread_time_ns


class Probe:
    __slots__ = ("is_async", "name", "ns", "steps")

    def __init__(self, name: str, *, is_async: bool = False) -> None:
        self.name = name
        self.is_async = is_async
        self.ns = 0
        self.steps = 0


PROBES: dict[str, Probe] = {}
#: Time of the probed steps nested in the step now running (a stack: one slot per open step).
_nested: list[int] = []
#: What one probed step costs the probe itself (measured at start; taken off each step): a sync
#: call, and a step of an async layer resumed around a hole (its frames, the stepping generator).
STEP_OVERHEAD_NS = 0
ASYNC_STEP_OVERHEAD_NS = 0


def probe(name: str, *, is_async: bool = False) -> Probe:
    return PROBES.setdefault(name, Probe(name, is_async=is_async))


def _timed(where: Probe, fn: Callable[..., Any], *args: Any) -> Any:
    _nested.append(0)
    start = _clock()
    try:
        return fn(*args)
    finally:
        elapsed = _clock() - start
        where.ns += elapsed - _nested.pop()
        where.steps += 1
        if _nested:
            _nested[-1] += elapsed


def timed_sync(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    where = probe(name)

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return _timed(where, functools.partial(fn, *args, **kwargs))

    return wrapper


class _Stepped:
    """Awaits ``coro``, timing each step of it (its own code and what it calls synchronously)."""

    __slots__ = ("coro", "where")

    def __init__(self, where: Probe, coro: Any) -> None:
        self.where = where
        self.coro = coro

    def __await__(self) -> Generator[Any, Any, Any]:
        coro, where = self.coro, self.where
        value: Any = None
        error: BaseException | None = None
        while True:
            try:
                if error is None:
                    yielded = _timed(where, coro.send, value)
                else:
                    yielded = _timed(where, coro.throw, error)
            except StopIteration as stop:
                return stop.value
            try:
                value, error = (yield yielded), None
            except BaseException as exc:  # handed to the coroutine, as await does
                value, error = None, exc


def timed_async(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    where = probe(name, is_async=True)

    @functools.wraps(fn)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        return await _Stepped(where, fn(*args, **kwargs))

    return wrapper


def hole(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` timed apart (``other``): inside a probed layer, the part that is not the layer's."""
    return timed_async("other", fn)


def _calibrate() -> int:
    """CPU ns one probed step adds: a probed no-op against a bare call, best of 3."""
    where, nop = Probe("calibration"), (lambda: None)
    best = None
    for _ in range(3):
        start = _clock()
        for _ in range(10_000):
            _timed(where, nop)
        probed = _clock() - start
        start = _clock()
        for _ in range(10_000):
            nop()
        bare = _clock() - start
        per = (probed - bare) // 10_000
        best = per if best is None else min(best, per)
    return best or 0


def _calibrate_async() -> int:
    """CPU ns an empty async layer around a hole is charged per step (best of 3 runs)."""
    layer = Probe("calibration", is_async=True)
    steps = 1000

    async def inner() -> None:
        for _ in range(steps):
            await asyncio.sleep(0)

    async def empty(call: Callable[[], Any]) -> None:
        await hole(call)()

    best = None
    for _ in range(3):
        layer.ns = layer.steps = 0
        asyncio.run(_run_stepped(layer, empty(inner)))
        per = layer.ns // max(layer.steps, 1)
        best = per if best is None else min(best, per)
    PROBES.pop("other", None)
    return best or 0


def _calibrate_async_into(out: list[int]) -> None:
    out[0] = _calibrate_async()


async def _run_stepped(layer: Probe, coro: Any) -> None:
    await _Stepped(layer, coro)


class _TimedTakes:
    """The pacer's rate store, its takes timed as ``limits.pacing`` (the call limit's are its own)."""

    def __init__(self, store: Any) -> None:
        self._store = store
        self.take = timed_sync("limits.pacing", store.take)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


def install_timing() -> None:

    PolicyBook.get = timed_sync("policy.lookup", PolicyBook.get)  # type: ignore[method-assign]
    visibility.tool_listed = timed_sync("policy.listed", visibility.tool_listed)
    guard.check_verbs = timed_sync("policy.verbs", guard.check_verbs)
    context.looks_like_answer = timed_sync("policy.verbs", context.looks_like_answer)
    guard.enforce = timed_async("policy.enforce", guard.enforce)
    # The chat a write names is resolved once per call (``scope.resolutions``), by whichever needs
    # it first: the guard here, the send itself in ``bare``. Timed apart, as the call's own work.
    chats._resolve_chat = timed_async("call.resolve", chats._resolve_chat)

    # The call limit and pacing: their decisions only (sync). Their middleware hop and the rest of
    # the pacer's coroutine are not timed here: a layer awaiting the rest of the call is charged
    # each resume of the frames under it, far more than it costs unprobed (callgrind's
    # ``--cg-drop`` measures each guardrail whole instead).
    CallLimiter.check = timed_sync("limits.call", CallLimiter.check)  # type: ignore[method-assign]
    pacer_init = WritePacer.__init__

    def paced_store(self: WritePacer, store: Any, *args: Any, **kwargs: Any) -> None:
        pacer_init(self, _TimedTakes(store), *args, **kwargs)

    WritePacer.__init__ = paced_store  # type: ignore[method-assign]
    WritePacer.paces = staticmethod(timed_sync("limits.pacing", WritePacer.paces))  # type: ignore[method-assign]

    context.journal_digest = timed_async("audit.digest", context.journal_digest)
    # A text's digest is taken inline, without journal_digest (since 2026-12-07 23:40 UTC).
    context.digested_here = timed_sync("audit.digest", context.digested_here)
    JournalKeys.content_digest = timed_sync("audit.digest", JournalKeys.content_digest)  # type: ignore[method-assign]
    AuditJournal.digest = timed_sync("audit.digest", AuditJournal.digest)  # type: ignore[method-assign]
    AuditJournal.append = timed_sync("audit.append", AuditJournal.append)  # type: ignore[method-assign]
    context.journaled = timed_sync("audit.note", context.journaled)
    journaling.JournalNote.write = timed_sync("audit.note", journaling.JournalNote.write)  # type: ignore[method-assign]
    context.written_chat = timed_async("audit.note", context.written_chat)

    global STEP_OVERHEAD_NS, ASYNC_STEP_OVERHEAD_NS  # noqa: PLW0603 - set once, before serving
    STEP_OVERHEAD_NS = _calibrate()
    ASYNC_STEP_OVERHEAD_NS = _calibrate_async()
    out = os.environ["GUARDPROBE_OUT"]

    def zero(*_: Any) -> None:
        """Zero the counters and measure the probes' own cost again, as busy as the machine is now."""
        global STEP_OVERHEAD_NS, ASYNC_STEP_OVERHEAD_NS  # noqa: PLW0603 - between phases only
        STEP_OVERHEAD_NS = _calibrate()
        calibrating = threading.Thread(target=_calibrate_async_into, args=(overheads := [0],))
        calibrating.start()  # its own event loop, in a thread: this one is serving
        calibrating.join()
        ASYNC_STEP_OVERHEAD_NS = overheads[0]
        for where in PROBES.values():
            where.ns = where.steps = 0
        with open(out + ".zeroed", "w", encoding="utf-8"):  # the bench waits for this
            pass

    def dump(*_: Any) -> None:
        counters = {
            name: {
                "ns": where.ns,
                "steps": where.steps,
                "ns_net": where.ns
                - where.steps * (ASYNC_STEP_OVERHEAD_NS if where.is_async else STEP_OVERHEAD_NS),
            }
            for name, where in PROBES.items()
        }
        tmp = out + ".tmp"
        with open(tmp, "w", encoding="utf-8") as file:
            overheads = {
                "step_overhead_ns": STEP_OVERHEAD_NS,
                "async_step_overhead_ns": ASYNC_STEP_OVERHEAD_NS,
            }
            json.dump({**overheads, "probes": counters}, file)
        os.replace(tmp, out)

    signal.signal(signal.SIGUSR1, zero)
    signal.signal(signal.SIGUSR2, dump)


def install_bare() -> None:
    """The policy off: no stored policy read, every tool listed, no verb, scope or approval check."""

    def get(self: PolicyBook, tenant_id: str) -> Any:
        return self.default

    async def enforce(*_: Any, **__: Any) -> tuple[str, ...]:
        return ()

    add_middleware = FastMCP.add_middleware

    def without_policy(self: FastMCP, middleware: Any) -> None:
        if not isinstance(middleware, visibility.PolicyMiddleware):  # no listing filter either
            add_middleware(self, middleware)

    FastMCP.add_middleware = without_policy  # type: ignore[method-assign]
    PolicyBook.get = get  # type: ignore[method-assign]
    visibility.tool_listed = lambda policy, name: name in visibility.TOOL_VERBS
    guard.check_verbs = lambda policy, action: None
    guard.enforce = enforce
    context.looks_like_answer = lambda content: False


def install_no_gc() -> None:
    """No cyclic GC while serving (``GUARDPROBE_NOGC=1``, for callgrind): ``app.serving_gc`` runs a
    full collection on a timer, whose count in a window of calls depends on how slow the process
    runs, which would blur instruction counts by far more than the guardrails cost."""

    @contextlib.asynccontextmanager
    async def no_gc(every: float = 0.0) -> Any:
        gc.disable()
        yield

    app.serving_gc = no_gc


def install_phase_gc(directory: str) -> None:
    """Full collections when the bench asks, not on ``app.serving_gc``'s minute timer
    (``GUARDPROBE_PHASE_GC=<directory>``, for ``tenants.py --compare-guardrails``).

    A full collection takes about 0.2 s at 50 connected tenants (the whole heap is traversed), so
    one landing inside a 5 s phase adds about 0.09 ms to that phase's CPU per call: as much as
    the budget being measured, at random, in one gateway's phases and not another's. Its cost
    grows with the heap and the time, not with the calls, and is the same for every gateway. So
    each serving process registers ``<directory>/<pid>`` (JSON: collections done for the bench, and
    the count and CPU ns of every other collection, young and full, by ``gc.callbacks``); the bench
    sends ``SIGRTMIN`` before each measured phase, and the process collects, counts and writes the
    file; ``SIGRTMIN+1`` only writes it (after a phase). The thresholds of
    ``app.SERVING_GC_THRESHOLDS`` stay as served: young collections, which grow with what a call
    allocates, run and are charged to the phase as ever, and the file says how much they took."""

    @contextlib.asynccontextmanager
    async def on_request(every: float = 0.0) -> Any:
        previous = gc.get_threshold()
        gc.set_threshold(*app.SERVING_GC_THRESHOLDS)
        mark = os.path.join(directory, str(os.getpid()))
        stats = {"collections": 0, "reports": 0, "young": 0, "young_ns": 0, "full": 0, "full_ns": 0}
        started = [0, False]  # when the running collection began; whether the bench asked for it

        def timed(phase: str, info: dict[str, int]) -> None:
            if phase == "start":
                started[0] = time.thread_time_ns()
            elif not started[1]:
                kind = "full" if info["generation"] == 2 else "young"  # the oldest generation
                stats[kind] += 1
                stats[f"{kind}_ns"] += time.thread_time_ns() - started[0]

        def collect() -> None:
            started[1] = True  # not counted: the bench's own, between phases
            try:
                gc.collect()
            finally:
                started[1] = False
            stats["collections"] += 1
            _write_stats(mark, stats)

        def report() -> None:
            stats["reports"] += 1
            _write_stats(mark, stats)

        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGRTMIN, collect)
        loop.add_signal_handler(signal.SIGRTMIN + 1, report)
        gc.callbacks.append(timed)
        _write_stats(mark, stats)  # registered: the bench may signal this pid now
        try:
            yield
        finally:
            gc.callbacks.remove(timed)
            loop.remove_signal_handler(signal.SIGRTMIN + 1)
            loop.remove_signal_handler(signal.SIGRTMIN)
            gc.set_threshold(*previous)

    app.serving_gc = on_request


def _write_stats(mark: str, stats: dict[str, int]) -> None:
    with open(mark + ".tmp", "w", encoding="utf-8") as file:
        json.dump(stats, file)
    os.replace(mark + ".tmp", mark)


# At import, not in main(): ``serve --workers N`` spawns its workers with this file as their main
# module (``__mp_main__``), so each worker switches the policy off too.
if os.environ.get("GUARDPROBE_BARE") == "1":
    install_bare()
if os.environ.get("GUARDPROBE_NOGC") == "1":
    install_no_gc()
if os.environ.get("GUARDPROBE_PHASE_GC"):
    install_phase_gc(os.environ["GUARDPROBE_PHASE_GC"])


def main() -> int:
    if os.environ.get("GUARDPROBE_TIME") == "1":
        install_timing()
    return cli_main(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
