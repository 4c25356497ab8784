"""Per-tenant policy: what a tenant's agent may do, where, and which tools it sees.

- ``model``: the policy as plain data (verbs, read and write scopes, sends, profiles), its JSON form
  and the tighten-only comparison; pure.
- ``book``: where a tenant's policy is kept (with the tenant, in the vault) and the default for
  tenants the operator has not set one for; the operator's ``set`` and the tenant's ``tighten``.
- ``guard``: the one enforcement point every tool, resource and prompt goes through (and the file
  downloads and the raw bridge will): verbs, then chat scopes by resolved chat id, then approvals.

Nothing here is imported by ``telegram`` except ``model`` (plain data), so the package sits beside it.
"""
