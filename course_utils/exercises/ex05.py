"""Exercises of 05_classification_finetuning: 05.1 P/R/F1, 05.2 ECE, 05.3 what fine-tuning
changes, layer by layer (real model), 05.4 temperature scaling."""

from __future__ import annotations

import contextlib
import functools
import io
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from course_utils.classification.evaluate import expected_calibration_error as reference_ece
from course_utils.core.models import short_name

from ._core import (
    _array,
    _call,
    _course,
    _encoder,
    _exercise,
    _experiment,
    _float,
    _held,
    _match,
    _sentences,
    _softmax,
    _Wrong,
)

DATA = "Rotten Tomatoes"


@_exercise("05.1", "Precision, recall and F1 at a threshold", 1, "precision_recall_f1")
def check_precision_recall_f1(precision_recall_f1: Callable[..., Any]) -> str:
    """Exercise 05.1: ``precision_recall_f1(labels, probs)`` at threshold 0.5 (a probability
    of exactly 0.5 counts as positive), for the positive class."""
    rng = np.random.default_rng(13)
    labels = rng.integers(0, 2, 60)
    probs = np.clip(0.3 * labels + rng.uniform(0.15, 0.8, 60), 0, 1)  # many false positives
    probs[[3, 17, 29, 41, 52]] = 0.5
    got = _call(precision_recall_f1, labels.copy(), probs.copy())
    try:
        p, r, f = (_float(x) for x in got)
    except (TypeError, ValueError):
        raise _Wrong(f"expected three numbers (precision, recall, f1), got {got!r}") from None

    def scores(pred: np.ndarray) -> tuple[float, float, float]:
        tp = float(((pred == 1) & (labels == 1)).sum())
        prec, rec = tp / pred.sum(), tp / (labels == 1).sum()
        return prec, rec, 2 * prec * rec / (prec + rec)

    expected = scores((probs >= 0.5).astype(int))
    if all(math.isclose(a, b, abs_tol=1e-9) for a, b in zip((p, r, f), expected, strict=True)):
        return "precision, recall and F1 of the positive class at 0.5, ties at 0.5 included"
    e_p, e_r, e_f = expected
    strict = scores((probs > 0.5).astype(int))

    def same(a: Sequence[float], b: Sequence[float]) -> bool:
        return all(math.isclose(x, y, abs_tol=1e-9) for x, y in zip(a, b, strict=True))

    if same((p, r, f), strict):
        raise _Wrong("a probability of exactly 0.5 counts as positive (>= 0.5), not negative")
    if same((p, r), (e_r, e_p)):
        raise _Wrong(
            "precision and recall are swapped: precision divides by the predicted positives"
        )
    if same((p, r), (e_p, e_r)):
        if math.isclose(f, (e_p + e_r) / 2):
            raise _Wrong("F1 is the harmonic mean of precision and recall, not their average")
        raise _Wrong("precision and recall are right; F1 is not")
    wrong = [
        n
        for n, a, b in (("precision", p, e_p), ("recall", r, e_r))
        if not math.isclose(a, b, abs_tol=1e-9)
    ]
    raise _Wrong(f"{' and '.join(wrong)} differ from the positive class's at threshold 0.5")


def _ece(
    labels: np.ndarray,
    probs: np.ndarray,
    n_bins: int,
    *,
    weighted: bool = True,
    all_bins: bool = False,
    drop_one: bool = False,
    square: bool = False,
    confidence: bool = False,
) -> float:
    y, p = labels.astype(float), probs.astype(float)
    if confidence:
        y, p = (p >= 0.5) == (labels == 1), np.maximum(p, 1 - p)
        y = y.astype(float)
    bins = np.minimum((p * n_bins).astype(int), n_bins - 1)
    if drop_one:
        bins = np.where(probs >= 1.0, n_bins, bins)
    gaps, sizes = [], []
    for b in range(n_bins):
        inside = bins == b
        if inside.any():
            gap = abs(y[inside].mean() - p[inside].mean())
            gaps.append(gap**2 if square else gap)
            sizes.append(inside.sum())
        elif all_bins:
            gaps.append(0.0)
            sizes.append(0)
    gaps_a, sizes_a = np.array(gaps), np.array(sizes, dtype=float)
    if not weighted:
        return float(gaps_a.mean())
    return float((gaps_a * sizes_a).sum() / len(p))


