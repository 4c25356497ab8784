"""A tenant's policy as plain data: verbs, chat scopes, sends, and the named profiles (pure).

A policy says, per verb (``read``, ``send``, ``edit``, ...), ``allow``, ``approve`` or ``deny``; which
chats may be read and which written (``*``, marked chat ids, ``@usernames``, ``folder:<title or id>``);
and whether sends go to anyone or only to chats this account has written in before (``known``).
Two acts take a rule of their own on top of their verb's (:data:`SITUATIONS`): a first message to a
chat never written in (``first_contact``) and deleting for everyone (``delete_everyone``), both
``approve`` unless set otherwise. Profiles are named starting points (``reader``, ``inbox``,
``all``); the tools a tenant sees follow from its verbs (``tools/visibility.py``).

:func:`loosenings` compares two policies: what a tenant asks for may only take away, never add.
Scopes are compared as written (``@alice`` is not ``123`` even when it is her id): a tenant cannot
widen its scope by renaming an entry. This module does no I/O and imports nothing from mcpgram but
errors; the JSON it writes is stored with the tenant, so its shape is kept backwards compatible.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal, get_args

from ..errors import ConfigError

Verb = Literal[
    "read",
    "send",
    "edit",
    "delete",
    "forward",
    "react",
    "mark_read",
    "download",
    "upload",
    "raw_read",
    "raw_write",
]
Rule = Literal["allow", "approve", "deny"]
Sends = Literal["anyone", "known"]
ProfileName = Literal["reader", "inbox", "all"]

VERBS: tuple[Verb, ...] = get_args(Verb)
RULES: tuple[Rule, ...] = get_args(Rule)
PROFILE_NAMES: tuple[ProfileName, ...] = get_args(ProfileName)
Situation = Literal["first_contact", "delete_everyone"]
#: Acts that take a rule of their own on top of their verb's (:class:`Policy` fields of these names).
SITUATIONS: tuple[Situation, ...] = get_args(Situation)
#: How much each rule lets through: a tenant may only move a verb down this order.
_STRENGTH: dict[Rule, int] = {"deny": 0, "approve": 1, "allow": 2}
#: Who can change a policy, as every refusal says it.
CHANGED_BY = "only the operator of this mcpgram server can change this tenant's policy (`mcpgram policy`)"

_USERNAME = re.compile(r"^@([A-Za-z][A-Za-z0-9_]{3,31})$")
_ID = re.compile(r"^-?\d{1,20}$")
_FOLDER = re.compile(r"^folder:(.{1,64})$", re.S)
#: A TL method name (``account.deleteAccount``), as the denylist names them.
METHOD_NAME = re.compile(r"^[a-z][A-Za-z0-9]{0,31}\.[a-z][A-Za-z0-9]{0,63}$")
MAX_ENTRIES = 1000


@dataclass(frozen=True)
class Scope:
    """The chats a scope admits: everything, or these marked ids, usernames and folders."""

    everything: bool = False
    ids: frozenset[int] = frozenset()
    #: Lower-case, without ``@``.
    usernames: frozenset[str] = frozenset()
    #: Folder titles or ids as written (``archive`` is the archive).
    folders: frozenset[str] = frozenset()

    @classmethod
    def parse(cls, entries: Iterable[str | int]) -> Scope:
        """A scope from ``*``, ``-1001234``, ``@alice``, ``folder:Work`` entries; else ConfigError."""
        ids: set[int] = set()
        usernames: set[str] = set()
        folders: set[str] = set()
        everything = False
        items = list(entries)
        if len(items) > MAX_ENTRIES:
            raise ConfigError(f"a scope holds at most {MAX_ENTRIES} entries")
        for item in items:
            text = str(item).strip()
            if text == "*":
                everything = True
            elif _ID.match(text) and 0 < abs(int(text)) < 2**63:
                ids.add(int(text))
            elif match := _USERNAME.match(text):
                usernames.add(match.group(1).lower())
            elif (match := _FOLDER.match(text)) and (name := match.group(1).strip()) and name.isprintable():
                folders.add(name)
            else:
                raise ConfigError(
                    "a scope entry is '*', a chat id, an @username or folder:<title or id>",
                    hint="e.g. --read '*' --write @alice --write -1001234567890 --write folder:Work",
                )
        if everything:
            return cls(everything=True)
        return cls(ids=frozenset(ids), usernames=frozenset(usernames), folders=frozenset(folders))

    @property
    def empty(self) -> bool:
        return not (self.everything or self.ids or self.usernames or self.folders)

    def entries(self) -> list[str]:
        """The scope as entries, sorted (the inverse of :meth:`parse`)."""
        if self.everything:
            return ["*"]
        return [
            *(str(i) for i in sorted(self.ids)),
            *(f"@{name}" for name in sorted(self.usernames)),
            *(f"folder:{name}" for name in sorted(self.folders)),
        ]

    def within(self, other: Scope) -> bool:
        """Whether this scope admits nothing ``other`` does not (compared as written)."""
        if other.everything:
            return True
        if self.everything:
            return False
        folded = {name.casefold() for name in other.folders}
        return (
            self.ids <= other.ids
            and self.usernames <= other.usernames
            and all(name.casefold() in folded for name in self.folders)
        )

    def narrowed(self, other: Scope) -> Scope:
        """The entries both admit as written (tightening only ever narrows)."""
        if other.everything:
            return self
        if self.everything:
            return other
        folded = {name.casefold() for name in other.folders}
        return Scope(
            ids=self.ids & other.ids,
            usernames=self.usernames & other.usernames,
            folders=frozenset(name for name in self.folders if name.casefold() in folded),
        )


EVERYTHING = Scope(everything=True)


@dataclass(frozen=True)
class Policy:
    """One tenant's policy. ``profile`` names the profile it started from (shown to operators)."""

    verbs: Mapping[Verb, Rule]
    read: Scope = EVERYTHING
    write: Scope = EVERYTHING
    sends: Sends = "anyone"
    profile: str = "custom"
    #: Whether the tenant itself tightened it since the operator last set it (shown to operators).
    tightened: bool = field(default=False, compare=False)
    #: Raw MTProto methods of the denylist (``policy/rawmethods.py``) the operator lifted for this
    #: tenant; nothing else can lift one.
    lifted: frozenset[str] = frozenset()
    #: A first message to a chat this account has never written in, when ``send`` allows it:
    #: ``approve`` (the default) asks a person, ``deny`` refuses, ``allow`` lets it through.
    first_contact: Rule = "approve"
    #: Deleting messages for everyone, when ``delete`` allows it (as ``first_contact``).
    delete_everyone: Rule = "approve"

    def rule(self, verb: Verb) -> Rule:
        return self.verbs.get(verb, "deny")

    def with_rules(self, rules: Mapping[Verb, Rule]) -> Policy:
        return replace(self, verbs={**self.verbs, **rules})

    def with_situations(self, rules: Mapping[Situation, Rule]) -> Policy:
        first, everyone = rules.get("first_contact"), rules.get("delete_everyone")
        return replace(
            self, first_contact=first or self.first_contact, delete_everyone=everyone or self.delete_everyone
        )


