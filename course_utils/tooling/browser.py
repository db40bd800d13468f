"""Open an exported HTML file in headless Chromium, offline, and report what went wrong.

Used by the tests of everything the course exports as HTML (BertViz views in notebook 02,
BERTopic figures in 04, the slide deck): a page must render with **no network** (every
request that is not a local file is blocked and reported), no console error, no broken image,
and with the elements that prove the graphic was drawn (e.g. SVG).
"""

from __future__ import annotations

import asyncio
import os
import shutil
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

CHROMIUM_ENV_VAR = "CHROMIUM_PATH"
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


class BrowserError(RuntimeError):
    """Headless Chromium or Playwright is missing; the message says how to install them."""


@dataclass
class PageCheck:
    """What :func:`check_page` saw: problems (empty lists when all is well) and counts."""

    console_errors: list[str] = field(default_factory=list)
    blocked_requests: list[str] = field(default_factory=list)
    broken_images: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when nothing failed, nothing reached for the network and no image is broken."""
        return not (self.console_errors or self.blocked_requests or self.broken_images)


def chromium_path() -> str:
    """The Chromium binary: ``$CHROMIUM_PATH``, else ``chromium`` on the PATH."""
    found = os.environ.get(CHROMIUM_ENV_VAR) or shutil.which("chromium")
    if not found:
        raise BrowserError(
            "Headless Chromium is needed to check exported HTML: install it with "
            "'apt-get install chromium' (Debian/Ubuntu) or set CHROMIUM_PATH."
        )
    return found


def check_page(
    path: str | os.PathLike[str],
    selectors: tuple[str, ...] = ("svg",),
    *,
    settle_ms: int = 500,
    screenshot: str | os.PathLike[str] | None = None,
    viewport: tuple[int, int] = (1280, 720),
    timeout_ms: int = 30_000,
) -> PageCheck:
    """Load ``path`` in headless Chromium with the network cut off and inspect it.

    ``selectors`` are CSS selectors whose match counts are returned (e.g. ``"svg"`` proves an
    SVG graphic was drawn). The page's scripts may still be drawing after ``load`` (slowly on
    a busy machine), so the counts are taken once two readings ``settle_ms`` apart agree, or
    after ``timeout_ms``. Optionally saves a PNG ``screenshot`` of the page. Works in a
    Jupyter kernel too: Playwright's sync API refuses to run where an asyncio loop is
    running, so there it runs in a worker thread.
    """
    args = (path, selectors, settle_ms, screenshot, viewport, timeout_ms)
    try:
        asyncio.get_running_loop()
    except RuntimeError:  # no loop here (a script, pytest): run directly
        return _check_page(*args)
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(_check_page, *args).result()


def _check_page(
    path: str | os.PathLike[str],
    selectors: tuple[str, ...],
    settle_ms: int,
    screenshot: str | os.PathLike[str] | None,
    viewport: tuple[int, int],
    timeout_ms: int,
) -> PageCheck:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as err:
        raise BrowserError(
            "Playwright is needed: pip install playwright (no browser "
            "download: the system Chromium is used)."
        ) from err
    page_url = Path(path).resolve().as_uri()
    check = PageCheck()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page(viewport={"width": viewport[0], "height": viewport[1]})
            page.on("console", lambda msg: _on_console(check, msg.type, msg.text))
            page.on("pageerror", lambda err: check.console_errors.append(str(err)))
            page.route("**/*", lambda route: _only_local(check, route))
            page.goto(page_url, wait_until="load")
            check.counts = _settled_counts(page, selectors, settle_ms, timeout_ms)
            check.broken_images = page.eval_on_selector_all(
                "img",
                "imgs => imgs.filter(i => !i.complete || i.naturalWidth === 0)"
                ".map(i => (i.getAttribute('src') || '').slice(0, 80))",
            )
            if screenshot is not None:
                page.screenshot(path=str(screenshot), full_page=False)
        finally:
            browser.close()
    return check


def _settled_counts(page, selectors: tuple[str, ...], settle_ms: int, timeout_ms: int) -> dict:
    """Match counts of ``selectors`` once two readings ``settle_ms`` apart agree."""
    waited, counts = 0, None
    while True:
        page.wait_for_timeout(settle_ms)
        waited += settle_ms
        now = {sel: page.locator(sel).count() for sel in selectors}
        if now == counts or waited >= timeout_ms:
            return now
        counts = now


def _on_console(check: PageCheck, kind: str, text: str) -> None:
    if kind == "error":
        check.console_errors.append(text)


def _only_local(check: PageCheck, route) -> None:  # route: playwright.sync_api.Route
    url = route.request.url
    if url.startswith(("file:", "data:", "blob:", "about:")):
        route.continue_()
    else:
        check.blocked_requests.append(url)
        route.abort()
