"""Phone-size layout and accessibility checks for the browser tests (a page at 390x844).

- no horizontal overflow: ``document.scrollingElement.scrollWidth <= clientWidth``;
- every visible form control has a label (``el.labels``), and ``get_by_label`` finds each named field;
- Tab from the top of the page reaches the fields and then the primary button, in that order.
"""

from __future__ import annotations

from typing import Any

PHONE_SCREEN = {"width": 390, "height": 844}

_UNLABELLED = """() => Array.from(document.querySelectorAll('input, select, textarea'))
  .filter(el => el.type !== 'hidden' && !(el.labels && el.labels.length) && !el.getAttribute('aria-label'))
  .map(el => el.outerHTML)"""
_FOCUSED = """() => { const el = document.activeElement;
  if (!el || el === document.body) return '';
  return el.id ? '#' + el.id : el.tagName.toLowerCase() + ':' + el.textContent.trim(); }"""


async def check_phone_layout(page: Any, fields: list[tuple[str, str]], primary: str) -> None:
    """``fields``: (label text, element id) in their expected Tab order; ``primary``: the button's text."""
    size = page.viewport_size
    assert size == PHONE_SCREEN, size
    widths = await page.evaluate(
        "() => [document.scrollingElement.scrollWidth, document.scrollingElement.clientWidth]"
    )
    assert widths[0] <= widths[1], f"horizontal overflow on {page.url}: {widths}"
    assert await page.evaluate(_UNLABELLED) == [], page.url
    for label, element_id in fields:
        found = page.get_by_label(label, exact=True)
        assert await found.count() == 1, (label, page.url)
        assert await found.get_attribute("id") == element_id, (label, page.url)
    await page.click("header")  # the Tab walk starts at the top of the page (not at an autofocus)
    seen: list[str] = []
    wanted = [f"#{element_id}" for _, element_id in fields] + [f"button:{primary}"]
    for _ in range(40):
        await page.keyboard.press("Tab")
        seen.append(await page.evaluate(_FOCUSED))
        if seen[-1] == wanted[-1]:
            break
    order = [item for item in seen if item in wanted]
    assert order[: len(wanted)] == wanted, (page.url, seen)
