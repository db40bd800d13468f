"""Fine-tuning throughput of ``course_utils.classification.train.fit`` vs Hugging Face ``Trainer``,
fairly.

Both train the same module (the bundled all-MiniLM-L6-v2 in a mean-pooling ``TextClassifier``,
from the same weights) on the same Rotten Tomatoes training sentences, tokenized once with the
same ``max_length``, batch size, threads, learning-rate schedule, weight decay and clipping, with
no evaluation inside the timed loop. The Trainer gets its best documented setting for this:
``train_sampling_strategy="group_by_length"`` (length-grouped batches, dynamic padding), the
counterpart of ``fit``'s length bucketing. One short warm-up round of each comes first (not
reported); then the rounds alternate which one goes first, and the median of the rounds is
reported, whatever it is. Each reports training samples per second over its own training loop:
``TrainResult.samples_per_s`` and ``train_samples_per_second``.

What still differs, by design of the two libraries: the optimizer implementation (Trainer's
default ``adamw_torch_fused``; ``fit`` uses ``torch.optim.AdamW``, fused where PyTorch offers it),
the collator (``DataCollatorWithPadding`` vs ``ClassificationData.collate``) and the samplers'
grouping (``LengthGroupedSampler``'s mega-batches vs ``fit``'s 50-batch sort windows).

Results are appended to ``bench/results/finetune.jsonl`` with the command, date, load average and
versions; the last run is also written to ``bench/results/finetune.md``.

    python bench/bench_finetune.py [--steps 200] [--rounds 3] [--batch-size 32] [--threads 2]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
from torch import nn
from transformers import DataCollatorWithPadding, Trainer, TrainingArguments

sys.path.insert(0, str(Path(__file__).resolve().parent))
from record import append_jsonl, profile_line, run_context  # noqa: E402

from course_utils.classification.classifier import ClassificationData, TextClassifier  # noqa: E402
from course_utils.classification.train import TrainConfig, fit  # noqa: E402
from course_utils.core.data import load_rotten_tomatoes  # noqa: E402
from course_utils.core.models import load_encoder  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
MAX_LENGTH = 128
TARGET = 1.1  # issue 17: fit at least 1.1x Trainer with group_by_length


class WithLoss(nn.Module):
    """What Trainer expects: ``model(**batch)`` with ``labels`` returns ``{"loss", "logits"}``."""

    def __init__(self, classifier: TextClassifier) -> None:
        super().__init__()
        self.classifier = classifier

    def forward(self, input_ids, attention_mask, labels):  # noqa: D102
        logits = self.classifier(input_ids, attention_mask)
        return {"loss": nn.functional.cross_entropy(logits, labels), "logits": logits}


def fresh_classifier() -> TextClassifier:
    _, encoder, _ = load_encoder(verbose=False)
    torch.manual_seed(0)
    return TextClassifier(encoder, pooling="mean")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200, help="optimizer steps per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--warmup-steps", type=int, default=20, help="steps of the warm-up round")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    load_before = os.getloadavg()[0]

    ds = load_rotten_tomatoes()
    tokenizer, _, name = load_encoder(verbose=False)
    few = ds["validation"].shuffle(seed=0).select(range(64))  # fit needs one; not timed
    val = ClassificationData.from_texts(few["text"], few["label"], tokenizer, max_length=MAX_LENGTH)

    def data(steps: int) -> tuple[ClassificationData, object]:
        subset = ds["train"].shuffle(seed=0).select(range(steps * args.batch_size))
        ours = ClassificationData.from_texts(
            subset["text"], subset["label"], tokenizer, max_length=MAX_LENGTH
        )
        theirs = (
            subset.map(lambda b: tokenizer(b["text"], truncation=True, max_length=MAX_LENGTH),
                       batched=True)
            .remove_columns(["text"])
            .rename_column("label", "labels")
        )  # fmt: skip
        return ours, theirs

    def run_fit(ours: ClassificationData) -> float:
        config = TrainConfig(epochs=1, lr=5e-5, batch_size=args.batch_size, patience=None)
        return fit(
            fresh_classifier(), ours, val, config, device="cpu", progress=False
        ).samples_per_s

    def run_trainer(theirs: object) -> float:
        with tempfile.TemporaryDirectory() as out:
            targs = TrainingArguments(
                output_dir=out, per_device_train_batch_size=args.batch_size, num_train_epochs=1,
                learning_rate=5e-5, warmup_steps=0.1, weight_decay=0.01, max_grad_norm=1.0,
                lr_scheduler_type="linear", use_cpu=True, report_to=[], save_strategy="no",
                eval_strategy="no", logging_strategy="no", disable_tqdm=True, seed=42,
                dataloader_num_workers=0, dataloader_pin_memory=False,
                train_sampling_strategy="group_by_length",
            )  # fmt: skip
            trainer = Trainer(model=WithLoss(fresh_classifier()), args=targs, train_dataset=theirs,
                              data_collator=DataCollatorWithPadding(tokenizer))  # fmt: skip
            rate = trainer.train().metrics["train_samples_per_second"]
        torch.set_num_threads(args.threads)  # Trainer may change it; keep both equal
        return rate

    warm_ours, warm_theirs = data(args.warmup_steps)
    run_trainer(warm_theirs)
    run_fit(warm_ours)
    ours, theirs = data(args.steps)
    rates: dict[str, list[float]] = {"course_utils.fit": [], "transformers.Trainer": []}
    for round_ in range(args.rounds):
        order = ["fit", "trainer"] if round_ % 2 else ["trainer", "fit"]
        for who in order:
            if who == "fit":
                rates["course_utils.fit"].append(run_fit(ours))
            else:
                rates["transformers.Trainer"].append(run_trainer(theirs))
            key = "course_utils.fit" if who == "fit" else "transformers.Trainer"
            print(f"round {round_ + 1}: {key} {rates[key][-1]:.1f} samples/s", flush=True)
    # where each spends its time: one profiled warm-up-sized round of each
    profiles = {
        "course_utils.fit": profile_line(lambda: run_fit(warm_ours), top=5),
        "transformers.Trainer": profile_line(lambda: run_trainer(warm_theirs), top=5),
    }
    median = {k: float(np.median(v)) for k, v in rates.items()}
    ratio = median["course_utils.fit"] / median["transformers.Trainer"]
    import transformers

    row = {
        **run_context(
            load_before,
            {
                "torch": torch.__version__,
                "transformers": transformers.__version__,
                "python": platform.python_version(),
            },
        ),
        "model": name,
        "samples_per_round": args.steps * args.batch_size,
        "batch_size": args.batch_size,
        "threads": args.threads,
        "max_length": MAX_LENGTH,
        "rounds": rates,
        "median": median,
        "ratio_fit_over_trainer": round(ratio, 3),
        "profile": profiles,
        "target": TARGET,
    }
    append_jsonl(RESULTS / "finetune.jsonl", row)
    lines = [
        "# bench_finetune.py (the last run; every run: finetune.jsonl)",
        "",
        f"command: `{row['command']}` | date: {row['date']} | {row['machine']} | threads "
        f"{args.threads} | 1-minute load average before / after: "
        f"{row['load_average_before_after'][0]} / {row['load_average_before_after'][1]}",
        f"versions: {row['versions']}",
        f"model: {name} + linear head (mean pooling) | data: Rotten Tomatoes train, "
        f"{row['samples_per_round']:,} sentences per round | batch {args.batch_size} | "
        f"max_length {MAX_LENGTH} | Trainer: train_sampling_strategy=group_by_length | "
        f"one warm-up round each, then {args.rounds} rounds alternating who goes first",
        "",
        "| contender | median samples/s | rounds |",
        "|---|---|---|",
        *(
            f"| {k} | {median[k]:.1f} | {', '.join(f'{v:.1f}' for v in vals)} |"
            for k, vals in rates.items()
        ),  # fmt: skip
        "",
        f"ratio fit / Trainer: **{ratio:.2f}x** (target >= {TARGET}x: "
        f"{'met' if ratio >= TARGET else 'missed'})",
        "",
        f"profile ({args.warmup_steps} steps each, functions by own time):",
        *(f"- {k}: {line}" for k, line in profiles.items()),
    ]
    (RESULTS / "finetune.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
