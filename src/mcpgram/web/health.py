"""``GET /health``: liveness for anyone, pool statistics for the operator.

Without an Authorization header the answer is ``{"status": "ok"}`` and nothing else. With
``Authorization: Bearer <operator token>`` it adds the client pool's counters; any other
Authorization header, tenant tokens included, is 401. The operator token is compared in constant
time. This route must never show tenant ids, labels, phone numbers or anything a tenant owns.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
from collections.abc import Awaitable, Callable, Mapping

from pydantic import SecretStr
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .security import json_error

#: Returns the pool's counters: a mapping or a dataclass of numbers (e.g. ``ClientPool.stats``).
PoolStatsSource = Callable[[], object]


def _digest(value: str) -> bytes:
    # Comparing fixed-length digests keeps the operator token's length out of the timing, too.
    return hashlib.sha256(value.encode()).digest()


def _plain(stats: object) -> dict[str, object]:
    if dataclasses.is_dataclass(stats) and not isinstance(stats, type):
        return dataclasses.asdict(stats)
    if isinstance(stats, Mapping):
        return {str(key): value for key, value in stats.items()}
    raise TypeError("pool_stats must return a mapping or a dataclass instance")


def health_endpoint(
    *, operator_token: SecretStr | str | None = None, pool_stats: PoolStatsSource | None = None
) -> Callable[[Request], Awaitable[Response]]:
    """The ``/health`` request handler.

    Args:
        operator_token: The operator's bearer token; ``None`` disables the detailed view.
        pool_stats: Called for the detailed view only.

    Returns:
        An async Starlette endpoint function.
    """
    secret = operator_token.get_secret_value() if isinstance(operator_token, SecretStr) else operator_token
    expected = _digest(secret) if secret else None

    async def health(request: Request) -> Response:
        header = request.headers.get("authorization")
        if header is None:
            return JSONResponse({"status": "ok"})
        scheme, _, credential = header.partition(" ")
        if (
            expected is None
            or scheme.lower() != "bearer"
            or not hmac.compare_digest(_digest(credential), expected)
        ):
            return json_error(
                401,
                "NOT_AUTHENTICATED",
                "Invalid operator token.",
                headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
            )
        return JSONResponse({"status": "ok", "pool": _plain(pool_stats()) if pool_stats else None})

    return health
