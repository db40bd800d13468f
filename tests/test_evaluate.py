"""course_utils.classification.evaluate: scikit-learn metrics, the lecture's table layout, outcome
analysis."""

from __future__ import annotations

import numpy as np
import pytest

from course_utils.classification.evaluate import (
    accuracy_by_length,
    classification_metrics,
    lecture_table,
    most_confident_mistakes,
    results_table,
)

LABELS = [0, 0, 1, 1]
PROBS = np.array([[0.9, 0.1], [0.6, 0.4], [0.65, 0.35], [0.2, 0.8]])


def test_metrics_on_a_hand_worked_case() -> None:
    m = classification_metrics(LABELS, PROBS)
    # pairs (pos, neg) ranked right: (0.35 > 0.1), (0.8 > 0.1), (0.8 > 0.4); wrong: 0.35 < 0.4
    assert m["auc"] == pytest.approx(0.75)
    assert m["accuracy"] == pytest.approx(0.75)  # predictions 0, 0, 0, 1
    assert m["f1"] == pytest.approx(2 / 3)  # precision 1, recall 1/2
    assert classification_metrics(LABELS, PROBS[:, 1]) == m  # (n,) scores work too


def test_metrics_refuse_nonsense() -> None:
    with pytest.raises(ValueError, match="both classes"):
        classification_metrics([1, 1], [0.2, 0.9])
    with pytest.raises(ValueError, match="NaN"):
        classification_metrics(LABELS, [0.1, np.nan, 0.3, 0.9])


def test_results_table_has_the_lecture_layout() -> None:
    m = classification_metrics(LABELS, PROBS)
    table = results_table({"raw": {"train": m, "test": m}, "tuned": {"train": m, "test": m}})
    assert list(table.index) == [
        "train AUC", "test AUC", "train accuracy", "test accuracy", "train f1", "test f1",
    ]  # fmt: skip
    assert list(table.columns) == ["raw", "tuned"]
    assert table.loc["test f1", "tuned"] == 0.667
    lecture = lecture_table()
    assert lecture.loc["test AUC"].tolist() == [0.882, 0.911]
    assert lecture.loc["train AUC"].tolist() == [0.918, 0.980]


def test_most_confident_mistakes_and_accuracy_by_length() -> None:
    texts = ["a", "b", "c", "d"]
    probs = np.array([0.95, 0.4, 0.3, 0.7])  # rows 0 (label 0, P 0.95) and 2 (label 1, P 0.3)
    mistakes = most_confident_mistakes(texts, LABELS, probs, k=5)
    assert mistakes["text"].tolist() == ["a", "c"]
    assert mistakes.index.tolist() == [0, 2]
    by_length = accuracy_by_length([3, 5, 12, 15], LABELS, probs, bins=[0, 10, 100])
    assert by_length["sentences"].tolist() == [2, 2]
    assert by_length["accuracy"].tolist() == [0.5, 0.5]


def test_ece_is_zero_when_confidence_matches_accuracy_and_counts_overconfidence() -> None:
    from course_utils.classification.evaluate import expected_calibration_error

    # 10 predictions at 0.8 for the positive class, 8 of them right: calibrated
    y = np.array([1] * 8 + [0] * 2)
    assert expected_calibration_error(y, np.full(10, 0.8)) == pytest.approx(0.0)
    # the same predictions at 0.99: over-confident by 0.19
    assert expected_calibration_error(y, np.full(10, 0.99)) == pytest.approx(0.19)
    # confident and right at both ends: nothing to correct
    assert expected_calibration_error([0, 1], np.array([0.0, 1.0])) == pytest.approx(0.0)
    with pytest.raises(ValueError, match="must match"):
        expected_calibration_error([0, 1, 1], np.array([0.2, 0.7]))


def test_temperature_scaling_softens_an_overconfident_model() -> None:
    from course_utils.classification.evaluate import (
        apply_temperature,
        classification_metrics,
        expected_calibration_error,
        fit_temperature,
    )

    rng = np.random.default_rng(0)
    z = rng.normal(scale=2.0, size=4000)
    y = (rng.random(4000) < 1 / (1 + np.exp(-z))).astype(int)  # calibrated at T = 1
    over = 1 / (1 + np.exp(-3.0 * z))  # the same ranking, three times too sure
    t = fit_temperature(y, over)
    assert t == pytest.approx(3.0, rel=0.1)
    fixed = apply_temperature(over, t)
    assert expected_calibration_error(y, fixed) < 0.5 * expected_calibration_error(y, over)
    assert classification_metrics(y, fixed)["auc"] == pytest.approx(
        classification_metrics(y, over)["auc"]
    )
    under = 1 / (1 + np.exp(-0.5 * z))
    assert fit_temperature(y, under) < 1.0
    with pytest.raises(ValueError, match="positive"):
        apply_temperature(over, 0.0)
