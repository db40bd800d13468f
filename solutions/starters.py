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
        "your function and says whether it is right and, if not, why; until you fill it in, it "
        'says "not done yet". Most checks try your function on small inputs they make '
        "themselves. The exercises with a **Predict** step run it on the course's "
        "real model, with the course's data or sentences you write (under a minute on a CPU; "
        "the first one also loads the model): write your own inputs where the task asks for "
        "them, then your prediction into `prediction`, before you write the function; the "
        "check tells you whether the prediction held and why. The cells need nothing else "
        "from this notebook. Difficulty "
        "rises from ★ to ★★★. Reference solutions are "
        f"in the course repository, in `{solutions_file(notebook)}`: try first!"
    )


TASKS: dict[str, str] = {
    "00.3": """### Exercise 00.3 · Search by meaning or by words? ★★

Section 5.2 searched by meaning: a paraphrase found its original sentence. How does a search by
**words** compare? Write your own search and put both to the test.

1. Write your own `QUESTION`, a search for film reviews (for example "a slow, boring thriller"),
   and a `PARAPHRASE` that asks for the same thing in other words, sharing as few words with it
   as you can.
2. **Predict** first: when the question is swapped for its paraphrase, which search keeps more
   of its 10 results, the search by meaning (the notebook's embeddings) or by words? Set
   `prediction` to `"meaning"`, `"words"` or `"tie"`.
3. Write `word_search(query, texts, k)`: split the query and every text into lower-case words
   (`WORD.findall(text.lower())`, defined in the cell), leave out the English stop words
   (`STOP_WORDS`), score each text by the number of **distinct**
   query words it contains, and return the indices of the `k` best texts, highest score first,
   equal scores in the order of `texts`.

The check compares your search with its own on three queries, then runs both searches on the
1,066 test sentences for your question and your paraphrase. A search **keeps** a result when a
sentence it finds for `QUESTION` is also among those it finds for `PARAPHRASE` (for the word
search, only sentences sharing at least one word with the query count as found).""",
    "03.4": """### Exercise 03.4 · Where do a word's senses separate? ★★★

The sense table measured the last layer. Does the model tell the senses apart from the start,
or does it take all its layers? Pick a word of your own with two senses (not one of the four of
the table) and follow it through the layers.

1. Set `WORD`, at least 3 `SENTENCES` for each of its two senses (the word once in each, as a
   whole word) and `SENSES`, one label per sentence.
2. **Predict** first: in which third of the hidden states (0 = the embedding layer, the last =
   the output; for MiniLM's 7: first = 0-2, middle = 3-4, last = 5-6) is the gap between
   "within a sense" and "across senses" largest? Set `prediction` to `"first"`, `"middle"` or
   `"last"`.
3. Write `sense_gap_by_layer(model, tokenizer, word, sentences, senses)`: run the model once per
   sentence with `output_hidden_states=True`; in every hidden state take the word's vector,
   the mean over its tokens (the tokens whose `offset_mapping` overlaps the word's characters,
   which `find_word` from `course_utils.embeddings.static` gives; pop `offset_mapping` from the
   encoding before calling the model); then per hidden state compute the mean cosine
   similarity over all pairs of different sentences with the same sense (both senses pooled)
   minus the mean over all pairs across senses. Return a NumPy array with one gap per hidden
   state. Write it yourself, without the package's `contextual_vectors` and
   `sense_similarity`.

The check compares your gaps with its own for the course's "bank" and for your word, then tells
you where your word's senses separate most.""",
    "04.3": """### Exercise 04.3 · Outliers: predict, then move the lever ★★

The outlier share depends on HDBSCAN's two levers. `min_cluster_size` is the smallest group
that counts as a topic; `min_samples` is how many close neighbours a sentence needs to count as
lying in a dense region.

1. **Predict** first: at `min_cluster_size=25`, raising `min_samples` from 5 to 25 makes the
   share of outliers go `"up"`, `"down"` or stay the `"same"` (within half a percentage point)?
   Set `prediction`.
2. Write `outlier_shares(reduced, settings)`: `reduced` is a UMAP map `(n, 5)` of sentence
   embeddings, `settings` a list of `(min_cluster_size, min_samples)` pairs. For each pair, fit
   `HDBSCAN(min_cluster_size=..., min_samples=..., metric="euclidean",
   cluster_selection_method="eom")` (`from hdbscan import HDBSCAN`) on `reduced`; return the
   list of the shares of sentences labelled `-1`, numbers between 0 and 1. A `min_samples` of
   `None` is HDBSCAN's default (equal to `min_cluster_size`): pass it on as it is.

The check reduces the 1,066 test sentences as BERTopic does, runs your function, compares it
with its own and tells you whether your prediction held, and why.""",
    "05.3": """### Exercise 05.3 · What does fine-tuning change, layer by layer? ★★

Section 2 froze the encoder: none of its layers changed. Fine-tuning lets every layer change,
but which change most?

1. **Predict** first: after a short fine-tuning run, in which part of the encoder have the
   layers' outputs, the sentence vectors, moved most: the `"bottom"` (for MiniLM's 7 hidden
   states 0-2, the embeddings and first layers), the `"middle"` (3-4) or the `"top"` (5-6)?
   Set `prediction`.
2. Write `layer_similarity(before, after, tokenizer, sentences)`: `before` is the pretrained
   encoder, `after` a copy fine-tuned for a few steps. For every sentence (one at a time, so
   no padding), run both with `output_hidden_states=True` and, in every hidden state, compare
   the sentence's mean vector (the mean over all its tokens, `[CLS]` and `[SEP]` included) in
   `before` and in `after` by cosine
   similarity. Return a NumPy array with one number per hidden state, the mean over the
   sentences (1 = unchanged).

The check fine-tunes a copy of the course's encoder for 12 steps, runs your function on 16
validation sentences, compares it with its own and tells you where the vectors changed most.""",
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
    "00.4": """### Exercise 00.4 · A bigram language model with add-one smoothing ★★★

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
    "01.1": """### Exercise 01.1 · Which layers attend by position? ★★

Predict, then measure, on the pretrained MiniLM of section 7. A head that attends **by position**
(the previous token, `[CLS]`, ...) puts its weights on the same places whatever the words are; a
head that attends **by content** moves its weights when the words move. The check shuffles a
review's tokens (keeping `[CLS]` first and `[SEP]` last); you compare each head's attention row
by row, at the same positions: rows that stay put mean a head that ignores the words (one that
looks at a neighbour, parks on `[CLS]` or `[SEP]`, or spreads its weights evenly).

1. **Predict** first: in which third of MiniLM's 6 layers (numbered from 0: early = 0-1,
   middle = 2-3, late = 4-5) do the rows, on average over the layer's heads, stay put most? Set
   `prediction` to `"early"`, `"middle"` or `"late"`.
