"""Exercises of 03_contextual_embeddings: 03.1 mean pooling, 03.2 sense gap, 03.3 k-NN kept,
03.4 where a word's senses separate (real model)."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from course_utils.core.models import short_name

from ._core import (
    _allclose,
    _array,
    _call,
    _course,
    _encoder,
    _exercise,
    _experiment,
    _float,
    _held,
    _match,
    _NotDone,
    _shape,
    _tensor,
    _Wrong,
)


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

    from course_utils.embeddings.reduction import knn_preservation

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


#: 03.4: where the gap can peak (thirds of the hidden states 0..L) and the fewest sentences.
DEPTH_CHOICES = ("first", "middle", "last")
MIN_PER_SENSE = 3


def _gap(vectors: np.ndarray, senses: Sequence[Any], *, diagonal: bool = False, dot: bool = False):
    v = np.asarray(vectors, dtype=np.float64)
    if not dot:
        v = v / np.linalg.norm(v, axis=1, keepdims=True)
    sim, s = v @ v.T, np.asarray(senses)
    same = s[:, None] == s[None, :]
    within = same if diagonal else same & ~np.eye(len(s), dtype=bool)
    return float(sim[within].mean() - sim[~same].mean())


@torch.inference_mode()
def _layer_vectors(model: Any, tokenizer: Any, word: str, sentences: Sequence[str]):
    """Per sentence and hidden layer: the word's vector (mean of its tokens) and the sentence's
    mean vector; shapes ``(layers + 1, n, d)`` each."""
    from course_utils.embeddings.static import find_word

    words, means = [], []
    for sentence in sentences:
        start, end = find_word(sentence, word)
        enc = tokenizer(sentence, return_offsets_mapping=True, return_tensors="pt")
        offsets = enc.pop("offset_mapping")[0].tolist()
        rows = [i for i, (a, b) in enumerate(offsets) if b > a and a < end and b > start]
        states = torch.stack(model(**enc, output_hidden_states=True).hidden_states)[:, 0]
        words.append(states[:, rows].mean(1).double().numpy())
        means.append(states.mean(1).double().numpy())
    return np.stack(words, 1), np.stack(means, 1)


def _sense_examples(word: Any, sentences: Any, senses: Any) -> tuple[str, list[str], list[Any]]:
    from course_utils.embeddings.static import find_word

    if not isinstance(word, str) or not word.strip() or not sentences:
        raise _NotDone(
            f"write a WORD with two senses, at least {MIN_PER_SENSE} SENTENCES in each sense, "
            "and their SENSES (one label per sentence)"
        )
    sentences, senses = list(sentences), list(senses or [])
    if len(senses) != len(sentences):
        raise _Wrong(f"SENSES has {len(senses)} labels for {len(sentences)} SENTENCES")
    counts = {s: senses.count(s) for s in senses}
    if len(counts) != 2 or min(counts.values()) < MIN_PER_SENSE:
        raise _Wrong(
            f"SENSES must hold exactly two senses, each with at least {MIN_PER_SENSE} sentences; "
            f"yours: {counts}"
        )
    for n, sentence in enumerate(sentences):
        try:
            find_word(sentence, word)
        except ValueError:
            raise _Wrong(f"SENTENCES[{n}] does not contain {word!r} as a whole word") from None
    return word, sentences, senses


@_experiment(
    "03.4",
    "Where do a word's senses separate?",
    3,
    "sense_gap_by_layer",
    DEPTH_CHOICES,
    inputs=("WORD", "SENTENCES", "SENSES"),
)
def check_sense_gap_by_layer(
    sense_gap_by_layer: Callable[..., Any],
    prediction: str,
    word: Any = None,
    sentences: Any = None,
    senses: Any = None,
) -> str:
    """Exercise 03.4: ``sense_gap_by_layer(model, tokenizer, word, sentences, senses)`` gives,
    for every hidden state (0 = the embedding layer ... L = the last layer), the mean cosine
    between the word's vectors within a sense minus across senses; checked on the course's
    "bank" sentences and on the learner's own word, then the layer where the learner's gap
    peaks is compared with the prediction."""
    from course_utils.embeddings.static import load_polysemy_sentences

    word, sentences, senses = _sense_examples(word, sentences, senses)
    tokenizer, model, name = _course(_encoder)
    bank = [row for row in load_polysemy_sentences() if row["word"] == "bank"]
    cases = (
        ("bank", [r["sentence"] for r in bank], [r["sense"] for r in bank], "the course's bank"),
        (word, sentences, senses, f"your {word!r}"),
    )
    depth = model.config.num_hidden_layers + 1
    for w, texts, labels, where in cases:
        got = _array(_call(sense_gap_by_layer, model, tokenizer, w, list(texts), list(labels)))
        _shape(got, (depth,), f"your gaps for {where} (one per hidden state, 0 to L)")
        words, means = _layer_vectors(model, tokenizer, w, texts)
        expected = np.array([_gap(v, labels) for v in words])
        if np.allclose(got, expected, atol=1e-4):
            continue
        why = _match(
            got,
            {
                "a vector's similarity with itself (1) counts in 'within a sense'; leave the "
                "diagonal out": [_gap(v, labels, diagonal=True) for v in words],
                "it compares the sentences' mean vectors; the task is the word's own vector, "
                "the hidden states of its tokens": [_gap(v, labels) for v in means],
                "it compares dot products; cosine divides by both lengths, and the lengths grow "
                "from layer to layer": [_gap(v, labels, dot=True) for v in words],
            },
            _allclose(1e-4, 1e-4),
        )
        raise _Wrong(f"for {where}, {why}" if why else f"your gaps for {where} differ")
    best = int(np.argmax(got))
    outcome = DEPTH_CHOICES[min(3 * best // depth, 2)]
    start = (
        f"at the embedding layer the gap is {got[0]:.2f}: the word has one vector in every "
        "sentence there (only its position differs); each layer mixes in more of the context"
    )
    why = (
        start
        + {
            "first": ", yet for your word the first layers already tell the senses apart most",
            "middle": ", and your word's senses are furthest apart in the middle layers, "
            "less so at the top",
            "last": ", and your word's senses are furthest apart in the last layers",
        }[outcome]
    )
    return (
        f"your gaps match the reference for the course's 'bank' and for {word!r} "
        f"({short_name(name)}). For {word!r}: "
        + ", ".join(f"{g:.2f}" for g in got)
        + f" (layers 0-{depth - 1}); the largest is at layer {best}, the {outcome} third. "
        f"{_held(prediction, outcome)}. Why: {why}"
    )
