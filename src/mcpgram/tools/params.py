"""Parameter types the tools share, so one kind of argument reads and validates the same everywhere.

Each is an ``Annotated`` type: pydantic checks the limits before a tool runs, and the description
is what an agent reads in ``tools/list``.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

#: Message ids, dates and other TL ``int`` values: positive, 32-bit.
MAX_INT32 = 2**31 - 1

#: What a chat argument accepts: the strict references of ``telegram.chats.parse_chat_ref``.
CHAT_REF = "Chat id from find_chats, 'me', @username, t.me link or +phone"

ChatRef = Annotated[str, Field(min_length=1, max_length=256, description=CHAT_REF)]
MessageId = Annotated[int, Field(ge=1, le=MAX_INT32, description="Message id from get_messages")]
#: One element of a list of message ids (the list carries the description and the count limits).
MessageIdItem = Annotated[int, Field(ge=1, le=MAX_INT32)]
