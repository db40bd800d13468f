"""The settings of one training run, :class:`TrainConfig`.

Taught in notebook 05 (classification): :func:`course_utils.classification.train.fit` trains
with them, and :mod:`course_utils.classification.checkpoint` writes them into every
checkpoint's manifest, so that a run resumes only under the settings it was started with.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class TrainConfig:
    """Hyper-parameters of :func:`~course_utils.classification.train.fit`. ``lr`` is the peak
    learning rate after warm-up."""

    epochs: int = 3
    lr: float = 5e-5
    batch_size: int = 32
    weight_decay: float = 0.01
    warmup_ratio: float = 0.1  # fraction of all steps spent warming up linearly
    max_grad_norm: float = 1.0
    patience: int | None = 2  # stop after this many epochs without a better validation AUC
    seed: int = 42
    mixed_precision: bool = True  # on CUDA only: devices.autocast_dtype (bf16, or fp16+scaler)
    eval_batch_size: int = 128
    # AdamW's fused kernel on CPU and CUDA, Trainer's default optimizer too: one kernel over all
    # parameters instead of PyTorch's default loop over them (bench/bench_finetune.py)
    fused_optimizer: bool = True
