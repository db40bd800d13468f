"""Shared fixtures: the real data folder and tiny test data written to temporary folders."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="session")
def rt_folder() -> Path:
    """The real Rotten Tomatoes folder from ``$COURSE_DATA_DIR`` (set by the Makefile/CI)."""
    folder = os.environ.get("COURSE_DATA_DIR", "")
    if not folder:  # a bare `pytest` outside make: the real-data tests cannot run
        pytest.skip("COURSE_DATA_DIR is not set (make and .ci/run set it)")
    if not Path(folder).is_dir():  # set but wrong: fail loudly, never skip in CI
        pytest.fail(f"COURSE_DATA_DIR={folder} is not a folder with the Rotten Tomatoes files")
    return Path(folder)


@pytest.fixture(autouse=True)
def _fresh_hub_decision():
    """Each test decides about the Hub, and announces its model, afresh: nothing one test did
    leaks into the next."""
    from course_utils.core import hub, models

    hub._reset_for_tests()
    models._announced.clear()
    yield
    hub._reset_for_tests()


@pytest.fixture
def one_thread():
    """One CPU thread for tiny models: fastest so, and numbers do not depend on the cores."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
