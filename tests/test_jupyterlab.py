"""JupyterLab itself, offline, in headless Chromium: what a classroom without network sees.

Each test starts JupyterLab from this environment (``python -m jupyterlab``, as ``make lab``)
on a free port with a throwaway token, opens it in headless Chromium (Playwright, the system
Chromium) with every request that does not go to this machine blocked, and drives it through
its menus. The server, its kernels and the browser are shut down whatever happens.

* A small notebook that makes notebook 02's calls (``ov.show(av.render_view(...))`` for a head
  and a model view, ``ov.show(nv.render_neuron_view(...))``) and draws a progress bar is run
  cell by cell through the UI: the views must draw SVG with the sentence's tokens, the bar must
  be a widget, no cell may show an error.
* ``make lab``'s landing page: the notebooks folder lists the six notebooks, and each opens
  with a running kernel and no error dialog or widget error.

A screenshot of the views goes to ``build/browser/jupyterlab_views.png``.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import nbformat
import pytest

from course_utils.tooling.browser import CHROMIUM_FLAGS, chromium_path

if os.environ.get("COURSE_SKIP_BROWSER") == "1":  # explicit opt-out only, never automatic
    pytest.skip("COURSE_SKIP_BROWSER=1", allow_module_level=True)

ROOT = Path(__file__).resolve().parents[1]
SCREENSHOTS = ROOT / "build" / "browser"
SENTENCE = "The animal didn't cross the street because it was too tired."
START_TIMEOUT_S = 120
RUN_TIMEOUT_MS = 240_000

VIEW_CELLS = [
    "from course_utils.views import attention as av\n"
    "from course_utils.views import neuron as nv\n"
    "from course_utils.views import offline as ov\n"
    "from course_utils.core.models import load_encoder\n"
    'tokenizer, model, model_name = load_encoder("bundled", attentions=True, verbose=False)\n'
    f"(tired,) = av.extract_attentions(model, tokenizer, [{SENTENCE!r}])",
    'ov.show(av.render_view(tired, "head", layer=2, heads=[0], include_layers=[2]))',
    'ov.show(av.render_view(tired, "model", include_layers=[0, 2, 4]))',
    "neuron_model, neuron_tokenizer = nv.load_neuron_view_model()\n"
    'ov.show(nv.render_neuron_view(neuron_model, neuron_tokenizer, "the film was good", layer=0,'
    " head=0))",
    "import time\n"
    "from course_utils.core.progress import progress\n"
    'for _ in progress(range(20), desc="steps"):\n'
    "    time.sleep(0.01)",
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _kill_kernels(runtime_dir: Path) -> None:
    """Kill any kernel still running from this server (its command line names our runtime
    folder): the last resort when the server could not shut its kernels down itself."""
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if str(runtime_dir) in cmdline and "ipykernel" in cmdline:
            with contextlib.suppress(OSError):
                os.kill(int(proc.name), signal.SIGKILL)


@contextlib.contextmanager
def jupyterlab(root_dir: Path, scratch: Path) -> Iterator[str]:
    """A JupyterLab server on ``root_dir``; yields its URL with the token. Always shut down."""
    port, token = _free_port(), secrets.token_hex(16)
    runtime = scratch / "runtime"
    env = {
        **os.environ,
        "JUPYTER_RUNTIME_DIR": str(runtime),
        "JUPYTER_CONFIG_DIR": str(scratch / "config"),  # none of the user's settings
        "COURSE_CACHE_DIR": os.environ.get("COURSE_CACHE_DIR", str(scratch / "cache")),
        "HF_HUB_OFFLINE": "1",
    }
    log = (scratch / "jupyterlab.log").open("w")
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1",
         f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
         f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root_dir}",
         *(["--allow-root"] if os.geteuid() == 0 else [])],  # CI containers run as root
        stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if server.poll() is not None:
                raise AssertionError(
                    f"JupyterLab exited: {(scratch / 'jupyterlab.log').read_text()}"
                )
            try:
                with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2):
                    break
            except (urllib.error.URLError, OSError):
                if time.monotonic() > deadline:
                    raise AssertionError("JupyterLab did not start") from None
                time.sleep(0.5)
        yield f"{base}/lab?token={token}"
    finally:
        with contextlib.suppress(OSError, urllib.error.URLError):
            request = urllib.request.Request(f"{base}/api/shutdown?token={token}", method="POST")
            urllib.request.urlopen(request, timeout=10).close()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        _kill_kernels(runtime)
        log.close()


@contextlib.contextmanager
def offline_page(blocked: list[str]) -> Iterator:
    """A Chromium page whose requests off this machine are blocked (and listed in ``blocked``)."""
    from playwright.sync_api import sync_playwright

    def only_local(route) -> None:
        host = urlparse(route.request.url).hostname
        if route.request.url.startswith(("data:", "blob:")) or host in ("127.0.0.1", "localhost"):
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_FLAGS)
        try:
            context = browser.new_context(viewport={"width": 1400, "height": 1000})
            context.route("**/*", only_local)
            yield context.new_page()
        finally:
            browser.close()


def _open_notebook(page, url: str, name: str) -> None:
    page.goto(url.replace("/lab?", f"/lab/tree/{name}?"), wait_until="domcontentloaded")
    page.wait_for_selector(".jp-NotebookPanel .jp-Cell", state="attached", timeout=60_000)
    _wait_for_kernel_idle(page)


def _wait_for_kernel_idle(page, timeout_ms: int = 120_000) -> None:
    """Until the notebook's kernel status reads Idle (a dialog or a dead kernel fails)."""
    deadline = time.monotonic() + timeout_ms / 1000
    while time.monotonic() < deadline:
        assert page.locator(".jp-Dialog").count() == 0, page.locator(".jp-Dialog").inner_text()
        bar = page.locator("#jp-main-statusbar")
        text = bar.inner_text() if bar.count() else ""
        if "| Idle" in text:
            return
        assert "Dead" not in text and "Kernel Error" not in text, text
        page.wait_for_timeout(500)
    raise AssertionError(
        f"the kernel never became idle: {page.locator('#jp-main-statusbar').inner_text()}"
    )


