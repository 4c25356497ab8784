"""``mcpgram policy show|set|tighten|profiles``: what each tenant's agent may do, and where.

``set`` is the operator's (whoever holds the data dir): it replaces a tenant's policy, starting from
a profile or from the policy the tenant has. ``tighten`` is the tenant's own: its token on stdin
proves who it is, and any change that would allow more than its current policy is refused, whole.
Nothing in MCP can change a policy. A tenant the operator has not set a policy for has the default
profile (``MCPGRAM_DEFAULT_POLICY``).

Must not: take a token from argv, or print one.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Literal

from cyclopts import App, Parameter

from ..errors import TenantError
from ..policy.book import PolicyBook
from ..policy.model import (
    PROFILES,
    SITUATIONS,
    Policy,
    Scope,
    describe,
    parse_methods,
    parse_rules,
    profile,
    split_situations,
)
from ..policy.rawmethods import denied_reason
from ..vault.vault import OWNER_TENANT_ID
from .runtime import load_settings, open_vault, read_token, require, terminal

app = App(name="policy", help="Show and set tenants' policies (verbs, chat scopes, tool profiles).")

_TENANT_ID = re.compile(r"^tnt_[0-9a-f]{16}$")

Entries = Annotated[list[str] | None, Parameter(consume_multiple=False)]


def _check_tenant(tenant_id: str) -> str:
    require(
        tenant_id == OWNER_TENANT_ID or bool(_TENANT_ID.match(tenant_id)),
        "not a tenant id (tnt_ and 16 hex digits, or 'owner'; see `mcpgram token list`)",
    )
    return tenant_id


def _changed(  # noqa: PLR0917  # the command's flags, applied in one place
    base: Policy,
    profile_name: str | None,
    verb: list[str] | None,
    read: list[str] | None,
    write: list[str] | None,
    sends: str | None,
) -> Policy:
    policy = profile(profile_name) if profile_name else base
    if verb:
        verbs, situations = split_situations(verb)
        policy = policy.with_rules(parse_rules(verbs)).with_situations(situations)
    if read is not None:
        policy = replace(policy, read=Scope.parse(read))
    if write is not None:
        policy = replace(policy, write=Scope.parse(write))
    if sends is not None:
        policy = replace(policy, sends="known" if sends == "known" else "anyone")
    return policy


def _lifted(policy: Policy, lift: list[str] | None, unlift: list[str] | None) -> Policy:
    """``policy`` with denylisted raw methods lifted or put back (``policy/rawmethods.py``)."""
    lifting = parse_methods(lift or [])
    for method in sorted(lifting):
        require(
            denied_reason(method) is not None,
            f"{method} is not on the raw MTProto denylist (nothing to lift)",
        )
    return replace(policy, lifted=(policy.lifted | lifting) - parse_methods(unlift or []))


def _print(tenant_id: str, policy: Policy, *, own: bool, json_output: bool) -> None:
    from ..tools.visibility import listed_tools  # imports FastMCP: only when printing

    term = terminal()
    shown = {"tenant_id": tenant_id, "source": "own" if own else "default", **describe(policy)}
    shown["tools"] = listed_tools(policy)
    if json_output:
        term.out(json.dumps(shown, indent=2))
        return
    term.out(f"tenant   {tenant_id}  ({'own policy' if own else 'default policy'}, profile {policy.profile})")
    rules = shown["verbs"]
    for rule in ("allow", "approve", "deny"):
        verbs = [verb for verb, value in rules.items() if value == rule]
        term.out(f"{rule:<8} {' '.join(verbs) or '-'}")
    term.out(f"read     {' '.join(policy.read.entries()) or '(nothing)'}")
    term.out(f"write    {' '.join(policy.write.entries()) or '(nothing)'}")
    term.out(f"sends    {policy.sends}")
    for name in SITUATIONS:
        term.out(f"{name.replace('_', ' '):<16} {getattr(policy, name)}")
    term.out(f"tools    {' '.join(shown['tools']) or '(none)'}")
    if policy.lifted:
        term.out(f"lifted   {' '.join(sorted(policy.lifted))}  (raw MTProto denylist)")
    if policy.tightened:
        term.out("note     tightened by the tenant since the operator set it")


@app.command
def show(
    tenant_id: str,
    /,
    *,
    json_output: Annotated[bool, Parameter(name="--json")] = False,
    data_dir: Path | None = None,
) -> int:
    """Show a tenant's effective policy and the tools its agent sees.

    Args:
        tenant_id: tnt_... (see `mcpgram token list`), or owner (the stdio user).
        json_output: Print JSON instead of lines.
        data_dir: Where the vault lives.
    """
    _check_tenant(tenant_id)
    settings = load_settings(data_dir=data_dir)
    with open_vault(settings) as vault:
        if vault.get_tenant(tenant_id) is None:
            raise TenantError(f"no tenant {tenant_id}")
        book = PolicyBook(vault, settings.default_policy)
        _print(tenant_id, book.get(tenant_id), own=book.has_own(tenant_id), json_output=json_output)
    return 0


@app.command(name="set")
def set_(  # one flag per part of a policy
    tenant_id: str,
    /,
    *,
    profile_name: Annotated[Literal["reader", "inbox", "all"] | None, Parameter(name="--profile")] = None,
    verb: Entries = None,
    read: Entries = None,
    write: Entries = None,
    sends: Literal["anyone", "known"] | None = None,
    lift: Entries = None,
    unlift: Entries = None,
    data_dir: Path | None = None,
) -> int:
    """Set a tenant's policy (operator): a profile, then any changes; replaces what the tenant had.

    Without --profile the changes apply to the tenant's current policy.

    Args:
        tenant_id: tnt_... (see `mcpgram token list`), or owner (the stdio user).
        profile_name: Start from this profile: reader, inbox or all.
        verb: VERB=RULE, rule allow, approve or deny (repeat: --verb send=deny --verb react=allow);
            also first_contact=RULE and delete_everyone=RULE (default approve).
        read: A chat the agent may read: '*', a chat id, @username or folder:<title or id> (repeat).
        write: A chat the agent may write in, same forms (repeat).
        sends: anyone, or known: only chats this account has written in before.
        lift: A raw MTProto method of the denylist to allow for this tenant (repeat; e.g.
            account.deleteAccount; see docs/security.md). It still needs verbs raw_write=allow.
        unlift: A lifted method to put back on the denylist (repeat).
        data_dir: Where the vault lives.
    """
    term = terminal()
    _check_tenant(tenant_id)
    settings = load_settings(data_dir=data_dir)
    with open_vault(settings) as vault:
        if vault.get_tenant(tenant_id) is None:
            raise TenantError(f"no tenant {tenant_id}")
        book = PolicyBook(vault, settings.default_policy)
        policy = _changed(book.get(tenant_id), profile_name, verb, read, write, sends)
        book.set(tenant_id, _lifted(policy, lift, unlift))
        _print(tenant_id, book.get(tenant_id), own=True, json_output=False)
    term.say("Set. Running servers apply it from their next request.")
    return 0


@app.command
def tighten(  # one flag per part of a policy
    *,
    token_stdin: bool = False,
    profile_name: Annotated[Literal["reader", "inbox", "all"] | None, Parameter(name="--profile")] = None,
    verb: Entries = None,
    read: Entries = None,
    write: Entries = None,
    sends: Literal["anyone", "known"] | None = None,
    data_dir: Path | None = None,
) -> int:
    """Tighten your own tenant's policy (token on stdin); anything that would loosen it is refused.

    Args:
        token_stdin: Read the tenant's token from stdin (required: tokens never go in arguments).
        profile_name: Narrow to this profile (refused if it allows something you may not do now).
        verb: VERB=RULE, only towards deny (allow > approve > deny), repeatable.
        read: The chats to keep readable: entries of your current read scope (repeat).
        write: The chats to keep writable: entries of your current write scope (repeat).
        sends: known: from now on only chats this account has written in before.
        data_dir: Where the vault lives.
    """
    term = terminal()
    require(token_stdin, "pass the tenant's token on stdin with --token-stdin (never as an argument)")
    settings = load_settings(data_dir=data_dir)
    token = read_token(term)
    with open_vault(settings) as vault:
        tenant_id = vault.authenticate(token).tenant_id
        book = PolicyBook(vault, settings.default_policy)
        proposed = _changed(book.get(tenant_id), profile_name, verb, read, write, sends)
        book.tighten(tenant_id, proposed)
        _print(tenant_id, book.get(tenant_id), own=True, json_output=False)
    term.say("Tightened. Only the operator can loosen it again.")
    return 0


@app.command
def profiles(*, json_output: Annotated[bool, Parameter(name="--json")] = False) -> int:
    """List the profiles: their verbs, scopes and the tools an agent sees with each.

    Args:
        json_output: Print JSON instead of lines.
    """
    from ..tools.visibility import listed_tools

    term = terminal()
    rows = {name: {**describe(policy), "tools": listed_tools(policy)} for name, policy in PROFILES.items()}
    if json_output:
        term.out(json.dumps(rows, indent=2))
        return 0
    for name, row in rows.items():
        allowed = [verb for verb, rule in row["verbs"].items() if rule == "allow"]
        term.out(f"{name:<7} allow {' '.join(allowed)}; sends {row['sends']}")
        term.out(f"{'':<7} tools {' '.join(row['tools'])}")
    return 0
