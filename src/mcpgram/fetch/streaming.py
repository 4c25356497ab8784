"""A URL's body that is still arriving: the upload reads it part by part while the fetch writes it.

:meth:`.Fetcher.stream` starts :meth:`.Fetcher.fetch` as a task and returns a :class:`Streaming` once
the headers are in (or the fetch has ended). The task writes the body to the same temporary file,
under the same checks (SSRF, byte cap, deadline) as a plain fetch; each chunk is flushed before
readers are told, so :meth:`Streaming.wait_for` means the bytes are readable from :attr:`path`.

``size`` is the body's declared ``Content-Length``: a reader may use it (Telegram's part count)
only because :meth:`Streaming.complete` checks the final count against it, and refuses with
``FETCH_FAILED`` when they differ, before anything that uses the bytes is committed. Must not: let
a failed or short fetch pass :meth:`complete`, or leave the file behind :meth:`remove`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

from ..errors import FetchFailed

__all__ = ["Streaming"]


class Streaming:
    """A fetch in progress into a temporary file; the caller owns it and must :meth:`remove` it.

    Attributes (set once the headers are in):
        path: the temporary file.
        size: the declared ``Content-Length``, or ``None`` when the server sent none.
        content_type: the declared media type, lower-case, or ``None``.
        final_url: the URL after redirects (may hold a query: do not log it).
        written: bytes on disk so far.
    """

    def __init__(self) -> None:
        self.path = Path()
        self.size: int | None = None
        self.content_type: str | None = None
        self.final_url = ""
        self.written = 0
        self._started = False
        self._event = asyncio.Event()
        self._task: asyncio.Task[Any] | None = None

    # The writer's side (the fetcher's ``_save``).

    def started(self, path: Path, size: int | None, content_type: str | None, final_url: str) -> None:
        self.path, self.size, self.content_type, self.final_url = path, size, content_type, final_url
        self._started = True
        self._notify()

    def wrote(self, total: int) -> None:
        self.written = total
        self._notify()

    def run(self, fetch: Coroutine[Any, Any, Any]) -> None:
        self._task = asyncio.ensure_future(fetch)
        self._task.add_done_callback(lambda _task: self._notify())

    def _notify(self) -> None:
        # Wakes every waiter of the current event; later waiters wait on a fresh one.
        self._event.set()
        self._event = asyncio.Event()

    # The reader's side.

    @property
    def done(self) -> bool:
        return self._task is not None and self._task.done()

    async def wait_started(self) -> None:
        """Until the headers are in; raises the fetch's error if it ended before that."""
        while not self._started and not self.done:
            await self._event.wait()
        if not self._started:
            await self._result()

    async def wait_for(self, count: int) -> None:
        """Until ``count`` bytes are readable from :attr:`path`; raises the fetch's error if it fails
        first, or ``FETCH_FAILED`` if it ends with fewer bytes."""
        while self.written < count and not self.done:
            await self._event.wait()
        if self.written < count:
            await self._result()
            raise _short()

    async def finish(self) -> int:
        """The final byte count once the fetch has ended well, whatever was declared."""
        await self._result()
        return self.written

    async def complete(self) -> int:
        """The final byte count, once the fetch has ended well and it equals the declared ``size``."""
        await self._result()
        if self.size is None or self.written != self.size:
            raise _short()
        return self.written

    @property
    def complete_now(self) -> bool:
        """Whether the fetch has ended well with the declared size (no waiting)."""
        task = self._task
        ok = task is not None and task.done() and not task.cancelled() and task.exception() is None
        return ok and self.size == self.written

    async def _result(self) -> None:
        assert self._task is not None
        await asyncio.shield(self._task)

    def remove(self) -> None:
        """Stop the fetch if it still runs, and remove the file (the task removes it too)."""
        task = self._task
        if task is not None:
            if task.done():
                if not task.cancelled():
                    task.exception()  # retrieved: a failure was already reported to the reader
            else:
                task.cancel()
        if self._started:
            self.path.unlink(missing_ok=True)


def _short() -> FetchFailed:
    return FetchFailed(
        "the download ended with a different size than the server declared", hint="retry later"
    )
