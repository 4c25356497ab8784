"""``mcpgram serve --transport http --workers N``: N gateway processes behind one listening socket.

One process serves one core's worth of tool calls. Here the parent process owns the public socket
(``web/front.py``: uvicorn and an ASGI relay) and starts N workers, each a whole gateway
(``app.build_gateway`` + ``app.serve_http``) on its own Unix socket in a private temporary
directory (0700). The front routes each request by its token, so every tenant lives in exactly
one worker, as it would in a single process: its Telegram client, MCP sessions, session seals and
request budget.

The data dir (server secret, vault schema) is prepared here before any worker starts, so workers
never race to create it; the sign-in store, which the workers create, is safe to create from
several at once (``vault/schema.use_wal``). A worker that dies is started again (with backoff if
it keeps dying); its tenants get 503 with ``Retry-After`` meanwhile and reconnect to its
replacement. On SIGTERM or SIGINT the front stops accepting, then each worker gets SIGTERM and seals
its sessions.

Workers are started with ``spawn`` (a fresh interpreter), not ``fork``: nothing of the parent's
event loop, threads or open files leaks into them. The settings object goes over as is.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import multiprocessing
import shutil
import signal
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Protocol

from .datadir import ensure_data_dir, server_secret_bytes
from .settings import Settings
from .vault.sqlite import SQLiteVault
from .web.edge import EdgeLimits
from .web.front import FrontServer
from .web.ratelimit import parse_networks
from .web.relay import WorkerRelay
from .web.upstream import WorkerLink

__all__ = ["Front", "RelayFront", "build_front", "front_server", "serve_workers"]

_log = logging.getLogger(__name__)

#: Seconds a worker may take to start listening, and to stop after SIGTERM before it is killed.
START_SECONDS = 60.0
STOP_SECONDS = 20.0
#: A worker that lived less than this was "dying young": its next start waits, doubling to the cap.
STABLE_SECONDS = 10.0
MAX_RESTART_DELAY = 30.0


@dataclass(frozen=True)
class WorkerSpec:
    """Everything a worker process gets: picklable, no open handles."""

    settings: Settings
    index: int
    socket_path: str
    log_level: int | str
    log_json: bool


def _worker_main(spec: WorkerSpec, ready: Connection) -> None:
    """A worker process: build the gateway, serve it on the Unix socket, say when listening."""
    import anyio

    from .app import build_gateway, serve_http
    from .log import configure_logging

    configure_logging(spec.log_level, json=spec.log_json)
    gateway = build_gateway(spec.settings, transport="http")
    gc.freeze()  # start-up objects live as long as the process; keep them out of every collection

    def say_ready(_: int) -> None:
        ready.send(True)
        ready.close()

    async def serve_until_the_front_is_gone() -> None:
        serving = asyncio.ensure_future(serve_http(gateway, ready=say_ready, worker_socket=spec.socket_path))
        parent = multiprocessing.parent_process()
        if parent is not None:
            # The front died without stopping us (SIGKILL, a crash): stop too, sealing every session,
            # rather than live on as an orphan holding Telegram connections.
            asyncio.get_running_loop().add_reader(parent.sentinel, serving.cancel)
        with contextlib.suppress(asyncio.CancelledError):
            await serving

    with contextlib.suppress(KeyboardInterrupt):
        anyio.run(serve_until_the_front_is_gone)


class Worker:
    """One worker process, restartable."""

    def __init__(self, spec: WorkerSpec) -> None:
        self.spec = spec
        self.process: Any = None
        self.started = 0.0
        self.restart_delay = 1.0

    def start(self) -> Connection:
        context = multiprocessing.get_context("spawn")
        receiver, sender = context.Pipe(duplex=False)
        Path(self.spec.socket_path).unlink(missing_ok=True)
        self.process = context.Process(
            target=_worker_main,
            args=(self.spec, sender),
            name=f"mcpgram-worker-{self.spec.index}",
            daemon=True,
        )
        self.process.start()
        sender.close()
        self.started = time.monotonic()
        return receiver

    async def wait_ready(self, receiver: Connection) -> bool:
        """Whether the worker said it listens within :data:`START_SECONDS`; cancellable at once.

        The pipe is watched by the event loop, not a thread, so a stop during a start does not wait.
        """
        loop = asyncio.get_running_loop()
        readable: asyncio.Future[None] = loop.create_future()
        fd = receiver.fileno()
        loop.add_reader(fd, _settle, readable)
        try:
            await asyncio.wait_for(readable, START_SECONDS)
            return bool(receiver.recv())  # EOFError if the worker died before saying so
        except (TimeoutError, EOFError, OSError):
            return False
        finally:
            loop.remove_reader(fd)
            receiver.close()

    async def ended(self) -> None:
        """Return once the process has exited (watching its sentinel, no polling)."""
        if not self.alive():
            return
        loop = asyncio.get_running_loop()
        gone: asyncio.Future[None] = loop.create_future()
        sentinel = self.process.sentinel
        loop.add_reader(sentinel, _settle, gone)
        try:
            await gone
        finally:
            loop.remove_reader(sentinel)
        self.process.join(0)

    def alive(self) -> bool:
        return self.process is not None and self.process.is_alive()

    def stop(self) -> None:
        """SIGTERM: the worker drains its requests and seals its sessions."""
        if self.alive():
            self.process.terminate()

    def join(self, timeout: float) -> None:
        if self.process is None:
            return
        self.process.join(timeout)
        if self.process.is_alive():
            _log.warning("workers.killed", extra={"worker": self.spec.index})
            self.process.kill()
            self.process.join(5)


def _settle(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def prepare_data_dir(settings: Settings) -> None:
    """Create the data dir, the server secret and the vault's schema once, before any worker runs.

    The sign-in store (``signin.db``) is created by the workers themselves, safely at the same
    moment (``web/setup/store.py``): importing it here would load the sign-in pages into the front.
    """
    ensure_data_dir(settings.data_dir)
    server_secret_bytes(settings)
    SQLiteVault(settings.data_dir / "vault.db").close()


def build_front(settings: Settings, links: list[WorkerLink]) -> WorkerRelay:
    """The relay for ``links`` (one per worker), with the settings' limits and lockout."""
    return WorkerRelay(
        links,
        max_body_bytes=settings.max_body_bytes,
        auth_failures_per_minute=settings.auth_failures_per_minute,
        trusted_proxies=parse_networks(settings.trusted_proxies),
        hsts=EdgeLimits.from_config(settings.http_config()).hsts,
        answer_seconds=settings.front_answer_seconds,
    )


