"""Parameter types the tools share, so one kind of argument reads and validates the same everywhere.

Each is an ``Annotated`` type: pydantic checks the limits before a tool runs, and the description
is what an agent reads in ``tools/list``.

Chat references (:data:`ChatRef`, :data:`SenderRef`) take an integer or a string: tools return chat
ids as JSON numbers, and an agent passes them back as they came or quoted, both work. Either way the
tool receives a string (``"-1001600000004"``), so a cursor minted for one form continues the other.
Their schema is spelled ``"type": ["integer", "string"]`` (string bounds apply to strings only):
pydantic's own ``anyOf`` of two subschemas is 19 bytes longer per chat parameter (12 of them in
``tools/list``: 228 bytes). The ``type`` list itself costs 12 bytes per parameter over ``"string"``.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BeforeValidator, Field, WithJsonSchema

#: Message ids, dates and other TL ``int`` values: positive, 32-bit.
MAX_INT32 = 2**31 - 1
#: The longest chat reference a tool accepts (a t.me link with a topic is well below it).
MAX_REF = 256

#: What a chat argument accepts: the strict references of ``telegram.chats.parse_chat_ref``.
CHAT_REF = "Chat id from find_chats, 'me', @username, t.me link or +phone"


def _id_as_text(value: object) -> object:
    """An integer id as the string the tools take; anything else (bools included) as it came.

    JSON Schema's "integer" admits a number with a zero fraction (``5.0``), as pydantic's ints do.
    """
    if type(value) is float and value.is_integer():
        return str(int(value))
    return str(value) if type(value) is int else value


_AsText = BeforeValidator(_id_as_text)

#: A chat: an integer id or a string (id, ``me``, ``@username``, t.me link, ``+phone``); arrives as str.
ChatRef = Annotated[
    str,
    _AsText,
    Field(min_length=1, max_length=MAX_REF),
    WithJsonSchema(
        {"type": ["integer", "string"], "minLength": 1, "maxLength": MAX_REF, "description": CHAT_REF}
    ),
]
#: A message's sender filter, like :data:`ChatRef` but optional ("" or absent: anyone).
SenderRef = Annotated[
    str,
    _AsText,
    Field(max_length=MAX_REF),
    WithJsonSchema(
        {"type": ["integer", "string"], "maxLength": MAX_REF, "description": "User id or @username"}
    ),
]
MessageId = Annotated[int, Field(ge=1, le=MAX_INT32, description="Message id from get_messages")]
#: One element of a list of message ids (the list carries the description and the count limits).
MessageIdItem = Annotated[int, Field(ge=1, le=MAX_INT32)]
