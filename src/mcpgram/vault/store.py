"""The storage interface every vault backend implements, and the records it returns.

A store keeps opaque bytes: token digests, wrapped data keys and sealed secrets. It never sees a
token, a data key or a plaintext session, so a backend (SQLite now, PostgreSQL later) cannot leak
them. It also keeps each tenant's policy, as the JSON text ``policy/model.py`` writes (not secret:
the operator sets it without the tenant's token). Every mutating call is atomic: after a crash, a
row holds either the old or the new value.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

TenantStatus = Literal["active", "login_required", "revoked"]
SecretPurpose = Literal["session", "entities"]


@dataclass(frozen=True)
class TenantRecord:
    tenant_id: str
    label: str
    created: int
    status: TenantStatus
    #: Short HMAC label of the current token, for `token list`; None once revoked.
    token_fingerprint: str | None
    #: Incremented on every token rotation; bound into nothing secret, shown to operators.
    key_version: int


class VaultStore(Protocol):
    """Persistence for tenants and their sealed secrets."""

    def create_tenant(self, record: TenantRecord, *, token_digest: bytes, wrapped_key: bytes) -> None: ...

    def tenant_by_digest(self, token_digest: bytes) -> TenantRecord | None: ...

    def get_tenant(self, tenant_id: str) -> TenantRecord | None: ...

    def list_tenants(self) -> list[TenantRecord]: ...

    def wrapped_key(self, tenant_id: str) -> bytes | None: ...

    def replace_token(
        self, tenant_id: str, *, token_digest: bytes, fingerprint: str, wrapped_key: bytes
    ) -> None:
        """Swap digest, fingerprint and wrapped key in one transaction (token rotation)."""
        ...

    def revoke(self, tenant_id: str) -> None:
        """Forget digest, wrapped key and secrets: the session becomes unrecoverable (crypto-shredding)."""
        ...

    def rekey(
        self,
        tenant_id: str,
        *,
        token_digest: bytes,
        fingerprint: str,
        wrapped_key: bytes,
        secrets: dict[SecretPurpose, bytes],
        status: TenantStatus,
        discard: str | None = None,
    ) -> None:
        """In one transaction: swap digest, fingerprint and wrapped key (bumping ``key_version``),
        set ``status``, replace every secret by ``secrets``, delete the tenant's OAuth grants and,
        if given, the ``discard`` tenant with all it holds (KeyError for an unknown or revoked tenant,
        nothing written)."""
        ...

    def discard(self, tenant_id: str) -> None:
        """Delete a tenant and everything stored for it (a temporary or abandoned tenant)."""
        ...

    def set_status(self, tenant_id: str, status: TenantStatus) -> None: ...

    def load_secret(self, tenant_id: str, purpose: SecretPurpose) -> bytes | None: ...

    def store_secret(self, tenant_id: str, purpose: SecretPurpose, blob: bytes) -> None: ...

    def policies_version(self) -> bytes | None:
        """A value that changes whenever any process commits a change to any policy (None: no such
        value, so a policy read may not be cached)."""
        ...

    def load_policy(self, tenant_id: str) -> str | None:
        """The tenant's stored policy (JSON text), or None when it has none (the default applies)."""
        ...

    def store_policy(self, tenant_id: str, policy: str, *, updated: int) -> None:
        """Set the tenant's policy (KeyError for an unknown or revoked tenant)."""
        ...

    def swap_policy(self, tenant_id: str, expected: str | None, policy: str, *, updated: int) -> bool:
        """Set the policy only if the stored one is still ``expected`` (None: none stored), in one
        transaction; False, with nothing written, if it changed meanwhile (KeyError as above)."""
        ...

    def close(self) -> None: ...
