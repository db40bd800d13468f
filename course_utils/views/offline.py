"""Attention views that draw with no network: in a notebook, and as saved standalone pages.

Taught in notebook 02, sections 2 and 7. BertViz's HTML loads require.js, d3 and jQuery from a
CDN, so a view is blank offline. :func:`show` sends the vendored copies of those scripts
(``course_utils/vendor``, see its README) once per kernel; :func:`export_html` writes a page
with them inlined.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from course_utils.core.paths import course_subdir, package_file
from course_utils.views.attention import _BERTVIZ_ID

#: The scripts BertViz loads from cdnjs, as vendored files (see ``vendor/README.md``).
VENDOR_FILES = {
    "require": "require-2.3.6.js",
    "jquery": "jquery-3.7.1.min.js",
    "d3": "d3-5.7.0.min.js",
}


_CDN_SCRIPT = re.compile(
    r'<script src="https://cdnjs\.cloudflare\.com/[^"]*require[^"]*"></script>'
)


_REQUIRE_CONFIG = re.compile(r"require\.config\(\{.*?\}\);", re.DOTALL)


#: Whether this process (a notebook's kernel) has already sent the vendored scripts.
_scripts_sent = False


_MAIN_SCRIPT_TAG = '<script type="text/javascript">'


_REQUIRE_CDN = "https://cdnjs.cloudflare.com/ajax/libs/require.js/2.3.6/require.min.js"


def show(html: str, *, scripts: bool | None = None) -> Any:
    """An IPython HTML object for a rendered view (a cell's last expression displays it).

    The output draws with no network in JupyterLab and Jupyter Notebook 7: the first view a
    kernel shows carries the vendored require.js, jQuery and d3 (about 400 KB, once per
    notebook), which stay defined on the page for every later view; each view waits for them
    and, where they are missing (Colab draws every output in its own frame, or the page was
    reloaded), loads them from the CDN as BertViz does. ``scripts`` forces (``True``) or
    leaves out (``False``) the vendored copy; ``None`` sends it once per kernel. Renderers that
    run no scripts (GitHub) show nothing here: notebook 02 puts a static heatmap beside each
    view. Taught in notebook 02, section 2.
    """
    from IPython.display import HTML

    global _scripts_sent
    send = not _scripts_sent if scripts is None else scripts
    output = notebook_html(html, scripts=send)
    _scripts_sent = _scripts_sent or send
    return HTML(output)


def notebook_html(fragment: str, *, scripts: bool) -> str:
    """A BertViz fragment as a notebook output that needs no network when ``scripts`` is true
    or when an earlier output on the page defined require.js (see :func:`show`).

    The CDN ``<script src=...require.min.js>`` tag is dropped and BertViz's drawing code is
    wrapped in a loader: it runs at once when ``window.requirejs`` exists (the vendored copy,
    which defines the ``jquery`` and ``d3`` modules) and otherwise loads require.js from the
    CDN first, or, offline, says in the output why nothing is drawn.
    """
    if not _CDN_SCRIPT.search(fragment):
        raise ValueError("not a BertViz fragment: no require.js <script> tag found")
    body = _CDN_SCRIPT.sub("", fragment, count=1)
    start = body.rfind(_MAIN_SCRIPT_TAG)  # the last script draws (the neuron view has two)
    end = body.rfind("</script>")
    code = body[start + len(_MAIN_SCRIPT_TAG) : end]
    if start < 0 or end < start or body[end + 9 :].strip() or "</script" in code.lower():
        raise ValueError("not a BertViz fragment: its drawing <script> was not found at the end")
    root = _BERTVIZ_ID.search(body)
    root_id = root.group(0) if root else ""
    message = (
        "<p style=\\'color:#a00\\'>This view needs require.js, which is neither on this page nor "
        "reachable online: run the cell again with <code>ov.show(..., scripts=True)</code>.</p>"
    )
    loader = (
        '<script type="text/javascript">\n(function () {\n'
        f"  var draw = function () {{{code}}};\n"
        "  if (window.requirejs) { draw(); return; }\n"
        '  var tag = document.createElement("script");\n'
        f'  tag.src = "{_REQUIRE_CDN}";\n'
        "  tag.onload = draw;\n"
        "  tag.onerror = function () {\n"
        f'    var root = document.getElementById("{root_id}");\n'
        f"    if (root) {{ root.insertAdjacentHTML('beforeend', '{message}'); }}\n"
        "  };\n"
        "  document.head.appendChild(tag);\n"
        "})();\n</script>\n"
    )
    prefix = vendored_scripts() + "\n" if scripts else ""
    return prefix + body[:start] + loader


def vendored_scripts() -> str:
    """``<script>`` blocks that define require.js and the AMD modules ``jquery`` and ``d3``.

    jQuery registers itself as the named module ``jquery``; d3 5's UMD header would make an
    anonymous ``define`` that require.js rejects outside its loader, so ``define`` is hidden
    while d3 installs ``window.d3``, which is then registered under the name ``d3``.
    """
    sources = {}
    for name, filename in VENDOR_FILES.items():
        text = package_file("vendor", filename).read_text(encoding="utf-8")
        if "</script" in text.lower():
            raise ValueError(f"{filename} contains '</script' and cannot be inlined")
        sources[name] = text
    return "\n".join(
        [
            f"<script>\n{sources['require']}\n</script>",
            f"<script>\n{sources['jquery']}\n</script>",
            "<script>window.__amdDefine = window.define; window.define = undefined;</script>",
            f"<script>\n{sources['d3']}\n</script>",
            "<script>window.define = window.__amdDefine; delete window.__amdDefine;\n"
            "define('d3', [], function () { return window.d3; });</script>",
        ]
    )


def standalone_html(fragment: str, title: str) -> str:
    """A complete page that renders a BertViz fragment with no network access.

    The CDN ``<script src=...require.min.js>`` tag is replaced by the vendored scripts and
    BertViz's ``require.config`` (CDN paths for d3 and jQuery) is removed.
    """
    if not _CDN_SCRIPT.search(fragment):
        raise ValueError("not a BertViz fragment: no require.js <script> tag found")
    body = _CDN_SCRIPT.sub(lambda _: vendored_scripts(), fragment, count=1)
    body = _REQUIRE_CONFIG.sub("", body)
    if "cdnjs.cloudflare.com" in body:
        raise ValueError("the fragment still refers to the CDN after inlining the scripts")
    safe_title = title.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<title>{safe_title}</title>\n</head>\n<body>\n<h3 style="font-family:sans-serif">'
        f"{safe_title}</h3>\n{body}\n</body>\n</html>\n"
    )


def export_html(fragment: str, path: str | os.PathLike[str], title: str) -> Path:
    """Write :func:`standalone_html` of a rendered view to ``path`` (folders created).

    Views go under the course folder (see :func:`views_dir`). Returns the path.
    Taught in notebook 02, section 7.
    """
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(standalone_html(fragment, title), encoding="utf-8")
    return out


def views_dir() -> Path:
    """``views/`` in the course folder (:func:`course_utils.core.paths.course_dir`)."""
    return course_subdir("views")
