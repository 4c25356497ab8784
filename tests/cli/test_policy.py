"""``mcpgram policy show|set|tighten|profiles`` against a vault in a temporary data dir (no server)."""

from __future__ import annotations

import json
from pathlib import Path

from .conftest import run_cli
from .test_tokens import create


def test_a_new_tenant_shows_the_default_and_set_makes_it_its_own(data_dir: Path) -> None:
    """show: source default (MCPGRAM_DEFAULT_POLICY's profile); after set, its own, with the tools."""
    tenant_id, _ = create(data_dir)
    shown = run_cli("policy", "show", tenant_id, "--json", "--data-dir", str(data_dir))
    assert shown.code == 0, shown.err
    row = json.loads(shown.out)
    assert row["source"] == "default" and row["profile"] == "all" and len(row["tools"]) == 15
    done = run_cli(
        "policy", "set", tenant_id, "--profile", "reader", "--read", "@alice_x", "--read", "folder:Work",
        "--data-dir", str(data_dir),
    )  # fmt: skip
    assert done.code == 0, done.err
    row = json.loads(run_cli("policy", "show", tenant_id, "--json", "--data-dir", str(data_dir)).out)
    assert row["source"] == "own" and row["read"] == ["@alice_x", "folder:Work"]
    assert row["verbs"]["send"] == "deny" and "send_message" not in row["tools"]


def test_set_without_a_profile_changes_only_what_the_flags_name(data_dir: Path) -> None:
    tenant_id, _ = create(data_dir)
    run_cli("policy", "set", tenant_id, "--profile", "inbox", "--data-dir", str(data_dir))
    run_cli("policy", "set", tenant_id, "--verb", "delete=approve", "--data-dir", str(data_dir))
    row = json.loads(run_cli("policy", "show", tenant_id, "--json", "--data-dir", str(data_dir)).out)
    assert row["profile"] == "inbox" and row["verbs"]["delete"] == "approve" and row["sends"] == "known"


def test_the_operator_lifts_and_puts_back_denylisted_raw_methods(data_dir: Path) -> None:
    """--lift adds a denylisted method to the tenant's policy (shown), --unlift removes it; a method
    that is not on the denylist, or not a method name, is a usage error and changes nothing."""
    tenant_id, _ = create(data_dir)
    done = run_cli(
        "policy", "set", tenant_id, "--lift", "account.deleteAccount", "--lift", "payments.sendStarsForm",
        "--data-dir", str(data_dir),
    )  # fmt: skip
    assert done.code == 0, done.err
    assert "lifted   account.deleteAccount payments.sendStarsForm" in done.out
    row = json.loads(run_cli("policy", "show", tenant_id, "--json", "--data-dir", str(data_dir)).out)
    assert row["lifted"] == ["account.deleteAccount", "payments.sendStarsForm"]
    for bad in ("messages.getHistory", "account.delete Account"):
        refused = run_cli("policy", "set", tenant_id, "--lift", bad, "--data-dir", str(data_dir))
        assert refused.code == 2 and "Traceback" not in refused.err, refused.err
    run_cli("policy", "set", tenant_id, "--unlift", "account.deleteAccount", "--data-dir", str(data_dir))
    row = json.loads(run_cli("policy", "show", tenant_id, "--json", "--data-dir", str(data_dir)).out)
    assert row["lifted"] == ["payments.sendStarsForm"]


def test_the_default_profile_comes_from_the_setting(data_dir: Path, monkeypatch: object) -> None:
    tenant_id, _ = create(data_dir)
    monkeypatch.setenv("MCPGRAM_DEFAULT_POLICY", "reader")  # type: ignore[attr-defined]
    row = json.loads(run_cli("policy", "show", tenant_id, "--json", "--data-dir", str(data_dir)).out)
    assert row["source"] == "default" and row["profile"] == "reader"


def test_bad_input_is_a_usage_error_and_changes_nothing(data_dir: Path) -> None:
    """A bad verb, rule, scope entry or tenant id: exit 2, one line; an unknown tenant: exit 1."""
    tenant_id, _ = create(data_dir)
    for args in (
        ["--verb", "launch=allow"],
        ["--verb", "send=maybe"],
        ["--write", "alice"],
        ["--read", "https://t.me/alice"],
    ):
        result = run_cli("policy", "set", tenant_id, *args, "--data-dir", str(data_dir))
        assert result.code == 2 and result.err.startswith("mcpgram: "), (args, result.err)
        assert "Traceback" not in result.err
    assert run_cli("policy", "show", "tnt_x", "--data-dir", str(data_dir)).code == 2
    missing = run_cli("policy", "set", "tnt_" + "0" * 16, "--profile", "reader", "--data-dir", str(data_dir))
    assert missing.code == 1 and "no tenant" in missing.err
    row = json.loads(run_cli("policy", "show", tenant_id, "--json", "--data-dir", str(data_dir)).out)
    assert row["source"] == "default"


def test_profiles_lists_each_profile_with_its_tools() -> None:
    result = run_cli("policy", "profiles", "--json")
    assert result.code == 0, result.err
    rows = json.loads(result.out)
    assert list(rows) == ["reader", "inbox", "all"]
    assert "send_message" not in rows["reader"]["tools"] and "send_message" in rows["inbox"]["tools"]
