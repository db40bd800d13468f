"""Reference solutions of notebook 03's exercises (03_contextual_embeddings), as a learner fills
in the starter cells. Run ``python solutions/ex03_contextual_embeddings.py`` to check them all."""

import numpy as np
import torch
from sklearn.neighbors import NearestNeighbors

from course_utils import exercises

#: exercise id -> (check function, the function the learner writes)
EXERCISES = {
    "03.1": ("check_mean_pool", "mean_pool"),
    "03.2": ("check_sense_gap", "sense_gap"),
    "03.3": ("check_knn_kept", "knn_kept"),
}


# --- 03.1 -----------------------------------------------------------------------------------
def mean_pool(hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """(B, T, D) token vectors, (B, T) mask of 1/0 -> (B, D) means over the real tokens."""
    mask = attention_mask.unsqueeze(-1).to(hidden.dtype)  # (B, T, 1)
    return (hidden * mask).sum(1) / mask.sum(1)


# --- 03.2 -----------------------------------------------------------------------------------
def sense_gap(vectors: np.ndarray, senses: list[str]) -> float:
    """Mean cosine similarity within a sense (self-pairs left out) minus across senses."""
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    sim = unit @ unit.T
    senses = np.asarray(senses)
    same = senses[:, None] == senses[None, :]
    within = same & ~np.eye(len(senses), dtype=bool)
    return float(sim[within].mean() - sim[~same].mean())


# --- 03.3 -----------------------------------------------------------------------------------
def knn_kept(x: np.ndarray, y: np.ndarray, k: int) -> float:
    """Mean share of each point's k nearest neighbours in x (itself excluded) kept in y."""
    # kneighbors() without arguments leaves each point out of its own neighbours
    near_x = NearestNeighbors(n_neighbors=k).fit(x).kneighbors(return_distance=False)
    near_y = NearestNeighbors(n_neighbors=k).fit(y).kneighbors(return_distance=False)
    shares = [len(set(a) & set(b)) / k for a, b in zip(near_x, near_y, strict=True)]
    return float(np.mean(shares))


if __name__ == "__main__":
    verdicts = exercises.verify_all(globals(), EXERCISES)
    raise SystemExit(0 if all(verdicts.values()) else 1)
