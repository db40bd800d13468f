"""Tested helpers for the *Introduction to Large Language Models* course notebooks.

One subpackage per part of the course, one module per idea; each module opens with the
notebook section that teaches it, each subpackage's ``__init__`` says what it teaches.

* every notebook: ``core`` (the ground floor: ``setup()``, devices, data, models, the Hub,
  paths, progress bars, claims) and ``exercises``
* 00 overview: ``overview``; its previews use ``embeddings`` (search, summaries),
  ``classification`` (metrics) and ``decoder`` (generation)
* 01 attention from scratch: ``transformer`` (and ``embeddings``' pooling)
* 02 looking inside: ``views`` and ``decoder``, on ``transformer``'s BERT
* 03 contextual embeddings: ``embeddings``
* 04 BERTopic: ``topics``, on ``embeddings``
* 05 classification: ``classification``, on ``embeddings``

Layers, lowest first: ``core``; ``overview``, ``transformer``, ``embeddings``; ``views``,
``topics``, ``classification``; ``decoder``; ``tooling`` and ``exercises``. A module imports
from its own subpackage and from lower layers only (``tests/test_package_layout.py``). What
builds and checks the course (the runner, the deck, the browser check, the claims' bounds) is
``course_utils.tooling``. Modules are imported on demand so that ``import course_utils`` stays
fast.
"""

from __future__ import annotations

__version__ = "0.1.0"


def course_repo() -> str:
    """GitHub ``owner/name`` of the course, from ``[project.urls] Repository`` in pyproject.toml.

    That entry is the one place the address is defined; the installed package's metadata
    carries it. The deck's links are built from it, and ``tests/test_links.py`` checks that the
    README badges and the notebooks' Colab install lines agree with it.
    """
    from importlib.metadata import PackageNotFoundError, metadata

    prefix = "https://github.com/"
    try:
        urls = metadata("course_utils").get_all("Project-URL") or []
    except PackageNotFoundError:
        urls = []
    for entry in urls:
        label, _, url = entry.partition(",")
        if label.strip().lower() == "repository" and url.strip().startswith(prefix):
            return url.strip().removeprefix(prefix).rstrip("/")
    raise RuntimeError(
        "The installed course_utils has no 'Repository' URL in its metadata: install the package "
        "from the repository (pip install -e . , or make) so that pyproject.toml's [project.urls] "
        "is recorded."
    )
