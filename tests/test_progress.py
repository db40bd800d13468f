"""Progress bars redraw a bounded number of times, whatever the length of the loop."""

from __future__ import annotations

import io

from course_utils.core.progress import MAX_REDRAWS, MIN_SECONDS, progress


def test_redraws_are_bounded_by_count_and_time() -> None:
    bar = progress(range(10_000), desc="x", file=io.StringIO())
    assert bar.total == 10_000
    assert bar.miniters == 10_000 // MAX_REDRAWS and not bar.dynamic_miniters
    assert bar.mininterval == MIN_SECONDS
    bar.close()


def test_fast_loop_draws_only_its_first_and_last_state() -> None:
    out = io.StringIO()
    for _ in progress(list(range(5_000)), desc="fast", file=out):
        pass
    assert out.getvalue().count("fast:") == 2  # a loop under a second: start and end only


def test_unknown_length_and_disable() -> None:
    bar = progress(iter(range(3)), desc="gen", file=io.StringIO())
    assert bar.total is None and bar.miniters == 1
    bar.close()
    assert list(progress(range(3), desc="off", disable=True)) == [0, 1, 2]
