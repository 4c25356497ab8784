"""The sandbox's RPC methods, one module per API namespace or area.

Each module exposes ``router``; :func:`build_router` merges them and refuses duplicates, so a
method is implemented in exactly one place.
"""

from __future__ import annotations

import importlib

from ..router import Router

_MODULES = ("help", "auth", "users", "updates")


def build_router() -> Router:
    merged = Router()
    for name in _MODULES:
        module = importlib.import_module(f"{__name__}.{name}")
        merged.include(module.router)
    return merged
