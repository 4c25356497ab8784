"""Tenants and their sealed Telegram sessions: the store plus the envelope crypto, behind one class.

This is the only place where a bearer token meets key material: :meth:`Vault.authenticate` turns a
token into a :class:`TenantKeys` (tenant id + unwrapped data key) and from then on only the data
key travels. Blocking store calls are made by the caller through its thread helper.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from .. import auth
from ..errors import DecryptFailed, NotAuthenticated, VaultError
from . import crypto
from .store import SecretPurpose, TenantRecord, TenantStatus, VaultStore

Clock = Callable[[], float]

#: The local owner tenant of stdio mode (and of ``--no-auth`` HTTP on loopback).
OWNER_TENANT_ID = "owner"


@dataclass(frozen=True)
class TenantKeys:
    """An authenticated tenant: its id and data key. The repr never shows the key."""

    tenant_id: str
    data_key: bytes = field(repr=False)


def new_tenant_id() -> str:
    return "tnt_" + secrets.token_hex(8)


class Vault:
    """Create, authenticate, rotate and revoke tenants; seal and open their secrets."""

    def __init__(self, store: VaultStore, *, server_secret: bytes, clock: Clock = time.time) -> None:
        if len(server_secret) < 32:
            raise ValueError("the server secret must have at least 256 bits")
        self._store = store
        self._server_secret = server_secret
        self._clock = clock

    def _wrap(self, tenant_id: str, secret: bytes, data_key: bytes) -> bytes:
        wrapping_key = crypto.derive_wrapping_key(
            secret, server_secret=self._server_secret, tenant_id=tenant_id
        )
        return crypto.wrap_data_key(wrapping_key, data_key, tenant_id=tenant_id)

    def create_tenant(self, label: str) -> tuple[TenantRecord, str]:
        """A new tenant with a fresh token; the token is returned once and never stored."""
        token = auth.new_token()
        tenant_id = new_tenant_id()
        record = TenantRecord(
            tenant_id=tenant_id,
            label=label,
            created=int(self._clock()),
            status="login_required",
            token_fingerprint=auth.token_fingerprint(self._server_secret, token),
            key_version=1,
        )
        wrapped = self._wrap(tenant_id, auth.token_secret_bytes(token), crypto.new_data_key())
        self._store.create_tenant(
            record, token_digest=auth.token_digest(self._server_secret, token), wrapped_key=wrapped
        )
        return record, token

    def create_owner(self, tenant_id: str, owner_key: bytes, label: str = "owner") -> TenantRecord:
        """The local stdio owner: wrapped under a key file's bytes instead of a token."""
        record = TenantRecord(
            tenant_id=tenant_id,
            label=label,
            created=int(self._clock()),
            status="login_required",
            token_fingerprint=None,
            key_version=1,
        )
        # A random digest no token can produce keeps the UNIQUE column meaningful.
        self._store.create_tenant(
            record,
            token_digest=b"owner|" + secrets.token_bytes(32),
            wrapped_key=self._wrap(tenant_id, owner_key, crypto.new_data_key()),
        )
        return record

    def open_owner(self, owner_key: bytes, tenant_id: str = OWNER_TENANT_ID) -> TenantKeys:
        """The stdio owner tenant's keys, creating the tenant on first use."""
        if self._store.get_tenant(tenant_id) is None:
            self.create_owner(tenant_id, owner_key)
        return self.unlock(tenant_id, owner_key)

    def authenticate(self, token: object) -> TenantRecord:
        """Token -> tenant record, or NotAuthenticated. Malformed tokens never reach the store."""
        if not auth.is_well_formed(token):
            raise NotAuthenticated("invalid bearer token")
        assert isinstance(token, str)
        record = self._store.tenant_by_digest(auth.token_digest(self._server_secret, token))
        if record is None:
            raise NotAuthenticated("invalid bearer token")
        return record

    def unlock(self, tenant_id: str, secret: bytes) -> TenantKeys:
        """Unwrap the tenant's data key with its token (or owner key) bytes."""
        wrapped = self._store.wrapped_key(tenant_id)
        if wrapped is None:
            raise NotAuthenticated("tenant has no usable key")
        wrapping_key = crypto.derive_wrapping_key(
            secret, server_secret=self._server_secret, tenant_id=tenant_id
        )
        return TenantKeys(tenant_id, crypto.unwrap_data_key(wrapping_key, wrapped, tenant_id=tenant_id))

    def unlock_with_token(self, token: str) -> TenantKeys:
        record = self.authenticate(token)
        return self.unlock(record.tenant_id, auth.token_secret_bytes(token))

    def rotate(self, token: str) -> str:
        """Issue a new token for the token's tenant; the old one stops working at once."""
        keys = self.unlock_with_token(token)
        new_token = auth.new_token()
        self._store.replace_token(
            keys.tenant_id,
            token_digest=auth.token_digest(self._server_secret, new_token),
            fingerprint=auth.token_fingerprint(self._server_secret, new_token),
            wrapped_key=self._wrap(keys.tenant_id, auth.token_secret_bytes(new_token), keys.data_key),
        )
        return new_token

    def rekey(
        self, tenant_id: str, secrets: Mapping[SecretPurpose, bytes], *, discard: str | None = None
    ) -> tuple[TenantKeys, str]:
        """Give a tenant a new data key and a new token without its old token (recovery by login).

        ``secrets`` (plaintext, e.g. a fresh Telegram session) are sealed under the new key and replace
        every sealed secret; the old token and its signed links stop working (``key_version`` bumps),
        the tenant's OAuth grants end, and the tenant is ``active``. Its policy stays. ``discard``
        names a temporary tenant deleted in the same transaction. Atomic: on any error nothing changed.

        Raises:
            KeyError: the tenant is unknown or revoked (a revoked tenant is not recoverable).
        """
        token, data_key = auth.new_token(), crypto.new_data_key()
        sealed = {
            purpose: crypto.seal(data_key, plain, tenant_id=tenant_id, purpose=purpose)
            for purpose, plain in secrets.items()
        }
        self._store.rekey(
            tenant_id,
            token_digest=auth.token_digest(self._server_secret, token),
            fingerprint=auth.token_fingerprint(self._server_secret, token),
            wrapped_key=self._wrap(tenant_id, auth.token_secret_bytes(token), data_key),
            secrets=sealed,
            status="active",
            discard=discard,
        )
        return TenantKeys(tenant_id, data_key), token

    def discard(self, tenant_id: str) -> None:
        """Delete a tenant that never got a usable token (a temporary or abandoned sign-in) and all
        it holds."""
        self._store.discard(tenant_id)

    def revoke(self, tenant_id: str) -> None:
        self._store.revoke(tenant_id)

    def seal(self, keys: TenantKeys, purpose: SecretPurpose, plaintext: bytes) -> None:
        """Seal ``plaintext`` under the tenant's data key and store it.

        Raises:
            VaultError: the tenant is revoked or unknown, or was re-keyed since ``keys`` were
                unwrapped (its stored session no longer opens with them): a client opened before a
                :meth:`rekey` must not overwrite the new session with the shredded one.
        """
        current = self._store.load_secret(keys.tenant_id, "session")
        if current is not None:
            try:  # ~20 us beside the write's fsync
                crypto.open_sealed(keys.data_key, current, tenant_id=keys.tenant_id, purpose="session")
            except DecryptFailed:
                raise VaultError("the tenant was re-keyed; nothing stored") from None
        blob = crypto.seal(keys.data_key, plaintext, tenant_id=keys.tenant_id, purpose=purpose)
        self._store.store_secret(keys.tenant_id, purpose, blob)

    def open(self, keys: TenantKeys, purpose: SecretPurpose) -> bytes | None:
        blob = self._store.load_secret(keys.tenant_id, purpose)
        if blob is None:
            return None
        return crypto.open_sealed(keys.data_key, blob, tenant_id=keys.tenant_id, purpose=purpose)

    def opens_session(self, keys: TenantKeys) -> bool:
        """Whether ``keys`` open the tenant's stored session (False when none is stored): how the
        pool tells a client opened before a re-key from a caller holding the new keys."""
        try:
            return self.open(keys, "session") is not None
        except DecryptFailed:
            return False

    def list_tenants(self) -> list[TenantRecord]:
        return self._store.list_tenants()

    def get_tenant(self, tenant_id: str) -> TenantRecord | None:
        return self._store.get_tenant(tenant_id)

    def policies_version(self) -> bytes | None:
        """Changes whenever a policy changes, in any process (``VaultStore.policies_version``)."""
        return self._store.policies_version()

    def load_policy(self, tenant_id: str) -> str | None:
        """The tenant's policy as stored (``policy/book.py`` reads and writes it), or None."""
        return self._store.load_policy(tenant_id)

    def store_policy(self, tenant_id: str, policy: str) -> None:
        self._store.store_policy(tenant_id, policy, updated=int(self._clock()))

    def swap_policy(self, tenant_id: str, expected: str | None, policy: str) -> bool:
        """Store ``policy`` only if the stored one is still ``expected`` (see ``VaultStore``)."""
        return self._store.swap_policy(tenant_id, expected, policy, updated=int(self._clock()))

    def set_status(self, tenant_id: str, status: TenantStatus) -> None:
        """E.g. ``login_required`` when Telegram says the authorization is gone; never deletes anything."""
        self._store.set_status(tenant_id, status)
