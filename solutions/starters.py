"""The exercises' starter cells and task texts, as the notebooks show them.

``solutions/insert_cells.py`` writes these into each notebook's "Exercises" section (one
markdown cell per task, one code cell per starter); ``tests/test_exercises.py`` checks that
every starter, left as it is, says "not done" and that the notebooks' cells equal these
sources. The reference solutions next to this file fill in the same functions.

``TASKS[id]``: the task's markdown (heading with title and difficulty, then the task);
``STARTERS[id]``: the code cell. A starter imports what it needs, defines the function to fill
in (``# YOUR CODE HERE``, ``return None``) and ends with the check call.
"""

from __future__ import annotations

from course_utils.exercises import NOTEBOOKS  # notebook number -> name, defined once there

__all__ = ["NOTEBOOKS", "STARTERS", "TASKS", "by_notebook", "intro", "solutions_file"]


def solutions_file(notebook: str) -> str:
    """The reference solutions of a notebook, relative to the repository root."""
    return f"solutions/ex{notebook}.py"


def intro(notebook: str) -> str:
    """The markdown of the "## Exercises" cell of ``notebook``."""
    return (
        "## Exercises\n"
        "\n"
        "Each exercise below comes with a code cell: write your code where it says "
        "`# YOUR CODE HERE` (replacing `return None`) and run the cell. Its last line checks "
        "your function on small inputs it makes itself and says whether it is right and, if "
        'not, why; until you fill it in, it says "not done yet". The cells need nothing '
        "else from this notebook. Difficulty rises from ★ to ★★★. Reference solutions are "
        f"in the course repository, in `{solutions_file(notebook)}`: try first!"
    )


