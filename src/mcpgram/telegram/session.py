"""A Telethon session that lives sealed in the vault instead of in a ``.session`` file.

:class:`VaultSession` keeps Telethon's state in memory (it is a ``MemorySession``) and seals a
compact, versioned JSON form of it with the tenant's data key, in two secrets: ``session`` (DC
address, auth key, takeout id, update states; small, rarely rewritten) and ``entities`` (the
entity cache: ids to access hashes, usernames, phones; rewritten as new peers are seen). The entity
cache is persisted, so an id seen once still resolves after a restart.

Telethon calls the session's hooks synchronously or through ``utils.maybe_async``, which warns on
every awaitable it receives ("experimental"). So every hook here is synchronous: a change bumps a
version number, ``save()`` schedules a background seal, and the pool awaits :meth:`flush` on
eviction and shutdown so nothing is lost. Blocking vault calls go through one injected runner.

Must not: pickle anything, write a plaintext session anywhere, log or return a session's string
form or auth key, or delete a tenant (``delete()``, called by ``log_out``, only clears the sealed
state and marks the tenant ``login_required``).
"""

from __future__ import annotations

import asyncio
import base64
import datetime
import hashlib
import json
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import anyio.to_thread
from telethon import utils
from telethon.crypto import AuthKey
from telethon.sessions import MemorySession
from telethon.tl import types
from telethon.tl.types import PeerChannel, PeerChat, PeerUser

from ..errors import VaultError
from ..vault.store import SecretPurpose
from ..vault.vault import TenantKeys, Vault

__all__ = [
    "FORMAT_VERSION",
    "MAX_ENTITIES",
    "Runner",
    "SessionState",
    "VaultSession",
    "dump_entities",
    "dump_state",
    "load_state",
]

log = logging.getLogger(__name__)

#: Runs a blocking callable off the event loop: ``await runner(fn, *args)`` (anyio's signature).
Runner = Callable[..., Awaitable[Any]]

FORMAT_VERSION = 1
#: Cap on cached entities per tenant (Telethon's own in-memory default); the least recently seen go
#: first. Bounds the sealed ``entities`` blob to a few hundred kilobytes.
MAX_ENTITIES = 5_000

#: One entity cache row as Telethon shapes it: (marked id, access hash, username, phone, name).
EntityRow = tuple[int, int, str | None, str | None, str | None]
#: One update state: (entity id, pts, qts, date as unix time, seq, unread count).
StateRow = tuple[int, int, int, int, int, int]


@dataclass(frozen=True)
class SessionState:
    """Everything a session persists. The repr never shows the auth key."""

    dc_id: int = 0
    server_address: str | None = None
    port: int | None = None
    auth_key: bytes | None = field(default=None, repr=False)
    takeout_id: int | None = None
    entities: tuple[EntityRow, ...] = ()
    update_states: tuple[StateRow, ...] = ()


