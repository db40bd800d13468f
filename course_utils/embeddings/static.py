"""Static word vectors (word2vec, an encoder's input-embedding table) vs contextual ones.

Taught in notebook 03, section "Static vs contextual": a static embedding gives a word one
vector whatever the sentence; a contextual one (a hidden state of the encoder) changes with
the sentence, so the senses of "bank" or "cold" fall apart. Everything here returns NumPy
float32 arrays; similarities are cosine similarities.
"""

from __future__ import annotations

import csv
import hashlib
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from course_utils.core.devices import model_device
from course_utils.core.paths import package_file

POLYSEMY_FILE = ("resources", "polysemy_sentences.csv")  # inside the package: paths.package_file
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")


def tokenize_words(text: str) -> list[str]:
    """Lower-case word tokens: ``"It's a cold-hearted film."`` -> ``["it's", "a", "cold", ...]``."""
    return _WORD.findall(text.lower())


def stable_hash(text: str) -> int:
    """A 32-bit hash that, unlike ``hash``, does not change with ``PYTHONHASHSEED``.

    gensim seeds each word's initial vector with ``hashfxn(word + str(seed))``; with this
    function word2vec training is reproducible in any process (with ``workers=1``).
    """
    return int.from_bytes(hashlib.md5(text.encode("utf-8")).digest()[:4], "little")


def train_word2vec(
    sentences: Iterable[str],
    *,
    vector_size: int = 100,
    window: int = 5,
    min_count: int = 2,
    epochs: int = 15,
    seed: int = 42,
) -> Any:
    """Train skip-gram word2vec (gensim) on raw sentences; returns its ``KeyedVectors``.

    Sentences are split with :func:`tokenize_words`. One worker thread and
    :func:`stable_hash` make the vectors identical run to run (gensim's multi-threaded
    training is not deterministic). Vectors have ``vector_size`` dimensions.
    """
    from gensim.models import Word2Vec

    corpus = [tokenize_words(s) for s in sentences]
    corpus = [words for words in corpus if words]
    if not corpus:
        raise ValueError("train_word2vec() needs at least one sentence with words.")
    model = Word2Vec(
        corpus,
        vector_size=vector_size,
        window=window,
        min_count=min_count,
        sg=1,
        epochs=epochs,
        seed=seed,
        workers=1,
        hashfxn=stable_hash,
    )
    return model.wv


def word_pieces(word: str, tokenizer: Any) -> list[int]:
    """The ids of the sub-word pieces a tokenizer cuts ``word`` into (no special tokens)."""
    ids = tokenizer(word, add_special_tokens=False)["input_ids"]
    if not ids:
        raise ValueError(f"The tokenizer turns {word!r} into no tokens.")
    return list(ids)


def input_embedding(word: str, tokenizer: Any, model: torch.nn.Module) -> np.ndarray:
    """A word's static vector in an encoder: its rows of the input-embedding table, averaged.

    Shape ``(hidden_size,)``. The table is what the model looks a token id up in before any
    attention layer, so it is the same vector in every sentence.
    """
    table = model.get_input_embeddings().weight  # (vocab, hidden)
    with torch.no_grad():
        return table[word_pieces(word, tokenizer)].mean(0).float().cpu().numpy()


def find_word(sentence: str, word: str) -> tuple[int, int]:
    """Character span ``(start, end)`` of the first whole-word, case-insensitive ``word``.

    ``find_word("The batter's bat.", "bat")`` is ``(13, 16)``: "batter" does not count.
    """
    match = re.search(rf"(?<![\w']){re.escape(word)}(?![\w])", sentence, flags=re.IGNORECASE)
    if match is None:
        raise ValueError(f"{word!r} does not occur as a whole word in {sentence!r}.")
    return match.span()


@torch.inference_mode()
def contextual_vectors(
    sentences: Sequence[str],
    word: str,
    tokenizer: Any,
    model: torch.nn.Module,
    *,
    layer: int = -1,
) -> np.ndarray:
    """Hidden state of ``word`` in each sentence: shape ``(len(sentences), hidden_size)``.

    The word's first whole-word occurrence is located by characters (:func:`find_word`) and
    mapped to its sub-word tokens through the fast tokenizer's offsets; their vectors at
    ``layer`` (``0`` = embedding layer, ``-1`` = last) are averaged.
    """
    if isinstance(sentences, str):
        raise TypeError("contextual_vectors() takes a list of sentences, not one string.")
    if not sentences:
        raise ValueError("contextual_vectors() got no sentences.")
    device = model_device(model)
    out = []
    for sentence in sentences:
        start, end = find_word(sentence, word)
        enc = tokenizer(sentence, return_offsets_mapping=True, return_tensors="pt")
        offsets = enc.pop("offset_mapping")[0]  # (seq, 2) character spans; (0, 0) = special
        rows = [i for i, (a, b) in enumerate(offsets.tolist()) if b > a and a < end and b > start]
        hidden = model(**enc.to(device), output_hidden_states=True).hidden_states[layer][0]
        out.append(hidden[rows].mean(0).float().cpu().numpy())
    return np.stack(out)


def cosine_matrix(vectors: np.ndarray) -> np.ndarray:
    """Pairwise cosine similarities of the rows of ``vectors`` ``(n, d)``: shape ``(n, n)``."""
    vectors = np.asarray(vectors, dtype=np.float64)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    if np.any(norms == 0):
        raise ValueError("cosine_matrix() got a zero vector.")
    unit = vectors / norms
    return unit @ unit.T


def sense_similarity(sim: np.ndarray, senses: Sequence[str]) -> tuple[float, float]:
    """Mean cosine similarity within a sense and across senses, from an ``(n, n)`` matrix.

    The diagonal (a vector with itself) is left out. Contextual vectors that separate
    senses have within > across; a static vector has both equal to 1.
    """
    senses = np.asarray(senses)
    if sim.shape != (len(senses), len(senses)):
        raise ValueError(f"similarity matrix {sim.shape} does not match {len(senses)} senses.")
    same = senses[:, None] == senses[None, :]
    off_diagonal = ~np.eye(len(senses), dtype=bool)
    within, across = same & off_diagonal, ~same
    if not within.any() or not across.any():
        raise ValueError("sense_similarity() needs at least two senses with two sentences each.")
    return float(sim[within].mean()), float(sim[across].mean())


def load_polysemy_sentences(path: str | Path | None = None) -> list[dict[str, str]]:
    """Rows ``{"word", "sense", "sentence"}`` of the course's polysemy sentences.

    ``path`` defaults to the table shipped inside the package (``resources/``).
    """
    path = package_file(*POLYSEMY_FILE) if path is None else path
    with Path(path).open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    for i, row in enumerate(rows, 2):
        find_word(row["sentence"], row["word"])  # every sentence must hold its word
        if not row["sense"]:
            raise ValueError(f"{path}:{i}: empty sense.")
    return rows
