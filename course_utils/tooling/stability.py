"""Claims that hold on any machine, and how far each stochastic result moves between machines.

Float results differ in their last bits between CPUs (kernel selection, vector width, thread
count), and UMAP, t-SNE, HDBSCAN, BERTopic and every training loop turn those bits into
visibly different numbers. So the notebooks print measured numbers in cells that nbval does
not compare (``# NBVAL_IGNORE_OUTPUT``), and check them in cells that it does compare through
:func:`check_claims`: it prints one line per claim (the same text on every machine) and fails
the cell when a claim is false.

A claim about a stochastic quantity is a :class:`Bound` in :data:`BOUNDS`. Its limit is not a
guess: ``bench/measure_spread.py`` runs each quantity over several seeds and two numerical
profiles (this machine's default threads and kernels, and :data:`PERTURBED_ENV`: one thread,
AVX2 kernels, a different BLAS core type) and records every value in
``course_utils/results/spread.jsonl`` (package data, so an installed course has it too);
``tests/test_stability.py`` requires every bound to clear the
worst recorded value by at least the recorded spread. :func:`spread_table` shows that record
in the notebook. See README, "Working on the course".
"""

from __future__ import annotations

import json
import math
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path
from typing import Literal

import pandas as pd

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


MEASURED_ON = "all-MiniLM-L6-v2"  # the model every limit below was measured on (spread.jsonl)


@dataclass(frozen=True)
class Bound:
    """``quantity op limit``: a claim about one measured number, with its wording.

    ``model`` is empty for a property of the method (it must hold for every encoder) and names
    the model for a measured fact of that model (a topic count, an AUC floor): such a claim is
    enforced when that model runs and only reported, beside its reference, for another one.
    """

    quantity: str
    op: Literal[">=", "<="]
    limit: float
    claim: str
    model: str = ""

    def holds(self, value: float) -> bool:
        """True when ``value`` is on the claimed side of ``limit`` (NaN never holds)."""
        if math.isnan(value):
            return False
        return value >= self.limit if self.op == ">=" else value <= self.limit

    def text(self) -> str:
        """The claim as printed: ``"<claim> (<quantity> >= <limit>)"``."""
        return f"{self.claim} ({self.quantity} {self.op} {self.limit:g})"

    def margin(self, value: float) -> float:
        """How far ``value`` is on the right side of the limit (negative: the claim fails)."""
        return value - self.limit if self.op == ">=" else self.limit - value


# Every stochastic claim the notebooks assert, by notebook. Limits are set from the spread in
# course_utils/results/spread.jsonl (tests/test_stability.py checks each one against it).
BOUNDS: dict[str, tuple[Bound, ...]] = {
    "00_llm_overview": (
        Bound("classify_test_accuracy", ">=", 0.70, "frozen encoder + linear head beats chance"),
        Bound("classify_test_auc", ">=", 0.80, "its ranking of reviews is far better than chance"),
        Bound("p_pos_delight", ">=", 0.6, "'an absolute delight' reads as positive"),
        Bound("p_pos_two_hours_back", "<=", 0.49, "'i wanted my two hours back' reads as negative"),
    ),
    "02_bertviz_attention": (
        Bound(
            "val_perplexity_ratio", "<=", 0.6, "TinyGPT beats the unigram baseline on validation"
        ),
    ),
    "03_contextual_embeddings": (
        Bound("trust_gap_random_projection", ">=", 0.05, "random projection is least trustworthy"),
        Bound("knn_gap_tsne_umap_over_pca", ">=", 0.05, "t-SNE and UMAP keep more neighbours"),
        Bound("probe_gap_full", ">=", 0.02, "every 2-D map loses some of the sentiment signal"),
        Bound("probe_acc_pca", ">=", 0.58, "PCA's linear map still keeps some of it"),
        Bound("max_abs_ari", "<=", 0.1, "no clustering recovers the sentiment classes"),
    ),
    "04_bertopic_rotten_tomatoes": (
        Bound("default_topics", ">=", 100, "BERTopic's defaults find well over 100 topics"),
        Bound(
            "default_outlier_share", ">=", 0.40, "and leave a large share of sentences as outliers"
        ),
        Bound("eom_collapse_largest_share", ">=", 0.25, "eom with larger clusters collapses"),
        Bound("final_topics", ">=", 20, "the tuned model keeps enough topics"),
        Bound("final_topics", "<=", 45, "and few enough to read"),
        Bound("final_outlier_share", "<=", 0.30, "outlier reassignment leaves few outliers"),
        Bound("most_positive_topic_share", ">=", 0.65, "some topic leans positive (overall: 0.5)"),
        Bound("topic_sentiment_range", ">=", 0.3, "topics differ in sentiment: top vs bottom"),
        Bound("new_sentences_on_topic", ">=", 2, "new sentences land in the matching topic (of 4)"),
    ),
    "05_classification_finetuning": (
        Bound("frozen_test_auc", ">=", 0.87, "frozen features + a head reach a good test AUC"),
        Bound("finetuned_test_auc", ">=", 0.90, "fine-tuning reaches a higher test AUC"),
        Bound(
            "finetune_gain_test_auc", ">=", 0.02, "fine-tuning beats the frozen head on test AUC"
        ),
        Bound(
            "torch_head_test_auc", ">=", 0.84, "a PyTorch linear head lands near the frozen head"
        ),
        # Not "beats": the gain is +0.006 on the bundled model and -0.004 on the same weights in
        # DistilBERT layout (make learner), so only "near it, not clearly above" is a claim.
        Bound(
            "top2_gain_val_auc",
            ">=",
            -0.02,
            "one epoch on the top 2 blocks lands near a linear head",
        ),
        Bound(
            "top2_gain_val_auc",
            "<=",
            0.03,
            "but not clearly above it: the lower layers bring the gain",
        ),
    ),
}


