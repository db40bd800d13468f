"""course_utils.tooling.browser: the offline page check itself, on pages with known faults."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from course_utils.tooling.browser import check_page

if os.environ.get("COURSE_SKIP_BROWSER") == "1":  # explicit opt-out only, never automatic
    pytest.skip("COURSE_SKIP_BROWSER=1", allow_module_level=True)

PNG_1X1 = (
    "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGNgYGD4"
    "DwABBAEAwS2OUAAAAABJRU5ErkJggg=="
)


def page(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "page.html"
    path.write_text(
        f"<!doctype html><html><head><meta charset='utf-8'></head><body>{body}</body></html>"
    )
    return path


def test_clean_local_page(tmp_path: Path) -> None:
    body = f"<svg width='10' height='10'><circle r='5'/></svg><img src='{PNG_1X1}'>"
    check = check_page(page(tmp_path, body), ("svg", "circle", "img"))
    assert check.ok, check
    assert check.counts == {"svg": 1, "circle": 1, "img": 1}


def test_network_is_blocked_and_reported(tmp_path: Path) -> None:
    body = "<script src='https://cdn.example.org/d3.min.js'></script>"
    check = check_page(page(tmp_path, body))
    assert check.blocked_requests == ["https://cdn.example.org/d3.min.js"]
    assert not check.ok


def test_console_errors_and_broken_images(tmp_path: Path) -> None:
    body = "<img src='missing.png'><script>console.error('boom'); undefinedFn();</script>"
    check = check_page(page(tmp_path, body), ("svg",))
    assert any("boom" in e for e in check.console_errors)
    assert any("undefinedFn" in e for e in check.console_errors)
    assert check.broken_images == ["missing.png"]
    assert check.counts == {"svg": 0}


def test_screenshot(tmp_path: Path) -> None:
    shot = tmp_path / "shot.png"
    check_page(page(tmp_path, "<h1>hello</h1>"), screenshot=shot)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_works_where_an_asyncio_loop_is_running(tmp_path: Path) -> None:
    """A Jupyter kernel runs an asyncio loop, where Playwright's sync API refuses to start."""
    import asyncio

    async def inside_a_loop():
        return check_page(page(tmp_path, "<svg width='10' height='10'></svg>"), ("svg",))

    check = asyncio.run(inside_a_loop())
    assert check.ok and check.counts == {"svg": 1}
