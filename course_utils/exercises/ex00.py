"""Exercises of 00_llm_overview: 00.1 top-k cosine, 00.2 softmax temperature, 00.3 search by
meaning or by words (real model), 00.4 bigram LM."""

from __future__ import annotations

import contextlib
import functools
import io
import math
import re
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

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
    _NotDone,
    _sentences,
    _shape,
    _softmax,
    _Wrong,
)

DATA = "Rotten Tomatoes"


@_exercise("00.1", "Semantic search: top-k by cosine similarity", 1, "top_k_cosine")
def check_top_k_cosine(top_k_cosine: Callable[..., Any]) -> str:
    """Exercise 00.1: ``top_k_cosine(query, matrix, k)`` returns the indices of the ``k`` rows
    of ``matrix`` most cosine-similar to ``query``, most similar first."""
    rng = np.random.default_rng(0)
    matrix = rng.standard_normal((40, 8)) * rng.uniform(0.1, 10.0, size=(40, 1))
    norms = np.linalg.norm(matrix, axis=1)
    for case, k in enumerate((1, 3, 5, 8)):
        query = rng.standard_normal(8) * (0.5 + case)
        got_raw = _call(top_k_cosine, query.copy(), matrix.copy(), k, when=f"for k={k}")
        got = [int(i) for i in np.asarray(_array(got_raw)).ravel()]
        cos = matrix @ query / (norms * np.linalg.norm(query))
        expected = np.argsort(-cos, kind="stable")[:k].tolist()
        if got == expected:
            continue
        if len(got) != k:
            raise _Wrong(f"asked for k={k} rows, your function returned {len(got)} indices")
        why = _match(
            got,
            {
                "it ranks by the raw dot product, so long vectors win whatever their "
                "direction; cosine similarity divides by both lengths": np.argsort(
                    -(matrix @ query), kind="stable"
                )[:k].tolist(),
                "it returns the least similar rows; the most similar come first": np.argsort(
                    cos, kind="stable"
                )[:k].tolist(),
                "it ranks by Euclidean distance, which also depends on the vectors' "
                "lengths": np.argsort(np.linalg.norm(matrix - query, axis=1), kind="stable")[
                    :k
                ].tolist(),
            },
            lambda a, b: a == b,
        )
        if why:
            raise _Wrong(f"for k={k}, {why}")
        if sorted(got) == sorted(expected):
            raise _Wrong(f"for k={k} you found the right rows but not in order: most similar first")
        raise _Wrong(f"for k={k} your rows are not the {k} most cosine-similar to the query")
    return "the right rows, in order, for k = 1, 3, 5 and 8 on 40 vectors of very different lengths"


@_exercise("00.2", "Softmax with a temperature", 2, "softmax_with_temperature")
def check_softmax_with_temperature(softmax_with_temperature: Callable[..., Any]) -> str:
    """Exercise 00.2: ``softmax_with_temperature(logits, temperature)`` returns
    ``softmax(logits / temperature)``, also for logits in the thousands."""
    rng = np.random.default_rng(1)
    ordinary = rng.standard_normal(7) * 3
    huge = np.array([1000.0, 998.0, 990.0, 0.0, -5.0])
    cases = [(ordinary, t) for t in (1.0, 0.5, 2.0, 10.0)] + [(huge, 1.0), (huge, 0.5)]
    for logits, t in cases:
        label = "logits in the thousands" if logits is huge else "ordinary logits"
        got = _array(_call(softmax_with_temperature, logits.copy(), t, when=f"at T={t}"))
        _shape(got, logits.shape, "your result")
        if not np.isfinite(got).all():
            if logits is huge:
                raise _Wrong(
                    f"NaN or inf for {label}: exp() of a number that large overflows; softmax "
                    "does not change when the same number is subtracted from every logit"
                )
            raise _Wrong(f"your probabilities contain NaN or inf at T={t}")
        expected = _softmax(logits / t)
        if np.allclose(got, expected, rtol=1e-6, atol=1e-9):
            continue
        why = _match(
            got,
            {
                "it multiplies the logits by the temperature; a temperature divides them "
                "(above 1 it flattens the distribution)": _softmax(logits * t),
                "it ignores the temperature": _softmax(logits),
                "it returns log-probabilities": np.log(np.maximum(expected, 1e-300)),
            },
            lambda a, b: np.allclose(a, b, rtol=1e-6, atol=1e-9),
        )
        if why:
            raise _Wrong(f"at T={t}, {why}")
        if not math.isclose(float(got.sum()), 1.0, abs_tol=1e-6):
            raise _Wrong(f"at T={t} your probabilities add up to {got.sum():.4g}, not 1")
        raise _Wrong(f"at T={t} your probabilities differ from softmax(logits / T) ({label})")
    return "softmax(logits / T) for T = 0.5, 1, 2 and 10, and no overflow for logits near 1000"


