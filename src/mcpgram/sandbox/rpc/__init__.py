"""The sandbox's RPC methods, one module per API namespace or area.

Every module in this package exposes ``router``; :func:`build_router` discovers and merges them and
refuses duplicates, so a method is implemented in exactly one place.
"""

from __future__ import annotations

import importlib
import pkgutil

from ..router import Router


def build_router() -> Router:
    merged = Router()
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{__name__}.{info.name}")
        merged.include(module.router)
    return merged
