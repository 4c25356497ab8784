"""scripts/conformance_summary.py: how a conformance run is judged against the expected-failures list."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("conformance_summary", SCRIPTS / "conformance_summary.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # dataclasses look their module up in sys.modules while the class body runs.
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


summary = _load()


def _results(tmp_path: Path, statuses: dict[str, list[str]]) -> Path:
    """A results dir as the suite writes it: one server-<scenario>-<timestamp>/checks.json each."""
    for scenario, checks in statuses.items():
        directory = tmp_path / f"server-{scenario}-2026-11-21T20-27-58-347Z"
        directory.mkdir()
        body = [{"id": f"{scenario}-{n}", "status": s, "errorMessage": "why"} for n, s in enumerate(checks)]
        (directory / "checks.json").write_text(json.dumps(body))
    return tmp_path


def _allow(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "allow.txt"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("statuses", "allow", "status"),
    [
        ({"ping": ["SUCCESS"], "tools-call-image": ["FAILURE"]}, "tools-call-image  # fixture\n", 0),
        ({"ping": ["SUCCESS"], "tools-call-image": ["FAILURE"]}, "# nothing listed\n", 1),
        ({"ping": ["SUCCESS"]}, "ping  # listed, yet it passes\n", 1),
        ({"server-sse-polling": ["SUCCESS", "WARNING"]}, "", 0),
        ({"prompts-get-simple": ["SUCCESS", "FAILURE"]}, "prompts-get-simple\n", 0),
    ],
)
def test_exit_status_follows_the_allow_list(
    tmp_path: Path, statuses: dict[str, list[str]], allow: str, status: int
) -> None:
    """Unlisted failures and listed passes exit 1; listed failures and warnings alone exit 0."""
    (tmp_path / "results").mkdir()
    results = _results(tmp_path / "results", statuses)
    assert summary.main([str(results), "--allow", str(_allow(tmp_path, allow))]) == status


def test_a_run_without_results_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An empty results dir (the suite crashed or never ran) exits 1 and says so."""
    assert summary.main([str(tmp_path), "--allow", str(_allow(tmp_path, ""))]) == 1
    assert "produced no results" in capsys.readouterr().out


def test_scenario_names_come_from_the_result_dirs(tmp_path: Path) -> None:
    """Hyphenated scenario names survive the timestamp suffix, and stray dirs are ignored."""
    results = _results(tmp_path, {"tools-call-with-progress": ["FAILURE"], "ping": ["SUCCESS"]})
    (tmp_path / "suite-notes").mkdir()
    scenarios = summary.read_results(results)
    assert [(s.name, s.passed) for s in scenarios] == [("ping", True), ("tools-call-with-progress", False)]