def _run_all_cells(page) -> None:
    """Run > Run All Cells, through the menu bar, then wait until every cell has run."""
    page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
    page.locator('.lm-Menu-item:has(.lm-Menu-itemLabel:text-is("Run All Cells"))').click()
    deadline = time.monotonic() + RUN_TIMEOUT_MS / 1000
    while time.monotonic() < deadline:
        prompts = page.locator(".jp-CodeCell .jp-InputArea-prompt").all_inner_texts()
        if prompts and all(p.strip() not in ("[ ]:", "[*]:", "") for p in prompts):
            return
        page.wait_for_timeout(500)
    raise AssertionError(f"cells did not finish: {prompts}")


def _errors_shown(page) -> list[str]:
    """Text of every error output and widget error the notebook shows."""
    errors = page.locator(
        '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]'
    ).all_inner_texts()
    errors = [e for e in errors if "Error" in e or "Traceback" in e]
    widget_errors = page.get_by_text("Error displaying widget").all_inner_texts()
    return errors + widget_errors


def test_attention_views_and_progress_bars_draw_offline_in_jupyterlab(tmp_path: Path) -> None:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    folder = tmp_path / "lab"
    folder.mkdir()
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in VIEW_CELLS])
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, folder / "views.ipynb")
    blocked: list[str] = []
    with jupyterlab(folder, tmp_path) as url, offline_page(blocked) as page:
        _open_notebook(page, url, "views.ipynb")
        _run_all_cells(page)
        outputs = page.locator(".jp-Cell .jp-OutputArea")
        with contextlib.suppress(PlaywrightTimeout):  # the asserts below say what is missing
            page.wait_for_function(
                "() => document.querySelectorAll('.jp-OutputArea-output svg').length >= 3",
                timeout=60_000,
            )
        page.wait_for_timeout(1000)  # let the views finish drawing
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / "jupyterlab_views.png"), full_page=True)
        head, model = (page.locator(".jp-CodeCell").nth(i) for i in (1, 2))
        head_tokens = head.locator("svg text").all_text_contents()
        thumbnails = model.locator("svg line").count()  # one small drawing per layer and head
        model.locator("svg rect").first.click(force=True)  # opens a head with its tokens
        page.wait_for_timeout(1000)
        model_tokens = model.locator("svg text").all_text_contents()
        neuron_tokens = page.locator(".jp-CodeCell").nth(3).locator("svg text").all_text_contents()
        bars = page.locator(".jp-CodeCell").nth(4).locator(".widget-hprogress, .widget-progress")
        errors = _errors_shown(page)
        assert "animal" in head_tokens and "tired" in head_tokens, head_tokens[:20]
        assert thumbnails > 100 and "animal" in model_tokens, (thumbnails, model_tokens[:30])
        assert "film" in neuron_tokens, neuron_tokens[:20]
        assert bars.count() >= 1, outputs.last.inner_html()[:500]
        assert not errors, errors
    print(f"blocked while offline: {blocked}")


def test_make_lab_landing_page_opens_every_notebook(tmp_path: Path) -> None:
    folder = tmp_path / "notebooks"
    shutil.copytree(ROOT / "notebooks", folder, ignore=shutil.ignore_patterns("*.failed.ipynb"))
    names = sorted(p.name for p in folder.glob("[0-9][0-9]_*.ipynb"))
    assert len(names) == 6
    blocked: list[str] = []
    with jupyterlab(folder, tmp_path) as url, offline_page(blocked) as page:
        page.goto(url, wait_until="domcontentloaded")
        listing = page.locator(".jp-DirListing-content .jp-DirListing-itemText")
        listing.first.wait_for(timeout=60_000)
        assert sorted(t for t in listing.all_inner_texts() if t.endswith(".ipynb")) == names
        for name in names:
            _open_notebook(page, url, name)
            page.wait_for_function(  # its cells render (JupyterLab draws long notebooks lazily)
                "() => document.querySelectorAll('.jp-NotebookPanel .jp-Cell').length > 5",
                timeout=60_000,
            )
            errors = _errors_shown(page)
            assert not errors, (name, errors)
