"""Minting attachment links: absolute, bound to the very token of the request, never carrying it."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import pytest

from mcpgram.errors import NotAuthenticated
from mcpgram.signing import Keyring, open_capability
from mcpgram.vault.sqlite import SQLiteVault
from mcpgram.vault.vault import Vault
from mcpgram.web.frontwire import route_hash
from mcpgram.web.links import AttachmentLinks

KEYRING = Keyring([(3, b"k" * 32)])
REF = (-1001234, 77, 9_000_000_001)


@pytest.fixture
def vault(tmp_path: Path) -> Iterator[Vault]:
    store = SQLiteVault(tmp_path / "vault.db")
    yield Vault(store, server_secret=b"s" * 32)
    store.close()


def test_a_link_is_absolute_and_carries_the_token_generation_not_the_token(vault: Vault) -> None:
    _, token = vault.create_tenant("alice")
    keys = vault.unlock_with_token(token)
    links = AttachmentLinks(KEYRING, vault, 600, "https://gw.example/", clock=lambda: 1000)
    url = links.url(keys, token, REF, "thumb", origin="http://ignored:1")
    assert url.startswith("https://gw.example/v1/attachments/")
    text = url.rsplit("/", 1)[1]
    cap = open_capability(KEYRING, text, now=1000)
    assert (cap.chat, cap.message, cap.media, cap.size) == (*REF, "thumb")
    assert cap.expires == 1600 and cap.key_version == 1 and cap.route == route_hash(token)
    assert cap.tenant_id == keys.tenant_id and cap.data_key == keys.data_key
    raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    assert token.encode() not in raw and token not in url
    assert (
        AttachmentLinks(KEYRING, vault, 600)
        .url(keys, token, REF, "full", origin="http://h:8")
        .startswith("http://h:8/v1/attachments/")
    )


def test_a_rotated_or_foreign_token_mints_nothing(vault: Vault) -> None:
    _, alice = vault.create_tenant("alice")
    _, carol = vault.create_tenant("carol")
    keys = vault.unlock_with_token(alice)
    links = AttachmentLinks(KEYRING, vault, 600, "https://gw.example")
    with pytest.raises(NotAuthenticated):
        links.url(keys, carol, REF, "full")
    new = vault.rotate(alice)
    with pytest.raises(NotAuthenticated):
        links.url(keys, alice, REF, "full")
    cap = open_capability(KEYRING, links.url(keys, new, REF, "full").rsplit("/", 1)[1], now=0)
    assert cap.key_version == 2
