"""One Chromium tab per test, for the browser tests that check the page's own scripts and CSP.

``browser_tab`` opens Debian's Chromium (``/usr/bin/chromium``; Playwright downloads nothing
here), gives the tab a ``shots`` folder under ``artifacts`` named after the test, and fails the
test at the end if the page raised a script error or the browser reported a CSP violation.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.test_setup_browser import CHROMIUM, CHROMIUM_ARGS, HAVE_CHROMIUM, playwright_api


@contextlib.asynccontextmanager
async def browser_tab(request: pytest.FixtureRequest, artifacts: Path) -> AsyncIterator[Any]:
    assert HAVE_CHROMIUM, "CI needs /usr/bin/chromium for the browser tests"
    async with playwright_api.async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        context = await browser.new_context()
        tab = await context.new_page()
        problems: list[str] = []
        tab.on("pageerror", lambda exc: problems.append(str(exc)))
        tab.on("console", lambda msg: problems.append(msg.text) if "Content Security" in msg.text else None)
        tab.shots = artifacts / request.node.name
        tab.shots.mkdir(parents=True, exist_ok=True)
        yield tab
        await context.close()
        await browser.close()
        assert problems == []  # no script error, no CSP violation
