"""The policy model (pure): scopes, profiles, the stored JSON form, and what counts as loosening."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import get_args

import pytest

from mcpgram.errors import ConfigError, PolicyRefused
from mcpgram.policy.guard import Action, check_verbs
from mcpgram.policy.model import (
    PROFILE_NAMES,
    PROFILES,
    VERBS,
    Policy,
    Scope,
    from_json,
    loosenings,
    parse_rules,
    to_json,
)
from mcpgram.settings import Settings

#: The stored form of the inbox profile with a narrowed write scope: pinned, because vaults keep it.
INBOX_JSON = (
    '{"v":2,"profile":"inbox","verbs":{"read":"allow","send":"allow","edit":"deny","delete":"deny",'
    '"forward":"deny","react":"allow","mark_read":"allow","download":"allow","upload":"deny",'
    '"raw_read":"deny","raw_write":"deny"},"read":["*"],"write":["-1001234","@alice","folder:Work"],'
    '"sends":"known","tightened":false,"first_contact":"approve","delete_everyone":"approve"}'
)
#: The same policy as stored before approvals existed (no first_contact, delete_everyone).
INBOX_JSON_BEFORE_APPROVALS = INBOX_JSON.replace(',"first_contact":"approve","delete_everyone":"approve"', "")


def test_the_stored_form_is_pinned_and_round_trips() -> None:
    """to_json writes the known-answer text; from_json reads it back to the same policy."""
    policy = replace(PROFILES["inbox"], write=Scope.parse(["folder:Work", "@Alice", "-1001234"]))
    assert to_json(policy) == INBOX_JSON
    assert from_json(INBOX_JSON) == policy


def test_a_policy_stored_before_approvals_loads_with_first_contact_and_delete_everyone_approve() -> None:
    """The older stored form still loads, and gets the approvals' defaults."""
    loaded = from_json(INBOX_JSON_BEFORE_APPROVALS)
    assert loaded == from_json(INBOX_JSON)
    assert (loaded.first_contact, loaded.delete_everyone) == ("approve", "approve")


def test_first_contact_and_delete_everyone_round_trip_and_only_tighten() -> None:
    """Their rules are stored; allowing more than the current rule is a loosening, less is not."""
    base = PROFILES["all"]
    allowing = base.with_situations({"first_contact": "allow"})
    assert from_json(to_json(allowing)).first_contact == "allow"
    assert loosenings(base, allowing) == ["first_contact"]
    assert loosenings(base, base.with_situations({"delete_everyone": "deny"})) == []
    with pytest.raises(ConfigError):
        from_json(to_json(base).replace('"first_contact":"approve"', '"first_contact":"maybe"'))


@pytest.mark.parametrize(
    "text",
    [
        "",
        "[]",
        '{"v":2}',
        '{"v":3,"verbs":{},"read":[],"write":[]}',
        '{"v":true,"verbs":{},"read":[],"write":[]}',
        '{"v":1,"verbs":{"read":"maybe"},"read":[],"write":[]}',
        '{"v":1,"verbs":{}}',
    ],
)
def test_an_unreadable_stored_policy_is_an_error_never_a_default(text: str) -> None:
    """Anything malformed raises ConfigError (the book then refuses everything)."""
    with pytest.raises(ConfigError):
        from_json(text)


def test_a_policy_stored_before_the_raw_bridge_reads_raw_write_as_deny() -> None:
    """Version 1 (before the raw MTProto bridge) still loads as it was, except raw_write: `--profile
    all` wrote allow for a verb nothing used yet, so it is not taken as the operator's choice."""
    old_inbox = INBOX_JSON.replace('"v":2', '"v":1')
    assert from_json(old_inbox) == from_json(INBOX_JSON)
    old_all = json.loads(to_json(PROFILES["all"].with_rules({"raw_write": "allow"})))
    old_all["v"] = 1
    old_all["lifted"] = ["account.deleteAccount"]  # v1 never had it: ignored
    loaded = from_json(json.dumps(old_all))
    assert loaded.rule("raw_write") == "deny" and loaded.rule("raw_read") == "allow"
    assert loaded.lifted == frozenset()
    assert from_json(to_json(PROFILES["all"].with_rules({"raw_write": "allow"}))).rule("raw_write") == "allow"


def test_a_verb_missing_from_a_stored_policy_is_denied() -> None:
    """A verb added in a later release reads as deny in a policy stored before it."""
    stored = json.loads(INBOX_JSON)
    del stored["verbs"]["raw_read"]
    assert from_json(json.dumps(stored)).rule("raw_read") == "deny"