def _verbs(allowed: Iterable[Verb]) -> dict[Verb, Rule]:
    wanted = set(allowed)
    return {verb: "allow" if verb in wanted else "deny" for verb in VERBS}


#: Named starting points. ``reader``: read only. ``inbox``: read, reply where this account has
#: written before, react, mark read, download. ``all``: every verb but ``raw_write``, every chat:
#: a raw write can do whatever the account can (the denylist aside), so the operator opts in.
PROFILES: dict[ProfileName, Policy] = {
    # sends: known changes nothing without send; it keeps reader the tightest (inbox -> reader tightens).
    "reader": Policy(_verbs(["read", "download"]), sends="known", profile="reader"),
    "inbox": Policy(
        _verbs(["read", "send", "react", "mark_read", "download"]), sends="known", profile="inbox"
    ),
    "all": Policy(_verbs(verb for verb in VERBS if verb != "raw_write"), profile="all"),
}


def profile(name: str) -> Policy:
    if name not in PROFILES:
        raise ConfigError(f"no policy profile {name!r}", hint=f"profiles: {', '.join(PROFILE_NAMES)}")
    return PROFILES[name]


def parse_rules(items: Iterable[str]) -> dict[Verb, Rule]:
    """``verb=rule`` pairs (``send=approve``); ConfigError naming what is wrong."""
    rules: dict[Verb, Rule] = {}
    for item in items:
        verb, _, rule = item.partition("=")
        verb, rule = verb.strip(), rule.strip()
        if verb not in VERBS:
            raise ConfigError(f"no verb {verb!r}", hint=f"verbs: {', '.join(VERBS)}")
        if rule not in RULES:
            raise ConfigError(f"a rule is one of {', '.join(RULES)}", hint="e.g. --verb send=approve")
        rules[verb] = rule
    return rules


