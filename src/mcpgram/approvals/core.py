"""What an approval is bound to, and the small texts it is asked and answered with (pure).

An approval covers one exact action: the tenant, the tool, its verbs, the chat (resolved to its
marked id), the call's details (reply target, message ids, delete for everyone...) and its content
(text, file bytes, media handles). :func:`binding_of` hashes all of it (SHA-256 over length-framed
parts), so a changed text, another chat or another message id is another action and needs its own
approval. Nothing here does I/O except reading our own temporary files for the binding.

Ids are 128 random bits (:func:`new_approval_id`); the store keeps only their SHA-256. Codes
(:func:`new_code`: three letters and three digits) name an approval in the account's Saved Messages,
where the person answers ``yes CODE`` or ``no CODE`` (:func:`parse_answer`); a write an agent asks
for whose text reads like such an answer is refused (:func:`looks_like_answer`), so an agent cannot
answer for the person.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

__all__ = [
    "APPROVAL_ID_BYTES",
    "Ask",
    "Channel",
    "binding_of",
    "id_hash",
    "looks_like_answer",
    "new_approval_id",
    "new_code",
    "parse_answer",
    "preview_of",
]

Channel = Literal["page", "elicit", "saved"]
#: 128 random bits per approval id.
APPROVAL_ID_BYTES = 16
#: How much of a text the person is shown (the page, the elicitation, Saved Messages).
PREVIEW_CHARS = 700
_CODE_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"
_ID = re.compile(r"^[A-Za-z0-9_-]{22}$")
#: ``yes KQT482`` / ``no KQT-482`` (any case, Russian ``да``/``нет`` too), alone in a message.
_ANSWER = re.compile(r"^\s*(yes|no|да|нет)\s+([A-Za-z]{3})-?(\d{3})\s*[.!]?\s*$", re.IGNORECASE)
_ANSWER_ANYWHERE = re.compile(r"\b(yes|no|да|нет)\s+[A-Za-z]{3}-?\d{3}\b", re.IGNORECASE)
_YES = frozenset({"yes", "да"})


@dataclass(frozen=True)
class Ask:
    """What a person is asked to approve, as they are shown it (and what it is bound to)."""

    tenant: str
    tool: str
    verbs: tuple[str, ...]
    #: The rules that ask for approval: ``verbs.send``, ``first_contact``, ``delete_everyone``.
    reasons: tuple[str, ...]
    chat_id: int | None
    chat_title: str
    #: What will be sent or done, shortened (never logged).
    preview: str
    binding: bytes

    def summary(self) -> str:
        """One line: the tool, the chat and why (no content)."""
        where = f"{self.chat_title} ({self.chat_id})" if self.chat_id is not None else self.chat_title
        return f"{self.tool} in {where}; asked by rule {', '.join(self.reasons)}"


def new_approval_id() -> str:
    """128 random bits, URL-safe (22 characters)."""
    return secrets.token_urlsafe(APPROVAL_ID_BYTES)


def is_approval_id(text: str) -> bool:
    return bool(_ID.match(text))


def id_hash(approval_id: str) -> bytes:
    """What the store keeps instead of the id (the id opens the approval page)."""
    return hashlib.sha256(b"mcpgram/approval-id/v1\x00" + approval_id.encode()).digest()


def new_code() -> str:
    """Three letters and three digits (``KQT482``): easy to type back, unlike any ordinary word."""
    letters = "".join(secrets.choice(_CODE_LETTERS) for _ in range(3))
    return f"{letters}{secrets.randbelow(1000):03d}"


def parse_answer(text: str, code: str) -> bool | None:
    """``True`` for ``yes CODE``, ``False`` for ``no CODE``; None if the text answers something else."""
    match = _ANSWER.match(text)
    if match is None or (match.group(2) + match.group(3)).upper() != code.upper():
        return None
    return match.group(1).lower() in _YES


def looks_like_answer(parts: Iterable[str | bytes | Path]) -> bool:
    """Whether any text part reads like an answer to an approval (an agent must not write one)."""
    return any(isinstance(part, str) and _ANSWER_ANYWHERE.search(part) for part in parts)


def _frame(data: bytes) -> bytes:
    return len(data).to_bytes(8, "big") + data


def binding_of(  # one argument per bound fact
    *,
    tenant: str,
    tool: str,
    verbs: Sequence[str],
    chat_id: int | None,
    details: Sequence[object],
    content: Sequence[str | bytes | Path],
) -> bytes:
    """SHA-256 over every fact the approval covers; reads a ``Path`` part (our temporary file)."""
    digest = hashlib.sha256(b"mcpgram/approval-binding/v1")
    for fact in (tenant, tool, ",".join(sorted(verbs)), "" if chat_id is None else str(chat_id)):
        digest.update(_frame(fact.encode()))
    digest.update(_frame(repr(tuple(details)).encode()))
    for part in content:
        if isinstance(part, Path):
            file_digest = hashlib.sha256()
            with part.open("rb") as file:
                while chunk := file.read(1 << 20):
                    file_digest.update(chunk)
            digest.update(b"F" + _frame(file_digest.digest()))
        elif isinstance(part, bytes):
            digest.update(b"B" + _frame(hashlib.sha256(part).digest()))
        else:
            digest.update(b"S" + _frame(part.encode("utf-8", "surrogatepass")))
    return digest.digest()


def preview_of(content: Sequence[str | bytes | Path], details: Sequence[object]) -> str:
    """What the person reads: the text parts (shortened), how many files, and the call's details."""
    texts = [part for part in content if isinstance(part, str) and part]
    files = [part for part in content if not isinstance(part, str)]
    lines = []
    if texts:
        text = texts[0]
        lines.append(text if len(text) <= PREVIEW_CHARS else text[: PREVIEW_CHARS - 1] + "…")
    if files or len(texts) > 1:
        lines.append(f"[{len(files) + len(texts) - 1} file(s) or media attached]")
    shown = [item for item in details if isinstance(item, str) and " " in item]
    if shown:
        lines.append("[" + "; ".join(shown) + "]")
    return "\n".join(lines) or "[no text]"
