"""Shared fixtures: the real data folder and tiny test data written to temporary folders."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="session")
def rt_folder() -> Path:
    """The real Rotten Tomatoes folder from ``$COURSE_DATA_DIR`` (set by the Makefile/CI)."""
    folder = os.environ.get("COURSE_DATA_DIR", "")
    if not folder or not Path(folder).is_dir():
        pytest.skip("COURSE_DATA_DIR does not point at the Rotten Tomatoes files")
    return Path(folder)
