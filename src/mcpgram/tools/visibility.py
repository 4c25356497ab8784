"""What a tenant sees: ``tools/list``, resources and prompts filtered by its policy, per request.

Each tool is listed only when the tenant's policy can allow what it does (:data:`TOOL_VERBS`; a verb
set to ``approve`` still lists it). A tool that is not listed cannot be called either: the call
answers exactly as for a tool that does not exist (``Unknown tool``), so an agent learns nothing
about tools its profile leaves out, and their schemas cost no context. With ``read`` denied, the
resources and prompts (all of which read chats) are neither listed nor served; with ``download``
denied, neither is the ``mcpgram://media/`` template (:data:`RESOURCE_VERBS`). Everything a listed
tool then does is still checked call by call by ``policy/guard.py`` through ``ToolContext.run``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextvars import ContextVar
from typing import Any

from fastmcp.exceptions import NotFoundError
from fastmcp.server.middleware import Middleware, MiddlewareContext

from ..policy.guard import is_listed, refused_by_read
from ..policy.model import Policy, Verb

#: ``(tenant, policy)`` the policy middleware read for the tool call now running: the guard
#: (``ToolContext``) checks the call against this same policy instead of reading the store again.
_CALL_POLICY: ContextVar[tuple[str, Policy] | None] = ContextVar("mcpgram_call_policy", default=None)


def call_policy(tenant_id: str) -> Policy | None:
    """The policy read for ``tenant_id``'s tool call now running, or None (read it yourself)."""
    pinned = _CALL_POLICY.get()
    return pinned[1] if pinned is not None and pinned[0] == tenant_id else None


#: The verbs each tool's calls need. A tool missing here is never listed (tests/tools check the map).
TOOL_VERBS: dict[str, tuple[Verb, ...]] = {
    "find_chats": ("read",),
    "get_chat": ("read",),
    "get_messages": ("read",),
    "search_messages": ("read",),
    "transcribe_voice": ("read",),
    "download_media": ("download",),
    "send_message": ("send",),
    "edit_message": ("edit",),
    "forward_messages": ("forward",),
    "send_to_phone": ("send",),
    "delete_messages": ("delete",),
    "mark_read": ("mark_read",),
    "react": ("react",),
    "pin_message": ("edit",),
    "invoke_mtproto": ("raw_read", "raw_write"),
}
#: Resources (by URI prefix) whose reads need a verb besides ``read``: listed and served only when
#: the policy can allow it, as for tools (an absent one answers ``Unknown resource``).
RESOURCE_VERBS: dict[str, tuple[Verb, ...]] = {"mcpgram://media/": ("download",)}
#: Tools whose recipient is known only once they act: listed only with write '*' and sends: anyone.
UNRESOLVED_RECIPIENT = frozenset({"send_to_phone"})
#: Tools doing one of their verbs per call (which, the call decides): listed when any can pass.
ANY_VERB = frozenset({"invoke_mtproto"})


def tool_listed(policy: Policy, name: str) -> bool:
    """Whether the tenant with ``policy`` sees (and may call) tool ``name``.

    Asked on every tool call: the answer for all tools is worked out once per policy object (the
    policy store hands out the same object until the stored policy changes) and kept by identity.
    """
    known = _LISTED.get(id(policy))
    if known is None or known[0] is not policy:
        if len(_LISTED) >= _MAX_LISTED:
            _LISTED.clear()  # policies are few (one object per tenant and change): rarely reached
        known = _LISTED[id(policy)] = (policy, frozenset(n for n in TOOL_VERBS if _tool_listed(policy, n)))
    return name in known[1]


#: Listed tool names by policy object, the object kept alongside (so its id cannot be reused).
#: :data:`TOOL_VERBS` is fixed at import; a test that adds a tool there starts this memo afresh.
_LISTED: dict[int, tuple[Policy, frozenset[str]]] = {}
_MAX_LISTED = 4096


def _tool_listed(policy: Policy, name: str) -> bool:
    verbs = TOOL_VERBS[name]
    if name in ANY_VERB:
        return any(is_listed(policy, (verb,)) for verb in verbs)
    return is_listed(policy, verbs, unresolved_recipient=name in UNRESOLVED_RECIPIENT)