def front_server(settings: Settings, relay: WorkerRelay) -> FrontServer:
    """uvicorn serving ``relay`` on the settings' address, edge limits and TLS."""
    tls = (settings.tls_cert, settings.tls_key) if settings.tls_cert and settings.tls_key else None
    limits = EdgeLimits.from_config(settings.http_config())
    return FrontServer(relay, limits=limits, host=settings.host, port=settings.port, tls=tls)


class Front(Protocol):
    """What owns the public socket and relays to the workers; :class:`RelayFront` unless told otherwise.

    A benchmark runs another front over the same workers (``bench/_asgi_front.py``).
    """

    async def start(self, settings: Settings, socket_paths: Sequence[str]) -> int:
        """Listen on ``settings.host``/``settings.port`` in front of these sockets; the port bound."""
        ...

    def worker_replaced(self, index: int) -> None:
        """Worker ``index`` died and is being started again: drop connections kept to it."""
        ...

    async def stop(self) -> None:
        """Stop accepting and close every connection (the workers are stopped after this)."""
        ...


class RelayFront:
    """The front of ``web/front.py``: uvicorn serving ``web/relay.py``'s ASGI relay."""

    def __init__(self) -> None:
        self.links: list[WorkerLink] = []
        self.server: FrontServer | None = None

    async def start(self, settings: Settings, socket_paths: Sequence[str]) -> int:
        self.links = [WorkerLink(path) for path in socket_paths]
        self.server = front_server(settings, build_front(settings, self.links))
        return await self.server.start()

    def worker_replaced(self, index: int) -> None:
        self.links[index].close()

    async def stop(self) -> None:
        if self.server is not None:
            await self.server.stop()
        for link in self.links:
            link.close()


async def serve_workers(
    settings: Settings,
    *,
    ready: Callable[[int], None] | None = None,
    log_level: int | str = logging.WARNING,
    front: Front | None = None,
) -> None:
    """Run the front and ``settings.workers`` workers until cancelled, SIGTERM or SIGINT.

    Raises:
        ConfigError: the data dir is unusable (before any worker starts).
        RuntimeError: a worker did not start.
    """
    prepare_data_dir(settings)
    front = front if front is not None else RelayFront()
    directory = tempfile.mkdtemp(prefix="mcpgram-workers-")  # 0700: only this user reaches the sockets
    workers = [
        Worker(WorkerSpec(settings, index, f"{directory}/w{index}.sock", log_level, settings.log_json))
        for index in range(settings.workers)
    ]
    try:
        started = await asyncio.gather(*(worker.wait_ready(worker.start()) for worker in workers))
        if not all(started):
            raise RuntimeError("a worker process did not start; see the log lines above")
        port = await front.start(settings, [worker.spec.socket_path for worker in workers])
        if ready is not None:
            ready(port)
        await _supervise(workers, front)
    finally:
        await front.stop()
        for worker in workers:
            worker.stop()
        await asyncio.gather(*(asyncio.to_thread(worker.join, STOP_SECONDS) for worker in workers))
        shutil.rmtree(directory, ignore_errors=True)


async def _supervise(workers: list[Worker], front: Front) -> None:
    """Keep every worker running, each on its own, until SIGTERM/SIGINT (or cancellation)."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(signum, stop.set)
    tasks = [asyncio.create_task(_keep_running(worker, front)) for worker in workers]
    try:
        await stop.wait()
    finally:
        for task in tasks:
            task.cancel()  # a backoff sleep or a start in progress ends now, not when it would have
        await asyncio.gather(*tasks, return_exceptions=True)
        for signum in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.remove_signal_handler(signum)


async def _keep_running(worker: Worker, front: Front) -> None:
    """Restart one worker whenever it dies, with its own backoff; the others are not held up."""
    while True:
        await worker.ended()
        lived = time.monotonic() - worker.started
        worker.restart_delay = (
            1.0 if lived > STABLE_SECONDS else min(worker.restart_delay * 2, MAX_RESTART_DELAY)
        )
        _log.warning("workers.restart", extra={"worker": worker.spec.index, "delay": worker.restart_delay})
        front.worker_replaced(worker.spec.index)
        await asyncio.sleep(worker.restart_delay)
        try:
            ready = await worker.wait_ready(worker.start())
        except OSError:  # could not even spawn (out of processes, memory): try again after the backoff
            _log.exception("workers.start_failed", extra={"worker": worker.spec.index})
            continue
        if not ready and worker.alive():
            _log.warning("workers.start_timeout", extra={"worker": worker.spec.index})
            worker.process.kill()  # never said it listens: replace it