# Measured facts of one model, by notebook: enforced for MEASURED_ON, reported for any other
# encoder (a 2-layer model finds other topic counts and AUCs; that is a result, not an error).
# The other bounds are properties of the method and hold for every encoder.
MODEL_FACTS: dict[str, set[str]] = {
    "00_llm_overview": {
        "classify_test_accuracy", "classify_test_auc", "p_pos_delight", "p_pos_two_hours_back"},
    "03_contextual_embeddings": {"probe_acc_pca"},
    "04_bertopic_rotten_tomatoes": {b.quantity for b in BOUNDS["04_bertopic_rotten_tomatoes"]},
    "05_classification_finetuning": {b.quantity for b in BOUNDS["05_classification_finetuning"]},
}  # fmt: skip
BOUNDS = {
    notebook: tuple(
        replace(b, model=MEASURED_ON) if b.quantity in MODEL_FACTS.get(notebook, ()) else b
        for b in bounds
    )
    for notebook, bounds in BOUNDS.items()
}


def model_in(source: str) -> str:
    """The model a ``source`` line names (``"model: all-MiniLM-L6-v2; data: ..."``), or ``""``."""
    match = re.search(r"model: ([^;|]+)", source)
    return match.group(1).strip() if match else ""


def bounds_for(notebook: str) -> tuple[Bound, ...]:
    """The bounds of ``notebook`` (a :data:`BOUNDS` key); ``KeyError`` names the known ones."""
    try:
        return BOUNDS[notebook]
    except KeyError:
        raise KeyError(f"No bounds for {notebook!r}; known: {', '.join(BOUNDS)}") from None


def check_claims(
    notebook: str | None = None,
    values: Mapping[str, float] | None = None,
    *,
    source: str,
    facts: Mapping[str, bool] | None = None,
) -> None:
    """Print each claim and fail if one is false.

    ``values`` maps quantities of ``notebook``'s :data:`BOUNDS` to the numbers measured in this
    run; every bound on those quantities is checked (a name that no bound of the notebook
    knows is an error, so a typo cannot skip a claim). ``facts`` are exact,
    machine-independent claims (``{"text": bool}``). ``source`` names the model and data.
    Only the claim texts are printed, so the output is the same on every machine while the
    claims hold; a failing claim raises ``AssertionError`` that gives the measured value.
    """
    values = dict(values or {})
    bounds = bounds_for(notebook) if notebook else ()
    unknown = sorted(set(values) - {b.quantity for b in bounds})
    if unknown:
        raise KeyError(f"No bound of {notebook!r} is about: {', '.join(unknown)}")
    model = model_in(source)
    lines, failed, reported = [], [], 0
    for bound in (b for b in bounds if b.quantity in values):
        value = float(values[bound.quantity])
        if bound.model and not model:
            raise ValueError(
                f"{bound.quantity} is a fact of {bound.model}: the source must name the model "
                f"('model: NAME; ...'), got {source!r}"
            )
        if bound.model and model != bound.model:  # another encoder: report, do not enforce
            reported += 1
            lines.append(f"  info  {bound.claim}: {bound.quantity} = {value:.4g} with {model}; "
                         f"claimed for {bound.model}: {bound.op} {bound.limit:g}")  # fmt: skip
            continue
        ok = bound.holds(value)
        lines.append(("  ok    " if ok else "  FAIL  ") + bound.text())
        if not ok:
            failed.append(f"{bound.text()}: measured {values[bound.quantity]!r}")
    for text, ok in (facts or {}).items():
        lines.append(("  ok    " if ok else "  FAIL  ") + text)
        if not ok:
            failed.append(text)
    if not lines:
        raise ValueError("check_claims() was given no claim to check.")
    print(f"Claims ({source}):")
    print("\n".join(lines))
    if reported:
        print(f"  {len(lines) - reported} checked; {reported} reported only (measured facts of "
              f"{MEASURED_ON}, not claims about {model})")  # fmt: skip
    if failed:
        raise AssertionError("Claims that do not hold:\n" + "\n".join(failed))


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
