"""Driving the app in a real browser (Debian's Chromium through Playwright): the app served on a free
loopback port (``served``, the conftest's ``serve_app``), a browser per test, the two screens every form is tried on, and the WCAG contrast
ratio computed from the colours the browser applied."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from endorse.settings import PROJECT_ROOT
from tests.web.conftest import serve_app as served

__all__ = ["CHROMIUM_ARGS", "SCREENS", "SHOTS", "chromium", "contrast", "navigates", "served"]

SHOTS = PROJECT_ROOT / "var" / "screenshots"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
SCREENS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}


@contextlib.contextmanager
def chromium() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def navigates(page, target) -> None:
    """Click what loads a page (a link, a form's button) and wait until that page has loaded.

    A bare ``click()`` returns once the click is dispatched: reading ``page.content()`` right after it
    can see the old page, or an empty document mid-navigation on a busy machine (CI did). ``target``
    is a locator."""
    with page.expect_navigation(wait_until="load"):
        target.click()


# The relative luminance and contrast ratio of WCAG 2.x, computed in the page from computed styles.
CONTRAST_JS = """([selector, property, againstSelector]) => {
  const parse = (c) => (c.match(/[0-9.]+/g) || []).slice(0, 3).map(Number);
  const lum = (rgb) => { const [r, g, b] = rgb.map((v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); });
                         return 0.2126 * r + 0.7152 * g + 0.0722 * b; };
  const el = document.querySelector(selector);
  const fg = parse(getComputedStyle(el)[property]);
  let bgEl = againstSelector ? document.querySelector(againstSelector) : el.parentElement;
  let bg = null;
  while (bgEl) { const c = getComputedStyle(bgEl).backgroundColor; const a = c.match(/[0-9.]+/g);
                 if (a && (a.length < 4 || Number(a[3]) > 0)) { bg = parse(c); break; } bgEl = bgEl.parentElement; }
  bg = bg || [255, 255, 255];
  const [hi, lo] = [lum(fg), lum(bg)].sort((a, b) => b - a);
  return { ratio: (hi + 0.05) / (lo + 0.05), fg: getComputedStyle(el)[property], bg: bg };
}"""


def contrast(page, selector: str, prop: str, against: str | None = None) -> float:
    return page.evaluate(CONTRAST_JS, [selector, prop, against])["ratio"]
