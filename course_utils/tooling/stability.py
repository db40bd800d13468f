"""How far each stochastic result moves between machines, and the claims' limits set from it.

Float results differ in their last bits between CPUs (kernel selection, vector width, thread
count), and UMAP, t-SNE, HDBSCAN, BERTopic and every training loop turn those bits into
visibly different numbers. So the notebooks print measured numbers in cells that nbval does
not compare, and check them through :func:`course_utils.core.checks.check_claims`, whose printed
lines are the same on every machine while the claims hold.

A claim about a stochastic quantity is a :class:`~course_utils.core.checks.Bound`. Its limit is not
a guess: ``bench/measure_spread.py`` runs each quantity over several seeds and two numerical
profiles (this machine's default threads and kernels, and :data:`PERTURBED_ENV`: one thread,
AVX2 kernels, a different BLAS core type) and records every value in
``course_utils/results/spread.jsonl`` (package data, so an installed course has it too);
``tests/test_stability.py`` requires every bound to clear the worst recorded value by at least
the recorded spread; :func:`spread_table` shows that record. See README, "Working on the
course".
"""

from __future__ import annotations

import json
import math
import sys
from importlib import resources
from pathlib import Path

import pandas as pd

# The claims themselves live in course_utils.core.checks, which the notebooks use; re-exported here
# for the machinery (bench/measure_spread.py, tests) that reads them beside the spread.
from course_utils.core.checks import (
    BOUNDS,
    MEASURED_ON,
    MODEL_FACTS,
    Bound,
    bounds_for,
    check_claims,
    model_in,
)

__all__ = [
    "BOUNDS", "MEASURED_ON", "MODEL_FACTS", "PERTURBED_ENV", "SPREAD_FILE", "Bound", "bounds_for",
    "check_claims", "load_spread", "model_in", "spread_table",
]  # fmt: skip

# One thread, AVX2 kernels in PyTorch, OpenBLAS's Haswell kernels: on an AVX-512 machine with
# two cores this makes every BLAS call and attention kernel take another code path, as a
# learner's laptop would. `make nbval-perturbed` and bench/measure_spread.py use it.
PERTURBED_ENV: dict[str, str] = {
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "ATEN_CPU_CAPABILITY": "avx2",
    "OPENBLAS_CORETYPE": "Haswell",
}

SPREAD_FILE = "spread.jsonl"  # in course_utils/results/, written by bench/measure_spread.py


def load_spread(path: str | Path | None = None) -> list[dict]:
    """Every run that ``bench/measure_spread.py`` recorded: one dict per run with its
    ``notebook``, ``seed``, ``profile`` and ``values``. Reads the package's copy by default."""
    if path is None:
        text = resources.files("course_utils").joinpath("results", SPREAD_FILE).read_text()
    else:
        text = Path(path).read_text()
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def spread_table(notebook: str, path: str | Path | None = None) -> pd.DataFrame:
    """Per bound of ``notebook``: the recorded runs, their min/median/max, the limit, and the
    worst run's distance to the limit in units of the spread (max - min).

    ``worst margin / spread`` of at least 1 is what ``tests/test_stability.py`` requires.
    """
    runs = [r for r in load_spread(path) if r["notebook"] == notebook]
    rows = []
    for bound in bounds_for(notebook):
        got = [float(r["values"][bound.quantity]) for r in runs if bound.quantity in r["values"]]
        row: dict[str, object] = {"claim": f"{bound.quantity} {bound.op} {bound.limit:g}"}
        if got:
            spread = max(got) - min(got)
            worst = min(bound.margin(v) for v in got)
            row |= {
                "runs": len(got),
                "seeds": len({r["seed"] for r in runs if bound.quantity in r["values"]}),
                "profiles": len({r["profile"] for r in runs if bound.quantity in r["values"]}),
                "min": round(min(got), 4),
                "median": round(float(pd.Series(got).median()), 4),
                "max": round(max(got), 4),
                "worst margin / spread": round(worst / spread, 1) if spread > 0 else math.inf,
            }
        else:
            row["runs"] = 0
        rows.append(row)
    return pd.DataFrame(rows).set_index("claim")


def _main(argv: list[str]) -> int:
    """``python -m course_utils.tooling.stability env``: print :data:`PERTURBED_ENV` as
    ``K=V`` words (the Makefile's ``nbval-perturbed`` passes them to ``env``)."""
    if argv == ["env"]:
        print(" ".join(f"{k}={v}" for k, v in PERTURBED_ENV.items()))
        return 0
    print("usage: python -m course_utils.tooling.stability env", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(_main(sys.argv[1:]))
