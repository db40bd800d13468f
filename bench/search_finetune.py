"""Validation-only search for notebook 05's fine-tuning settings (the test split is never read).

Each configuration fine-tunes the whole pretrained encoder (``load_encoder()``, offline the
bundled all-MiniLM-L6-v2) with mean pooling on all 8,530 Rotten Tomatoes training sentences,
validating after every epoch. Runs are checkpointed under ``$COURSE_CACHE_DIR/runs`` with the
same key the notebook uses, so an interrupted search resumes and the notebook reuses the
chosen run. One JSON line per configuration is appended to
``course_utils/results/finetune_search.jsonl`` (package data, read by notebook 05).

    python bench/search_finetune.py --lr 5e-5 1e-4 --epochs 3
"""

from __future__ import annotations

import argparse
import time
from datetime import date
from pathlib import Path

import torch
from record import append_jsonl  # bench/record.py, beside this script

from course_utils.classification.classifier import ClassificationData, TextClassifier
from course_utils.classification.train import TrainConfig, fit, run_key
from course_utils.core.data import load_rotten_tomatoes
from course_utils.core.models import load_encoder
from course_utils.core.notebook import seed_everything
from course_utils.core.paths import course_subdir

# package data: notebook 05 reads it (train.best_searched_config), installed or not
RESULTS = Path(__file__).resolve().parents[1] / "course_utils" / "results" / "finetune_search.jsonl"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lr", type=float, nargs="+", default=[5e-5, 1e-4])
    parser.add_argument("--epochs", type=int, nargs="+", default=[3])
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--patience", type=int, default=1)
    args = parser.parse_args()

    data = load_rotten_tomatoes()
    tokenizer, _, model_name = load_encoder(verbose=False)
    train = ClassificationData.from_texts(data["train"]["text"], data["train"]["label"], tokenizer)
    val = ClassificationData.from_texts(
        data["validation"]["text"], data["validation"]["label"], tokenizer
    )
    for epochs in args.epochs:
        for lr in args.lr:
            config = TrainConfig(
                epochs=epochs, lr=lr, batch_size=args.batch_size, patience=args.patience
            )
            _, encoder, _ = load_encoder(verbose=False)  # fresh pretrained weights every time
            seed_everything(config.seed)
            model = TextClassifier(encoder, pooling="mean")
            folder = course_subdir("runs") / run_key(model, train, val, config=config)
            start = time.perf_counter()
            result = fit(model, train, val, config, device="cpu", checkpoint_dir=folder)
            row = {
                "date": date.today().isoformat(),
                "model": model_name,
                "data": "Rotten Tomatoes train (8,530) / validation (1,066)",
                "threads": torch.get_num_threads(),
                "config": {
                    "epochs": epochs,
                    "lr": lr,
                    "batch_size": args.batch_size,
                    "patience": args.patience,
                },
                "history": result.history,
                "best_epoch": result.best_epoch,
                "best_val_auc": round(result.best_auc, 4),
                "samples_per_s": round(result.samples_per_s, 1),
                "wall_s": round(time.perf_counter() - start, 1),
            }
            append_jsonl(RESULTS, row)


if __name__ == "__main__":
    main()
