"""All Telethon code lives here: the client pool, vault-backed sessions, login, reads, conversions.

Only this package (and the sandbox) imports ``telethon``. What leaves it is plain data or an error
from :mod:`mcpgram.errors`; Telethon objects and exceptions stay inside. Import the modules you need
(``mcpgram.telegram.pool``, ``.chats``...): this ``__init__`` stays empty so that importing one does
not pull in the rest.
"""

from __future__ import annotations

__all__: list[str] = []
