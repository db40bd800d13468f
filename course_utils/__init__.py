"""Tested helpers for the *Introduction to Large Language Models* course notebooks.

One module per idea; each opens with the notebook section that teaches it.

* every notebook: ``notebook`` (the one ``setup()`` call, seeds, devices), ``data`` (Rotten
  Tomatoes), ``models`` (which encoder, loaded safely; ``hub``, ``distilbert_layout``),
  ``paths`` (shipped files, the one folder the course writes to), ``progress``, ``exercises``
* 00 overview: ``landscape``, ``retrieval``, ``evaluate``; the decoder from 02
* 01 attention: ``attention``, ``positional``, ``transformer``, ``bert``, ``architecture``,
  ``seq2seq``
* 02 looking inside: ``attention_views``, ``offline_views``, ``neuron_view``, ``decoder``,
  ``decoder_training``, ``sampling``, ``gpt2``
* 03 embeddings: ``embeddings``, ``static_embeddings``, ``reduction``, ``clustering``,
  ``keywords``
* 04 BERTopic: ``topics``, ``topic_timing``, ``topic_outliers``, ``topic_store``,
  ``topic_plots``
* 05 classification: ``classifier``, ``train``, ``checkpoint``, ``evaluate``

What builds and checks the course (the runner, the deck, the browser check, the claims'
bounds) is the subpackage ``course_utils.tooling``. Modules are imported on demand so that
``import course_utils`` stays fast.
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
