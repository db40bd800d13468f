"""Crash-safe checkpoints: training killed at random points, mid-write included, never resumes
from a mixed state, and a resumed run ends with exactly the weights of an uninterrupted one.

Each training runs in a fresh (spawned) process that dies abruptly (``os._exit``, or SIGKILL from
outside at a random time), as a machine that loses power or an out-of-memory kill would. Spawned,
not forked: a fork of a process whose thread pools are running can deadlock.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import random
import shutil
from pathlib import Path

import fault_train
import pytest
import torch
from safetensors.torch import load_file

from course_utils.classification import checkpoint

KILLS = 24  # the issue asks for at least 20
SPAWN = mp.get_context("spawn")


def train_in_child(run_dir: Path, out: Path, *kill: str) -> int:
    """Run the helper in a child process; its exit code (137: killed on purpose)."""
    child = SPAWN.Process(target=fault_train.main, args=([str(run_dir), str(out), *kill],))
    child.start()
    child.join(timeout=120)
    return child.exitcode


def killed_after(run_dir: Path, out: Path, seconds: float) -> int:
    child = SPAWN.Process(target=fault_train.main, args=([str(run_dir), str(out)],))
    child.start()
    child.join(timeout=seconds)
    if child.is_alive():
        child.kill()  # SIGKILL: no handler, no flush
        child.join()
    return child.exitcode


def outcome(out: Path) -> tuple[dict[str, torch.Tensor], list]:
    return load_file(str(out)), json.loads(out.with_suffix(".json").read_text())


def assert_same(got: tuple, expected: tuple) -> None:
    weights, history = got
    assert history == expected[1]
    for key, value in expected[0].items():
        torch.testing.assert_close(weights[key], value, rtol=0, atol=0)


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> tuple:
    folder = tmp_path_factory.mktemp("reference")
    assert train_in_child(folder / "run", folder / "out.safetensors") == 0
    return outcome(folder / "out.safetensors")


def test_checkpoint_files_are_written_under_a_manifest(reference, tmp_path: Path) -> None:
    assert train_in_child(tmp_path / "run", tmp_path / "out.safetensors") == 0
    names = sorted(p.name for p in (tmp_path / "run").iterdir())
    manifest = json.loads((tmp_path / "run" / "checkpoint.json").read_text())
    assert names == sorted(["checkpoint.json", *(f["name"] for f in manifest["files"].values())])
    assert manifest["state"]["epoch"] == fault_train.CONFIG.epochs - 1
    assert_same(outcome(tmp_path / "out.safetensors"), reference)


def test_kills_at_random_points_never_leave_a_mixed_state(reference, tmp_path: Path) -> None:
    rng = random.Random(20261130)
    run, out = tmp_path / "run", tmp_path / "out.safetensors"
    kills: dict[str, int] = {"before": 0, "middle": 0, "after": 0, "sigkill": 0}
    completed = 0
    modes = ["before", "middle", "after", "sigkill"]  # in turn: 6 kills of each
    while sum(kills.values()) < KILLS:
        mode = modes[sum(kills.values()) % len(modes)]
        if mode == "sigkill":
            code = killed_after(run, out, rng.uniform(2.0, 5.0))
        else:
            code = train_in_child(run, out, str(rng.randint(1, 8)), mode)
        if code == 0:  # the run finished before the kill point: it must match, then start over
            assert_same(outcome(out), reference)
            completed += 1
            shutil.rmtree(run)
            continue
        assert code in (137, -9), code
        kills[mode] += 1
        # what a resume would trust: absent, or a manifest whose files all verify
        checkpoint.read_manifest(run, fault_train.CONFIG) if run.exists() else None
    assert train_in_child(run, out) == 0  # the last resume runs to the end
    assert_same(outcome(out), reference)
    assert set(kills.values()) == {KILLS // len(modes)}, kills
    print(f"kills: {kills}; runs that finished before their kill point: {completed}")
