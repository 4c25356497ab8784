"""An embedded Telegram-compatible MTProto server for tests and the demo.

Real Telethon clients connect to it over TCP on 127.0.0.1: it performs the auth key exchange under
its own RSA key, speaks MTProto 2.0 and answers the TL layer of the installed Telethon from an
in-memory world. It imports nothing from the rest of mcpgram; only ``mcpgram.testing`` and the CLI
start it.
"""

from __future__ import annotations

from .crypto import SandboxKey
from .handle import AuthRecord
from .router import RpcError
from .server import SandboxServer
from .world import PeerKey, World

__all__ = ["AuthRecord", "PeerKey", "RpcError", "SandboxKey", "SandboxServer", "World"]
