"""bench/_guardprobe.py charges each guardrail layer its own CPU time only (``guardcost.py``).

An async layer is timed step by step: what it awaits through a hole (the rest of the call) and
what another probed layer nested in it takes are not its own, and neither is the time other tasks
run while it waits.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
import _guardprobe as probes  # bench/ is not a package


def burn(n: int) -> int:
    return sum(range(n))


async def test_an_async_layer_is_charged_its_own_steps_not_its_hole_nor_nested_layers() -> None:
    nested = probes.timed_sync("test.nested", burn)

    async def rest_of_call() -> None:
        burn(400_000)
        await asyncio.sleep(0)  # suspends: the layer's step ends here
        burn(400_000)

    async def layer_body(call: object) -> None:
        burn(10_000)
        nested(400_000)
        await probes.hole(rest_of_call)()
        burn(10_000)

    async def other_task() -> None:
        burn(800_000)  # runs while the layer waits: never the layer's

    layer = probes.timed_async("test.layer", layer_body)
    await asyncio.gather(layer(None), other_task())
    own = probes.PROBES["test.layer"]
    hole, inner = probes.PROBES["other"], probes.PROBES["test.nested"]
    assert own.steps == 2 and inner.steps == 1 and hole.steps == 2
    # 20k of its own against 400k nested, 800k in the hole and 800k in another task.
    assert 0 < own.ns * 3 < inner.ns < hole.ns, (own.ns, inner.ns, hole.ns)