2. Write `positional_agreement(model, ids, shuffled_ids)`: `model` is the Hugging Face MiniLM
   (eager attention), `ids` a review's token ids and `shuffled_ids` the same tokens shuffled (two
   lists; the model wants a batch, `torch.tensor([ids])`, and returns each layer's attention as
   `(1, heads, T, T)`). Run the model on each with `output_attentions=True`; for every layer,
   head and query row `i`, take the **total variation** distance between row `i` of the two
   attention matrices, `TV = ½ Σ_j |a_ij − b_ij|` (0 = identical rows, 1 = nothing in common);
   return a NumPy array with one number per layer: the mean over heads and rows of `1 − TV`.
3. Run the cell: the check runs your function on 12 shuffled test reviews, compares it with its
   own, and tells you which layer is most positional and whether your prediction held.""",
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
    "02.1": """### Exercise 02.1 · A head for a relation you choose ★★

Section 6 found a head that links a verb to its subject, chosen on some sentences and read on
others. Now pick a relation of your own (an adjective and its noun, a pronoun and the name it
stands for, a preposition and its object, ...) and look for a head of the notebook's model that
tracks it.

1. Write at least 4 examples into `CHOOSE` and at least 2 new ones into `HELD_OUT`, each
   `(sentence, from_word, to_word)`, with both words spelled as `tokenizer.tokenize(sentence)`
   spells them and kept whole. Vary the distance between the two words (put a word or two
   between them), or a head that just looks at the next or previous token passes for your
   relation.
