"""Where each tenant's policy lives, and the two ways it changes: the operator sets, the tenant tightens.

A policy is stored with its tenant in the vault (table ``policies``). A tenant without one has the
default from settings (``MCPGRAM_DEFAULT_POLICY``), so changing the default reaches every tenant
the operator has not given a policy of its own. Parsed policies are kept in memory until any
process writes any policy (``vault/marker.py``), so a change applies from the next call.
Nothing here is reachable from MCP: the operator sets a policy with ``mcpgram policy set``
(data-dir access), and a tenant tightens its own with ``mcpgram policy tighten --token-stdin`` (its
token), which refuses any change that would allow more than the policy it has.
"""

from __future__ import annotations

import functools
from dataclasses import replace

from ..errors import ConfigError, PolicyRefused, TenantError
from ..vault.vault import Vault
from .model import CHANGED_BY, Policy, Scope, from_json, loosenings, profile, to_json


class PolicyBook:
    """Read and change tenants' policies in ``vault``; ``default`` names the profile of the rest."""

    def __init__(self, vault: Vault, default: str) -> None:
        self._vault = vault
        self.default = profile(default)
        #: tenant -> (the vault's policies version when read, the policy): valid while the version
        #: is unchanged, which any process's policy write changes (``vault/marker.py``).
        self._cache: dict[str, tuple[bytes, Policy]] = {}

    def get(self, tenant_id: str) -> Policy:
        """The tenant's effective policy. A stored policy that cannot be read refuses everything.

        Read from the vault once per change of any policy (in any process), not at every call.
        """
        version = self._vault.policies_version()  # before the row: see vault/marker.py
        if version is not None:
            cached = self._cache.get(tenant_id)
            if cached is not None and cached[0] == version:
                return cached[1]
        stored = self._vault.load_policy(tenant_id)
        policy = self.default if stored is None else _parsed(stored)
        if version is not None:
            if len(self._cache) >= _MAX_CACHED and tenant_id not in self._cache:
                self._cache.clear()  # tenant ids come from tokens the vault knows: rarely reached
            self._cache[tenant_id] = (version, policy)
        return policy

    def has_own(self, tenant_id: str) -> bool:
        return self._vault.load_policy(tenant_id) is not None

    def set(self, tenant_id: str, policy: Policy) -> None:
        """The operator's change: replaces whatever the tenant had, tightenings included."""
        self._store(tenant_id, replace(policy, tightened=False))

    def tighten(self, tenant_id: str, proposed: Policy) -> Policy:
        """The tenant's change: stored only if it allows nothing the current policy does not.

        Raises:
            PolicyRefused: ``proposed`` would loosen a rule; the message names the rules.
        """
        stored = self._vault.load_policy(tenant_id)
        current = self.default if stored is None else _parsed(stored)
        loosened = loosenings(current, proposed)
        if loosened:
            raise PolicyRefused(
                f"a tenant may only tighten its policy; this would loosen: {', '.join(loosened)}",
                rule=loosened[0],
                hint=CHANGED_BY,
            )
        tightened = replace(proposed, tightened=True)
        # Compared with what was read: an operator's change in between must not be overwritten by
        # a tightening of the policy it replaced (that could loosen it).
        try:
            swapped = self._vault.swap_policy(tenant_id, stored, to_json(tightened))
        except KeyError:
            raise TenantError(f"no live tenant {tenant_id}") from None
        if not swapped:
            raise TenantError("the policy changed while tightening it; nothing was stored, run it again")
        return tightened

    def _store(self, tenant_id: str, policy: Policy) -> None:
        try:
            self._vault.store_policy(tenant_id, to_json(policy))
        except KeyError:
            raise TenantError(f"no live tenant {tenant_id}") from None


#: Tenants whose policy one book keeps in memory.
_MAX_CACHED = 4096


@functools.lru_cache(maxsize=4096)
def _parsed(stored: str) -> Policy:
    """The policy a stored text holds, parsed once per distinct text (a tool call reads it twice:
    listing check and guard; parsing costs ~35 us, the indexed read ~8 us)."""
    try:
        return from_json(stored)
    except ConfigError:
        return _NOTHING


#: What an unreadable stored policy means: nothing is allowed (fail closed, never open).
_NOTHING = Policy(verbs={}, read=Scope(), write=Scope(), profile="unreadable")