@pytest.mark.parametrize(
    "entry", ["alice", "@ab", "folder:", "folder:\x07", "12x", "0", "https://t.me/x", ""]
)
def test_bad_scope_entries_are_refused(entry: str) -> None:
    with pytest.raises(ConfigError):
        Scope.parse([entry])


def test_scope_entries_parse_and_star_absorbs_the_rest() -> None:
    scope = Scope.parse(["@Alice", "-1001234", "folder: Work ", "42"])
    assert scope.entries() == ["-1001234", "42", "@alice", "folder:Work"]
    assert Scope.parse(["@alice", "*"]).entries() == ["*"]
    assert Scope.parse([]).empty


@pytest.mark.parametrize(
    ("change", "loosened"),
    [
        ({"verbs": {"edit": "allow"}}, ["verbs.edit"]),
        ({"verbs": {"edit": "approve"}}, ["verbs.edit"]),
        ({"verbs": {"send": "approve"}}, []),
        ({"verbs": {"send": "deny"}}, []),
        ({"write": ["*"]}, ["write"]),
        ({"write": ["@alice", "@bobby"]}, ["write"]),
        ({"write": ["@alice"]}, []),
        ({"write": ["folder:work"]}, []),
        ({"write": ["12345"]}, ["write"]),  # even if it were Alice's id: scopes compare as written
        ({"read": ["@alice"]}, []),
        ({"sends": "anyone"}, ["sends"]),
    ],
)
def test_loosening_is_anything_that_allows_more(change: dict[str, object], loosened: list[str]) -> None:
    """Verbs may only move allow -> approve -> deny, scopes only shrink, sends only go to known."""
    current = replace(PROFILES["inbox"], write=Scope.parse(["@alice", "folder:Work"]))
    proposed = current
    if "verbs" in change:
        proposed = proposed.with_rules(parse_rules(f"{k}={v}" for k, v in change["verbs"].items()))  # type: ignore[attr-defined]
    if "write" in change:
        proposed = replace(proposed, write=Scope.parse(change["write"]))  # type: ignore[arg-type]
    if "read" in change:
        proposed = replace(proposed, read=Scope.parse(change["read"]))  # type: ignore[arg-type]
    if "sends" in change:
        proposed = replace(proposed, sends=change["sends"])  # type: ignore[arg-type]
    assert loosenings(current, proposed) == loosened


def test_profiles_only_ever_add() -> None:
    """reader < inbox (but for sends) < all: each profile allows what the one before does."""
    assert loosenings(PROFILES["all"], PROFILES["inbox"]) == []
    assert loosenings(PROFILES["inbox"], PROFILES["reader"]) == []
    assert loosenings(PROFILES["reader"], PROFILES["all"]) != []


def test_the_settings_default_names_exactly_the_profiles() -> None:
    """Settings (a leaf) spells the profile names out; they must be PROFILES' keys."""
    annotation = Settings.model_fields["default_policy"].annotation
    assert get_args(annotation) == PROFILE_NAMES == tuple(PROFILES)
    assert Settings.model_fields["default_policy"].default == "all"


@pytest.mark.parametrize("verb", VERBS)
def test_every_verb_is_refused_before_any_io_when_denied(verb: str) -> None:
    """check_verbs (what download and the bridge will call too) refuses a denied verb, naming it."""
    policy = PROFILES["all"].with_rules({verb: "deny"})  # type: ignore[dict-item]
    with pytest.raises(PolicyRefused) as caught:
        check_verbs(policy, Action((verb,)))  # type: ignore[arg-type]
    assert caught.value.code == "NOT_ALLOWED" and caught.value.rule == f"verbs.{verb}"
    check_verbs(PROFILES["all"].with_rules({verb: "allow"}), Action((verb,)))  # type: ignore[dict-item,arg-type]


def test_an_unresolvable_recipient_needs_the_widest_write_rules() -> None:
    """send_to_phone's recipient is unknown until it acts: write '*' and sends anyone, or refused."""
    action = Action(("send",), sends=True, unresolved_recipient=True)
    check_verbs(PROFILES["all"], action)
    for narrowed in (
        replace(PROFILES["all"], write=Scope.parse(["@a_b_c"])),
        replace(PROFILES["all"], sends="known"),
    ):
        with pytest.raises(PolicyRefused):
            check_verbs(narrowed, action)


def test_an_empty_policy_denies_every_verb() -> None:
    assert all(Policy(verbs={}).rule(verb) == "deny" for verb in VERBS)
