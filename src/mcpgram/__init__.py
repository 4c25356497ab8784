"""mcpgram: a secure, multi-tenant Telegram gateway for AI agents, speaking the Model Context Protocol."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