def split_situations(items: Iterable[str]) -> tuple[list[str], dict[Situation, Rule]]:
    """``--verb`` entries split into verb rules and situation rules (``first_contact=allow``)."""
    verbs: list[str] = []
    rules: dict[Situation, Rule] = {}
    for item in items:
        name, _, rule = item.partition("=")
        name, rule = name.strip(), rule.strip()
        if name not in SITUATIONS:
            verbs.append(item)
            continue
        if rule not in RULES:
            raise ConfigError(f"a rule is one of {', '.join(RULES)}", hint="e.g. --verb first_contact=allow")
        rules[name] = rule
    return verbs, rules


def loosenings(current: Policy, proposed: Policy) -> list[str]:
    """What ``proposed`` allows that ``current`` does not, as rule names; empty: it only tightens."""
    found = [
        f"verbs.{verb}" for verb in VERBS if _STRENGTH[proposed.rule(verb)] > _STRENGTH[current.rule(verb)]
    ]
    if not proposed.read.within(current.read):
        found.append("read")
    if not proposed.write.within(current.write):
        found.append("write")
    if current.sends == "known" and proposed.sends == "anyone":
        found.append("sends")
    if not proposed.lifted <= current.lifted:
        found.append("lifted")
    for name in SITUATIONS:
        if _STRENGTH[getattr(proposed, name)] > _STRENGTH[getattr(current, name)]:
            found.append(name)
    return found


def parse_methods(items: Iterable[str]) -> frozenset[str]:
    """TL method names (``account.deleteAccount``); ConfigError for anything else."""
    names = [str(item).strip() for item in items]
    if len(names) > MAX_ENTRIES or not all(METHOD_NAME.match(name) for name in names):
        raise ConfigError("a method is a TL name such as account.deleteAccount")
    return frozenset(names)


#: The stored form's version. 2: written since the raw MTProto bridge exists (``lifted`` may appear).
#: A version-1 policy was stored before it did, so its ``raw_write`` was never a choice for the bridge
#: (``--profile all`` wrote ``allow``): it reads as ``deny`` (``--verb raw_write=allow`` restores it).
STORED_VERSION = 2


def to_json(policy: Policy) -> str:
    """The stored form: compact JSON, every verb written out (an unknown verb later reads as deny)."""
    payload: dict[str, Any] = {
        "v": STORED_VERSION,
        "profile": policy.profile,
        "verbs": {verb: policy.rule(verb) for verb in VERBS},
        "read": policy.read.entries(),
        "write": policy.write.entries(),
        "sends": policy.sends,
        "tightened": policy.tightened,
        **{name: getattr(policy, name) for name in SITUATIONS},
    }
    if policy.lifted:  # absent when empty: what older releases wrote and read
        payload["lifted"] = sorted(policy.lifted)
    return json.dumps(payload, separators=(",", ":"))


def from_json(text: str) -> Policy:
    """A stored policy; anything malformed is ConfigError (the caller fails closed, never open)."""
    try:
        raw: Any = json.loads(text)
        version = raw.get("v") if isinstance(raw, dict) else None
        if version not in (1, STORED_VERSION) or isinstance(version, bool):
            raise ValueError
        verbs = raw["verbs"]
        if not isinstance(verbs, dict):
            raise ValueError
        rules = parse_rules(f"{verb}={rule}" for verb, rule in verbs.items())
        if version == 1:
            rules["raw_write"] = "deny"
        sends = raw.get("sends", "anyone")
        if sends not in get_args(Sends):
            raise ValueError
        # Absent in policies stored before approvals existed: those get the default, approve.
        situations: dict[str, Any] = {name: raw.get(name, "approve") for name in SITUATIONS}
        if any(rule not in RULES for rule in situations.values()):
            raise ValueError
        return Policy(
            verbs=_verbs([]) | rules,
            read=Scope.parse(raw["read"]),
            write=Scope.parse(raw["write"]),
            sends=sends,
            profile=str(raw.get("profile", "custom"))[:32],
            tightened=bool(raw.get("tightened", False)),
            lifted=parse_methods(raw.get("lifted", []) if version == STORED_VERSION else []),
            **situations,
        )
    except (ValueError, KeyError, TypeError, ConfigError):
        raise ConfigError(
            "the stored policy cannot be read", hint="set it again with `mcpgram policy set`"
        ) from None


def describe(policy: Policy) -> dict[str, Any]:
    """The policy as operators and tenants read it (``mcpgram policy show``)."""
    return {
        "profile": policy.profile,
        "verbs": {verb: policy.rule(verb) for verb in VERBS},
        "read": policy.read.entries(),
        "write": policy.write.entries(),
        "sends": policy.sends,
        **{name: getattr(policy, name) for name in SITUATIONS},
        "tightened_by_tenant": policy.tightened,
        "lifted": sorted(policy.lifted),
    }