2. **Predict** first: will the head that scores best on `CHOOSE` still put over twice a uniform
   share of its weight on the relation in `HELD_OUT`? (The uniform share is 1 / the number of
   tokens, `[CLS]` and `[SEP]` included, averaged over `HELD_OUT`.) Set `prediction` to `"yes"`
   or `"no"`.
3. Write `link_weights(model, tokenizer, examples)`: for every example, run the model with
   `output_attentions=True`, find the two words among the tokens of the input ids (first
   occurrence; `tokenizer.convert_ids_to_tokens`) and read every head's weight from `from_word`
   (the query row `i`) to `to_word` (the key column `j`): `attentions[layer][0, head, i, j]`;
   return a NumPy array `(layers, heads)`, the mean over the examples. (Section 6 called the
   package's `av.link_scores`; write it yourself here.)

The check compares your function with its own on section 6's sentences and on yours, picks the
best head on `CHOOSE`, reads it on `HELD_OUT` and tells you whether your prediction held.""",
    "02.2": """### Exercise 02.2 · Perplexity of a padded batch ★★

Section 4 computed the loss on windows of equal length. Sentences come in different lengths, so
a batch is padded, and the padding positions carry the target `-100` (PyTorch's
`ignore_index`). Write `perplexity(logits, targets)`: `logits` is a tensor `(B, T, V)`,
`targets` a `(B, T)` tensor of token ids with `-100` where there is no token; `targets[b, t]` is
the token `logits[b, t]` should predict (already shifted: do not shift again). Return the
perplexity of the batch as a number: `exp` of the mean cross-entropy (natural log) over the
**real** target tokens, each token counting once, whatever the length of its sentence. Write it
without `F.cross_entropy` (a `log_softmax`, a `gather` and a mask).""",
    "02.3": """### Exercise 02.3 · Min-p sampling with a temperature ★★★

Top-p keeps a fixed share of the probability mass; **min-p** keeps every token that is at least
`min_p` times as likely as the most likely one, so it keeps few tokens when the model is sure
and many when it is not. Write `sample_min_p(logits, min_p, temperature, generator)`: `logits`
is a tensor `(V,)`. Divide the logits by `temperature`, take the softmax, keep the tokens whose
probability is at least `min_p` times the largest probability, renormalise, and draw one token id
with `torch.multinomial(..., generator=generator)`. Return it as an `int`. The check draws 2,000
tokens at each of three settings and compares the frequencies with what they should be.""",
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
    "04.4": """### Exercise 04.4 · Reassign outliers to the nearest topic ★★★

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
    "05.4": """### Exercise 05.4 · Temperature scaling on validation logits ★★★

A classifier can rank well and still be over-confident. Temperature scaling divides its logits
by one number `T` fitted on the validation split. Write `fit_temperature(logits, labels)`:
`logits` is a NumPy array `(n, C)`, `labels` the `(n,)` true classes; return the `T > 0` that
minimises the mean negative log-likelihood of `softmax(logits / T)` (within 2%; a fine grid
search or `scipy.optimize.minimize_scalar` both do). It must work for over-confident (`T > 1`)
and under-confident (`T < 1`) logits.""",
}

