"""The one place a tenant's policy is enforced: every tool, resource and prompt goes through here.

A call names what it does as an :class:`Action` (its verbs, the chats it reads and writes). Checks
run in this order, and the first that fails answers ``NOT_ALLOWED`` naming its rule and who can
change it (:class:`~mcpgram.errors.PolicyRefused`):

1. :func:`check_verbs`, before any Telegram connection: a verb set to ``deny`` refuses, so a denied
   call never reaches Telegram;
2. :func:`enforce`, with the tenant's client: each chat is resolved to its id and checked against
   the read or write scope; a send or forward under ``sends: known`` needs an earlier message
   from this account in the target chat;
3. what needs a person's approval: a verb set to ``approve``, a first message to a chat this account
   never wrote in (``first_contact``), deleting for everyone (``delete_everyone``). :func:`enforce`
   returns these rules; the caller asks (``tools/approving.py``) and runs the call only once a
   person approved this exact action.

Lists (dialogs, global search) are filtered, not refused: :func:`readable` keeps the chats the read
scope admits. The raw MTProto bridge calls the same functions with ``raw_read`` or ``raw_write``
(:func:`raw_call`); before its verb, the method meets the denylist (``rawmethods.py``: lifted only
by the operator, per tenant) and, under a scope narrower than ``*``, must be bound to the chats it
names. This module holds no state.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import telegram
from ..errors import PolicyRefused
from .model import CHANGED_BY, Policy, Verb
from .rawmethods import denied_reason, is_peer_bound, never_reason, verb_of

if TYPE_CHECKING:  # the Telethon client type, for annotations only
    from ..telegram import Client

ChatRef = str | int
#: ``(chat_id, input peer) -> whether this account has written in that chat``.
WrittenCheck = Callable[[int, Any], Awaitable[bool]]


@dataclass(frozen=True)
class Action:
    """What one call does, as the policy sees it."""

    verbs: tuple[Verb, ...]
    #: Chats read: each must be inside the read scope.
    read: tuple[ChatRef, ...] = ()
    #: Chats written to: each must be inside the write scope.
    write: tuple[ChatRef, ...] = ()
    #: A message goes to the write chats (send, forward): ``sends: known`` applies.
    sends: bool = False
    #: The recipient is only known once the call acts (a phone number that is not a contact): allowed
    #: only with a write scope of ``*`` and ``sends: anyone``.
    unresolved_recipient: bool = False
    #: A raw MTProto call's TL method name (``policy/rawmethods.py``): the denylist applies.
    raw_method: str | None = None
    #: What a write carries (text, file bytes or a temporary file of ours, media handles), for the
    #: audit journal's keyed digest only: never shown, logged or compared.
    content: tuple[str | bytes | Path, ...] = field(default=(), repr=False, compare=False)
    #: Deletes sent messages: True for everyone (``delete_everyone`` applies), False only for this
    #: account (except in channels and supergroups, which delete for everyone all the same).
    revoke: bool | None = None
    #: The call's other facts an approval is bound to and shows (message ids, reply target...).
    details: tuple[object, ...] = field(default=(), repr=False, compare=False)
    #: Set when a file in ``content`` is still arriving while the call runs (a URL fetched as it
    #: uploads): says whether it is complete, so the digest is taken once the call has ended.
    content_complete: Callable[[], bool] | None = field(default=None, repr=False, compare=False)
    #: With :attr:`content_complete`: waits until that file has fully arrived (FETCH_FAILED if it
    #: ends short). An approval binds the whole content, so asking for one waits for it first.
    content_ready: Callable[[], Awaitable[object]] | None = field(default=None, repr=False, compare=False)


class ApprovalNeeded(Exception):  # a signal to the caller, not an error
    """Raised by the caller of :func:`enforce` when it returned rules: the call waits for a person."""

    def __init__(self, reasons: tuple[str, ...]) -> None:
        super().__init__(", ".join(reasons))
        self.reasons = reasons


#: How much of a raw call's JSON params a person approving it is shown.
_RAW_SHOWN = 600


def raw_call(method: str, chats: tuple[ChatRef, ...], params: bytes = b"") -> Action:
    """A raw MTProto call of ``method`` naming ``chats``: read scope for reads, write scope for writes.

    ``params`` (the call's JSON) is digested into its audit journal entry, never stored; an
    approval is bound to the method and the params, and shows both (shortened).
    """
    verb = verb_of(method)
    content = (params,) if params else ()
    # What an approval of the call is bound to besides its params, and what the person is shown.
    shown = params.decode("utf-8", "replace")
    shown = shown if len(shown) <= _RAW_SHOWN else shown[: _RAW_SHOWN - 1] + "…"
    details = (f"method {method}", f"params {shown}")
    if verb == "raw_read":
        return Action((verb,), read=chats, raw_method=method, content=content, details=details)
    return Action((verb,), write=chats, sends=True, raw_method=method, content=content, details=details)


def reads(*chats: ChatRef) -> Action:
    return Action(("read",), read=chats)


def _deny(verb: str) -> PolicyRefused:
    return PolicyRefused(
        f"this tenant's policy does not allow {verb} (rule verbs.{verb} = deny)",
        rule=f"verbs.{verb}",
        hint=CHANGED_BY,
    )


def _deny_rule(name: str) -> PolicyRefused:
    return PolicyRefused(
        f"this tenant's policy does not allow {name.replace('_', ' ')} (rule {name} = deny)",
        rule=name,
        hint=CHANGED_BY,
    )


def _outside(scope: str) -> PolicyRefused:
    return PolicyRefused(
        f"that chat is outside this tenant's {scope} scope (rule {scope})", rule=scope, hint=CHANGED_BY
    )


def _never_written() -> PolicyRefused:
    return PolicyRefused(
        "this tenant's policy sends only to chats this account has written in before, and it has not"
        " written in that one (rule sends = known)",
        rule="sends",
        hint=CHANGED_BY,
    )


def cannot_ask(reasons: tuple[str, ...]) -> PolicyRefused:
    """The refusal when a call needs approval and nothing can ask a person (no approvals wired)."""
    return PolicyRefused(
        f"this needs a person's approval under this tenant's policy (rule {', '.join(reasons)} ="
        " approve), and this server cannot ask for approvals here; nothing was done",
        rule=reasons[0],
        hint=CHANGED_BY + "; it can set the rule to allow or deny",
    )


def _check_raw_name(policy: Policy, method: str) -> None:
    never = never_reason(method)
    if never is not None:
        raise PolicyRefused(
            f"{method} is never available through the raw MTProto bridge: {never} (rule raw.never)",
            rule="raw.never",
            hint="no policy can allow it",
        )
    reason = denied_reason(method)
    if reason is not None and method not in policy.lifted:
        raise PolicyRefused(
            f"{method} is on the raw MTProto denylist: it {reason} (rule raw.denylist)",
            rule="raw.denylist",
            hint="only the operator can lift it, per tenant: `mcpgram policy set <tenant> --lift METHOD`",
        )


def _check_raw(policy: Policy, method: str, action: Action) -> None:
    _check_raw_name(policy, method)
    if action.verbs == ("raw_read",):
        scope, narrowed = "read", not policy.read.everything
    else:
        scope, narrowed = "write", not policy.write.everything or policy.sends == "known"
    if narrowed and not (is_peer_bound(method) and (action.read or action.write)):
        raise PolicyRefused(
            f"{method} may reach chats its parameters do not name, and this tenant's {scope} scope is not"
            f" '*' (rule {scope}); under a narrower scope only methods bound to the chats they name run",
            rule=scope,
            hint=CHANGED_BY,
        )


def check_raw_method(policy: Policy, method: str) -> None:
    """A raw method's own rules, before its parameters are read: never available, denylisted (and
    not lifted), or its verb denied. So a refused method is refused as such, whatever it was sent."""
    _check_raw_name(policy, method)
    verb = verb_of(method)
    if policy.rule(verb) == "deny":
        raise _deny(verb)


def check_verbs(policy: Policy, action: Action) -> None:
    """Refuse a denied verb, a denylisted raw method, or a recipient the scope cannot be checked
    for; no I/O (pure)."""
    if action.raw_method is not None:
        _check_raw(policy, action.raw_method, action)
    for verb in action.verbs:
        if policy.rule(verb) == "deny":
            raise _deny(verb)
    if action.revoke and policy.delete_everyone == "deny":
        raise _deny_rule("delete_everyone")
    if action.unresolved_recipient:
        if not policy.write.everything:
            raise _outside("write")
        if policy.sends == "known":
            raise _never_written()


def is_listed(policy: Policy, verbs: Iterable[Verb], *, unresolved_recipient: bool = False) -> bool:
    """Whether a tool doing ``verbs`` can ever pass :func:`check_verbs` (``tools/list`` shows it)."""
    try:
        check_verbs(policy, Action(tuple(verbs), unresolved_recipient=unresolved_recipient))
    except PolicyRefused:
        return False
    return True


async def enforce(
    client: Client,
    policy: Policy,
    action: Action,
    *,
    written: WrittenCheck | None = None,
    known: Callable[[int], bool] | None = None,
    verbs_checked: bool = False,
) -> tuple[str, ...]:
    """Every check for ``action`` with the tenant's client, before the call acts (see the module doc).

    ``written(chat_id, peer)`` says whether this account has written in a chat (the tenant's
    ``WrittenChats``, ``written.py``); without it, Telegram is asked each time. ``known(chat_id)``:
    whether that memory already says so, asked first of a chat given by id (no look-up at all).
    ``verbs_checked``: the caller ran :func:`check_verbs` on this same policy and action already
    (before connecting).

    Returns:
        The rules that ask for a person's approval (empty: the call may go ahead).
    """
    if not verbs_checked:
        check_verbs(policy, action)
    scope = telegram.scope
    # A scope of '*' needs no resolving: the call resolves its chat itself (CHAT_NOT_FOUND as ever),
    # so the default policy adds no Telegram request to any call.
    for ref in () if policy.read.everything else action.read:
        chat_id, _ = await scope.resolve_target(client, ref)
        if not await scope.admitted(client, policy.read, [chat_id]):
            raise _outside("read")
    known_only = action.sends and policy.sends == "known"
    # Whether a send is a first contact costs one search; asked only when its answer matters.
    first_contact = action.sends and policy.first_contact != "allow" and policy.rule("send") != "deny"
    needs: list[str] = []  # (plain loops below, no comprehensions: this runs on every write)
    for verb in action.verbs:
        if policy.rule(verb) == "approve":
            needs.append(f"verbs.{verb}")
    writes: list[ChatRef] = []
    if not policy.write.everything:
        writes.extend(action.write)
    elif known_only or first_contact:
        # Under a write scope of '*' a chat is resolved only to ask whether it was written in; a
        # chat id already known as written in needs no look-up here (the call resolves it itself).
        for ref in action.write:
            if not _known(known, ref):
                writes.append(ref)
    for ref in writes:
        chat_id, peer = await scope.resolve_target(client, ref)
        if not policy.write.everything and not await scope.admitted(client, policy.write, [chat_id]):
            raise _outside("write")
        if (known_only or first_contact) and not await (
            written(chat_id, peer) if written is not None else scope.has_written_to(client, peer)
        ):
            if known_only:
                raise _never_written()
            if policy.first_contact == "deny":
                raise _deny_rule("first_contact")
            needs.append("first_contact")
    if action.unresolved_recipient and first_contact:
        # A phone number that is not a contact: never written to, as far as anyone can tell.
        if policy.first_contact == "deny":
            raise _deny_rule("first_contact")
        needs.append("first_contact")
    revoke = action.revoke
    if revoke is False and policy.delete_everyone != "allow":
        for ref in action.write:
            chat_id, _ = await scope.resolve_target(client, ref)
            revoke = revoke or str(chat_id).startswith("-100")  # a channel's marked id
    if revoke and policy.delete_everyone == "deny":
        raise _deny_rule("delete_everyone")
    if revoke and policy.delete_everyone == "approve":
        needs.append("delete_everyone")
    return tuple(dict.fromkeys(needs)) if needs else ()


def _known(known: Callable[[int], bool] | None, ref: ChatRef) -> bool:
    """Whether ``ref`` is a chat id (``telegram/refs.py``: digits, maybe signed) ``known`` knows."""
    if known is None:
        return False
    if type(ref) is int:
        return known(ref)
    if isinstance(ref, str):
        digits = ref[1:] if ref[:1] == "-" else ref
        return digits.isascii() and digits.isdigit() and known(int(ref))
    return False


async def readable(client: Client, policy: Policy, chat_ids: Iterable[int]) -> set[int]:
    """The chat ids among ``chat_ids`` inside the read scope (lists keep only these)."""
    inside: set[int] = await telegram.scope.admitted(client, policy.read, chat_ids)
    return inside


def refused_by_read(policy: Policy) -> bool:
    """Whether nothing can be read at all (prompts and resources are then not listed)."""
    return policy.rule("read") == "deny"


__all__ = [
    "Action",
    "ApprovalNeeded",
    "cannot_ask",
    "check_raw_method",
    "check_verbs",
    "enforce",
    "is_listed",
    "raw_call",
    "readable",
    "reads",
    "refused_by_read",
]
