"""Evaluating a binary classifier: metrics, the lecture's results table, outcome analysis.

Taught in notebook 05 (classification), sections "Results" and "Outcome analysis". Every
metric comes from scikit-learn; probabilities are ``(n, 2)`` arrays of class probabilities
(or ``(n,)`` positive-class scores) and labels are ``(n,)`` ints in ``{0, 1}``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.calibration import calibration_curve
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, roc_auc_score, roc_curve

#: The lecture's table: DistilBERT on Rotten Tomatoes, frozen ("raw") and fine-tuned.
LECTURE_DISTILBERT = {
    ("train", "raw"): 0.918,
    ("train", "fine-tuned"): 0.980,
    ("test", "raw"): 0.882,
    ("test", "fine-tuned"): 0.911,
}


def positive_scores(probs: np.ndarray) -> np.ndarray:
    """The positive-class probability ``(n,)`` from ``(n, 2)`` probabilities or ``(n,)`` scores."""
    probs = np.asarray(probs, dtype=float)
    return probs[:, 1] if probs.ndim == 2 else probs


def classification_metrics(labels: Sequence[int], probs: np.ndarray) -> dict[str, float]:
    """ROC AUC, accuracy and F1 (positive class) at threshold 0.5, from scikit-learn."""
    y = np.asarray(labels)
    score = positive_scores(probs)
    if not np.isfinite(score).all():
        raise ValueError("The predicted probabilities contain NaN or infinite values.")
    if len(np.unique(y)) < 2:
        raise ValueError("AUC needs labels of both classes in the evaluated set.")
    pred = (score >= 0.5).astype(int)
    return {
        "auc": float(roc_auc_score(y, score)),
        "accuracy": float(accuracy_score(y, pred)),
        "f1": float(f1_score(y, pred)),
    }


def results_table(
    results: Mapping[str, Mapping[str, Mapping[str, float]]], *, decimals: int = 3
) -> pd.DataFrame:
    """The lecture's layout: rows ``"<split> <metric>"``, one column per model.

    ``results[model][split]`` is a :func:`classification_metrics` dict, e.g.
    ``{"raw (frozen)": {"train": {...}, "test": {...}}, "fine-tuned": {...}}``. Rows are
    the AUCs first (as in the lecture), then accuracy and F1; values rounded.
    """
    columns = list(results)
    splits = list(next(iter(results.values())))
    rows = {}
    for metric in ("auc", "accuracy", "f1"):
        for split in splits:
            label = f"{split} {'AUC' if metric == 'auc' else metric}"
            rows[label] = [round(results[col][split][metric], decimals) for col in columns]
    return pd.DataFrame.from_dict(rows, orient="index", columns=columns)


def lecture_table() -> pd.DataFrame:
    """The lecture's DistilBERT numbers in the :func:`results_table` layout (AUC rows only)."""
    rows = {
        f"{split} AUC": [
            LECTURE_DISTILBERT[(split, "raw")],
            LECTURE_DISTILBERT[(split, "fine-tuned")],
        ]
        for split in ("train", "test")
    }
    return pd.DataFrame.from_dict(rows, orient="index", columns=["raw (frozen)", "fine-tuned"])


def most_confident_mistakes(
    texts: Sequence[str], labels: Sequence[int], probs: np.ndarray, k: int = 5
) -> pd.DataFrame:
    """The ``k`` wrong predictions made with the highest confidence, most confident first."""
    y = np.asarray(labels)
    score = positive_scores(probs)
    pred = (score >= 0.5).astype(int)
    confidence = np.where(pred == 1, score, 1 - score)
    wrong = np.flatnonzero(pred != y)
    top = wrong[np.argsort(-confidence[wrong], kind="stable")[:k]]
    return pd.DataFrame(
        {
            "text": [texts[i] for i in top],
            "label": y[top],
            "P(pos)": np.round(score[top], 3),
        },
        index=top,
    )


def accuracy_by_length(
    lengths: Sequence[int], labels: Sequence[int], probs: np.ndarray, bins: Sequence[int]
) -> pd.DataFrame:
    """Accuracy per length bin; ``bins`` are edges, e.g. ``[0, 10, 20, 40, 1000]`` (words)."""
    y = np.asarray(labels)
    pred = (positive_scores(probs) >= 0.5).astype(int)
    group = pd.cut(np.asarray(lengths), bins=list(bins), right=False)
    frame = pd.DataFrame({"bin": group, "correct": pred == y})
    out = frame.groupby("bin", observed=True)["correct"].agg(["size", "mean"])
    return out.rename(columns={"size": "sentences", "mean": "accuracy"}).round(3)


