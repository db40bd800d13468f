"""The self-checking exercises of the notebooks: one ``check_*`` function per exercise.

Each notebook's last section, "Exercises", has a starter cell per exercise whose last line
calls ``exercises.check_...`` on the function the learner fills in; the check prints one line
(correct, not yet right and why, or not done yet) and never raises. The reference solutions are
in the repository's ``solutions/`` folder, run by CI through ``tests/test_exercises.py``;
``solutions/starters.py`` holds the starter cells and ``solutions/insert_cells.py`` writes
them into the notebooks.

:mod:`._core` holds :class:`Verdict`, :class:`Exercise`, the registry :data:`EXERCISES` and
the machinery that runs a check; ``ex00`` ... ``ex05`` hold the checks of notebooks 00-05.
"""

from ._core import (
    EXERCISES,
    NOTEBOOKS,
    STARS,
    Exercise,
    Status,
    Verdict,
    check,
    summary,
    verify_all,
)
from .ex00 import (
    check_bigram_log_prob,
    check_softmax_with_temperature,
    check_top_k_cosine,
    check_word_search,
)
from .ex01 import (
    check_causal_attention,
    check_online_causal_attention,
    check_positional_agreement,
    check_sinusoidal_encoding,
)
from .ex02 import (
    check_perplexity,
    check_relation_head,
    check_sample_min_p,
)
from .ex03 import (
    check_knn_kept,
    check_mean_pool,
    check_sense_gap,
    check_sense_gap_by_layer,
)
from .ex04 import (
    check_class_tfidf,
    check_outlier_shares,
    check_reassign_outliers,
    check_topic_summary,
)
from .ex05 import (
    check_expected_calibration_error,
    check_fit_temperature,
    check_layer_similarity,
    check_precision_recall_f1,
)

# The registry in exercise order (a module may define its checks in another order).
_ordered = sorted(EXERCISES.items())
EXERCISES.clear()
EXERCISES.update(_ordered)

__all__ = [
    "EXERCISES",
    "NOTEBOOKS",
    "STARS",
    "Status",
    "Exercise",
    "Verdict",
    "check",
    "summary",
    "verify_all",
    "check_top_k_cosine",
    "check_softmax_with_temperature",
    "check_word_search",
    "check_bigram_log_prob",
    "check_positional_agreement",
    "check_causal_attention",
    "check_sinusoidal_encoding",
    "check_online_causal_attention",
    "check_relation_head",
    "check_perplexity",
    "check_sample_min_p",
    "check_mean_pool",
    "check_sense_gap",
    "check_knn_kept",
    "check_sense_gap_by_layer",
    "check_topic_summary",
    "check_class_tfidf",
    "check_outlier_shares",
    "check_reassign_outliers",
    "check_precision_recall_f1",
    "check_expected_calibration_error",
    "check_layer_similarity",
    "check_fit_temperature",
]
