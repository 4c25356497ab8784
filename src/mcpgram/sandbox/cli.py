"""``python -m mcpgram.sandbox`` (and ``mcpgram sandbox``): run the sandbox server in the foreground.

It listens on 127.0.0.1 (any free port by default), writes its RSA public key (PKCS#1 PEM) to a
file, prints how to connect, and serves until Ctrl-C or SIGTERM. With ``--demo`` it serves the demo
world (``demo.py``) and prints the demo account's phone number and login code. With
``--proxy-secret`` it also listens as an MTProto proxy in front of itself (``mtproxy.py``) and prints
the ``tg://proxy`` link. It also prints ``export MCPGRAM_...=...`` lines that point mcpgram at it
(the setting names are kept here as strings: the sandbox imports nothing from mcpgram).
``accept-qr`` (``phone.py``) plays the phone that accepts a QR login. Connecting Telethon::

    telethon.crypto.rsa.add_key(open(KEY_PATH).read(), old=False)
    client = TelegramClient(MemorySession(), api_id, api_hash)
    client.session.set_dc(DC_ID, HOST, PORT)

The sandbox has no real security: anyone who can reach the port can sign in to any account with a
guessable code. That is why a non-loopback ``--host`` needs ``--allow-remote``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ipaddress
import logging
import shlex
import shutil
import signal
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from .crypto import SandboxKey
from .demo import build_demo_world
from .mtproxy import ProxyMode, ProxySecret
from .phone import SANDBOX_API_HASH, SANDBOX_API_ID, Endpoint
from .phone import main as accept_qr_main
from .server import SandboxServer, shared_key
from .world import World

DEFAULT_HOST = "127.0.0.1"
KEY_FILE_NAME = "sandbox-public-key.pem"
EXIT_USAGE = 2
INSECURE_NOTE = (
    "The sandbox has no real security: anyone who can reach it can sign in to any of its accounts. "
    "Keep it on a loopback address."
)
ACCEPT_QR = "accept-qr"
#: mcpgram's settings as environment variables (``MCPGRAM_`` + the field name in upper case); a test
#: checks each is a real setting, since the sandbox may not import mcpgram's settings.
ENV_API_ID = "MCPGRAM_API_ID"
ENV_API_HASH = "MCPGRAM_API_HASH"
ENV_DC = "MCPGRAM_DC"
ENV_RSA_KEY_FILE = "MCPGRAM_RSA_KEY_FILE"
ENV_PROXY = "MCPGRAM_PROXY"


def settings_lines(server: SandboxServer, key_path: Path) -> list[str]:
    """``export MCPGRAM_...=...`` lines pointing mcpgram at ``server``, for a shell or a .env file."""
    values = {
        ENV_API_ID: str(SANDBOX_API_ID),
        ENV_API_HASH: SANDBOX_API_HASH,
        ENV_DC: str(Endpoint(server.dc_id, server.host, server.port)),
        ENV_RSA_KEY_FILE: str(key_path.absolute()),
    }
    if server.proxy is not None:
        values[ENV_PROXY] = server.proxy.secret.link(server.host, server.proxy_port)
    return [f"export {name}={shlex.quote(value)}" for name, value in values.items()]


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog or "python -m mcpgram.sandbox",
        description="Run the mcpgram Telegram sandbox: an MTProto server for tests and demos. "
        + INSECURE_NOTE,
        epilog=f"To accept a QR login as a sandbox account (as its phone app would): "
        f"{prog or 'python -m mcpgram.sandbox'} {ACCEPT_QR} --help",
    )
    parser.add_argument("--host", default=DEFAULT_HOST, help="address to listen on (default: %(default)s)")
    parser.add_argument("--port", type=int, default=0, help="port to listen on; 0 picks a free one (default)")
    parser.add_argument(
        "--demo",
        action="store_true",
        help="serve the demo world (account 9996610000, code 11111; see docs/sandbox.md)",
    )
    parser.add_argument(
        "--seed", type=int, default=7, help="seed of the demo world's timestamps (default: 7)"
    )
    parser.add_argument(
        "--key-file",
        type=Path,
        help="where to write the server's RSA public key (default: a new temp directory)",
    )
    parser.add_argument(
        "--proxy-secret",
        metavar="SECRET",
        help="also act as an MTProto proxy with this hex secret: 32 hex digits (plain), dd + 32 (padded), "
        "ee + 32 + domain hex (fake-TLS); or one of plain, dd, ee to generate one",
    )
    parser.add_argument(
        "--proxy-port", type=int, default=0, help="port of the MTProto proxy; 0 picks a free one (default)"
    )
    parser.add_argument(
        "--allow-remote", action="store_true", help="allow a non-loopback --host (insecure: see above)"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log the server's activity to stderr")
    return parser


def is_loopback(host: str) -> bool:
    """Whether ``host`` names this machine only (``localhost`` or a loopback address)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # another host name: it may resolve anywhere