def resource_listed(policy: Policy, uri: str) -> bool:
    """Whether the tenant with ``policy`` sees (and may read) the resource or template ``uri``."""
    if refused_by_read(policy):
        return False
    verbs = next((v for prefix, v in RESOURCE_VERBS.items() if uri.startswith(prefix)), ())
    return not verbs or is_listed(policy, verbs)


def listed_tools(policy: Policy) -> list[str]:
    """The tool names a tenant with ``policy`` sees, in :data:`TOOL_VERBS` order (docs and benchmarks)."""
    return [name for name in TOOL_VERBS if tool_listed(policy, name)]


class PolicyMiddleware(Middleware):
    """Filters lists and refuses hidden tools, resources and prompts for the calling tenant.

    Args:
        tenant_of: The calling tenant's id, or None (then nothing is shown: fail closed).
        policy_of: The tenant's effective policy.
    """

    def __init__(self, tenant_of: Callable[[], str | None], policy_of: Callable[[str], Policy]) -> None:
        self._tenant_of = tenant_of
        self._policy_of = policy_of

    def _policy(self) -> Policy | None:
        tenant = self._tenant_of()
        return None if tenant is None else self._policy_of(tenant)

    def _reads(self) -> bool:
        policy = self._policy()
        return policy is not None and not refused_by_read(policy)

    async def __call__(self, context: MiddlewareContext[Any], call_next: Any) -> Any:
        """A tool call goes straight to :meth:`on_call_tool` (FastMCP's documented ``__call__``
        override): one hop per call instead of the base class's chain of hooks; the rest as ever."""
        if context.method == "tools/call" and not isinstance(context.message, Mapping):
            # on_call_tool's work inline: a tool call resumes through one frame less.
            token = _CALL_POLICY.set(self._tool_policy(context))
            try:
                return await call_next(context)
            finally:
                _CALL_POLICY.reset(token)
        # Everything else, and a call that failed before FastMCP read it (its pass over the raw
        # message, a mapping, runs only the untyped hooks), as the base class does.
        return await super().__call__(context, call_next)

    async def on_list_tools(self, context: MiddlewareContext[Any], call_next: Any) -> Sequence[Any]:
        tools: Sequence[Any] = await call_next(context)
        policy = self._policy()
        return [tool for tool in tools if policy is not None and tool_listed(policy, tool.name)]

    async def on_call_tool(self, context: MiddlewareContext[Any], call_next: Any) -> Any:
        token = _CALL_POLICY.set(self._tool_policy(context))
        try:
            return await call_next(context)
        finally:
            _CALL_POLICY.reset(token)

    def _tool_policy(self, context: MiddlewareContext[Any]) -> tuple[str, Policy]:
        """The caller and its policy, pinned for the call (one read of the store per call, not
        two); NotFoundError for a tool it does not see."""
        name = context.message.name
        tenant = self._tenant_of()
        policy = None if tenant is None else self._policy_of(tenant)
        if tenant is None or policy is None or not tool_listed(policy, name):
            raise NotFoundError(f"Unknown tool: {name!r}")  # word for word what FastMCP answers
        return tenant, policy

    async def on_list_resources(self, context: MiddlewareContext[Any], call_next: Any) -> Sequence[Any]:
        found: Sequence[Any] = await call_next(context)
        policy = self._policy()
        return [r for r in found if policy is not None and resource_listed(policy, str(r.uri))]

    async def on_list_resource_templates(
        self, context: MiddlewareContext[Any], call_next: Any
    ) -> Sequence[Any]:
        found: Sequence[Any] = await call_next(context)
        policy = self._policy()
        return [t for t in found if policy is not None and resource_listed(policy, str(t.uri_template))]

    async def on_read_resource(self, context: MiddlewareContext[Any], call_next: Any) -> Any:
        uri = str(context.message.uri)
        policy = self._policy()
        if policy is None or not resource_listed(policy, uri):
            raise NotFoundError(f"Unknown resource: {uri!r}")
        return await call_next(context)

    async def on_list_prompts(self, context: MiddlewareContext[Any], call_next: Any) -> Sequence[Any]:
        found: Sequence[Any] = await call_next(context)
        return found if self._reads() else []

    async def on_get_prompt(self, context: MiddlewareContext[Any], call_next: Any) -> Any:
        if not self._reads():
            raise NotFoundError(f"Unknown prompt: {context.message.name!r}")
        return await call_next(context)