STARTERS: dict[str, str] = {
    "00.3": '''from course_utils import exercises
import re

from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

prediction = None  # "meaning", "words" or "tie": which search keeps more of its results?
QUESTION = ""  # your own search for film reviews
PARAPHRASE = ""  # the same search in other words
WORD = re.compile(r"[a-z0-9']+")  # a word: WORD.findall(text.lower())
STOP_WORDS = ENGLISH_STOP_WORDS  # the words to leave out


def word_search(query: str, texts: list[str], k: int) -> list[int]:
    """Indices of the k texts sharing the most distinct content words with the query."""
    # YOUR CODE HERE
    return None


exercises.check_word_search(word_search, prediction, QUESTION, PARAPHRASE)''',
    "03.4": '''from course_utils import exercises
import numpy as np
import torch

prediction = None  # "first", "middle" or "last": where is the gap largest?
WORD = ""  # a word with two senses
SENTENCES = [  # at least 3 sentences per sense, the word in each
]
SENSES = []  # one label per sentence, e.g. "sense 1" or "sense 2"


def sense_gap_by_layer(model: torch.nn.Module, tokenizer, word: str, sentences: list[str],
                       senses: list[str]) -> np.ndarray:
    """Per hidden state 0..L: mean cosine of the word's vectors within a sense minus across."""
    # YOUR CODE HERE
    return None


exercises.check_sense_gap_by_layer(sense_gap_by_layer, prediction, WORD, SENTENCES, SENSES)''',
    "04.3": '''from course_utils import exercises
import numpy as np

prediction = None  # "up", "down" or "same": the outlier share when min_samples goes 5 -> 25


def outlier_shares(reduced: np.ndarray, settings: list[tuple[int, int | None]]) -> list[float]:
    """HDBSCAN's share of outliers (label -1) for each (min_cluster_size, min_samples)."""
    # YOUR CODE HERE
    return None


exercises.check_outlier_shares(outlier_shares, prediction)''',
    "05.3": '''from course_utils import exercises
import numpy as np
import torch

prediction = None  # "bottom", "middle" or "top": where do the vectors move most?


def layer_similarity(before: torch.nn.Module, after: torch.nn.Module, tokenizer,
                     sentences: list[str]) -> np.ndarray:
    """Per hidden state 0..L: mean over sentences of cos(mean vector before, after)."""
    # YOUR CODE HERE
    return None


exercises.check_layer_similarity(layer_similarity, prediction)''',
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
    "00.4": '''from course_utils import exercises


def bigram_log_prob(corpus: list[list[str]], sentence: list[str]) -> float:
    """Natural log of P(sentence) under an add-one-smoothed bigram model of corpus."""
    # YOUR CODE HERE
    return None


exercises.check_bigram_log_prob(bigram_log_prob)''',
    "01.1": '''from course_utils import exercises
import numpy as np
import torch

prediction = None  # "early", "middle" or "late": where are the most positional heads?


def positional_agreement(model: torch.nn.Module, ids: list[int],
                         shuffled_ids: list[int]) -> np.ndarray:
    """Per layer: mean over heads and query rows of 1 - TV(row on ids, same row shuffled)."""
    # YOUR CODE HERE
    return None


exercises.check_positional_agreement(positional_agreement, prediction)''',
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
import torch

prediction = None  # "yes" or "no": will the best head on CHOOSE hold on HELD_OUT?
CHOOSE = [  # (sentence, from_word, to_word): at least 4 examples of your relation
]
HELD_OUT = [  # at least 2 new sentences, the same relation
]


def link_weights(model: torch.nn.Module, tokenizer, examples) -> np.ndarray:
    """(layers, heads): mean attention weight from each example's from_word to its to_word."""
    # YOUR CODE HERE
    return None


exercises.check_relation_head(link_weights, prediction, CHOOSE, HELD_OUT)''',
    "02.2": '''from course_utils import exercises
import torch


def perplexity(logits: torch.Tensor, targets: torch.Tensor) -> float:
    """exp(mean cross-entropy over the real tokens) of a padded batch: logits (B, T, V),
    targets (B, T) with -100 on padding."""
    # YOUR CODE HERE
    return None


exercises.check_perplexity(perplexity)''',
    "02.3": '''from course_utils import exercises
import torch


def sample_min_p(logits: torch.Tensor, min_p: float, temperature: float,
                 generator: torch.Generator) -> int:
    """One token id drawn among those at least min_p times as likely as the most likely one."""
    # YOUR CODE HERE
    return None


exercises.check_sample_min_p(sample_min_p)''',
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
    "04.4": '''from course_utils import exercises
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
    "05.4": '''from course_utils import exercises
import numpy as np


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """The T > 0 minimising the mean NLL of softmax(logits / T) on these examples."""
    # YOUR CODE HERE
    return None


exercises.check_fit_temperature(fit_temperature)''',
}


def by_notebook(number: str) -> list[str]:
    """The exercise ids of notebook ``number`` (``"01"``), in order."""
    return sorted(i for i in STARTERS if i.split(".")[0] == number)
