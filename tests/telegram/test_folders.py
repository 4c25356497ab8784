"""Folder membership (``in_folder``), TL folders as rules, and how chats are filed into categories."""

from __future__ import annotations

from typing import Any

import pytest
from telethon.tl import types

from mcpgram.telegram.folders import DialogFacts, FolderRule, category_of, folder_rule, in_folder

WORK = FolderRule(id=2, title="Work", include=frozenset({1, 2}), exclude=frozenset({3}))
GROUPS = FolderRule(id=3, title="Groups", categories=frozenset({"groups"}), exclude=frozenset({-50}))


def facts(peer_id: int, category: Any = "contacts", **flags: bool) -> DialogFacts:
    return DialogFacts(peer_id=peer_id, category=category, **flags)


@pytest.mark.parametrize(
    ("rule", "dialog", "inside"),
    [
        (WORK, facts(1), True),
        (WORK, facts(4), False),  # not listed, and the folder ticks no category
        (WORK, facts(3), False),
        (GROUPS, facts(-40, "groups"), True),
        (GROUPS, facts(-50, "groups"), False),  # excluded beats the category
        (GROUPS, facts(5, "contacts"), False),
        # Exclusion flags rule out category matches but never explicitly included chats.
        (
            FolderRule(1, "x", categories=frozenset({"groups"}), exclude_muted=True),
            facts(-4, "groups", muted=True),
            False,
        ),
        (
            FolderRule(1, "x", include=frozenset({-4}), exclude_muted=True),
            facts(-4, "groups", muted=True),
            True,
        ),
        (FolderRule(1, "x", categories=frozenset({"bots"}), exclude_read=True), facts(8, "bots"), False),
        (
            FolderRule(1, "x", categories=frozenset({"bots"}), exclude_read=True),
            facts(8, "bots", unread=True),
            True,
        ),
        (
            FolderRule(1, "x", categories=frozenset({"broadcasts"}), exclude_archived=True),
            facts(-9, "broadcasts", archived=True),
            False,
        ),
        (
            FolderRule(1, "x", categories=frozenset({"broadcasts"})),
            facts(-9, "broadcasts", archived=True),
            True,
        ),
        (FolderRule(1, "Archive", archive=True), facts(7, archived=True), True),
        (FolderRule(1, "Archive", archive=True), facts(7), False),
        (FolderRule(1, "x", exclude=frozenset({2}), include=frozenset({2})), facts(2), False),
    ],
)
def test_in_folder_applies_include_exclude_and_flags(
    rule: FolderRule, dialog: DialogFacts, inside: bool
) -> None:
    """Excluded chats are out, included ones in, the rest in if their category is on and no flag vetoes."""
    assert in_folder(rule, dialog) is inside


def test_a_tl_folder_becomes_a_rule_with_marked_ids() -> None:
    """Include, pinned and exclude peers become marked ids (self included); flags carry over."""
    tl = types.DialogFilter(
        id=4,
        title=types.TextWithEntities("Mixed", []),
        pinned_peers=[types.InputPeerSelf()],
        include_peers=[types.InputPeerUser(5, 1), types.InputPeerChat(6)],
        exclude_peers=[types.InputPeerChannel(7, 1)],
        groups=True,
        bots=True,
        exclude_read=True,
    )
    rule = folder_rule(tl, self_id=99)
    assert rule.include == {99, 5, -6}
    assert rule.exclude == {-1000000000007}
    assert rule.categories == {"groups", "bots"}
    assert (rule.title, rule.exclude_read, rule.exclude_muted) == ("Mixed", True, False)


@pytest.mark.parametrize(
    ("entity", "category"),
    [
        (types.User(id=1, bot=True), "bots"),
        (types.User(id=1, contact=True), "contacts"),
        (types.User(id=1, is_self=True), "contacts"),
        (types.User(id=1), "non_contacts"),
        (types.Chat(id=1, title="g", photo=None, participants_count=1, date=None, version=1), "groups"),
        (types.Channel(id=1, title="s", photo=None, date=None, megagroup=True), "groups"),
        (types.Channel(id=1, title="c", photo=None, date=None, broadcast=True), "broadcasts"),
    ],
)
def test_chats_are_filed_under_telegrams_categories(entity: Any, category: str) -> None:
    """Bots, contacts (and Saved Messages), non-contacts, groups and channels go where Telegram puts them."""
    assert category_of(entity) == category