def _bigram_log_prob(
    corpus: Sequence[Sequence[str]],
    sentence: Sequence[str],
    *,
    bos: bool = True,
    eos: bool = True,
    extra_v: int = 0,
    by_total: bool = False,
    smooth: bool = True,
    log: Callable[[float], float] = math.log,
) -> float:
    """The reference add-one bigram model (and, through its options, typical mistakes)."""

    def wrap(words: Sequence[str]) -> list[str]:
        return (["<s>"] if bos else []) + list(words) + (["</s>"] if eos else [])

    pairs: Counter[tuple[str, str]] = Counter()
    starts: Counter[str] = Counter()
    for words in corpus:
        w = wrap(words)
        for a, b in zip(w, w[1:], strict=False):
            pairs[a, b] += 1
            starts[a] += 1
    v = len({w for words in corpus for w in words} | ({"</s>"} if eos else set())) + extra_v
    total = sum(len(wrap(words)) for words in corpus)
    w = wrap(sentence)
    if not smooth:
        probs = [
            pairs[a, b] / starts[a] if starts[a] else 0.0 for a, b in zip(w, w[1:], strict=False)
        ]
        return sum(log(p) if p > 0 else -math.inf for p in probs)
    return sum(
        log((pairs[a, b] + 1) / ((total if by_total else starts[a]) + v))
        for a, b in zip(w, w[1:], strict=False)
    )


def _bigram_cases() -> list[tuple[list[list[str]], list[str]]]:
    rng = np.random.default_rng(2)
    words = ["the", "film", "is", "good", "bad", "not", "very", "plot", "dull"]
    cases = [
        (
            [["the", "film", "is", "good"], ["the", "plot", "is", "bad"]],
            ["the", "film", "is", "bad"],
        )
    ]
    for n in (6, 9):
        corpus = [
            [str(w) for w in rng.choice(words, size=int(rng.integers(2, 6)))] for _ in range(n)
        ]
        seen = sorted({w for s in corpus for w in s})
        cases.append((corpus, list(corpus[0])))
        cases.append((corpus, [str(w) for w in rng.choice(seen, size=4)][::-1]))
    return cases


