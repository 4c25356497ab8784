"""``shapes.iso`` and ``shapes.pruned``: the forms every result uses, fast paths included."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from mcpgram.telegram.shapes import MediaInfo, MessageInfo, iso, pruned


def _slow_iso(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.mark.parametrize(
    "value",
    [
        datetime(2025, 6, 1, 8, 5, 9, tzinfo=UTC),
        datetime(1970, 1, 1, tzinfo=UTC),
        datetime(2038, 1, 19, 3, 14, 7, 999_999, tzinfo=UTC),
        datetime(2025, 6, 1, 8, 5, 9, tzinfo=timezone(timedelta(hours=-7))),
        datetime(999, 12, 31, 23, 59, tzinfo=UTC),
    ],
)
def test_iso_is_utc_to_the_second_with_a_z(value: datetime) -> None:
    assert iso(value) == _slow_iso(value)


def test_iso_of_nothing_is_nothing() -> None:
    assert iso(None) is None


class Level(enum.IntEnum):
    NONE = 0
    SOME = 2


@dataclass(frozen=True)
class Inner:
    name: str | None = None
    count: int = 0


@dataclass(frozen=True)
class Outer:
    inner: Inner | None = None
    items: list[Any] = field(default_factory=list)
    pair: tuple[Any, ...] = ()
    mapping: dict[str, Any] = field(default_factory=dict)
    flag: bool = False
    ratio: float = 0.0
    level: int = 0


def test_pruned_drops_empty_values_at_every_depth_and_keeps_the_rest() -> None:
    outer = Outer(
        inner=Inner(name="", count=0),
        items=[Inner(name="a"), 0, "", None, [Inner()], {"k": None, "v": 1}],
        pair=(Inner(count=3),),
        mapping={"a": Inner(name="b"), "empty": {}, "zero": 0, "no": False, "yes": True},
        flag=True,
        ratio=0.5,
        level=Level.SOME,
    )
    assert pruned(outer) == {
        "inner": {},
        "items": [{"name": "a"}, 0, "", None, [{}], {"v": 1}],
        "pair": [{"count": 3}],
        "mapping": {"a": {"name": "b"}, "yes": True},
        "flag": True,
        "ratio": 0.5,
        "level": 2,
    }
    # An empty tuple is not one of the empty values (None, "", [], {}, False): it stays, as a list.
    assert pruned(Outer(level=Level.NONE, ratio=0.0)) == {"pair": []}


def test_pruned_message_keeps_only_what_it_has() -> None:
    message = MessageInfo(
        id=3,
        date="2025-06-01T08:05:09Z",
        sender="Ann",
        sender_id=5,
        text="hi",
        media=MediaInfo(kind="photo", size=10),
        reactions={"👍": 2},
    )
    assert pruned(message) == {
        "id": 3,
        "date": "2025-06-01T08:05:09Z",
        "sender": "Ann",
        "sender_id": 5,
        "text": "hi",
        "media": {"kind": "photo", "size": 10},
        "reactions": {"👍": 2},
    }
