"""Fine-tuning throughput of ``course_utils.train.fit`` vs Hugging Face ``Trainer``.

Same model (the bundled all-MiniLM-L6-v2 in a mean-pooling ``TextClassifier``), same Rotten
Tomatoes training sentences, batch size and threads, both started from the same weights;
the two contenders alternate in one run (machines are noisy). Each reports training samples
per second over its own training loop (model loading and evaluation excluded): ours from
``TrainResult.samples_per_s``, Trainer's from ``train_samples_per_second``. The Trainer
uses its defaults for a learner's first script: random batches padded per batch
(``DataCollatorWithPadding``); ``--group-by-length`` gives it
length-grouped sampling too (``train_sampling_strategy``).

    python bench/bench_finetune.py [--steps 20] [--rounds 2] [--batch-size 32] [--threads 2]
"""

from __future__ import annotations

import argparse
import tempfile

import numpy as np
import torch
from torch import nn
from transformers import DataCollatorWithPadding, Trainer, TrainingArguments

from course_utils.classifier import ClassificationData, TextClassifier
from course_utils.data import load_rotten_tomatoes
from course_utils.models import load_encoder
from course_utils.train import TrainConfig, fit


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
    parser.add_argument("--steps", type=int, default=20, help="optimizer steps per round")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--group-by-length", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    ds = load_rotten_tomatoes()
    tokenizer, _, name = load_encoder(verbose=False)
    n = args.steps * args.batch_size
    subset = ds["train"].shuffle(seed=0).select(range(n))
    ours_data = ClassificationData.from_texts(subset["text"], subset["label"], tokenizer)
    few = ds["validation"].shuffle(seed=0).select(range(64))  # both classes, for fit's AUC
    val = ClassificationData.from_texts(few["text"], few["label"], tokenizer)
    hf_data = (
        subset.map(lambda b: tokenizer(b["text"], truncation=True, max_length=128), batched=True)
        .remove_columns(["text"])
        .rename_column("label", "labels")
    )
    config = TrainConfig(epochs=1, lr=5e-5, batch_size=args.batch_size, patience=None)

    def ours() -> float:
        return fit(fresh_classifier(), ours_data, val, config, device="cpu",
                   progress=False).samples_per_s  # fmt: skip

    def theirs() -> float:
        with tempfile.TemporaryDirectory() as out:
            targs = TrainingArguments(
                output_dir=out, per_device_train_batch_size=args.batch_size, num_train_epochs=1,
                learning_rate=5e-5, warmup_steps=int(0.1 * args.steps), weight_decay=0.01,
                max_grad_norm=1.0,
                lr_scheduler_type="linear", use_cpu=True, report_to=[], save_strategy="no",
                logging_strategy="no", disable_tqdm=True, seed=42, dataloader_num_workers=0,
                train_sampling_strategy="group_by_length" if args.group_by_length else "random",
            )  # fmt: skip
            trainer = Trainer(model=WithLoss(fresh_classifier()), args=targs,
                              train_dataset=hf_data,
                              data_collator=DataCollatorWithPadding(tokenizer))  # fmt: skip
            return trainer.train().metrics["train_samples_per_second"]

    rates: dict[str, list[float]] = {"course_utils.fit": [], "transformers.Trainer": []}
    for _ in range(args.rounds):
        rates["transformers.Trainer"].append(theirs())
        rates["course_utils.fit"].append(ours())
        torch.set_num_threads(args.threads)  # Trainer may change it; keep both equal
    median = {k: float(np.median(v)) for k, v in rates.items()}
    print(f"model: {name} + linear head (mean pooling) | data: Rotten Tomatoes train, "
          f"{n} sentences | batch {args.batch_size} | threads {args.threads} | "
          f"Trainer group_by_length={args.group_by_length} | rounds {args.rounds} "
          "(interleaved, median)")  # fmt: skip
    for label, value in median.items():
        print(f"  {label:<22} {value:7.1f} samples/s   (rounds: "
              f"{', '.join(f'{v:.1f}' for v in rates[label])})")  # fmt: skip
    ratio = median["course_utils.fit"] / median["transformers.Trainer"]
    print(f"  ratio course_utils.fit / Trainer: {ratio:.2f}x")


if __name__ == "__main__":
    main()
