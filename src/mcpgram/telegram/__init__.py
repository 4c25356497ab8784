"""All Telethon code lives here: the client pool, vault-backed sessions, login, reads, conversions.

Only this package (and the sandbox) imports ``telethon``. What leaves it is plain data or an error
from :mod:`mcpgram.errors`; Telethon objects and exceptions stay inside.

Submodules load on first attribute access (PEP 562), so ``from mcpgram import telegram`` costs
nothing and the tools layer can name ``telegram.history.get_messages`` at import time while
Telethon itself (0.2 s, 40 MiB) is imported only when the first tool call needs it. The plain shapes
in ``shapes`` never import Telethon.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from telethon import TelegramClient

    from . import (  # noqa: F401
        account,
        actions,
        approvals,
        chats,
        convert,
        filekinds,
        history,
        local_files,
        media,
        outgoing,
        phone,
        profile,
        rawcall,
        rawresult,
        rawtl,
        refs,
        search,
        sending,
        shapes,
    )

    #: The Telethon client, as layers that must not import Telethon name it in annotations
    #: (``tools.context.ToolContext.run``): ``from ..telegram import Client`` under TYPE_CHECKING.
    #: It exists only for the type checker; at run time the tools layer never sees the type.
    Client = TelegramClient

_SUBMODULES = frozenset(
    {
        "account",
        "actions",
        "approvals",
        "chats",
        "convert",
        "filekinds",
        "history",
        "local_files",
        "media",
        "outgoing",
        "phone",
        "profile",
        "rawcall",
        "rawresult",
        "rawtl",
        "refs",
        "scope",
        "search",
        "sending",
        "shapes",
    }
)

__all__: list[str] = []


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
