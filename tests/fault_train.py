"""Helper for tests/test_checkpoint_faults.py: train a small head with checkpoints, and die.

    python tests/fault_train.py RUN_DIR OUT_FILE [KILL_AT MODE]

Trains a two-layer head with dropout on fixed random features for a few epochs with
``checkpoint_dir=RUN_DIR`` (resuming whatever is there) and saves the final weights and history
to ``OUT_FILE``. With ``KILL_AT`` = k, the process exits abruptly (``os._exit(137)``, no cleanup)
at its k-th checkpoint file write: ``before`` it starts, in the ``middle`` of it (half the bytes
in the temporary file), or ``after`` the file is complete.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file
from torch import nn

from course_utils.classification.classifier import ClassificationData
from course_utils.classification.train import TrainConfig, fit
from course_utils.core import paths as paths_mod

CONFIG = TrainConfig(epochs=5, lr=0.05, batch_size=16, patience=None, warmup_ratio=0.2)


class Head(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Dropout(0.3), nn.Linear(16, 2))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.net(features)


def data() -> tuple[ClassificationData, ClassificationData]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(240, 8)).astype(np.float32)
    y = (x[:, 0] - x[:, 1] + 0.5 * rng.normal(size=240) > 0).astype(int)
    return (
        ClassificationData.from_features(x[:160], y[:160]),
        ClassificationData.from_features(x[160:], y[160:]),
    )


def arm(kill_at: int, mode: str) -> None:
    """Die at the ``kill_at``-th checkpoint file write. ``before``/``middle`` act inside the
    course's own writer, on the file object it opens (so a writer that wrote in place would leave
    a truncated file behind); ``after`` once that write has fully returned."""
    real_write = paths_mod.write_atomic
    count = 0

    class DyingFile:
        def __init__(self, fh) -> None:
            self.fh = fh

        def __enter__(self):
            return self

        def __exit__(self, *exc) -> None:
            self.fh.close()

        def write(self, payload: bytes) -> int:
            if mode == "middle":
                self.fh.write(payload[: len(payload) // 2])
                self.fh.flush()
            os._exit(137)

        def __getattr__(self, name: str):
            return getattr(self.fh, name)

    def shim_open(path, flags="r", *args, **kwargs):
        fh = open(path, flags, *args, **kwargs)  # noqa: SIM115 - returned, closed by the caller
        return DyingFile(fh) if count == kill_at and mode != "after" and "w" in flags else fh

    def counted(path: Path, payload: bytes) -> None:
        nonlocal count
        count += 1
        real_write(path, payload)
        if count == kill_at and mode == "after":
            os._exit(137)

    paths_mod.open = shim_open  # the module's writer finds this before the builtin
    paths_mod.write_atomic = counted


def main(argv: list[str]) -> None:
    run_dir, out = Path(argv[0]), Path(argv[1])
    if len(argv) > 2:
        arm(int(argv[2]), argv[3])
    train, val = data()
    torch.manual_seed(0)
    model = Head()
    torch.manual_seed(int.from_bytes(os.urandom(4), "little"))  # a resume must not depend on it
    result = fit(model, train, val, CONFIG, device="cpu", checkpoint_dir=run_dir, progress=False)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(out))
    out.with_suffix(".json").write_text(json.dumps(result.history))


if __name__ == "__main__":
    torch.set_num_threads(1)
    main(sys.argv[1:])
