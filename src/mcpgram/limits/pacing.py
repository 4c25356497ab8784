"""What is limited per tenant: its calls to the gateway, and its writes to Telegram.

:class:`CallLimiter` counts every tool call, resource read and prompt get of a tenant in one token
bucket (``call_rate`` a second after a burst of ``call_burst``); over it, ``RATE_LIMITED`` at once,
before anything reaches Telegram (``tools/limits.py`` holds it in front of every call).

:class:`WritePacer` paces the writes (the :data:`WRITE_VERBS`) a call makes, so the account writes
the way a person does (docs/security.md says why these numbers). A write draws from up to four
buckets at once, all or nothing:

- the tenant's writes overall (``pace_write_*``);
- each chat it writes in (``pace_chat_*``), by resolved chat id, so ``@name`` and the id are one chat;
- first messages (``send``, ``forward``) to a chat this account has never written in
  (``pace_new_recipient_*``), the notion ``sends: known`` uses (``telegram.scope.has_written_to``,
  remembered per tenant once seen, in the ``WrittenChats`` the guard shares: ``policy/written.py``);
  a number that is not a contact (``send_to_phone``) is always new;
- a hold after Telegram answered FLOOD_WAIT_X to one of the tenant's writes: no write until X
  seconds have passed, and the overall bucket starts empty then.

A wait up to ``pace_max_wait`` seconds is slept through (the call just takes longer); a longer
one answers ``RATE_LIMITED`` with ``retry_after`` and takes nothing, so an agent is never stuck
and its retry after that time goes through. This module holds counters only, no message content.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

from .. import telegram
from ..configs import RateLimits
from ..errors import RateLimited
from ..policy.written import WrittenChats
from .store import Bucket, Limit, RateStore

if TYPE_CHECKING:
    from ..policy.guard import Action
    from ..policy.model import Policy, Verb
    from ..telegram import Client

__all__ = ["WRITE_VERBS", "CallLimiter", "WritePacer"]

log = logging.getLogger(__name__)

T = TypeVar("T")
Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[Any]]

#: The verbs whose calls write to Telegram, and so are paced.
WRITE_VERBS: frozenset[Verb] = frozenset(
    {"send", "edit", "delete", "forward", "react", "mark_read", "upload", "raw_write"}
)
#: A hold's gate (taken at cost 0): open unless :meth:`RateStore.hold` closed it until a time.
_HOLD = Limit(rate=1000.0, burst=1.0)
_RETRY_HINT = "wait retry_after seconds, then make the same call again"


def _limited(message: str, wait: float) -> RateLimited:
    return RateLimited(message, retry_after=math.ceil(wait), hint=_RETRY_HINT)


class CallLimiter:
    """One token bucket per tenant over its calls; see the module doc.

    Args:
        store: Where the buckets live.
        limits: ``call_rate`` and ``call_burst``.
        clock: Seconds; only differences matter.
    """

    def __init__(self, store: RateStore, limits: RateLimits, *, clock: Clock = time.monotonic) -> None:
        self._store = store
        self._limit = Limit(rate=limits.call_rate, burst=limits.call_burst)
        self._clock = clock
        self._message = (
            f"this tenant may make {limits.call_burst} calls at once, then {limits.call_rate:g} a second"
        )
        self._buckets: dict[str, tuple[Bucket]] = {}  # per tenant: built once, not per call

    def check(self, tenant: str) -> None:
        """Count one call of ``tenant``; RateLimited (nothing counted) when over the limit."""
        buckets = self._buckets.get(tenant)
        if buckets is None:
            buckets = _remember(self._buckets, tenant, (Bucket("call|" + tenant, self._limit),))
        wait, _ = self._store.take(buckets, self._clock())
        if wait > 0:
            raise _limited(self._message, wait)


class WritePacer:
    """Paces each tenant's Telegram writes; see the module doc.

    Args:
        store: Where the buckets live.
        limits: The ``pace_*`` settings.
        clock: Seconds; only differences matter.
        sleep: Awaited for a short wait (``asyncio.sleep``).
        written: The chats each tenant has written in, shared with the guard (a new one if None).
    """

    def __init__(
        self,
        store: RateStore,
        limits: RateLimits,
        *,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        written: WrittenChats | None = None,
    ) -> None:
        self._store = store
        self._clock = clock
        self._sleep = sleep
        self.max_wait = limits.pace_max_wait
        self._write = Limit.every(limits.pace_write_seconds, limits.pace_write_burst)
        self._chat = Limit.every(limits.pace_chat_seconds, limits.pace_chat_burst)
        self._new = Limit.every(limits.pace_new_recipient_seconds, limits.pace_new_recipient_burst)
        self._messages = {
            "hold": "Telegram asked this account to slow down (FLOOD_WAIT); its writes wait until then",
            "write": _pace("this tenant's writes", limits.pace_write_burst, limits.pace_write_seconds),
            "chat": _pace("writes to one chat", limits.pace_chat_burst, limits.pace_chat_seconds),
            "new": _pace(
                "first messages to chats this account has not written in",
                limits.pace_new_recipient_burst,
                limits.pace_new_recipient_seconds,
            ),
        }
        #: Shared with the guard (``ToolContext.written``): one search per chat serves both.
        self.written = WrittenChats() if written is None else written
        self._heads: dict[str, tuple[Bucket, Bucket]] = {}  # per tenant: built once, not per write

    @staticmethod
    def paces(action: Action) -> bool:
        """Whether ``action`` writes (and so is paced)."""
        return not WRITE_VERBS.isdisjoint(action.verbs)

    async def run(
        self, client: Client, tenant: str, policy: Policy, action: Action, call: Callable[[], Awaitable[T]]
    ) -> T:
        """Wait for ``action``'s turn (or refuse it), then ``call()``; a first message's chat is remembered.

        Raises:
            RateLimited: the wait would exceed ``pace_max_wait``; nothing was taken or done.
        """
        head = self._heads.get(tenant)
        if head is None:
            head = _remember(
                self._heads,
                tenant,
                (Bucket("hold|" + tenant, _HOLD, cost=0), Bucket("write|" + tenant, self._write)),
            )
        kinds = ["hold", "write"]
        # The tenant-wide buckets first, taking nothing: a held or saturated tenant is refused before
        # any chat is resolved (no Telegram request at all).
        wait, worst = self._store.take(head, self._clock(), -1.0)
        if wait > self.max_wait:
            raise _limited(self._messages[kinds[worst]], wait)
        refs = action.write or action.read  # mark_read names its chat as read
        targets = [await telegram.scope.resolve_target(client, ref) for ref in refs]
        buckets = [*head, *(Bucket(f"chat|{tenant}|{chat_id}", self._chat) for chat_id, _ in targets)]
        kinds += ["chat"] * len(targets)
        first: list[int] = []
        if action.sends:
            # Under ``sends: known`` the guard has just seen a message from this account there.
            unknown = (
                []
                if policy.sends == "known"
                else [t for t in targets if not self.written.known(tenant, t[0])]
            )
            for chat_id, peer in unknown:
                if not await self.written.has_written_to(client, tenant, chat_id, peer):
                    first.append(chat_id)
            if first or action.unresolved_recipient:
                buckets.append(Bucket("new|" + tenant, self._new))
                kinds.append("new")
        wait, worst = self._store.take(buckets, self._clock(), self.max_wait)
        if wait > self.max_wait:
            raise _limited(self._messages[kinds[worst]], wait)
        if wait > 0:
            await self._sleep(wait)
        result = await call()
        for chat_id in first:
            self.written.remember(tenant, chat_id)
        return result

    def hold(self, tenant: str, seconds: float) -> None:
        """Telegram answered FLOOD_WAIT to a write of ``tenant``: no writes for ``seconds``, then slowly."""
        # The tenant is on the line through log.bind_tenant (ToolContext.run); never the chat or text.
        log.warning("pacing.flood_wait", extra={"seconds": seconds})
        now = self._clock()
        until = now + seconds
        self._store.hold(Bucket("hold|" + tenant, _HOLD), until, now)
        if not self._write.unlimited:
            # The overall bucket starts empty then: one write at ``until``, then one per interval.
            self._store.hold(Bucket("write|" + tenant, self._write), until - 1 / self._write.rate, now)


#: Tenants whose buckets a limiter or pacer keeps built.
_MAX_REMEMBERED = 4096
K = TypeVar("K", bound=tuple[Bucket, ...])


def _remember(memo: dict[str, K], tenant: str, buckets: K) -> K:
    if len(memo) >= _MAX_REMEMBERED:
        memo.clear()  # tenants come from tokens the vault knows: rarely reached
    memo[tenant] = buckets
    return buckets


def _pace(what: str, burst: int, seconds: float) -> str:
    return f"{what} are paced like a person's: {burst} at once, then one every {seconds:g} s"
