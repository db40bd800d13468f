"""Exercises of 03_contextual_embeddings: 03.1 mean pooling, 03.2 sense gap, 03.3 k-NN kept."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from ._core import _allclose, _call, _exercise, _float, _match, _shape, _tensor, _Wrong


@_exercise("03.1", "Mean pooling with a padding mask", 1, "mean_pool")
def check_mean_pool(mean_pool: Callable[..., Any]) -> str:
    """Exercise 03.1: ``mean_pool(hidden, attention_mask)`` averages each sentence's token
    vectors over its real tokens only."""
    gen = torch.Generator().manual_seed(8)
    hidden = torch.randn(3, 6, 5, generator=gen)
    mask = torch.tensor([[1, 1, 1, 1, 1, 1], [1, 1, 1, 0, 0, 0], [1, 0, 0, 0, 0, 0]])
    hidden[mask == 0] = 50.0  # what a model leaves at [PAD] positions is not zero
    got = _tensor(_call(mean_pool, hidden.clone(), mask.clone()))
    _shape(got, (3, 5), "your sentence vectors")
    m = mask[..., None].double()
    h = hidden.double()
    expected = (h * m).sum(1) / m.sum(1)
    if torch.allclose(got.double(), expected, atol=1e-5):
        return (
            "the mean over real tokens only, for sentences of 6, 3 and 1 real tokens with padding"
        )
    why = _match(
        got,
        {
            "the [PAD] positions are averaged in too": h.mean(1),
            "the sum over real tokens is divided by the padded length, not by the number of "
            "real tokens": (h * m).sum(1) / h.size(1),
            "the real tokens are summed but not averaged": (h * m).sum(1),
            "that is the first ([CLS]) token, not the mean": h[:, 0],
        },
        _allclose(1e-5, 1e-5),
    )
    raise _Wrong(why or "your vectors are not the mean of each sentence's real tokens")


def _sense_gap(
    vectors: np.ndarray, senses: Sequence[str], *, cosine: bool = True, diagonal: bool = False
) -> float:
    x = vectors / np.linalg.norm(vectors, axis=1, keepdims=True) if cosine else vectors
    sim = x @ x.T
    labels = np.asarray(senses)
    same = labels[:, None] == labels[None, :]
    within = same if diagonal else same & ~np.eye(len(labels), dtype=bool)
    return float(sim[within].mean() - sim[~same].mean())


@_exercise("03.2", "Do the senses separate?", 2, "sense_gap")
def check_sense_gap(sense_gap: Callable[..., Any]) -> str:
    """Exercise 03.2: ``sense_gap(vectors, senses)`` is the mean cosine similarity of pairs
    with the same sense (a vector with itself left out) minus that of pairs with different
    senses."""
    rng = np.random.default_rng(9)
    for n_senses, per in ((2, 4), (3, 3)):
        centres = rng.standard_normal((n_senses, 6))
        names = ["river", "money", "sport"][:n_senses]
        senses = [names[i] for i in range(n_senses) for _ in range(per)]
        vectors = np.repeat(centres, per, axis=0) + 0.8 * rng.standard_normal((n_senses * per, 6))
        vectors *= rng.uniform(0.3, 5.0, size=(len(vectors), 1))  # norms differ, as in real models
        order = rng.permutation(len(senses))
        vectors, senses = vectors[order], [senses[i] for i in order]
        got = _float(_call(sense_gap, vectors.copy(), list(senses), when=f"for {n_senses} senses"))
        expected = _sense_gap(vectors, senses)
        if math.isclose(got, expected, rel_tol=1e-6, abs_tol=1e-9):
            continue
        why = _match(
            got,
            {
                "each vector's similarity with itself (always 1) is counted within its sense": (
                    _sense_gap(vectors, senses, diagonal=True)
                ),
                "it compares raw dot products; cosine similarity divides by both lengths": (
                    _sense_gap(vectors, senses, cosine=False)
                ),
                "it is across minus within; the gap is within minus across": -expected,
            },
            lambda a, b: math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-9),
        )
        raise _Wrong(
            why
            or f"your gap differs from within- minus across-sense similarity ({n_senses} senses)"
        )
    return (
        "within- minus across-sense cosine similarity, 2 and 3 senses, vectors of unequal lengths"
    )


@_exercise("03.3", "How many neighbours does a 2-D map keep?", 3, "knn_kept")
def check_knn_kept(knn_kept: Callable[..., Any]) -> str:
    """Exercise 03.3: ``knn_kept(x, y, k)``: the mean share of each point's ``k`` nearest
    neighbours in ``x`` (itself excluded) that are among its ``k`` nearest in ``y``."""
    from sklearn.neighbors import NearestNeighbors

    from course_utils.reduction import knn_preservation

    rng = np.random.default_rng(10)
    x = rng.standard_normal((80, 10))
    y = x @ rng.standard_normal((10, 2)) + 0.3 * rng.standard_normal((80, 2))
    for k in (5, 10):
        got = _float(_call(knn_kept, x.copy(), y.copy(), k, when=f"for k={k}"))
        expected = knn_preservation(x, y, k)
        if math.isclose(got, expected, abs_tol=1e-9):
            continue

        def kept(nx: np.ndarray, ny: np.ndarray) -> float:
            return float(np.mean([len(np.intersect1d(a, b)) for a, b in zip(nx, ny, strict=True)]))

        with_self = [
            NearestNeighbors(n_neighbors=k).fit(z).kneighbors(z, return_distance=False)
            for z in (x, y)
        ]
        cos = [
            NearestNeighbors(n_neighbors=k, metric="cosine")
            .fit(z)
            .kneighbors(return_distance=False)
            for z in (x, y)
        ]
        why = _match(
            got,
            {
                "each point counts as its own neighbour (kneighbors(x) on the fitted x returns "
                "the point itself first), so every neighbourhood keeps one for free": kept(
                    *with_self
                )
                / k,
                "this is the mean number of neighbours kept; the task asks for the share of k": (
                    expected * k
                ),
                "the neighbours are by cosine distance; the task uses Euclidean distance": kept(
                    *cos
                )
                / k,
            },
            lambda a, b: math.isclose(a, b, abs_tol=1e-9),
        )
        raise _Wrong(
            why or f"your share for k={k} is {'too high' if got > expected else 'too low'}"
        )
    return "the share of k-NN kept (itself excluded, Euclidean) for k = 5 and 10 on 80 points"
