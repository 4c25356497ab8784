"""The documentation covers every setting, and names no setting that does not exist."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mcpgram.settings import ENV_PREFIX, Settings

CONFIGURATION = Path(__file__).resolve().parent.parent / "docs" / "configuration.md"


@pytest.fixture(scope="module")
def configuration_rows() -> dict[str, str]:
    """The settings table rows of docs/configuration.md, keyed by the setting in their first column."""
    rows = {}
    for line in CONFIGURATION.read_text(encoding="utf-8").splitlines():
        match = re.match(r"^\| `([a-z_]+)` \|", line)
        if match:
            rows[match[1]] = line
    return rows


@pytest.mark.parametrize("setting", sorted(Settings.model_fields))
def test_every_setting_is_documented(configuration_rows: dict[str, str], setting: str) -> None:
    """Each Settings field has a row in docs/configuration.md giving its environment variable."""
    assert setting in configuration_rows, f"{setting} is missing from {CONFIGURATION.name}"
    assert f"`{ENV_PREFIX}{setting.upper()}`" in configuration_rows[setting]


def test_documented_variables_all_exist() -> None:
    """Every MCPGRAM_ variable the documentation mentions is a real setting."""
    mentioned = set(re.findall(rf"{ENV_PREFIX}([A-Z_]+)", CONFIGURATION.read_text(encoding="utf-8")))
    assert {name.lower() for name in mentioned} - set(Settings.model_fields) == set()
