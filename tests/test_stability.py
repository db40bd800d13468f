"""Claims that print the same on every machine, and bounds set from the measured spread."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from course_utils.tooling import stability
from course_utils.tooling.stability import BOUNDS, MEASURED_ON, Bound, check_claims, spread_table

ROOT = Path(__file__).resolve().parents[1]


def test_bound_holds_margin_and_text() -> None:
    floor = Bound("auc", ">=", 0.8, "better than chance")
    ceiling = Bound("share", "<=", 0.3, "few outliers")
    assert floor.holds(0.8) and not floor.holds(0.79) and not floor.holds(math.nan)
    assert ceiling.holds(0.3) and not ceiling.holds(0.31)
    assert floor.margin(0.85) == pytest.approx(0.05) and ceiling.margin(0.4) == pytest.approx(-0.1)
    assert floor.text() == "better than chance (auc >= 0.8)"


def test_claims_print_the_same_whatever_the_value(capsys) -> None:
    source = f"model: {MEASURED_ON}; data: d"
    outputs = []
    for accuracy in (0.7712, 0.7739):  # two machines' last digits
        check_claims(
            "00_llm_overview",
            {"classify_test_accuracy": accuracy, "classify_test_auc": 0.85},
            source=source,
            facts={"shapes agree": True},
        )
        outputs.append(capsys.readouterr().out)
    assert outputs[0] == outputs[1]
    assert "0.77" not in outputs[0] and "classify_test_accuracy >= 0.7" in outputs[0]
    assert outputs[0].startswith(f"Claims ({source}):")


def test_a_false_claim_fails_with_its_value(capsys) -> None:
    with pytest.raises(AssertionError, match=r"classify_test_auc >= 0.8\): measured 0.61"):
        check_claims("00_llm_overview", {"classify_test_auc": 0.61}, source=f"model: {MEASURED_ON}")
    assert "FAIL" in capsys.readouterr().out
    with pytest.raises(AssertionError, match="sizes match"):
        check_claims(source="s", facts={"sizes match": False})


def test_a_fact_of_one_model_is_reported_for_another(capsys) -> None:
    """Issue 33: with another encoder, BERTopic finding 2 topics is a result, not a crash; the
    line says which claims were checked and which only reported. A method claim still fails."""
    check_claims("04_bertopic_rotten_tomatoes", {"default_topics": 2, "final_topics": 1},
                 source="model: bert-tiny; data: d")  # fmt: skip
    out = capsys.readouterr().out
    assert "default_topics = 2 with bert-tiny; claimed for all-MiniLM-L6-v2: >= 100" in out
    assert "0 checked; 3 reported only" in out and "FAIL" not in out
    with pytest.raises(AssertionError, match="default_topics >= 100"):
        check_claims("04_bertopic_rotten_tomatoes", {"default_topics": 2},
                     source=f"model: {MEASURED_ON}; data: d")  # fmt: skip
    with pytest.raises(AssertionError, match="val_perplexity_ratio"):  # the method's claim
        check_claims("02_bertviz_attention", {"val_perplexity_ratio": 0.9}, source="model: x")
    with pytest.raises(ValueError, match="must name the model"):  # never a silent skip
        check_claims("04_bertopic_rotten_tomatoes", {"default_topics": 2}, source="data: d")


def test_a_model_fact_is_enforced_for_its_model_and_reported_for_another(capsys) -> None:
    """Issue 33: 'a head sends 'it' to 'animal'' is a finding on all-MiniLM-L6-v2, not a law."""
    fact = {"a head sends 'it' to 'animal'": False}
    check_claims(source="model: bert-2-layers; data: d", facts={"rows sum to 1": True},
                 model_facts=fact)  # fmt: skip
    out = capsys.readouterr().out
    reported = "a head sends 'it' to 'animal': does not hold with bert-2-layers; claimed for "
    assert reported + MEASURED_ON in out
    assert "1 checked; 1 reported only" in out and "FAIL" not in out
    with pytest.raises(AssertionError, match="'animal'"):
        check_claims(source=f"model: {MEASURED_ON}; data: d", model_facts=fact)
    check_claims(source=f"model: {MEASURED_ON}", model_facts={"holds": True})
    assert "  ok    holds" in capsys.readouterr().out
    with pytest.raises(ValueError, match="must name the model"):
        check_claims(source="data: d", model_facts=fact)


def test_a_typo_or_an_empty_check_is_an_error() -> None:
    with pytest.raises(KeyError, match="classify_test_acc"):
        check_claims("00_llm_overview", {"classify_test_acc": 0.9}, source="s")
    with pytest.raises(KeyError, match="known"):
        check_claims("99_nope", {"x": 1.0}, source="s")
    with pytest.raises(ValueError, match="no claim"):
        check_claims(source="s")


def test_spread_table_reports_runs_and_margin(tmp_path: Path) -> None:
    runs = [
        {"notebook": "02_bertviz_attention", "seed": s, "profile": p,
         "values": {"val_perplexity_ratio": v}}
        for s, p, v in [(0, "native", 0.40), (1, "native", 0.42), (0, "perturbed", 0.41)]
    ]  # fmt: skip
    file = tmp_path / "spread.jsonl"
    file.write_text("\n".join(json.dumps(r) for r in runs))
    row = spread_table("02_bertviz_attention", file).iloc[0]
    assert (row["runs"], row["seeds"], row["profiles"]) == (3, 2, 2)
    assert (row["min"], row["max"]) == (0.40, 0.42)
    # worst run 0.42 is 0.18 below the limit 0.6; the spread is 0.02
    assert row["worst margin / spread"] == pytest.approx(9.0)


def test_every_bound_clears_its_measured_spread() -> None:
    """The limits come from bench/measure_spread.py: every recorded run satisfies every bound,
    under both numerical profiles, and the worst run clears the limit by at least the spread."""
    runs = stability.load_spread()
    assert runs, "course_utils/results/spread.jsonl is empty: run bench/measure_spread.py"
    for notebook, bounds in BOUNDS.items():
        for bound in bounds:
            got = [
                (r["profile"], r["seed"], float(r["values"][bound.quantity]))
                for r in runs
                if r["notebook"] == notebook and bound.quantity in r["values"]
            ]
            where = f"{notebook}: {bound.text()}"
            assert {p for p, _, _ in got} == {"native", "perturbed"}, f"{where}: profiles {got}"
            assert len(got) >= 2, where
            values = [v for _, _, v in got]
            assert all(bound.holds(v) for v in values), f"{where} fails in a run: {got}"
            spread = max(values) - min(values)
            worst = min(bound.margin(v) for v in values)
            assert worst >= spread, f"{where}: worst margin {worst:.4g} < spread {spread:.4g}"


@pytest.mark.parametrize("notebook", sorted(BOUNDS))
def test_every_bound_is_checked_by_its_notebook(notebook: str) -> None:
    """A bound that no notebook checks is dead: each one's claim line is in the committed
    outputs of its notebook, in a cell that nbval compares."""
    cells = json.loads((ROOT / "notebooks" / f"{notebook}.ipynb").read_text())["cells"]
    checked = "".join(
        "".join(out.get("text", ""))
        for c in cells
        if c["cell_type"] == "code" and "nbval-ignore-output" not in c["metadata"].get("tags", [])
        for out in c.get("outputs", [])
    )
    for bound in BOUNDS[notebook]:
        assert f"  ok    {bound.text()}" in checked, f"{notebook} never checks {bound.text()}"


def test_perturbed_env_is_printed_for_make() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "course_utils.tooling.stability", "env"],
        capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    assert dict(word.split("=", 1) for word in out) == stability.PERTURBED_ENV