TASKS: dict[str, str] = {
    # --- 00 · LLMs at a glance -------------------------------------------------------------
    "00.1": """### Exercise 00.1 · Semantic search: top-k by cosine similarity ★

Section 5.2 finds sentences by meaning: the rows of an embedding matrix that point the same way
as the query. Write `top_k_cosine(query, matrix, k)`: `query` is a NumPy vector `(d,)`, `matrix`
an array `(n, d)`; return the indices (a list or array of `k` ints) of the `k` rows with the
highest **cosine similarity** to `query`, most similar first. The rows do not have unit length.""",
    "00.2": """### Exercise 00.2 · Softmax with a temperature ★★

Section 5.3 divides the decoder's scores by a temperature before the softmax. Write
`softmax_with_temperature(logits, temperature)`: `logits` is a NumPy vector, `temperature > 0`;
return the probabilities `softmax(logits / temperature)` (same shape, adding up to 1). It must
also work for logits in the thousands, where a plain `exp` overflows.""",
    "00.3": """### Exercise 00.3 · A bigram language model with add-one smoothing ★★★

Before neural networks, a language model counted word pairs: $P(w_t \\mid w_{t-1})$. Write
`bigram_log_prob(corpus, sentence)`: `corpus` is a list of sentences, each a list of words;
`sentence` is a list of words that all occur in the corpus. Wrap every sentence (of the corpus
and the one scored) as `["<s>", *words, "</s>"]`. With add-one (Laplace) smoothing,

$$P(w \\mid v) = \\frac{c(v, w) + 1}{c(v) + V},$$

where $c(v, w)$ counts how often `w` follows `v` in the corpus, $c(v)$ how many word pairs start
with `v`, and $V$ is the number of distinct tokens that can follow a word: every distinct word
of the corpus plus `"</s>"` (not `"<s>"`). Return the **natural** log of the sentence's
probability, the sum of $\\log P(w \\mid v)$ over its pairs (from `<s>` to `</s>`).""",
    # --- 01 · Attention from scratch -------------------------------------------------------
    "01.1": """### Exercise 01.1 · A causal mask ★

Write `causal_mask(T)`: a boolean tensor of shape `(T, T)` that is `True` where query `i` may
attend to key `j`, that is where `j <= i` (PyTorch's `attn_mask` convention of section 4: `True`
= allowed).""",
    "01.2": """### Exercise 01.2 · Causal self-attention ★★

Write `causal_attention(q, k, v)` from scratch (no `F.scaled_dot_product_attention`): `q` and
`k` have shape `(..., T, d)`, `v` has shape `(..., T, d_v)` (any leading batch and head
dimensions); return `softmax(q kᵀ / √d)` with the future masked out, times `v`, shape
`(..., T, d_v)`. The check compares it with `F.scaled_dot_product_attention(q, k, v,
is_causal=True)`.""",
    "01.3": """### Exercise 01.3 · Sinusoidal positional encoding ★★

Write `sinusoidal_encoding(num_positions, dim)` (`dim` even): the `(num_positions, dim)` tensor
with `PE[pos, 2i] = sin(pos / 10000^(2i/dim))` and `PE[pos, 2i+1] = cos(pos / 10000^(2i/dim))`,
positions counted from 0 (section 5). Once it is right, the check adds it to random token
vectors and shows that shuffling the tokens now changes attention's outputs.""",
    "01.4": """### Exercise 01.4 · Causal attention in chunks, with an online softmax ★★★

Section 8's `online_softmax_attention` visits the keys a chunk at a time. Write
`online_causal_attention(q, k, v, chunk)` for one head: `q`, `k` of shape `(T, E)`, `v` of shape
`(T, E_v)`; walk over the keys `chunk` at a time, keeping for every query the running maximum,
the running sum of `exp(score - max)` and the running weighted sum of values, and apply the
**causal** mask inside each chunk (key `j` is visible to query `i` only if `j <= i`). Return the
`(T, E_v)` output, equal to causal attention for every chunk size (a chunk that lies wholly in
a query's future adds nothing for it).""",
    # --- 02 · Attention views and the decoder ----------------------------------------------
    "02.1": """### Exercise 02.1 · Find the previous-token heads ★

Section 3 ranks heads by how much each token attends to the token before it. Write
`previous_token_share(attn)`: `attn` is a NumPy array `(layers, heads, n, n)` of attention
weights (row = query, column = key); return a `(layers, heads)` array: for each head, the mean
over the queries `i = 1 … n-1` of the weight from token `i` to token `i - 1`.""",
    "02.2": """### Exercise 02.2 · Perplexity from next-token logits ★★

Write `perplexity(logits, targets)`: `logits` is a tensor `(T, V)`, row `t` the model's scores
for the token at position `t`, and `targets` the `(T,)` ids of the tokens that actually came.
Return the perplexity, `exp` of the mean cross-entropy (natural log) of the targets under
`softmax(logits)`, as a number. For equal logits it is the vocabulary size.""",
    "02.3": """### Exercise 02.3 · Top-p (nucleus) sampling with a temperature ★★★

Write `sample_top_p(logits, top_p, temperature, generator)`: `logits` is a tensor `(V,)`.
Divide the logits by `temperature`, take the softmax, keep the **smallest set of most likely
tokens whose probabilities add up to at least `top_p`** (the token that carries the total past
`top_p` is kept; at least one token always is), renormalise, and draw one token id with
`torch.multinomial(..., generator=generator)`. Return it as an `int`. The check draws 2,000
tokens at each of three settings and compares the frequencies with what they should be.""",
    # --- 03 · Contextual embeddings --------------------------------------------------------
    "03.1": """### Exercise 03.1 · Mean pooling with a padding mask ★

A sentence embedding is the mean of its token vectors over the **real** tokens (section
"Sentence embeddings at scale"). Write `mean_pool(hidden, attention_mask)`: `hidden` is a tensor
`(B, T, D)`, `attention_mask` a `(B, T)` tensor of 1 (real token) and 0 (`[PAD]`); return the
`(B, D)` sentence vectors. The model's vectors at `[PAD]` positions are not zero.""",
    "03.2": """### Exercise 03.2 · Do the senses separate? ★★

Section "Static vs contextual" compares the vectors of one word in sentences of two senses.
Write `sense_gap(vectors, senses)`: `vectors` is a NumPy array `(n, d)` (rows of unequal
lengths), `senses` a list of `n` sense names. Return the mean **cosine** similarity over the
pairs of *different* vectors with the same sense (a vector with itself left out) minus the mean
over the pairs with different senses, as a number.""",
    "03.3": """### Exercise 03.3 · How many neighbours does a 2-D map keep? ★★★

The reduction table's "k-NN kept" column. Write `knn_kept(x, y, k)`: `x` `(n, d)` and `y`
`(n, 2)` are the same `n` points before and after a reduction. For each point, find its `k`
nearest neighbours (Euclidean distance, **the point itself excluded**) in `x` and in `y`; return
the mean over the points of the share of its `x`-neighbours that are also among its
`y`-neighbours (a number between 0 and 1). `sklearn.neighbors.NearestNeighbors` may help.""",
    # --- 04 · BERTopic ----------------------------------------------------------------------
    "04.1": """### Exercise 04.1 · Count topics and outliers ★

Write `topic_summary(topics)`: `topics` is a list of topic ids, one per document, `-1` for the
outliers. Return a pair `(number of topics, outlier share)`: the number of distinct topics,
`-1` not counted (ids may skip numbers), and the fraction of documents in `-1`.""",
    "04.2": """### Exercise 04.2 · c-TF-IDF for two tiny clusters ★★

BERTopic names a topic with c-TF-IDF: each cluster is one long document. Write
`class_tfidf(counts, labels)`: `counts` is a NumPy array `(n_docs, V)` of word counts, `labels`
`(n_docs,)` the cluster of each document (`-1` = outlier, left out entirely). Return an array
`(n_clusters, V)`, one row per cluster in increasing id order, with

$$\\text{c-TF-IDF}(t, c) = \\text{tf}(t, c) \\cdot \\log\\left(1 + \\frac{A}{f(t)}\\right),$$

where $\\text{tf}(t, c)$ is word `t`'s count in cluster `c` divided by the cluster's total number
of words, $f(t)$ the count of `t` over all clusters, and $A$ the average number of words per
cluster.""",
    "04.3": """### Exercise 04.3 · Reassign outliers to the nearest topic ★★★

The "embeddings" strategy of `reduce_outliers`. Write `reassign_outliers(embeddings, topics,
threshold)`: `embeddings` is a NumPy array `(n, d)`, `topics` an `(n,)` array of topic ids (`-1` =
outlier). Each topic's centroid is the mean of its members' embeddings (outliers left out). Move
each outlier to the topic whose centroid has the highest **cosine** similarity to it, if that
similarity is at least `threshold`; otherwise it stays `-1`. Documents already in a topic never
move. Return the new `(n,)` array of topic ids.""",
    # --- 05 · Classification ------------------------------------------------------------------
    "05.1": """### Exercise 05.1 · Precision, recall and F1 at a threshold ★

Write `precision_recall_f1(labels, probs)`: `labels` is a NumPy array of 0/1, `probs` the
predicted P(positive). Predict positive where `probs >= 0.5`; return the triple `(precision,
recall, f1)` of the positive class, without scikit-learn.""",
    "05.2": """### Exercise 05.2 · Expected calibration error ★★

The reliability diagram of section C, as one number. Write
`expected_calibration_error(labels, probs, n_bins)`: split [0, 1] into `n_bins` equal-width bins
of P(positive) (a probability `p` falls in bin `min(floor(p * n_bins), n_bins - 1)`, so 1.0 is
in the last bin); for each non-empty bin, take |share of positives − mean probability| and
weight it by the bin's share of all examples; return the sum.""",
    "05.3": """### Exercise 05.3 · Temperature scaling on validation logits ★★★

A classifier can rank well and still be over-confident. Temperature scaling divides its logits
by one number `T` fitted on the validation split. Write `fit_temperature(logits, labels)`:
`logits` is a NumPy array `(n, C)`, `labels` the `(n,)` true classes; return the `T > 0` that
minimises the mean negative log-likelihood of `softmax(logits / T)` (within 2%; a fine grid
search or `scipy.optimize.minimize_scalar` both do). It must work for over-confident (`T > 1`)
and under-confident (`T < 1`) logits.""",
}

