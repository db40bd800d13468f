"""Claims a notebook checks as it runs, each printed as one line a learner reads.

A notebook states what its output shows, and :func:`check_claims` checks it: one line per
claim, ``ok`` when it holds, and the cell fails with the measured value when it does not. The
printed text is the same on every machine while the claim holds (the measured numbers are
printed in other cells), so nbval compares it.

Two kinds of claim:

* a property of the method (shapes, equalities with PyTorch, the trends the lecture teaches)
  holds for every model and is always enforced;
* a measured fact of one model (a topic count, an AUC floor, a head that resolves *it*) is
  enforced for :data:`MEASURED_ON` and only reported, beside its reference, for any other
  encoder: a :class:`Bound` listed in :data:`MODEL_FACTS`, or a ``model_facts`` entry.

A claim about a stochastic quantity is a :class:`Bound` in :data:`BOUNDS`, with a limit set
from the spread that ``bench/measure_spread.py`` recorded across seeds and numerical profiles
(:mod:`course_utils.tooling.stability` holds that machinery; ``tests/test_stability.py``
checks every limit against it).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Literal

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
        Bound(
            "p_pos_two_hours_back",
            "<=",
            0.49,
            "'i wanted my two hours back' is not read as positive",
        ),
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
        Bound("finetuned_test_auc", ">=", 0.90, "fine-tuning reaches a high test AUC"),
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
    # 03's gaps are sizes measured on one model (a 2-layer cut keeps 0.039 more neighbours with
    # t-SNE/UMAP, not 0.05); the notebook checks their signs, the method's claim, for every model.
    "03_contextual_embeddings": {b.quantity for b in BOUNDS["03_contextual_embeddings"]},
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
    model_facts: Mapping[str, bool] | None = None,
) -> None:
    """Print each claim and fail if one is false.

    ``values`` maps quantities of ``notebook``'s :data:`BOUNDS` to the numbers measured in this
    run; every bound on those quantities is checked (a name that no bound of the notebook
    knows is an error, so a typo cannot skip a claim). ``facts`` are exact,
    machine-independent claims (``{"text": bool}``) that hold for every model; ``model_facts``
    are claims of the same form measured on :data:`MEASURED_ON` (a head that resolves 'it', a
    retrieval hit): enforced when ``source`` names that model, reported with their outcome for
    any other. ``source`` names the model and data.
    Only the claim texts are printed, so the output is the same on every machine while the
    claims hold; a failing claim raises ``AssertionError`` that gives the measured value.
    """
    values = dict(values or {})
    bounds = bounds_for(notebook) if notebook else ()
    unknown = sorted(set(values) - {b.quantity for b in bounds})
    if unknown:
        raise KeyError(f"No bound of {notebook!r} is about: {', '.join(unknown)}")
    model = model_in(source)
    checked = [b for b in bounds if b.quantity in values]
    of_one_model = [b.quantity for b in checked if b.model] + list(model_facts or {})
    if of_one_model and not model:  # never a silent skip: enforce or report needs the model
        raise ValueError(
            f"{of_one_model[0]} is a fact of {MEASURED_ON}: the source must name the model "
            f"('model: NAME; ...'), got {source!r}"
        )
    lines, failed, reported = [], [], 0
    for bound in checked:
        value = float(values[bound.quantity])
        if bound.model and model != bound.model:  # another encoder: report, do not enforce
            reported += 1
            lines.append(f"  info  {bound.claim}: {bound.quantity} = {value:.4g} with {model}; "
                         f"claimed for {bound.model}: {bound.op} {bound.limit:g}")  # fmt: skip
            continue
        ok = bound.holds(value)
        lines.append(("  ok    " if ok else "  FAIL  ") + bound.text())
        if not ok:
            failed.append(f"{bound.text()}: measured {values[bound.quantity]!r}")
    enforced = dict(facts or {})
    for text, ok in (model_facts or {}).items():
        if model == MEASURED_ON:
            enforced[text] = ok
        else:
            reported += 1
            lines.append(f"  info  {text}: {'holds' if ok else 'does not hold'} with {model}; "
                         f"claimed for {MEASURED_ON}")  # fmt: skip
    for text, ok in enforced.items():
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