_GENERATED: dict[str, ProxyMode] = {"plain": "plain", "dd": "dd", "ee": "ee"}


def _proxy_secret(value: str) -> ProxySecret:
    mode = _GENERATED.get(value)
    return ProxySecret.generate(mode) if mode is not None else ProxySecret.parse(value)


def main(argv: Sequence[str] | None = None, *, prog: str | None = None) -> int:
    """Parse ``argv``, run the server until Ctrl-C / SIGTERM and return the exit status.

    ``accept-qr ...`` instead runs :func:`phone.main` against a running sandbox.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == [ACCEPT_QR]:
        return accept_qr_main(argv[1:], prog=f"{prog or 'python -m mcpgram.sandbox'} {ACCEPT_QR}")
    parser = build_parser(prog)
    args = parser.parse_args(argv)
    if not 0 <= args.port <= 65535 or not 0 <= args.proxy_port <= 65535:
        parser.error("--port and --proxy-port must be between 0 and 65535")
    if args.proxy_secret is not None:
        try:
            args.proxy_secret = _proxy_secret(args.proxy_secret)
        except ValueError as exc:
            parser.error(f"--proxy-secret: {exc}")
    if not is_loopback(args.host) and not args.allow_remote:
        parser.error(
            f"refusing to listen on non-loopback host {args.host!r} without --allow-remote. {INSECURE_NOTE}"
        )
    if args.verbose:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s", stream=sys.stderr)
    key = shared_key()
    temp_dir = None if args.key_file else Path(tempfile.mkdtemp(prefix="mcpgram-sandbox-"))
    key_path: Path = args.key_file if temp_dir is None else temp_dir / KEY_FILE_NAME
    try:
        key_path.write_text(key.public_pem, encoding="ascii")
        return asyncio.run(serve(args, key, key_path))
    except KeyboardInterrupt:  # where signal handlers are unavailable, Ctrl-C arrives as an exception
        return 0
    except OSError as exc:  # the port is taken, the key path is not writable, ...
        print(f"mcpgram sandbox: {exc}", file=sys.stderr)
        return 1
    finally:
        if temp_dir is not None:
            shutil.rmtree(temp_dir, ignore_errors=True)


async def serve(args: argparse.Namespace, key: SandboxKey, key_path: Path, out: TextIO = sys.stdout) -> int:
    """Start the server described by ``args``, print how to connect, and serve until told to stop."""
    demo = build_demo_world(seed=args.seed) if args.demo else None
    server = SandboxServer(
        demo.world if demo else World(),
        host=args.host,
        port=args.port,
        key=key,
        proxy_secret=args.proxy_secret,
        proxy_port=args.proxy_port,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):  # not on Windows: Ctrl-C still works
            loop.add_signal_handler(signum, stop.set)
    await server.start()
    try:
        lines = [
            f"mcpgram sandbox: a Telegram-compatible MTProto server for tests and demos. {INSECURE_NOTE}",
            f"address: {server.host}:{server.port}",
            f"dc id: {server.dc_id}",
            f"public key: {key_path}",
        ]
        if demo is not None:
            lines += [
                f"demo phone: {demo.phone}",
                f"demo login code: {demo.login_code}",
                f"demo 2fa phone: {demo.password_phone}",
                f"demo 2fa password: {demo.password}",
            ]
        if server.proxy is not None:
            lines.append(f"proxy: {server.proxy.secret.link(server.host, server.proxy_port)}")
        lines.append("# point mcpgram at this sandbox: paste these lines into a shell or a .env file")
        lines += settings_lines(server, key_path)
        lines.append("ready: press Ctrl-C to stop")
        print("\n".join(lines), file=out, flush=True)
        await stop.wait()
    finally:
        await server.stop()
    print("mcpgram sandbox: stopped", file=sys.stderr, flush=True)
    return 0