STARTERS: dict[str, str] = {
    "00.1": '''from course_utils import exercises
import numpy as np


def top_k_cosine(query: np.ndarray, matrix: np.ndarray, k: int):
    """Indices of the k rows of matrix most cosine-similar to query, most similar first."""
    # YOUR CODE HERE
    return None


exercises.check_top_k_cosine(top_k_cosine)''',
    "00.2": '''from course_utils import exercises
import numpy as np


def softmax_with_temperature(logits: np.ndarray, temperature: float) -> np.ndarray:
    """softmax(logits / temperature), also for very large logits."""
    # YOUR CODE HERE
    return None


exercises.check_softmax_with_temperature(softmax_with_temperature)''',
    "00.3": '''from course_utils import exercises


def bigram_log_prob(corpus: list[list[str]], sentence: list[str]) -> float:
    """Natural log of P(sentence) under an add-one-smoothed bigram model of corpus."""
    # YOUR CODE HERE
    return None


exercises.check_bigram_log_prob(bigram_log_prob)''',
    "01.1": '''from course_utils import exercises
import torch


def causal_mask(T: int) -> torch.Tensor:
    """(T, T) bool tensor: True where query i may attend to key j."""
    # YOUR CODE HERE
    return None


exercises.check_causal_mask(causal_mask)''',
    "01.2": '''from course_utils import exercises
import torch


def causal_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """softmax(q kᵀ / √d, future masked) v, for q, k (..., T, d) and v (..., T, d_v)."""
    # YOUR CODE HERE
    return None


exercises.check_causal_attention(causal_attention)''',
    "01.3": '''from course_utils import exercises
import torch


def sinusoidal_encoding(num_positions: int, dim: int) -> torch.Tensor:
    """The (num_positions, dim) sinusoidal table of Vaswani et al. (2017)."""
    # YOUR CODE HERE
    return None


exercises.check_sinusoidal_encoding(sinusoidal_encoding)''',
    "01.4": '''from course_utils import exercises
import torch


def online_causal_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
                            chunk: int) -> torch.Tensor:
    """Causal attention of one head, visiting the keys `chunk` at a time."""
    # YOUR CODE HERE
    return None


exercises.check_online_causal_attention(online_causal_attention)''',
    "02.1": '''from course_utils import exercises
import numpy as np


def previous_token_share(attn: np.ndarray) -> np.ndarray:
    """(layers, heads, n, n) -> (layers, heads): mean weight from token i to token i - 1."""
    # YOUR CODE HERE
    return None


exercises.check_previous_token_share(previous_token_share)''',
    "02.2": '''from course_utils import exercises
import torch


def perplexity(logits: torch.Tensor, targets: torch.Tensor) -> float:
    """exp(mean cross-entropy) of the targets (T,) under softmax(logits (T, V))."""
    # YOUR CODE HERE
    return None


exercises.check_perplexity(perplexity)''',
    "02.3": '''from course_utils import exercises
import torch


def sample_top_p(logits: torch.Tensor, top_p: float, temperature: float,
                 generator: torch.Generator) -> int:
    """One token id drawn from the top-p nucleus of softmax(logits / temperature)."""
    # YOUR CODE HERE
    return None


exercises.check_sample_top_p(sample_top_p)''',
    "03.1": '''from course_utils import exercises
import torch


def mean_pool(hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """(B, T, D) token vectors, (B, T) mask of 1/0 -> (B, D) means over the real tokens."""
    # YOUR CODE HERE
    return None


exercises.check_mean_pool(mean_pool)''',
    "03.2": '''from course_utils import exercises
import numpy as np


def sense_gap(vectors: np.ndarray, senses: list[str]) -> float:
    """Mean cosine similarity within a sense (self-pairs left out) minus across senses."""
    # YOUR CODE HERE
    return None


exercises.check_sense_gap(sense_gap)''',
    "03.3": '''from course_utils import exercises
import numpy as np


def knn_kept(x: np.ndarray, y: np.ndarray, k: int) -> float:
    """Mean share of each point's k nearest neighbours in x (itself excluded) kept in y."""
    # YOUR CODE HERE
    return None


exercises.check_knn_kept(knn_kept)''',
    "04.1": '''from course_utils import exercises


def topic_summary(topics: list[int]) -> tuple[int, float]:
    """(number of topics, -1 not counted; share of documents in topic -1)."""
    # YOUR CODE HERE
    return None


exercises.check_topic_summary(topic_summary)''',
    "04.2": '''from course_utils import exercises
import numpy as np


def class_tfidf(counts: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """(n_docs, V) counts, (n_docs,) clusters (-1 left out) -> (n_clusters, V) c-TF-IDF."""
    # YOUR CODE HERE
    return None


exercises.check_class_tfidf(class_tfidf)''',
    "04.3": '''from course_utils import exercises
import numpy as np


def reassign_outliers(embeddings: np.ndarray, topics: np.ndarray,
                      threshold: float) -> np.ndarray:
    """Move each outlier (-1) to the most cosine-similar topic centroid if >= threshold."""
    # YOUR CODE HERE
    return None


exercises.check_reassign_outliers(reassign_outliers)''',
    "05.1": '''from course_utils import exercises
import numpy as np


def precision_recall_f1(labels: np.ndarray, probs: np.ndarray) -> tuple[float, float, float]:
    """Precision, recall and F1 of the positive class, predicting positive where probs >= 0.5."""
    # YOUR CODE HERE
    return None


exercises.check_precision_recall_f1(precision_recall_f1)''',
    "05.2": '''from course_utils import exercises
import numpy as np


def expected_calibration_error(labels: np.ndarray, probs: np.ndarray, n_bins: int) -> float:
    """ECE over n_bins equal-width bins of P(positive), each bin weighted by its size."""
    # YOUR CODE HERE
    return None


exercises.check_expected_calibration_error(expected_calibration_error)''',
    "05.3": '''from course_utils import exercises
import numpy as np


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """The T > 0 minimising the mean NLL of softmax(logits / T) on these examples."""
    # YOUR CODE HERE
    return None


exercises.check_fit_temperature(fit_temperature)''',
}


def by_notebook(number: str) -> list[str]:
    """The exercise ids of notebook ``number`` (``"01"``), in order."""
    return [i for i in STARTERS if i.split(".")[0] == number]