def _json(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def dump_state(state: SessionState) -> bytes:
    """Serialise all of ``state`` but its entities (the ``session`` secret; the key in base64)."""
    return _json(
        {
            "v": FORMAT_VERSION,
            "dc": [state.dc_id, state.server_address, state.port],
            "key": None if state.auth_key is None else base64.b64encode(state.auth_key).decode("ascii"),
            "takeout": state.takeout_id,
            "states": [list(row) for row in state.update_states],
        }
    )


def dump_entities(rows: Iterable[EntityRow]) -> bytes:
    """Serialise an entity cache (the ``entities`` secret), oldest row first."""
    return _json({"v": FORMAT_VERSION, "entities": [list(row) for row in rows]})


def _int(value: object) -> int:
    if type(value) is not int:
        raise TypeError("int")
    return value


def _opt(value: object, kind: type) -> Any:
    if value is not None and (type(value) is not kind):
        raise TypeError(kind.__name__)
    return value


def _payload(blob: bytes) -> dict[str, Any]:
    payload = json.loads(blob.decode("utf-8"))
    if not isinstance(payload, dict):
        raise TypeError("payload")
    if payload.get("v") != FORMAT_VERSION:
        raise VaultError("the stored Telegram session has an unknown format version")
    return payload


def load_state(blob: bytes, entities_blob: bytes | None = None) -> SessionState:
    """Parse what :func:`dump_state` and :func:`dump_entities` wrote; raise ``VaultError`` otherwise."""
    try:
        payload = _payload(blob)
        dc_id, address, port = payload["dc"]
        key = _opt(payload["key"], str)
        rows = [] if entities_blob is None else _payload(entities_blob)["entities"]
        entities = tuple(
            (_int(i), _int(h), _opt(u, str), _opt(p, str), _opt(n, str)) for i, h, u, p, n in rows
        )
        states = tuple(tuple(_int(x) for x in row) for row in payload["states"])
        if any(len(row) != 6 for row in states):
            raise ValueError("state row")
        return SessionState(
            dc_id=_int(dc_id),
            server_address=_opt(address, str),
            port=_opt(port, int),
            auth_key=None if key is None else base64.b64decode(key, validate=True),
            takeout_id=_opt(payload["takeout"], int),
            entities=entities,
            update_states=states,  # type: ignore[arg-type]
        )
    except VaultError:
        raise
    except (ValueError, TypeError, KeyError, UnicodeDecodeError) as exc:
        raise VaultError("the stored Telegram session is unreadable") from exc


class VaultSession(MemorySession):  # type: ignore[misc]  # Telethon is untyped
    """A ``MemorySession`` whose state is sealed in the vault under the tenant's data key.

    Build one with :meth:`load`; Telethon drives it from there. ``save()`` (Telethon's hook)
    schedules a seal in the background; :meth:`flush` seals now and waits, and is what the pool
    calls on eviction and shutdown.

    Example::

        session = await VaultSession.load(vault, keys)
        client = TelegramClient(session, api_id, api_hash)
    """

    def __init__(
        self,
        vault: Vault,
        keys: TenantKeys,
        *,
        state: SessionState | None = None,
        runner: Runner = anyio.to_thread.run_sync,
    ) -> None:
        super().__init__()
        self._vault = vault
        self._keys = keys
        self._runner = runner
        # Replaces MemorySession's set: keyed by id, so a renamed user replaces its old row, and
        # ordered by when it was last seen, so the cap drops the stalest rows.
        self._rows: dict[int, EntityRow] = {}
        # Change counters, per secret; a flush seals what moved since the last successful seal.
        self._version = 0
        self._sealed_version = 0
        self._entity_version = 0
        self._sealed_entity_version = 0
        self._sealed_digests: dict[SecretPurpose, bytes] = {}
        self._logged_out = False
        self._discarded = False
        self._flush_lock = asyncio.Lock()
        self._background: set[asyncio.Task[None]] = set()
        if state is not None:
            self._restore(state)

    @classmethod
    async def load(
        cls, vault: Vault, keys: TenantKeys, *, runner: Runner = anyio.to_thread.run_sync
    ) -> VaultSession:
        """The tenant's session as last sealed, or an empty one for a tenant that never logged in.

        Raises:
            VaultError: the sealed session cannot be opened or parsed.
        """
        blob, entities = await runner(_open_both, vault, keys)
        state = None if blob is None else load_state(blob, entities)
        session = cls(vault, keys, state=state, runner=runner)
        sealed: dict[SecretPurpose, bytes | None] = {"session": blob, "entities": entities}
        for purpose, data in sealed.items():
            if data is not None:
                session._sealed_digests[purpose] = hashlib.sha256(data).digest()
        return session

    def __repr__(self) -> str:
        return f"<VaultSession tenant={self._keys.tenant_id} authorized={self.has_auth_key}>"

    def __getstate__(self) -> object:
        raise TypeError("a VaultSession cannot be pickled or copied")

    # -- state -------------------------------------------------------------------------------

    @property
    def tenant_id(self) -> str:
        return self._keys.tenant_id

    @property
    def has_auth_key(self) -> bool:
        """Whether an auth key is present (it may still have been revoked by Telegram)."""
        return self._auth_key is not None and self._auth_key.key is not None

    @property
    def dirty(self) -> bool:
        """Whether the state changed since it was last sealed (never, once discarded)."""
        if self._discarded:
            return False
        return (
            self._version != self._sealed_version
            or self._entity_version != self._sealed_entity_version
            or self._logged_out
        )

    def discard(self) -> None:
        """Never seal again, not even a seal already scheduled: the tenant was revoked in the vault."""
        self._discarded = True

    def snapshot(self) -> SessionState:
        """The current state, as it would be sealed."""
        return SessionState(
            dc_id=self._dc_id,
            server_address=self._server_address,
            port=self._port,
            auth_key=self._auth_key.key if self._auth_key is not None else None,
            takeout_id=self._takeout_id,
            entities=tuple(self._rows.values()),
            update_states=tuple(
                (eid, s.pts, s.qts, _unix(s.date), s.seq, s.unread_count)
                for eid, s in self._update_states.items()
            ),
        )

    def _restore(self, state: SessionState) -> None:
        self._dc_id = state.dc_id
        self._server_address = state.server_address
        self._port = state.port
        self._auth_key = None if state.auth_key is None else AuthKey(state.auth_key)
        self._takeout_id = state.takeout_id
        self._rows = {row[0]: row for row in state.entities}
        self._update_states = {
            eid: types.updates.State(
                pts, qts, datetime.datetime.fromtimestamp(date, tz=datetime.UTC), seq, unread
            )
            for eid, pts, qts, date, seq, unread in state.update_states
        }

    def _changed(self) -> None:
        self._version += 1

    # -- Telethon's hooks (all synchronous, see the module docstring) -----------------------------

    def set_dc(self, dc_id: int, server_address: str, port: int) -> None:
        super().set_dc(dc_id, server_address, port)
        self._changed()

    @property
    def auth_key(self) -> Any:
        return self._auth_key

    @auth_key.setter
    def auth_key(self, value: Any) -> None:
        self._auth_key = value
        self._changed()

    @property
    def takeout_id(self) -> int | None:
        return self._takeout_id

    @takeout_id.setter
    def takeout_id(self, value: int | None) -> None:
        self._takeout_id = value
        self._changed()

    def set_update_state(self, entity_id: int, state: Any) -> None:
        old = self._update_states.get(entity_id)
        key = (state.pts, state.qts, _unix(state.date), state.seq, state.unread_count)
        if old is None or (old.pts, old.qts, _unix(old.date), old.seq, old.unread_count) != key:
            self._update_states[entity_id] = state
            self._changed()

    def process_entities(self, tlo: Any) -> None:
        changed = False
        for row in self._entities_to_rows(tlo):
            if self._rows.get(row[0]) != row:
                self._rows.pop(row[0], None)
                self._rows[row[0]] = row
                changed = True
        while len(self._rows) > MAX_ENTITIES:
            del self._rows[next(iter(self._rows))]
        if changed:
            self._entity_version += 1

    def get_entity_rows_by_phone(self, phone: str) -> tuple[int, int] | None:
        return self._find(lambda row: row[3] == phone)

    def get_entity_rows_by_username(self, username: str) -> tuple[int, int] | None:
        return self._find(lambda row: row[2] == username)

    def get_entity_rows_by_name(self, name: str) -> tuple[int, int] | None:
        return self._find(lambda row: row[4] == name)

    def get_entity_rows_by_id(self, id: int, exact: bool = True) -> tuple[int, int] | None:
        if exact:
            row = self._rows.get(id)
            return None if row is None else (row[0], row[1])
        # Telethon's inexact lookup: a bare id may be a user, a basic group or a channel.
        for peer in (PeerUser(id), PeerChat(id), PeerChannel(id)):
            row = self._rows.get(utils.get_peer_id(peer))
            if row is not None:
                return row[0], row[1]
        return None

    def _find(self, match: Callable[[EntityRow], bool]) -> tuple[int, int] | None:
        # Newest first: a username or phone that moved to another account resolves to the new one.
        for row in reversed(self._rows.values()):
            if match(row):
                return row[0], row[1]
        return None

    def clone(self, to_instance: Any = None) -> Any:
        # Telethon clones the session for CDN and other-DC senders; those keys are short-lived
        # and are not persisted, so a plain in-memory session is the right copy.
        return to_instance or MemorySession()

    def save(self) -> None:
        self._changed()
        self.schedule_flush()

    def close(self) -> None:
        self.schedule_flush()

    def delete(self) -> None:
        """Telethon's ``log_out`` hook: forget the authorization, keep the tenant.

        The sealed session is overwritten with an empty one (same DC, no key, no entities) and the
        tenant is marked ``login_required`` on the next flush.
        """
        self._auth_key = None
        self._takeout_id = None
        self._rows.clear()
        self._update_states.clear()
        self._logged_out = True
        self._changed()
        self._entity_version += 1
        self.schedule_flush()

    # -- sealing -----------------------------------------------------------------------------

    def schedule_flush(self) -> None:
        """Seal in the background if the state changed (no-op outside an event loop)."""
        if not self.dirty:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        task = loop.create_task(self._flush_in_background())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def flush(self) -> None:
        """Seal the current state now if it changed, and wait for background seals to finish.

        Raises:
            VaultError: the vault refused the write (the state stays dirty for the next try).
        """
        async with self._flush_lock:
            await self._seal_if_changed()
        current = asyncio.current_task()
        pending = [task for task in self._background if task is not current]
        if pending:
            await asyncio.wait(pending)

    async def _flush_in_background(self) -> None:
        try:
            async with self._flush_lock:
                await self._seal_if_changed()
        except Exception as exc:  # a background task has nobody to raise to: log, retry on next flush
            log.warning("session.flush_failed", extra={"tenant": self.tenant_id, "error": type(exc).__name__})

    async def _seal_if_changed(self) -> None:
        if not self.dirty:
            return
        version, entity_version, logged_out = self._version, self._entity_version, self._logged_out
        if version != self._sealed_version or logged_out:
            await self._seal("session", dump_state(self.snapshot()))
            self._sealed_version = version
        if entity_version != self._sealed_entity_version:
            await self._seal("entities", dump_entities(self._rows.values()))
            self._sealed_entity_version = entity_version
        if logged_out:
            await self._runner(self._vault.set_status, self.tenant_id, "login_required")
            self._logged_out = False

    async def _seal(self, purpose: SecretPurpose, blob: bytes) -> None:
        digest = hashlib.sha256(blob).digest()
        if digest != self._sealed_digests.get(purpose):
            await self._runner(self._vault.seal, self._keys, purpose, blob)
            self._sealed_digests[purpose] = digest


def _unix(date: object) -> int:
    # Telethon hands update states a datetime; be lenient with a raw timestamp or nothing.
    if isinstance(date, datetime.datetime):
        return int(date.timestamp())
    return int(date) if isinstance(date, int | float) else 0


def _open_both(vault: Vault, keys: TenantKeys) -> tuple[bytes | None, bytes | None]:
    return vault.open(keys, "session"), vault.open(keys, "entities")