def plot_roc(ax: Any, curves: Mapping[str, tuple[Sequence[int], np.ndarray]]) -> None:
    """ROC curves on ``ax``: ``curves[name] = (labels, probs)``; the AUC is in the legend."""
    for name, (y, probs) in curves.items():
        fpr, tpr, _ = roc_curve(y, positive_scores(probs))
        ax.plot(fpr, tpr, label=f"{name} (AUC {roc_auc_score(y, positive_scores(probs)):.3f})")
    ax.plot([0, 1], [0, 1], "k--", lw=0.8)
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC")
    ax.legend(fontsize=8)


def plot_confusion(ax: Any, labels: Sequence[int], probs: np.ndarray, title: str) -> np.ndarray:
    """Draw the 2x2 confusion matrix (rows: true neg/pos; columns: predicted) and return it."""
    matrix = confusion_matrix(labels, (positive_scores(probs) >= 0.5).astype(int))
    ax.imshow(matrix, cmap="Blues")
    for (i, j), count in np.ndenumerate(matrix):
        ax.text(j, i, str(count), ha="center", va="center")
    ax.set(xticks=[0, 1], yticks=[0, 1], xticklabels=["neg", "pos"], yticklabels=["neg", "pos"])
    ax.set(xlabel="predicted", ylabel="true", title=title)
    ax.grid(False)
    return matrix


def plot_calibration(
    ax: Any, curves: Mapping[str, tuple[Sequence[int], np.ndarray]], n_bins: int = 10
) -> None:
    """Reliability diagram: observed positive rate vs mean predicted probability per bin."""
    for name, (y, probs) in curves.items():
        observed, predicted = calibration_curve(y, positive_scores(probs), n_bins=n_bins)
        ax.plot(predicted, observed, marker="o", label=name)
    ax.plot([0, 1], [0, 1], "k--", lw=0.8)
    ax.set(xlabel="mean predicted P(pos)", ylabel="fraction positive", title="Calibration")
    ax.legend(fontsize=8)


def expected_calibration_error(labels: Sequence[int], probs: np.ndarray, n_bins: int = 15) -> float:
    """Expected calibration error of binary predictions: the calibration plot in one number.

    Predictions are grouped into ``n_bins`` equal-width bins of P(positive) (the points of
    :func:`plot_calibration`; 1.0 goes in the top bin), and the ECE is the size-weighted mean of
    ``|share of positives - mean P(positive)|`` over the bins: 0 for a model whose "90 %
    positive" sentences are positive nine times in ten. Exercise 05.2 asks for this function
    and checks against it. Taught in notebook 05, "Calibration".
    """
    y = np.asarray(labels, dtype=float)
    score = positive_scores(probs)
    if len(y) != len(score) or len(y) == 0:
        raise ValueError(f"{len(y)} labels for {len(score)} predictions: they must match (> 0).")
    bins = np.minimum((score * n_bins).astype(int), n_bins - 1)
    ece = 0.0
    for b in np.unique(bins):
        members = bins == b
        ece += members.mean() * abs(y[members].mean() - score[members].mean())
    return float(ece)


def _logits(probs: np.ndarray) -> np.ndarray:
    """Log-odds of the positive class (clipped away from 0 and 1)."""
    p = np.clip(positive_scores(probs), 1e-7, 1 - 1e-7)
    return np.log(p) - np.log1p(-p)


def fit_temperature(labels: Sequence[int], probs: np.ndarray) -> float:
    """Temperature scaling (Guo et al., 2017): the one number ``T`` that minimises the
    negative log-likelihood of ``sigmoid(logit / T)`` on held-out data (the validation split).

    ``T > 1`` softens an over-confident model, ``T < 1`` sharpens an under-confident one; the
    ranking, hence AUC and accuracy, is unchanged. Searched over ``log T`` in ``[-3, 3]``.
    Taught in notebook 05, "Calibration".
    """
    from scipy.optimize import minimize_scalar

    y = np.asarray(labels, dtype=float)
    z = _logits(probs)

    def nll(log_t: float) -> float:
        scaled = z / np.exp(log_t)
        return float(np.mean(np.logaddexp(0.0, scaled) - y * scaled))

    best = minimize_scalar(nll, bounds=(-3.0, 3.0), method="bounded", options={"xatol": 1e-6})
    return float(np.exp(best.x))


def apply_temperature(probs: np.ndarray, temperature: float) -> np.ndarray:
    """``(n, 2)`` class probabilities after dividing the logits by ``temperature``."""
    if temperature <= 0:
        raise ValueError(f"temperature must be positive, got {temperature}")
    p = 1.0 / (1.0 + np.exp(-_logits(probs) / temperature))
    return np.column_stack([1.0 - p, p])