@_exercise("00.4", "A bigram language model with add-one smoothing", 3, "bigram_log_prob")
def check_bigram_log_prob(bigram_log_prob: Callable[..., Any]) -> str:
    """Exercise 00.4: ``bigram_log_prob(corpus, sentence)`` is the natural log of the
    sentence's probability under an add-one-smoothed bigram model of ``corpus``."""
    for corpus, sentence in _bigram_cases():
        unseen = any(
            (a, b) not in {p for s in corpus for p in zip(["<s>", *s], [*s, "</s>"], strict=True)}
            for a, b in zip(["<s>", *sentence], [*sentence, "</s>"], strict=True)
        )
        note = " (the sentence has a word pair the corpus never has)" if unseen else ""
        copy = [list(s) for s in corpus]
        got = _float(_call(bigram_log_prob, copy, list(sentence), when=f"on {sentence}{note}"))
        expected = _bigram_log_prob(corpus, sentence)
        if math.isclose(got, expected, rel_tol=1e-7, abs_tol=1e-9):
            continue
        if math.isinf(got) or math.isnan(got):
            raise _Wrong(
                f"log-probability {got} for {sentence}{note}: a pair never seen gets probability "
                "0 unless every count is smoothed"
            )
        why = _match(
            got,
            {
                "the counts are not smoothed: add-one smoothing adds 1 to every pair's count "
                "(and V to its denominator)": _bigram_log_prob(corpus, sentence, smooth=False),
                "your model has no </s>: the sentence's end is part of its probability": (
                    _bigram_log_prob(corpus, sentence, eos=False)
                ),
                "your model has no <s>: the first word is predicted from the sentence "
                "start": _bigram_log_prob(corpus, sentence, bos=False),
                "your vocabulary size also counts <s>, which is never predicted": (
                    _bigram_log_prob(corpus, sentence, extra_v=1)
                ),
                "your vocabulary size leaves out </s>, which can be predicted": (
                    _bigram_log_prob(corpus, sentence, extra_v=-1)
                ),
                "each denominator is the corpus's token count; P(w | v) divides by how "
                "often v is followed by anything": _bigram_log_prob(
                    corpus, sentence, by_total=True
                ),
                "the logarithm is base 10; use the natural log": _bigram_log_prob(
                    corpus, sentence, log=math.log10
                ),
                "the logarithm is base 2; use the natural log": _bigram_log_prob(
                    corpus, sentence, log=math.log2
                ),
                "this is the probability, not its logarithm": math.exp(expected),
            },
            lambda a, b: math.isclose(a, b, rel_tol=1e-7, abs_tol=1e-12),
        )
        if why:
            raise _Wrong(f"on {sentence}: {why}")
        raise _Wrong(
            f"wrong log-probability for {sentence}{note} (yours is "
            f"{'higher' if got > expected else 'lower'} than the model's)"
        )
    return "the smoothed log-probability of 5 sentences over 3 corpora, unseen word pairs included"


#: 00.3: how many results the two searches return, and the queries the check first tries.
SEARCH_K = 10
SEARCH_CHOICES = ("meaning", "words", "tie")
_CHECK_QUERIES = (
    "a funny and touching film about a family",
    "The actors are GREAT, the plot isn't",
)


def _content_words(text: str) -> set[str]:
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return {w for w in re.findall(r"[a-z0-9']+", text.lower()) if w not in ENGLISH_STOP_WORDS}


def _word_search(query: str, texts: Sequence[str], k: int, **mistake: bool) -> list[int]:
    """The reference word search (and, with ``mistake``, its typical mistakes)."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    def words(text: str) -> list[str]:
        found = re.findall(r"[a-z0-9']+", text if mistake.get("case") else text.lower())
        if mistake.get("stop_words"):
            return found
        return [w for w in found if w not in ENGLISH_STOP_WORDS]

    wanted = set(words(query))
    if mistake.get("repeats"):
        scores = [sum(w in wanted for w in words(t)) for t in texts]
    else:
        scores = [len(wanted & set(words(t))) for t in texts]
    order = np.argsort(-np.asarray(scores), kind="stable")
    if mistake.get("reversed_ties"):
        order = np.lexsort((-np.arange(len(texts)), -np.asarray(scores)))
    return [int(i) for i in order[:k]]


@functools.cache
def _meaning_index() -> tuple[Any, Any, Any, tuple[str, ...], str]:
    """The notebook's semantic search on the test sentences: (index, model, tokenizer, texts,
    model name); the embeddings come from the course's cache after the first run."""
    from course_utils.embeddings.retrieval import SemanticIndex
    from course_utils.embeddings.sentence import encode

    tokenizer, model, name = _encoder()
    texts = _sentences("test")
    with contextlib.redirect_stdout(io.StringIO()):
        vectors = encode(list(texts), model, tokenizer, pooling="mean", progress=False)
    return SemanticIndex(vectors, texts), model, tokenizer, texts, name


