"""The nbval sanitiser makes outputs that differ only by machine-specific detail compare equal."""

from __future__ import annotations

import re
from pathlib import Path

from nbval.plugin import get_sanitize_patterns

CONFIG = Path(__file__).parent / "nbval_sanitize.cfg"


def sanitize(text: str) -> str:
    for regex, replace in get_sanitize_patterns(CONFIG.read_text()):
        text = re.sub(regex, replace, text)
    return text


def test_library_warning_paths_match_wherever_the_checkout_lives() -> None:
    tail = "/.venv/lib/python3.11/site-packages/umap/umap_.py:1952: UserWarning: n_jobs\n"
    checkouts = ["/work/main", "/check/work/main", "/tmp/cicheck/main", "/home/me/intro-to-llms"]
    sanitized = {sanitize(root + tail) for root in checkouts}
    assert sanitized == {"SITE-PACKAGES/umap/umap_.py:1952: UserWarning: n_jobs\n"}


def test_times_addresses_and_ids_are_masked_but_results_are_not() -> None:
    assert sanitize("fit [time: 12.3 s]") == sanitize("fit [time: 99.0 s]")
    assert sanitize("<object at 0x7f3a2b1c9d80>") == sanitize("<object at 0x55aa00ff1234>")
    assert sanitize("bertviz-" + "a" * 32) == sanitize("bertviz-" + "0" * 32)
    assert sanitize("test AUC 0.921") != sanitize("test AUC 0.920")


def test_the_data_source_is_masked_but_not_what_was_computed_on_it() -> None:
    local = "10662 rows | data: Rotten Tomatoes (local files .../rotten_tomatoes, COURSE_DATA_DIR)"
    hub = "10662 rows | data: Rotten Tomatoes (Hugging Face Hub: rotten_tomatoes)"
    cached = "10662 rows | data: Rotten Tomatoes (Hugging Face Hub: rotten_tomatoes, local cache)"
    assert sanitize(local) == sanitize(hub) == sanitize(cached)
    assert sanitize(local) != sanitize(local.replace("10662", "10000"))


def test_a_saved_final_bar_matches_a_fresh_first_frame() -> None:
    fresh = "training:   0%|          | 0/400 [00:00<?, ?it/s]"
    saved = "training: 100%|██████████| 400/400"
    assert sanitize(fresh) == sanitize(saved) == "training: PROGRESS"
    assert sanitize(saved) != sanitize(saved.replace("training", "predict"))
