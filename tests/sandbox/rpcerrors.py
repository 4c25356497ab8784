"""``await error_of(client(request))``: the Telegram error name a call was answered with.

Telethon maps the error names it knows to classes (``ChatAdminRequiredError``) whose ``message`` no
longer holds the name; this maps them back, so tests compare the names the server sent.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

import pytest
from telethon import errors
from telethon.errors import rpcerrorlist

_NAMES = {cls: name for name, cls in rpcerrorlist.rpc_errors_dict.items()}


async def error_of(call: Awaitable[Any]) -> str:
    """The error name ``call`` fails with (``EMAIL_UNCONFIRMED_6`` style names come back whole)."""
    with pytest.raises(errors.RPCError) as caught:
        await call
    exc = caught.value
    for pattern, cls in rpcerrorlist.rpc_errors_re:
        if type(exc) is cls:
            value = next(v for k, v in vars(exc).items() if k != "request")
            return pattern.replace(r"(\d+)", str(value))
    return _NAMES.get(type(exc), exc.message)
