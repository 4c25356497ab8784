"""Groups of :class:`~mcpgram.settings.Settings` fields, kept here so ``settings.py`` stays readable.

``Settings`` inherits these (pydantic merges the fields; its ``model_config`` — the ``MCPGRAM_``
prefix, ``.env`` — applies to all), so every name here is an ``MCPGRAM_<NAME>`` setting like the
rest. Never instantiated on their own. A leaf like ``settings.py``: imports only ``configs``.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode

from mcpgram.configs import AttachmentKeys, DownloadConfig, FilesConfig, RateLimits


class FileSettings(BaseSettings):
    """Files in and out: URL fetching, local roots, base64 uploads, attachment links, download_media."""

    fetch_max_bytes: int = Field(
        50 * 1024 * 1024, ge=1, description="Largest file taken from a URL or a local path, in bytes."
    )
    fetch_max_files: int = Field(10, ge=1, le=10, description="Files one send takes (an album holds 10).")
    fetch_connect_timeout: float = Field(10.0, gt=0, description="Seconds to connect to a URL's host.")
    fetch_read_timeout: float = Field(30.0, gt=0, description="Seconds a URL's server may stay silent.")
    fetch_total_timeout: float = Field(120.0, gt=0, description="Seconds for one URL's whole download.")
    fetch_allow_http: bool = Field(False, description="Also fetch plain http:// URLs.")
    fetch_allow_hosts: Annotated[tuple[str, ...], NoDecode] = Field(
        (), description="Only these URL hosts (name or *.domain), if any are set."
    )
    fetch_deny_hosts: Annotated[tuple[str, ...], NoDecode] = Field(
        (), description="URL hosts never fetched (name or *.domain)."
    )
    local_file_roots: Annotated[tuple[Path, ...], NoDecode] = Field(
        (), description="Directories local files may be sent from (stdio only)."
    )
    max_inline_bytes: int = Field(
        10 * 1024 * 1024, ge=1, description="Decoded bytes of base64 files one send takes."
    )
    attachment_ttl_seconds: int = Field(900, ge=30, le=86400, description="Seconds an attachment link works.")
    attachment_keys: AttachmentKeys = Field(None, description="Link keys 'id:secret,...', current first.")
    attachment_max_bytes: int = Field(2 * 1024**3, ge=1, description="Largest file a link serves, in bytes.")
    # download_media (tools/download.py): what comes back inline, and where stdio saves.
    download_image_max_edge: int = Field(
        1568, ge=64, le=8192, description="Long edge (px) of returned images."
    )
    download_image_max_bytes: int = Field(800_000, ge=10_000, description="Bytes of one returned image.")
    download_audio_max_bytes: int = Field(2_097_152, ge=0, description="Largest audio returned inline.")
    download_embed_max_bytes: int = Field(1_048_576, ge=0, description="Largest file embedded; else a link.")
    download_resource_max_bytes: int = Field(10_485_760, ge=0, description="Largest mcpgram://media/ read.")
    downloads_root: Path | None = Field(None, description="Where download_media saves (stdio only).")

    @field_validator("fetch_allow_hosts", "fetch_deny_hosts", mode="before")
    @classmethod
    def _split_hosts(cls, value: object) -> tuple[str, ...]:
        entries: Any = value.replace(",", " ").split() if isinstance(value, str) else value
        return tuple(str(entry).strip().lower() for entry in entries)

    @field_validator("local_file_roots", mode="before")
    @classmethod
    def _check_roots(cls, value: object) -> tuple[Path, ...]:
        entries: Any = value.split(os.pathsep) if isinstance(value, str) else value
        roots = []
        for entry in entries:
            text = str(entry).strip()
            if not text:
                continue
            path = Path(text).expanduser()
            if not path.is_absolute():
                raise ValueError("entries must be absolute directory paths, separated by ':'")
            roots.append(path)
        return tuple(roots)

    @field_validator("downloads_root")
    @classmethod
    def _absolute_root(cls, value: Path | None) -> Path | None:
        if value is not None and not value.expanduser().is_absolute():
            raise ValueError("must be an absolute directory path")
        return value.expanduser() if value is not None else None

    def files_config(self) -> FilesConfig:
        """What sending files may take: the settings of the same names."""
        names = {field.name for field in dataclasses.fields(FilesConfig)}
        return FilesConfig(**{name: getattr(self, name) for name in names})

    def download_config(self) -> DownloadConfig:
        """What download_media returns inline and where it saves: the settings of the same names."""
        return DownloadConfig(**{f.name: getattr(self, f.name) for f in dataclasses.fields(DownloadConfig)})


class GuardSettings(BaseSettings):
    """Guardrails: call limits and write pacing, the default policy profile, the audit journal."""

    # Per-tenant call limit and write pacing (configs.RateLimits; docs/security.md says why these).
    call_rate: float = Field(10.0, ge=0, description="Calls per tenant a second, sustained (0: off).")
    call_burst: int = Field(30, ge=1, description="Calls a tenant may make at once before call_rate.")
    pacing: bool = Field(True, description="Pace each tenant's Telegram writes like a person's.")
    pace_write_seconds: float = Field(2.0, ge=0, description="Seconds between a tenant's writes.")
    pace_write_burst: int = Field(10, ge=1, description="Writes at once before pace_write_seconds.")
    pace_chat_seconds: float = Field(3.0, ge=0, description="Seconds between writes to one chat.")
    pace_chat_burst: int = Field(3, ge=1, description="Writes to one chat at once before pace_chat_seconds.")
    pace_new_recipient_seconds: float = Field(120.0, ge=0, description="Seconds between first messages.")
    pace_new_recipient_burst: int = Field(3, ge=1, description="First messages at once, then the pace.")
    pace_max_wait: float = Field(5.0, ge=0, le=60, description="Most a paced write waits; then RATE_LIMITED.")
    # The names of policy/model.py's PROFILES (a leaf cannot import them; tests/policy checks they agree).
    default_policy: Literal["reader", "inbox", "all"] = Field(
        "all", description="Policy profile of every tenant the operator has not set one for."
    )
    # The audit journal (audit/journal.py): data_dir/audit/, one keyed hash chain for all tenants.
    audit_journal: bool = Field(True, description="Record writes, approvals and raw calls in the journal.")
    audit_max_bytes: int = Field(
        16_777_216, ge=4096, description="Size at which the audit journal starts a new file."
    )
    audit_fsync: Literal["always", "interval", "never"] = Field(
        "interval", description="When journal entries are synced to disk: each, once a second, or never."
    )

    # Approvals (approvals/, tools/approving.py): a person confirms one exact action.
    approval_ttl_seconds: float = Field(
        600, gt=0, le=86400, description="How long an approval can be answered and then used."
    )
    approval_wait_seconds: float = Field(
        20, ge=0, le=120, description="How long a retried call waits for the approval page's answer."
    )

    def rate_limits(self) -> RateLimits:
        """Call limits and write pacing: the settings of the same names."""
        names = {field.name for field in dataclasses.fields(RateLimits)}
        return RateLimits(**{name: getattr(self, name) for name in names})
