"""One setup call per notebook, and the results each notebook reports.

Every notebook starts with ``env = setup()``: it seeds Python, NumPy and PyTorch, picks the
device, quiets library logs, sets the plot style and prints versions plus the model and data
sources that the notebook's results come from. The course runner records each notebook's
headline numbers with their model and data (:func:`record_results`, called from a hidden last
cell: :mod:`course_utils.tooling.records`) into the notebook's metadata, where the run summary
(``build/``) and the slides read them.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from course_utils import __version__
from course_utils.core.data import DataSource, resolve_data_source
from course_utils.core.devices import pick_device
from course_utils.core.hub import hub_decision
from course_utils.core.models import EncoderChoice, announce, resolve_encoder

DEFAULT_SEED = 42


@dataclass(frozen=True)
class CourseEnv:
    """What :func:`setup` decided: seed, device, and the model and data every result uses."""

    seed: int
    device: torch.device
    model: EncoderChoice
    data: DataSource


def seed_everything(seed: int = DEFAULT_SEED) -> None:
    """Seed ``random``, NumPy and PyTorch (all devices) so that reruns give the same numbers.

    String hashing (the order of a ``set`` of strings) is fixed only by ``PYTHONHASHSEED`` set
    *before* Python starts, which ``make`` does; setting it from a running kernel has no effect,
    so the course never relies on the iteration order of a set.
    """
    random.seed(seed)
    np.random.seed(seed)  # noqa: NPY002 - libraries (umap, sklearn) draw from the global RNG
    torch.manual_seed(seed)  # also seeds CUDA and MPS generators


def quiet_logs() -> None:
    """Silence the chatter of transformers, datasets and friends (errors still show)."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    for name in (
        "transformers",
        "datasets",
        "sentence_transformers",
        "huggingface_hub",
        "BERTopic",
        "numba",
        "matplotlib",
        "urllib3",
    ):
        logging.getLogger(name).setLevel(logging.ERROR)
    try:
        import transformers

        transformers.logging.set_verbosity_error()
        transformers.logging.disable_progress_bar()
    except ImportError:  # pragma: no cover - transformers is a hard dependency
        pass
    try:
        import datasets

        datasets.logging.set_verbosity_error()
        datasets.disable_progress_bars()
    except ImportError:  # pragma: no cover
        pass


def set_plot_style() -> None:
    """A readable, consistent matplotlib style for every figure in the course."""
    import matplotlib as mpl

    mpl.rcParams.update(
        {
            "figure.figsize": (7.0, 4.0),
            "figure.dpi": 100,
            "savefig.dpi": 150,
            "savefig.bbox": "tight",
            "axes.spines.top": False,
            "axes.spines.right": False,
            "axes.grid": True,
            "grid.alpha": 0.3,
            "font.size": 10,
        }
    )


def versions() -> dict[str, str]:
    """Versions of the libraries whose behaviour the course depends on."""
    import importlib.metadata as md

    out = {"python": platform.python_version(), "course_utils": __version__}
    for pkg in ("torch", "transformers", "datasets", "sentence-transformers", "numpy"):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            out[pkg] = "not installed"
    return out


def limit_threads(threads: int) -> None:
    """Cap every CPU thread pool a notebook uses at ``threads``: PyTorch's, the OpenMP and BLAS
    pools of NumPy, SciPy and scikit-learn, and numba's (UMAP, pynndescent).

    For small problems (k-means on 500 points, UMAP on 10,000) one thread is about as fast as
    two, and on a busy machine multi-threaded OpenMP code can be 10-100x slower (idle numba
    threads left spinning by UMAP slowed k-means from 0.05 s to 9 s); notebook 03 calls
    ``setup(threads=1)``. numba reads its cap when it is first imported, so this imports it
    (and scikit-learn's OpenMP runtime) here, after setting it.
    """
    from threadpoolctl import threadpool_limits

    os.environ["NUMBA_NUM_THREADS"] = str(threads)
    import sklearn.cluster  # noqa: F401 - loads scikit-learn's OpenMP runtime before the cap
    import umap  # noqa: F401 - loads numba and pynndescent with NUMBA_NUM_THREADS set

    threadpool_limits(threads)
    torch.set_num_threads(threads)


def setup(
    seed: int = DEFAULT_SEED,
    *,
    device: str | None = None,
    verbose: bool = True,
    threads: int | None = None,
) -> CourseEnv:
    """Prepare a notebook: seed, pick the device, quiet logs, set the plot style.

    Prints the versions, the device, and the model and data sources that every result in the
    notebook comes from. ``threads`` caps every CPU thread pool (:func:`limit_threads`;
    ``$COURSE_THREADS``). Returns a :class:`CourseEnv`.
    """
    quiet_logs()
    set_plot_style()
    seed_everything(seed)
    threads = threads or int(os.environ.get("COURSE_THREADS", "0")) or None
    if threads:
        limit_threads(threads)
    env = CourseEnv(
        seed=seed, device=pick_device(device), model=resolve_encoder(), data=resolve_data_source()
    )
    if verbose:
        print(" | ".join(f"{k} {v}" for k, v in versions().items()))
        n = torch.get_num_threads()
        print(f"device: {env.device} ({n} CPU thread{'' if n == 1 else 's'}) | seed: {seed}")
        print(hub_decision().describe())
        announce(env.model)
        print(f"data: {env.data.describe()}")
    return env


RESULTS_METADATA_KEY = "course_results"


def format_number(value: Any) -> str:
    """A result as printed in summaries: floats to 4 decimals, except small non-zero ones,
    which keep 3 significant digits (an error of 1.44e-05 must not read as 0.0000)."""
    if isinstance(value, float):
        return f"{value:.3g}" if 0 < abs(value) < 1e-3 else f"{value:.4f}"
    return str(value)


def record_results(notebook: str, *, model: str, data: str, **numbers: Any) -> None:
    """Show a notebook's headline numbers with the model and data that produced them.

    In a kernel the numbers are displayed as text and also stored, machine-readable, in the
    output's metadata under ``"course_results"``, so a committed notebook carries its results
    (the course runner's summary and the slides read them from there).
    """
    if not model or not data:
        raise ValueError("record_results needs the model and data that produced the numbers.")
    record = {"notebook": notebook, "model": model, "data": data, "results": numbers}
    lines = [f"Results of {notebook}  (model: {model}; data: {data})"]
    for key, value in numbers.items():
        lines.append(f"  {key:<28} {format_number(value)}")
    text = "\n".join(lines)
    if _in_kernel():
        from IPython.display import display

        meta = {RESULTS_METADATA_KEY: json.loads(json.dumps(record, default=str))}
        display({"text/plain": text}, raw=True, metadata=meta)
    else:
        print(text)


def _in_kernel() -> bool:
    """True inside a Jupyter kernel (where rich display and output metadata exist)."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython comes with ipykernel
        return False
    shell = get_ipython()
    return shell is not None and hasattr(shell, "kernel")


def results_from_notebook(path: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The record of an executed notebook, if any: the one the course runner stored in its
    metadata (:mod:`course_utils.tooling.records`), else the one a :func:`record_results` cell
    displayed."""
    import nbformat

    nb = nbformat.read(Path(path), as_version=4)
    if RESULTS_METADATA_KEY in nb.metadata:
        return dict(nb.metadata[RESULTS_METADATA_KEY])
    for cell in reversed(nb.cells):
        for output in cell.get("outputs", []):
            record = output.get("metadata", {}).get(RESULTS_METADATA_KEY)
            if record is not None:
                return dict(record)
    return None