@_exercise("05.2", "Expected calibration error", 2, "expected_calibration_error")
def check_expected_calibration_error(expected_calibration_error: Callable[..., Any]) -> str:
    """Exercise 05.2: ``expected_calibration_error(labels, probs, n_bins)``: equal-width bins
    of P(positive), each bin's |positive rate - mean probability| weighted by its share."""
    rng = np.random.default_rng(14)
    probs = rng.beta(0.7, 0.7, 400)
    probs[:6] = [0.0, 1.0, 1.0, 0.0, 1.0, 1.0]
    labels = (rng.uniform(size=400) < probs**1.6).astype(int)
    labels[:6] = [1, 0, 1, 0, 0, 1]  # confident mistakes at exactly 0.0 and 1.0
    for n_bins in (10, 5, 15):
        got = _float(
            _call(
                expected_calibration_error,
                labels.copy(),
                probs.copy(),
                n_bins,
                when=f"for {n_bins} bins",
            )
        )
        expected = reference_ece(labels, probs, n_bins)  # the package's, notebook 05 uses it
        if math.isclose(got, expected, abs_tol=1e-9):
            continue
        why = _match(
            got,
            {
                "it averages the bins' gaps without weighting them by their share of the "
                "examples": _ece(labels, probs, n_bins, weighted=False),
                "it averages over all bins, empty ones included, without weights": _ece(
                    labels, probs, n_bins, weighted=False, all_bins=True
                ),
                "the probabilities equal to 1.0 fall out of every bin; the last bin includes "
                "1.0": _ece(labels, probs, n_bins, drop_one=True),
                "the gaps are squared": _ece(labels, probs, n_bins, square=True),
                "this is the confidence (top-label) ECE; here the bins are of P(positive), "
                "compared with the share of positives": _ece(
                    labels, probs, n_bins, confidence=True
                ),
            },
            lambda a, b: math.isclose(a, b, abs_tol=1e-9),
        )
        raise _Wrong(
            why or f"your ECE for {n_bins} bins is {'too high' if got > expected else 'too low'}"
        )
    return "ECE with 5, 10 and 15 equal-width bins, probabilities 0.0 and 1.0 included"


def _nll(logits: np.ndarray, labels: np.ndarray, t: float) -> float:
    z = logits / t
    z = z - z.max(1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(1, keepdims=True))
    return float(-logp[np.arange(len(labels)), labels].mean())


def _best_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    from scipy.optimize import minimize_scalar

    res = minimize_scalar(
        lambda s: _nll(logits, labels, math.exp(s)),
        bounds=(math.log(0.02), math.log(50.0)),
        method="bounded",
        options={"xatol": 1e-7},
    )
    return math.exp(res.x)


@_exercise("05.4", "Temperature scaling on validation logits", 3, "fit_temperature")
def check_fit_temperature(fit_temperature: Callable[..., Any]) -> str:
    """Exercise 05.4: ``fit_temperature(logits, labels)`` returns the ``T > 0`` that
    minimises the mean negative log-likelihood of ``softmax(logits / T)``."""
    rng = np.random.default_rng(15)
    fitted = []
    for classes, scale in ((2, 2.5), (3, 0.5)):
        n = 1500
        true_logits = 1.5 * rng.standard_normal((n, classes))
        labels = np.array([rng.choice(classes, p=p) for p in _softmax(true_logits)])
        logits = true_logits * scale  # over- (scale > 1) or under-confident (< 1) scores
        got = _float(
            _call(fit_temperature, logits.copy(), labels.copy(), when=f"for {classes} classes")
        )
        best = _best_temperature(logits, labels)
        kind = "over" if scale > 1 else "under"
        if not math.isfinite(got) or got <= 0:
            raise _Wrong(f"the temperature must be a positive number, got {got}")
        if abs(got / best - 1) <= 0.02:
            fitted.append(f"{got:.2f}")
            continue
        if abs(got * best - 1) <= 0.02 * best * best:
            raise _Wrong(
                f"for {kind}-confident logits your T is the reciprocal of the best one: the "
                "logits are divided by T"
            )
        if math.isclose(got, 1.0):
            raise _Wrong(
                f"for {kind}-confident logits T = 1, but the NLL is lower at a T "
                f"{'below' if best < 1 else 'above'} 1: was it fitted, and did the search "
                "reach that side of 1?"
            )
        gap = _nll(logits, labels, got) - _nll(logits, labels, best)
        raise _Wrong(
            f"for {kind}-confident logits ({classes} classes) a "
            f"{'smaller' if got > best else 'larger'} T lowers the validation NLL further "
            f"(yours is {gap:.2g} nats above the best)"
        )
    return (
        f"T = {fitted[0]} for over-confident and {fitted[1]} for under-confident logits, "
        "each within 2% of the NLL minimum"
    )


#: 05.3: a short fine-tuning run (steps of a batch of training sentences, the course's learning
#: rate), the validation sentences compared, and where the change can be largest.
FT_STEPS, FT_BATCH, FT_LR, FT_SENTENCES = 12, 16, 5e-5, 16
CHANGE_CHOICES = ("bottom", "middle", "top")


