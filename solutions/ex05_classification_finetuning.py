"""Reference solutions of notebook 05's exercises (05_classification_finetuning), as a learner
fills in the starter cells. Run ``python solutions/ex05_classification_finetuning.py`` to check
them all."""

import numpy as np
import torch
from scipy.optimize import minimize_scalar

from course_utils import exercises

#: exercise id -> (check function, the function the learner writes)
EXERCISES = {
    "05.1": ("check_precision_recall_f1", "precision_recall_f1"),
    "05.2": ("check_expected_calibration_error", "expected_calibration_error"),
    "05.4": ("check_fit_temperature", "fit_temperature"),
    "05.3": ("check_layer_similarity", "layer_similarity"),
}

#: The predictions of the predict-first exercises, written before running them.
PREDICTIONS = {"05.3": "top"}


# --- 05.1 -----------------------------------------------------------------------------------
def precision_recall_f1(labels: np.ndarray, probs: np.ndarray) -> tuple[float, float, float]:
    """Precision, recall and F1 of the positive class, predicting positive where probs >= 0.5."""
    pred = probs >= 0.5
    tp = np.sum(pred & (labels == 1))
    precision = tp / pred.sum()
    recall = tp / (labels == 1).sum()
    return precision, recall, 2 * precision * recall / (precision + recall)


# --- 05.2 -----------------------------------------------------------------------------------
def expected_calibration_error(labels: np.ndarray, probs: np.ndarray, n_bins: int) -> float:
    """ECE over n_bins equal-width bins of P(positive), each bin weighted by its size."""
    bins = np.minimum((probs * n_bins).astype(int), n_bins - 1)
    ece = 0.0
    for b in range(n_bins):
        inside = bins == b
        if inside.any():
            gap = abs(labels[inside].mean() - probs[inside].mean())
            ece += inside.mean() * gap
    return ece


# --- 05.4 -----------------------------------------------------------------------------------
def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """The T > 0 minimising the mean NLL of softmax(logits / T) on these examples."""

    def nll(log_t: float) -> float:
        z = logits / np.exp(log_t)
        z = z - z.max(1, keepdims=True)
        log_probs = z - np.log(np.exp(z).sum(1, keepdims=True))
        return -log_probs[np.arange(len(labels)), labels].mean()

    best = minimize_scalar(nll, bounds=(-4, 4), method="bounded")  # T in [0.02, 55]
    return float(np.exp(best.x))


# --- 05.3 -----------------------------------------------------------------------------------
def layer_similarity(before, after, tokenizer, sentences: list[str]) -> np.ndarray:
    """Per hidden state 0..L: mean over sentences of cos(mean vector before, after)."""
    sims = []
    for sentence in sentences:
        enc = tokenizer(sentence, return_tensors="pt")  # one sentence: no padding
        with torch.inference_mode():
            a = torch.stack(before(**enc, output_hidden_states=True).hidden_states)[:, 0]
            b = torch.stack(after(**enc, output_hidden_states=True).hidden_states)[:, 0]
        sims.append(torch.cosine_similarity(a.mean(1), b.mean(1), dim=-1))  # (L + 1,)
    return torch.stack(sims).mean(0).numpy()


if __name__ == "__main__":
    verdicts = exercises.verify_all(globals(), EXERCISES)
    raise SystemExit(0 if all(verdicts.values()) else 1)
