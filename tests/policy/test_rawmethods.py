"""The raw MTProto method tables and how the guard applies them (pure: no I/O)."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from mcpgram.errors import ConfigError, PolicyRefused
from mcpgram.policy.guard import Action, check_verbs, raw_call
from mcpgram.policy.model import PROFILES, Scope, from_json, loosenings, parse_methods, to_json
from mcpgram.policy.rawmethods import (
    DENIED,
    DENIED_NAMESPACES,
    PEER_BOUND,
    READ_METHODS,
    denied_reason,
    never_reason,
    verb_of,
)
from mcpgram.telegram.rawtl import method_names

SCHEMA = set(method_names())
#: The default profile with raw writes allowed, as an operator would set it.
WRITER = PROFILES["all"].with_rules({"raw_write": "allow"})


@pytest.mark.parametrize("table", ["READ_METHODS", "DENIED", "PEER_BOUND"])
def test_every_listed_method_exists_in_telegrams_schema(table: str) -> None:
    """A typo in a table would hide a method from its rule: every name must be in Telethon's schema."""
    names = {"READ_METHODS": READ_METHODS, "DENIED": set(DENIED), "PEER_BOUND": PEER_BOUND}[table]
    assert names - SCHEMA == set()


def test_denied_namespaces_exist_and_cover_their_methods() -> None:
    """payments.* is denylisted whole: its namespace exists, and every method in it is refused."""
    for namespace in DENIED_NAMESPACES:
        members = [name for name in SCHEMA if name.startswith(f"{namespace}.")]
        assert members
        assert all(denied_reason(name) for name in members)


def test_the_issue_list_is_denylisted() -> None:
    """Account deletion, logging out or resetting sessions, 2FA and email changes, chat deletion,
    payments, exporting an authorization: each is refused unless lifted."""
    for name in [
        "account.deleteAccount",
        "auth.logOut",
        "auth.resetAuthorizations",
        "account.resetAuthorization",
        "account.updatePasswordSettings",
        "account.getPasswordSettings",
        "account.resetPassword",
        "account.sendVerifyEmailCode",
        "account.verifyEmail",
        "channels.deleteChannel",
        "messages.deleteChat",
        "messages.deleteHistory",
        "payments.sendStarsForm",
        "payments.transferStarGift",
        "auth.exportAuthorization",
        "auth.acceptLoginToken",
        "account.initTakeoutSession",
    ]:
        assert denied_reason(name), name


def test_reads_are_not_denylisted_and_unknown_methods_are_writes() -> None:
    """No read is on the denylist by accident; a method the table does not know counts as a write."""
    assert {name for name in READ_METHODS if denied_reason(name)} == set()
    assert verb_of("messages.getHistory") == "raw_read"
    assert verb_of("messages.sendMessage") == "raw_write"
    assert verb_of("stickers.createStickerSet") == "raw_write"


@pytest.mark.parametrize(
    "name",
    [
        "invokeWithLayer",
        "initConnection",
        "invokeWithTakeout",
        "ping",
        "auth.signIn",
        "auth.importAuthorization",
    ],
)
def test_wrappers_and_the_login_flow_are_never_available(name: str) -> None:
    """A wrapper would carry another method past its rule; login belongs to `mcpgram login`: refused
    even for a tenant whose operator lifted it and allows every verb."""
    assert never_reason(name)
    policy = replace(WRITER, lifted=frozenset({name}))
    with pytest.raises(PolicyRefused) as caught:
        check_verbs(policy, raw_call(name, ()))
    assert caught.value.rule == "raw.never"


def test_a_denylisted_method_is_refused_until_the_operator_lifts_it() -> None:
    """Even with raw_write allowed the denylist refuses, naming its rule; lifted, the verb rules again."""
    with pytest.raises(PolicyRefused) as caught:
        check_verbs(WRITER, raw_call("account.deleteAccount", ()))
    assert caught.value.rule == "raw.denylist" and "account" in caught.value.message
    check_verbs(
        replace(WRITER, lifted=frozenset({"account.deleteAccount"})), raw_call("account.deleteAccount", ())
    )
    lifted_but_denied = replace(PROFILES["all"], lifted=frozenset({"account.deleteAccount"}))
    with pytest.raises(PolicyRefused) as caught:
        check_verbs(lifted_but_denied, raw_call("account.deleteAccount", ()))
    assert caught.value.rule == "verbs.raw_write"


def test_the_default_profile_reads_raw_but_does_not_write() -> None:
    """`all` (the default) allows raw_read and denies raw_write; reader and inbox deny both."""
    check_verbs(PROFILES["all"], raw_call("messages.getHistory", ("me",)))
    with pytest.raises(PolicyRefused):
        check_verbs(PROFILES["all"], raw_call("messages.sendMessage", ("me",)))
    for name in ("reader", "inbox"):
        with pytest.raises(PolicyRefused):
            check_verbs(PROFILES[name], raw_call("messages.getHistory", ("me",)))


def test_a_narrow_scope_admits_only_methods_bound_to_the_chats_they_name() -> None:
    """Under a read scope other than '*', getHistory naming a chat passes the pure check (the scope
    itself is checked with the client); getDialogs, or getHistory naming nothing, cannot be checked."""
    narrow = replace(PROFILES["all"], read=Scope.parse(["@bob_e2e"]))
    check_verbs(narrow, raw_call("messages.getHistory", ("@bob_e2e",)))
    for method, chats in [
        ("messages.getDialogs", ()),
        ("messages.searchGlobal", ()),
        ("messages.getHistory", ()),
    ]:
        with pytest.raises(PolicyRefused) as caught:
            check_verbs(narrow, raw_call(method, chats))
        assert caught.value.rule == "read"
    known_only = replace(WRITER, sends="known")
    with pytest.raises(PolicyRefused) as caught:
        check_verbs(known_only, raw_call("contacts.importContacts", ()))
    assert caught.value.rule == "write"
    check_verbs(known_only, raw_call("messages.sendMessage", ("@bob_e2e",)))


def test_raw_writes_go_to_the_write_scope_and_count_as_sends() -> None:
    """A raw write's chats are checked against the write scope, with sends: known applying."""
    action = raw_call("messages.sendMessage", ("@bob_e2e",))
    assert action == Action(
        ("raw_write",), write=("@bob_e2e",), sends=True, raw_method="messages.sendMessage"
    )
    assert raw_call("users.getFullUser", ("me",)).read == ("me",)


def test_lifted_methods_are_stored_and_older_policies_still_load() -> None:
    """The lifted list round-trips through the stored JSON; a policy stored before it existed loads
    with nothing lifted; junk in it makes the stored policy unreadable (fail closed)."""
    policy = replace(WRITER, lifted=frozenset({"account.deleteAccount", "auth.logOut"}))
    assert from_json(to_json(policy)) == policy
    older = json.loads(to_json(PROFILES["reader"]))
    assert "lifted" not in older
    assert from_json(json.dumps(older)).lifted == frozenset()
    older["lifted"] = ["../etc"]
    with pytest.raises(ConfigError):
        from_json(json.dumps(older))
    with pytest.raises(ConfigError):
        parse_methods(["account.deleteAccount; drop"])


def test_a_tenant_cannot_lift_a_method_for_itself() -> None:
    """Tightening may drop a lifted method, never add one."""
    current = replace(WRITER, lifted=frozenset({"auth.logOut"}))
    assert loosenings(current, replace(current, lifted=frozenset())) == []
    assert loosenings(
        current, replace(current, lifted=frozenset({"auth.logOut", "account.deleteAccount"}))
    ) == ["lifted"]
