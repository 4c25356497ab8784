"""The front of a multi-worker HTTP gateway: one listening socket, each tenant's requests to one worker.

With ``workers > 1`` (``workers.py``) N worker processes each run the whole gateway on a private
Unix socket, and this front owns the public socket. :class:`FrontServer` is uvicorn serving
``web/relay.py``'s :class:`~mcpgram.web.relay.WorkerRelay` (an ASGI app) with the edge protocol of
the single-process server (``web/protocol.py``'s :func:`~mcpgram.web.protocol.edge_protocol`), so
HTTP is parsed by one well-kept server and each client connection is held to the same
:class:`~mcpgram.web.edge.EdgeLimits` with the same refusals (head and body time limits 408, idle
close, target 414, header count and size 431 counted as they arrive, connection cap 503, a
malformed request 400). It terminates TLS when configured (uvicorn's ssl options).

Shutdown is prompt: the listening socket closes, idle connections close at once, and requests
still under way (an event stream, a call a crash-looping worker will never answer) get
:data:`GRACE_SECONDS` before their connections are closed.
"""

from __future__ import annotations

from pathlib import Path

import uvicorn

from .edge import EdgeLimits
from .protocol import edge_protocol
from .relay import WorkerRelay

__all__ = ["GRACE_SECONDS", "FrontServer"]

#: Seconds requests under way get at shutdown before their connections are closed.
GRACE_SECONDS = 1


class FrontServer:
    """uvicorn serving ``relay`` on ``host``/``port`` (0: any free port), held to ``limits``.

    Args:
        relay: The ASGI app relaying to the workers.
        limits: The edge limits every client connection is held to.
        tls: Certificate and key files, when the front terminates TLS.
    """

    def __init__(
        self,
        relay: WorkerRelay,
        *,
        limits: EdgeLimits,
        host: str = "127.0.0.1",
        port: int = 0,
        tls: tuple[Path, Path] | None = None,
    ) -> None:
        self.relay = relay
        config = uvicorn.Config(
            relay,
            host=host,
            port=port,
            http=edge_protocol(limits),
            ws="none",  # an upgrade is refused by the relay (400)
            lifespan="off",
            access_log=False,  # the workers log each request, redacted; the relay its own answers
            log_config=None,
            proxy_headers=False,  # the relay decides whom to believe (trusted_proxies)
            server_header=False,  # a worker's answer carries its own headers
            date_header=False,
            # uvicorn types it int, but any number of seconds works (it goes to loop.call_later).
            timeout_keep_alive=limits.keep_alive_timeout,  # type: ignore[arg-type]
            timeout_graceful_shutdown=GRACE_SECONDS,
            ssl_certfile=str(tls[0]) if tls else None,
            ssl_keyfile=str(tls[1]) if tls else None,
        )
        config.load()
        self.server = uvicorn.Server(config)
        self.server.lifespan = config.lifespan_class(config)

    async def start(self) -> int:
        """Listen; the port bound.

        Raises:
            OSError: the address cannot be bound.
        """
        try:
            await self.server.startup()  # not serve(): the caller owns SIGTERM and SIGINT
        except SystemExit:  # uvicorn's way of saying it could not bind (it logged why)
            self.server.started = False
        if not self.server.started:
            raise OSError(
                f"the front could not listen on {self.server.config.host}:{self.server.config.port}"
            )
        port: int = self.server.servers[0].sockets[0].getsockname()[1]
        return port

    async def stop(self) -> None:
        """Stop accepting, close idle connections, give requests under way a moment, close the rest."""
        if self.server.started:
            self.server.started = False
            await self.server.shutdown()
        for connection in list(self.server.server_state.connections):
            connection.transport.close()