@_experiment(
    "00.3",
    "Search by meaning or by words?",
    2,
    "word_search",
    SEARCH_CHOICES,
    inputs=("QUESTION", "PARAPHRASE"),
)
def check_word_search(
    word_search: Callable[..., Any], prediction: str, question: Any = None, paraphrase: Any = None
) -> str:
    """Exercise 00.3: ``word_search(query, texts, k)`` ranks sentences by how many distinct
    content words (not stop words, lower case) they share with the query, ties in corpus order;
    then the check runs both searches, the notebook's by meaning and the learner's by words, on
    the learner's ``QUESTION`` and ``PARAPHRASE`` and counts how many of the 10 results each
    keeps when the question is paraphrased."""
    if not all(isinstance(q, str) and q.strip() for q in (question, paraphrase)):
        raise _NotDone(
            "write your own search QUESTION about films and a PARAPHRASE of it in other words"
        )
    if not _content_words(question) or not _content_words(paraphrase):
        raise _Wrong("QUESTION and PARAPHRASE need words that are not stop words ('the', 'is')")
    index, model, tokenizer, texts, name = _course(_meaning_index)
    for query in (*_CHECK_QUERIES, question):
        where = f"for {query!r}"
        got = [
            int(i)
            for i in np.asarray(
                _array(_call(word_search, query, list(texts), SEARCH_K, when=where))
            ).ravel()
        ]
        expected = _word_search(query, texts, SEARCH_K)
        if got == expected:
            continue
        if len(got) != SEARCH_K:
            raise _Wrong(f"{where} you returned {len(got)} indices; expected k = {SEARCH_K}")
        variants = {
            "it counts every occurrence of a query word; count each distinct word once, so a "
            "sentence that repeats one word does not beat one that shares two": {"repeats": True},
            "the stop words ('the', 'a', 'is', ...) are counted; they match almost every "
            "sentence and drown the words that carry the meaning": {"stop_words": True},
            "upper and lower case are told apart; 'Great' and 'great' are one word": {"case": True},
            "equal scores come out in reverse order; keep the corpus order (a stable sort)": {
                "reversed_ties": True
            },
        }
        for why, mistake in variants.items():
            if got == _word_search(query, texts, SEARCH_K, **mistake):
                raise _Wrong(f"{where}, {why}")
        raise _Wrong(f"{where} your ranking differs from the count of shared content words")

    def meaning(query: str) -> list[int]:
        vector = encode_query(query)
        return [texts.index(hit.text) for hit in index.search(vector, SEARCH_K)[0]]

    def encode_query(query: str) -> np.ndarray:
        from course_utils.embeddings.sentence import encode

        return encode([query], model, tokenizer, pooling="mean", cache=False, progress=False)

    def found_by_words(query: str) -> set[int]:
        """The word search's results that share at least one content word with the query."""
        wanted = _content_words(query)
        hits = _word_search(query, texts, SEARCH_K)
        return {i for i in hits if wanted & _content_words(texts[i])}

    kept_meaning = len(set(meaning(question)) & set(meaning(paraphrase)))
    kept_words = len(found_by_words(question) & found_by_words(paraphrase))
    q, r = (v[0] / np.linalg.norm(v[0]) for v in map(encode_query, (question, paraphrase)))
    closeness = float(q @ r)
    outcome = (
        "meaning" if kept_meaning > kept_words else "words" if kept_words > kept_meaning else "tie"
    )
    shared = sorted(_content_words(question) & _content_words(paraphrase))
    why = {
        "meaning": f"the embeddings of your question and its paraphrase have cosine "
        f"{closeness:.2f}, so they find many of the same sentences; word search sees only the "
        "words, and the paraphrase changed them",
        "words": f"your two queries share content words ({', '.join(shared)}) and word search "
        "leans on them; try a paraphrase that shares none"
        if shared
        else f"the embeddings of your two queries have cosine {closeness:.2f} only: the model "
        "reads them as asking for different things; try a closer paraphrase",
        "tie": f"both searches kept as many (the two queries' embeddings have cosine "
        f"{closeness:.2f}); a paraphrase with fewer words in common, or a question the reviews "
        "answer more often, tells them apart",
    }[outcome]
    return (
        f"your word search matches the reference on 3 queries. Of the {SEARCH_K} test sentences "
        f"each search finds for your question, the paraphrase keeps {kept_meaning} by meaning "
        f"({short_name(name)}, {DATA}) and {kept_words} by words (counting only sentences that "
        f"share a word with the query): {outcome}. "
        f"{_held(prediction, outcome)}. Why: {why}"
    )
