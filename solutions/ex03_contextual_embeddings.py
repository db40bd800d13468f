"""Reference solutions of notebook 03's exercises (03_contextual_embeddings), as a learner fills
in the starter cells. Run ``python solutions/ex03_contextual_embeddings.py`` to check them all."""

import numpy as np
import torch
from sklearn.neighbors import NearestNeighbors

from course_utils import exercises
from course_utils.embeddings.static import find_word

#: exercise id -> (check function, the function the learner writes)
EXERCISES = {
    "03.1": ("check_mean_pool", "mean_pool"),
    "03.2": ("check_sense_gap", "sense_gap"),
    "03.3": ("check_knn_kept", "knn_kept"),
    "03.4": ("check_sense_gap_by_layer", "sense_gap_by_layer"),
}

#: The predictions of the predict-first exercises, written before running them.
PREDICTIONS = {"03.4": "last"}


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


# --- 03.4 -----------------------------------------------------------------------------------
WORD = "pitch"
SENTENCES = [
    "The players ran onto the pitch before the match.",
    "Rain had turned the football pitch into mud.",
    "The groundsman rolled the cricket pitch flat.",
    "She sang the note at a perfect pitch.",
    "The violin was tuned to a higher pitch.",
    "His voice rose in pitch when he was nervous.",
]
SENSES = ["field", "field", "field", "sound", "sound", "sound"]


def sense_gap_by_layer(model, tokenizer, word: str, sentences: list[str], senses: list[str]):
    """Per hidden state 0..L: mean cosine of the word's vectors within a sense minus across."""
    vectors = []  # per sentence: (L + 1, d), the word's tokens averaged at every layer
    for sentence in sentences:
        start, end = find_word(sentence, word)
        enc = tokenizer(sentence, return_offsets_mapping=True, return_tensors="pt")
        offsets = enc.pop("offset_mapping")[0].tolist()
        rows = [i for i, (a, b) in enumerate(offsets) if b > a and a < end and b > start]
        with torch.inference_mode():
            states = torch.stack(model(**enc, output_hidden_states=True).hidden_states)[:, 0]
        vectors.append(states[:, rows].mean(1))
    v = torch.nn.functional.normalize(torch.stack(vectors, 1).double(), dim=-1)  # (L+1, n, d)
    sims = (v @ v.transpose(1, 2)).numpy()  # (L+1, n, n) cosines
    s = np.asarray(senses)
    same = s[:, None] == s[None, :]
    within = same & ~np.eye(len(s), dtype=bool)  # a vector with itself does not count
    return np.array([sim[within].mean() - sim[~same].mean() for sim in sims])


if __name__ == "__main__":
    verdicts = exercises.verify_all(globals(), EXERCISES)
    raise SystemExit(0 if all(verdicts.values()) else 1)
