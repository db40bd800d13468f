"""Reference solutions of notebook 01's exercises (01_attention_from_scratch), as a learner
fills in the starter cells. Run ``python solutions/ex01_attention_from_scratch.py`` to check
them all."""

import math

import numpy as np
import torch

from course_utils import exercises

#: exercise id -> (check function, the function the learner writes)
EXERCISES = {
    "01.1": ("check_positional_agreement", "positional_agreement"),
    "01.2": ("check_causal_attention", "causal_attention"),
    "01.3": ("check_sinusoidal_encoding", "sinusoidal_encoding"),
    "01.4": ("check_online_causal_attention", "online_causal_attention"),
}


#: The predictions of the predict-first exercises, written before running them.
PREDICTIONS = {"01.1": "early"}


# --- 01.1 -----------------------------------------------------------------------------------
def positional_agreement(model, ids: list[int], shuffled_ids: list[int]) -> np.ndarray:
    """Per layer: mean over heads and query rows of 1 - TV(row on ids, same row shuffled)."""
    with torch.inference_mode():
        plain = model(torch.tensor([ids]), output_attentions=True).attentions
        shuffled = model(torch.tensor([shuffled_ids]), output_attentions=True).attentions
    a = torch.stack([layer[0] for layer in plain])  # (layers, heads, T, T)
    b = torch.stack([layer[0] for layer in shuffled])
    tv = 0.5 * (a - b).abs().sum(-1)  # (layers, heads, T): each query row's distance
    return (1 - tv).mean((1, 2)).numpy()


# --- 01.2 -----------------------------------------------------------------------------------
def causal_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """softmax(q kᵀ / √d, future masked) v, for q, k (..., T, d) and v (..., T, d_v)."""
    T, d = q.size(-2), q.size(-1)
    scores = q @ k.transpose(-2, -1) / math.sqrt(d)
    allowed = torch.ones(T, T, dtype=torch.bool).tril()
    scores = scores.masked_fill(~allowed, -math.inf)
    return torch.softmax(scores, dim=-1) @ v


# --- 01.3 -----------------------------------------------------------------------------------
def sinusoidal_encoding(num_positions: int, dim: int) -> torch.Tensor:
    """The (num_positions, dim) sinusoidal table of Vaswani et al. (2017)."""
    pos = torch.arange(num_positions, dtype=torch.float64)[:, None]
    two_i = torch.arange(0, dim, 2, dtype=torch.float64)
    angle = pos / 10000 ** (two_i / dim)  # (P, dim/2)
    table = torch.empty(num_positions, dim, dtype=torch.float64)
    table[:, 0::2] = torch.sin(angle)
    table[:, 1::2] = torch.cos(angle)
    return table.float()


# --- 01.4 -----------------------------------------------------------------------------------
def online_causal_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
                            chunk: int) -> torch.Tensor:  # fmt: skip
    """Causal attention of one head, visiting the keys `chunk` at a time."""
    T = q.size(0)
    m = torch.full((T, 1), -math.inf)  # running max of each row's scores
    denom = torch.zeros(T, 1)  # running sum of exp(score - m)
    acc = torch.zeros(T, v.size(1))  # running sum of exp(score - m) * value
    query_pos = torch.arange(T)[:, None]
    for j in range(0, T, chunk):
        s = q @ k[j : j + chunk].T / math.sqrt(q.size(1))  # (T, chunk)
        key_pos = torch.arange(j, j + s.size(1))[None, :]
        s = s.masked_fill(key_pos > query_pos, -math.inf)
        # key 0 is in the first chunk and visible to every query, so m is finite from then
        # on; a chunk wholly in a query's future gives exp(-inf) = 0 for it
        m_new = torch.maximum(m, s.max(-1, keepdim=True).values)
        p = torch.exp(s - m_new)
        rescale = torch.exp(m - m_new)  # shrink what was summed under the old maximum
        denom = denom * rescale + p.sum(-1, keepdim=True)
        acc = acc * rescale + p @ v[j : j + chunk]
        m = m_new
    return acc / denom


if __name__ == "__main__":
    verdicts = exercises.verify_all(globals(), EXERCISES)
    raise SystemExit(0 if all(verdicts.values()) else 1)
