"""What ``ToolContext.run`` records in the audit journal for a write, gathered as the call goes.

A write's entry names the tenant, the tool (``tools/audit.py`` sets :data:`CURRENT_TOOL` for each
tools/call), the chat written to, the outcome and a keyed digest of the content the tool put on its
:class:`~mcpgram.policy.guard.Action` (``Action.content``: text, file bytes, handles). So no tool
writes a journal line itself: a tool says what its call carries, and the one path records it.

The chat is a marked id: the result's own chat when it has one (a sent, edited or forwarded
message), a numeric reference as given, or else the reference resolved once the call has succeeded
(a username or ``me``, from the client's entity cache). A reference that did not resolve, and a
phone number, are recorded as no chat (``null``): never as the agent wrote them.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import telegram
from ..audit.journal import AuditJournal, chat_id
from ..policy.guard import Action
from ..policy.model import Verb
from .audit import CURRENT_TOOL

if TYPE_CHECKING:
    from ..telegram import Client

#: The verbs whose calls the journal records. Raw MTProto calls (reads too) are recorded with the
#: method's name as the tool and kind ``raw``; approvals by the approval flow.
JOURNALED_VERBS: frozenset[Verb] = frozenset(
    {"send", "edit", "delete", "forward", "react", "mark_read", "upload", "raw_read", "raw_write"}
)


def journaled(action: Action) -> bool:
    """Whether a call of ``action`` gets an audit journal entry: every write and every raw call."""
    return action.raw_method is not None or not JOURNALED_VERBS.isdisjoint(action.verbs)


#: Content at least this large is digested in a worker thread (a file, or a large base64 upload).
_THREAD_BYTES = 256 * 1024
#: A phone number as ``telegram/refs.py`` reads one (after numeric ids, which are ids).
_PHONE = re.compile(r"^\+?[0-9][0-9 ()-]{5,20}$")


@dataclass
class JournalNote:
    """One write's entry, filled in while the call runs and written once its outcome is known."""

    action: Action
    content: str | None
    tenant: str = ""
    chat: int | None = None
    #: A call that neither returned nor raised one of our errors ended unexpectedly.
    outcome: str = "INTERNAL"

    def write(self, journal: AuditJournal) -> None:
        if not self.tenant:  # no tenant (the token did not resolve): nothing was done for anyone
            return
        refs = self.action.write or self.action.read
        chat = self.chat if self.chat is not None else chat_id(refs[0]) if refs else None
        raw = self.action.raw_method
        tool = raw or CURRENT_TOOL.get() or "+".join(self.action.verbs)
        journal.append(
            tenant=self.tenant,
            kind="raw" if raw else "write",
            tool=tool,
            chat=chat,
            outcome=self.outcome,
            content=self.content,
        )


def digested_here(parts: tuple[str | bytes | Path, ...]) -> bool:
    """Whether ``parts`` are digested on the event loop: no file, nothing large (a text, usually)."""
    for part in parts:  # noqa: SIM110  # a loop, not all(...): no generator on every write
        if isinstance(part, Path) or len(part) >= _THREAD_BYTES:
            return False
    return True


async def journal_digest(journal: AuditJournal, action: Action) -> str | None:
    """The content digest of ``action``; files and large bytes are read and hashed off the event loop."""
    parts = action.content
    if not parts:
        return None
    if not digested_here(parts):
        return await asyncio.to_thread(journal.digest, parts)
    return journal.keys.content_digest(parts)  # type: ignore[arg-type]  # no Path among them


async def written_chat(client: Client, action: Action, result: Any) -> int | None:
    """The marked id of the chat a successful call wrote to (see the module doc)."""
    for holder in (result, getattr(result, "sent", None)):
        chat = getattr(holder, "chat", None)
        if type(chat) is int:
            return chat
    refs = action.write or action.read
    if not refs:
        return None
    known = chat_id(refs[0])
    if known is not None:
        return known
    if isinstance(refs[0], str) and _PHONE.match(refs[0].strip()):
        return None  # a phone number: resolving it may cost a request, and the id is not worth it
    try:
        resolved: int = (await telegram.scope.resolve_target(client, refs[0]))[0]
    except Exception:  # best effort: the write is done, and its entry must not fail it
        return None
    return resolved