@functools.cache
def _before_after() -> tuple[Any, Any, Any, str]:
    """The course's encoder before and after a short seeded fine-tuning run (mean-pooled
    features, a linear head, AdamW), both in eval mode: (before, after, tokenizer, name)."""
    import copy

    import torch

    tokenizer, model, name = _encoder(attentions=False)  # no weights needed: the fast kernel
    with contextlib.redirect_stdout(io.StringIO()):
        from course_utils.core.data import load_rotten_tomatoes

        train = load_rotten_tomatoes()["train"].shuffle(seed=0)
    after = copy.deepcopy(model).train()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        head = torch.nn.Linear(model.config.hidden_size, 2)
        optimizer = torch.optim.AdamW([*after.parameters(), *head.parameters()], lr=FT_LR)
        for step in range(FT_STEPS):
            rows = train[step * FT_BATCH : (step + 1) * FT_BATCH]
            batch = tokenizer(
                rows["text"], padding=True, truncation=True, max_length=48, return_tensors="pt"
            )
            hidden = after(**batch).last_hidden_state
            mask = batch["attention_mask"][..., None].float()
            logits = head((hidden * mask).sum(1) / mask.sum(1))
            loss = torch.nn.functional.cross_entropy(logits, torch.tensor(rows["label"]))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return model.eval(), after.eval(), tokenizer, name


@functools.cache
def _similarities() -> dict[str, np.ndarray]:
    """Per hidden state: cosine of the sentence vectors before and after fine-tuning (mean
    vectors; and the [CLS] vectors and the dot products, typical mistakes)."""
    import torch

    before, after, tokenizer, _ = _before_after()
    sentences = _sentences("validation")[:FT_SENTENCES]
    rows: dict[str, list[np.ndarray]] = {"mean": [], "cls": [], "dot": []}
    for sentence in sentences:
        enc = tokenizer(sentence, return_tensors="pt")
        with torch.inference_mode():
            a = torch.stack(before(**enc, output_hidden_states=True).hidden_states)[:, 0].double()
            b = torch.stack(after(**enc, output_hidden_states=True).hidden_states)[:, 0].double()
        cos = torch.nn.functional.cosine_similarity
        rows["mean"].append(cos(a.mean(1), b.mean(1), dim=-1).numpy())
        rows["cls"].append(cos(a[:, 0], b[:, 0], dim=-1).numpy())
        rows["dot"].append((a.mean(1) * b.mean(1)).sum(-1).numpy())
    return {k: np.mean(v, axis=0) for k, v in rows.items()}


@_experiment(
    "05.3", "What does fine-tuning change, layer by layer?", 2, "layer_similarity", CHANGE_CHOICES
)
def check_layer_similarity(layer_similarity: Callable[..., Any], prediction: str) -> str:
    """Exercise 05.3: ``layer_similarity(before, after, tokenizer, sentences)`` gives, for every
    hidden state (0 = embeddings ... L), the mean over the sentences of the cosine between a
    sentence's mean vector in the model before and after fine-tuning. The check fine-tunes a
    copy of the course's encoder for 12 steps, compares, and says where the vectors changed
    most (lowest similarity) against the learner's prediction."""
    before, after, tokenizer, name = _course(_before_after)
    sentences = list(_course(lambda: _sentences("validation"))[:FT_SENTENCES])
    got = _array(_call(layer_similarity, before, after, tokenizer, sentences)).ravel()
    depth = before.config.num_hidden_layers + 1
    if got.shape != (depth,):
        raise _Wrong(
            f"your result has shape {got.shape}; expected one number per hidden state, "
            f"({depth},) (the embeddings and {depth - 1} layers)"
        )
    ref = _similarities()
    if not np.allclose(got, ref["mean"], atol=1e-5):
        why = _match(
            got,
            {
                "it compares the [CLS] vectors; the task is each sentence's mean vector": ref[
                    "cls"
                ],
                "you returned how much the vectors changed (1 - cosine); the task is their "
                "cosine similarity": 1 - ref["mean"],
                "it compares dot products; cosine divides by both lengths": ref["dot"],
            },
            lambda a, b: np.allclose(a, b, atol=1e-5),
        )
        raise _Wrong(why or "your similarities differ from the mean cosine per layer")
    lowest = int(np.argmin(got))
    outcome = CHANGE_CHOICES[min(3 * lowest // depth, 2)]
    frozen = (
        " With the encoder frozen (section 2) every layer stays at exactly 1: only the head learns"
    )
    why = {
        "top": "with AdamW each weight moves by about the same small step whatever its gradient, "
        "and each layer's output carries the changes of every layer below it, so the drift adds "
        f"up towards the top (layer 0: {got[0]:.3f}, the top: {got[-1]:.3f}).",
        "middle": "the middle layers' outputs moved most in this short run; the top ones less, "
        "so the later layers undid part of the change.",
        "bottom": "the embeddings and first layers moved most in this short run, more than the "
        "layers above them carried on.",
    }[outcome] + frozen
    return (
        f"your similarities match the reference on {len(sentences)} validation sentences, "
        f"{short_name(name)} before and after {FT_STEPS} fine-tuning steps on {DATA}: "
        + ", ".join(f"{v:.3f}" for v in got)
        + f" (layers 0-{depth - 1}). The vectors change most at layer {lowest}, the {outcome}. "
        f"{_held(prediction, outcome)}. Why: {why}"
    )
