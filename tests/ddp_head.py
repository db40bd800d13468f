"""Train notebook 05's head on frozen sentence embeddings, with dropout, in one process or many.

    python tests/ddp_head.py FEATURES.npz OUT.json
    torchrun --standalone --nproc_per_node=2 tests/ddp_head.py FEATURES.npz OUT.json

The same script, unchanged, under ``torchrun``: ``fit`` joins the process group the launcher set
up and splits every global batch across the processes. Rank 0 writes the validation history.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import replace

import numpy as np
import torch

from course_utils.classification.classifier import ClassificationData, LinearHead
from course_utils.classification.train import FROZEN_HEAD_CONFIG, fit

CONFIG = replace(FROZEN_HEAD_CONFIG, epochs=6, patience=None)
DROPOUT = 0.2


def main(features: str, out: str) -> None:
    torch.set_num_threads(1)
    arrays = np.load(features)
    train = ClassificationData.from_features(arrays["x_train"], arrays["y_train"])
    val = ClassificationData.from_features(arrays["x_val"], arrays["y_val"])
    torch.manual_seed(0)
    head = LinearHead(arrays["x_train"].shape[1], dropout=DROPOUT)
    result = fit(head, train, val, CONFIG, device="cpu", progress=False)
    if int(os.environ.get("RANK", "0")) == 0:
        world = int(os.environ.get("WORLD_SIZE", "1"))
        record = {"world": world, "best_auc": result.best_auc, "history": result.history}
        with open(out, "w") as fh:
            json.dump(record, fh)


if __name__ == "__main__":
    main(*sys.argv[1:])
