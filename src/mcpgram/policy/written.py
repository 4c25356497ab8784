"""Which chats each tenant has written in: one bounded memory for the guard and the write pacer.

"Written in before" (``telegram.scope.has_written_to``: one ``messages.search`` for a message from
this account) decides a send's ``first_contact`` approval and ``sends: known`` in the guard, and
whether the pacer counts it as a first message. Asked per send, it would cost every send under the
default policy a Telegram round trip. A chat found written in, or written in through this gateway,
stays known here: a chat once written in is never a first contact again, so only "yes" answers are
kept, and a "no" is asked again next time (the chat stays new until a message goes there).

Per process, least recently used first out past ``size`` (tenant, chat) pairs over all tenants.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import TYPE_CHECKING, Any

from .. import telegram

if TYPE_CHECKING:  # the Telethon client type, for annotations only
    from ..telegram import Client

__all__ = ["DEFAULT_SIZE", "WrittenChats"]

#: Chats remembered as written in, over all tenants.
DEFAULT_SIZE = 20_000


class WrittenChats:
    """A bounded, per-tenant memory of the chats a tenant's account has written in."""

    def __init__(self, size: int = DEFAULT_SIZE) -> None:
        self._known: OrderedDict[tuple[str, int], None] = OrderedDict()
        self._size = size

    def known(self, tenant: str, chat_id: int) -> bool:
        """Whether ``chat_id`` is remembered as written in by ``tenant`` (no Telegram request)."""
        key = (tenant, chat_id)
        if key in self._known:
            self._known.move_to_end(key)
            return True
        return False

    def remember(self, tenant: str, chat_id: int) -> None:
        """``tenant`` wrote in ``chat_id`` (a message went there, or one was found)."""
        key = (tenant, chat_id)
        self._known[key] = None
        self._known.move_to_end(key)
        while len(self._known) > self._size:
            self._known.popitem(last=False)

    async def has_written_to(self, client: Client, tenant: str, chat_id: int, peer: Any) -> bool:
        """Remembered, or else asked of Telegram (``telegram.scope.has_written_to``), a "yes" kept."""
        if self.known(tenant, chat_id):
            return True
        if await telegram.scope.has_written_to(client, peer):
            self.remember(tenant, chat_id)
            return True
        return False
