"""Training a text classifier: one loop for a head on frozen features and for fine-tuning.

Taught in notebook 05 (classification). The same :func:`fit` trains

* a :class:`LinearHead` on frozen sentence embeddings (``ClassificationData.from_features``);
* a :class:`TextClassifier` (pretrained encoder + pooling + linear head) end to end, or with
  only its top blocks trainable (``set_trainable_blocks``), from tokenized texts
  (``ClassificationData.from_texts``).

What the loop does: AdamW, linear warm-up then linear decay, gradient clipping, dynamic
padding of length-bucketed batches, validation after every epoch, the best epoch's weights
kept, early stopping, mixed precision on CUDA (bf16, or fp16 with a gradient scaler; never on
the CPU), and a crash-safe checkpoint every epoch
(weights as safetensors, optimizer, scheduler and RNG state, and last a manifest with the
configuration and checksums; see :func:`save_checkpoint`) from which an interrupted run
resumes and ends exactly as an uninterrupted one. Under ``torchrun`` (or any
launcher that sets ``WORLD_SIZE``/``RANK``) it runs data-parallel: every global batch is
split across the processes and gradients are averaged (DistributedDataParallel).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.nn import functional as F

from course_utils.classification.checkpoint import (
    best_from_disk,
    load_checkpoint,
    read_manifest,
    save_checkpoint,
)
from course_utils.classification.classifier import ClassificationData
from course_utils.classification.config import TrainConfig
from course_utils.classification.evaluate import classification_metrics
from course_utils.core.devices import autocast, autocast_dtype, model_device, pick_device
from course_utils.core.notebook import seed_everything
from course_utils.core.paths import package_file
from course_utils.embeddings.sentence import model_fingerprint

PROFILE_ENV_VAR = "COURSE_PROFILE"
CI_PROFILE = "ci"
CI_MAX_EPOCHS = 1  # fine-tuning epochs under COURSE_PROFILE=ci
CI_MIN_TRAINABLE = 1_000_000  # runs training fewer parameters (a head) are cheap: never shortened


def profiled_config(model: nn.Module, config: TrainConfig) -> TrainConfig:
    """``config`` as the course profile runs it: unchanged, except under ``COURSE_PROFILE=ci``
    (CI's extra jobs, such as ``make online``), where a run that trains the encoder (over a
    million trainable parameters) trains at most :data:`CI_MAX_EPOCHS` epoch. ``make run``
    sets no profile and trains in full. :func:`fit` and :func:`run_key` both apply it (a
    shortened run never shares a checkpoint folder with a full one) and ``fit`` says so."""
    profile = os.environ.get(PROFILE_ENV_VAR, "").strip().lower()
    if not profile:
        return config
    if profile != CI_PROFILE:
        raise ValueError(f"{PROFILE_ENV_VAR}={profile!r}: the only profile is {CI_PROFILE!r}")
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    if trainable < CI_MIN_TRAINABLE or config.epochs <= CI_MAX_EPOCHS:
        return config
    return replace(config, epochs=CI_MAX_EPOCHS)


# Notebook 05's PyTorch linear head on frozen features: more epochs, a larger step and
# stronger weight decay than fine-tuning, since only one layer learns.
FROZEN_HEAD_CONFIG = TrainConfig(epochs=10, lr=1e-3, batch_size=64, weight_decay=0.1, patience=2)


@dataclass
class TrainResult:
    """What :func:`fit` returns: per-epoch ``history`` and the best (restored) epoch."""

    history: list[dict[str, float]] = field(default_factory=list)
    best_epoch: int = -1
    best_auc: float = -math.inf
    samples_per_s: float = 0.0  # training throughput of this run (not counting evaluation)


def _distributed(device: torch.device) -> tuple[int, int]:
    """``(rank, world_size)``; joins the process group a launcher such as torchrun set up.

    On CUDA each process first selects its own GPU (``LOCAL_RANK``), as NCCL requires.
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and device.type == "cuda":
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    if dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def shard(index: np.ndarray, rank: int, world: int) -> np.ndarray:
    """This process's share of a global batch: every ``world``-th example from ``rank``.

    A batch smaller than ``world`` (the last one of an epoch) is padded by repeating its
    examples, so that no process is ever handed an empty shard.
    """
    if len(index) < world:
        index = np.resize(index, world)
    return index[rank::world]


@torch.inference_mode()
def predict_proba(
    model: nn.Module,
    data: ClassificationData,
    *,
    batch_size: int = 128,
    device: torch.device | None = None,
    mixed_precision: bool = True,
    progress: bool = True,
) -> np.ndarray:
    """Class probabilities ``(n, num_labels)`` (softmax of the logits), in the input order.

    ``mixed_precision`` autocasts on CUDA only (see ``TrainConfig.mixed_precision``).
    """
    from course_utils.core.progress import progress as progress_bar

    device = device or model_device(model)
    was_training = model.training
    model.eval()
    probs = np.empty((len(data), data.num_labels))
    amp_dtype = autocast_dtype(device) if mixed_precision else None  # None on the CPU
    for index in progress_bar(
        data.batches(batch_size, shuffle=False), desc="predict", disable=not progress
    ):
        batch = {k: v.to(device) for k, v in data.collate(index).items() if k != "labels"}
        with autocast(device, amp_dtype):
            logits = model(**batch)
        probs[index] = torch.softmax(logits.float(), -1).cpu().numpy()
    model.train(was_training)
    return probs


@dataclass
class _Run:
    """What one :func:`fit` call carries from step to step (made by :func:`_setup`)."""

    model: nn.Module
    net: nn.Module  # the model, or its DistributedDataParallel wrapper
    config: TrainConfig
    device: torch.device
    rank: int
    world: int
    params: list[nn.Parameter]
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    result: TrainResult = field(default_factory=TrainResult)
    best_state: dict[str, torch.Tensor] = field(default_factory=dict)
    bad_epochs: int = 0
    start_epoch: int = 0
    amp_dtype: torch.dtype | None = None
    scaler: Any = None
    trained: int = 0  # examples seen in training, over all processes
    train_seconds: float = 0.0


def fit(
    model: nn.Module,
    train: ClassificationData,
    val: ClassificationData,
    config: TrainConfig | None = None,
    *,
    device: torch.device | str | None = None,
    checkpoint_dir: str | os.PathLike[str] | None = None,
    progress: bool = True,
) -> TrainResult:
    """Train ``model`` on ``train``, validate on ``val`` after every epoch; keep the best epoch.

    ``model(**inputs)`` must return logits ``(batch, num_labels)`` for the inputs of
    :meth:`ClassificationData.collate`; the loss is cross-entropy. Only parameters with
    ``requires_grad`` are trained. The best validation AUC's weights are loaded back at the
    end. With ``checkpoint_dir``, a checkpoint is written every epoch and a run finding one
    there resumes from it. Raises ``ValueError`` for a single-class training set and
    ``FloatingPointError`` when the loss becomes NaN or infinite.
    Notebook 05, sections 2 (a head on frozen features) and 3 (fine-tuning).

    Read top to bottom, the steps are: :func:`_setup` (device, seed, optimizer, schedule),
    :func:`_resume` (from a checkpoint, if any), then per epoch :func:`_train_epoch`,
    :func:`_evaluate_epoch` (validation, best weights, patience) and
    :func:`~course_utils.classification.checkpoint.save_checkpoint`; last, the best epoch's weights.
    """
    asked = config or TrainConfig()
    config = profiled_config(model, asked)
    if config != asked:
        print(f"{PROFILE_ENV_VAR}={CI_PROFILE}: {config.epochs} epoch instead of {asked.epochs} "
              "(a shortened run for CI; make run trains them all)")  # fmt: skip
    _check_classes(train, val)
    run = _setup(model, train, config, device)
    folder = Path(checkpoint_dir) if checkpoint_dir is not None else None
    if folder is not None:
        _resume(run, folder)
    for epoch in range(run.start_epoch, config.epochs):
        if config.patience is not None and run.bad_epochs >= config.patience:
            break
        train_loss = _train_epoch(run, train, epoch, progress)
        _evaluate_epoch(run, val, epoch, train_loss)
        if folder is not None:
            state = {
                "epoch": epoch,
                "history": run.result.history,
                "best_epoch": run.result.best_epoch,
                "best_auc": run.result.best_auc,
                "bad_epochs": run.bad_epochs,
            }
            save_checkpoint(
                folder, model, run.optimizer, run.scheduler, state, run.best_state, config, run.rank
            )
    if run.best_state:
        model.load_state_dict(run.best_state)
    run.result.samples_per_s = run.trained / run.train_seconds if run.train_seconds else 0.0
    return run.result


def _check_classes(train: ClassificationData, val: ClassificationData) -> None:
    if len(torch.unique(train.labels)) < 2:
        raise ValueError(
            f"The training set holds a single class ({int(train.labels[0])}); a classifier "
            "needs examples of at least two classes."
        )
    if train.num_labels != val.num_labels:
        raise ValueError("train and val have different numbers of classes.")


def _setup(
    model: nn.Module,
    train: ClassificationData,
    config: TrainConfig,
    device: torch.device | str | None,
) -> _Run:
    """Device and processes, the seed, AdamW (no decay on biases and norms), warm-up then
    linear decay, and the autocast dtype with its gradient scaler (CUDA only)."""
    device = torch.device(device) if device is not None else pick_device()
    rank, world = _distributed(device)
    if device.type == "cuda" and world > 1:
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    seed_everything(config.seed)
    model.to(device)
    net: nn.Module = model
    if world > 1:
        # DDP copies rank 0's weights to every rank; then each rank gets its own dropout stream
        net = nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None
        )
        torch.manual_seed(config.seed + 1000 * rank)

    params = [p for p in model.parameters() if p.requires_grad]
    decay = [p for p in params if p.ndim >= 2]  # no weight decay on biases and LayerNorm
    no_decay = [p for p in params if p.ndim < 2]
    fused = config.fused_optimizer and device.type in ("cpu", "cuda")
    optimizer = torch.optim.AdamW(
        [
            {"params": decay, "weight_decay": config.weight_decay},
            {"params": no_decay, "weight_decay": 0.0},
        ],
        lr=config.lr,
        fused=fused or None,  # None: PyTorch's default implementation
    )
    steps_per_epoch = math.ceil(len(train) / config.batch_size)
    total = steps_per_epoch * config.epochs
    warmup = int(config.warmup_ratio * total)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer,
        lambda step: min((step + 1) / max(warmup, 1), (total - step) / max(total - warmup, 1)),
    )
    amp_dtype = autocast_dtype(device) if config.mixed_precision else None  # None on the CPU
    # fp16 needs its loss scaled so small gradients do not underflow; bf16 and fp32 do not
    scaler = torch.amp.GradScaler(device.type, enabled=amp_dtype == torch.float16)
    return _Run(
        model, net, config, device, rank, world, params, optimizer, scheduler,
        amp_dtype=amp_dtype, scaler=scaler,
    )  # fmt: skip


def _resume(run: _Run, folder: Path) -> None:
    """Continue from the checkpoint in ``folder`` when one matching the configuration is
    there: weights, optimizer, schedule, RNG state, history and the best epoch so far."""
    manifest = read_manifest(folder, run.config)
    if manifest is None:
        return
    state = load_checkpoint(folder, manifest, run.model, run.optimizer, run.scheduler, run.device)
    run.start_epoch = state["epoch"] + 1
    run.result.history = state["history"]
    run.result.best_epoch, run.result.best_auc = state["best_epoch"], state["best_auc"]
    run.bad_epochs = state["bad_epochs"]
    run.best_state = best_from_disk(folder, manifest, run.model)


def _train_epoch(run: _Run, train: ClassificationData, epoch: int, progress: bool) -> float:
    """One pass over length-bucketed, shuffled batches; returns the mean training loss."""
    from course_utils.core.progress import progress as progress_bar

    config, device = run.config, run.device
    run.net.train()
    batches = train.batches(config.batch_size, shuffle=True, seed=config.seed, epoch=epoch)
    bar = progress_bar(batches, desc=f"epoch {epoch + 1}/{config.epochs}", disable=not progress)
    loss_sum = 0.0
    tic = time.perf_counter()
    for step, index in enumerate(bar, 1):
        batch = {
            k: v.to(device) for k, v in train.collate(shard(index, run.rank, run.world)).items()
        }
        labels = batch.pop("labels")
        with autocast(device, run.amp_dtype):
            logits = run.net(**batch)
        loss = F.cross_entropy(logits.float(), labels)
        if not torch.isfinite(loss):
            raise FloatingPointError(
                f"The loss became {loss.item()} at epoch {epoch + 1}, step {step} "
                f"(lr {run.scheduler.get_last_lr()[0]:.2e}); lower the learning rate or check "
                "the inputs for NaN/inf."
            )
        run.scaler.scale(loss).backward()
        if config.max_grad_norm:
            run.scaler.unscale_(run.optimizer)  # clip the true gradients
            nn.utils.clip_grad_norm_(run.params, config.max_grad_norm)
        run.scaler.step(run.optimizer)  # skipped (fp16 only) when a gradient overflowed
        run.scaler.update()
        run.scheduler.step()
        run.optimizer.zero_grad(set_to_none=True)
        loss_sum += loss.item()
        run.trained += len(index)  # the global batch, over all processes
        bar.set_postfix(loss=f"{loss_sum / step:.3f}", refresh=False)
    run.train_seconds += time.perf_counter() - tic
    return loss_sum / len(batches)


def _evaluate_epoch(run: _Run, val: ClassificationData, epoch: int, train_loss: float) -> None:
    """Validate, append the epoch to the history, keep the best weights, count patience."""
    metrics = classification_metrics(
        val.labels.numpy(),
        predict_proba(
            run.model,
            val,
            batch_size=run.config.eval_batch_size,
            device=run.device,
            mixed_precision=run.amp_dtype is not None,
            progress=False,
        ),
    )
    result = run.result
    result.history.append({"epoch": epoch + 1, "train_loss": train_loss})
    result.history[-1].update({f"val_{k}": v for k, v in metrics.items()})
    if metrics["auc"] > result.best_auc:
        result.best_epoch, result.best_auc, run.bad_epochs = epoch + 1, metrics["auc"], 0
        run.best_state = {k: v.detach().cpu().clone() for k, v in run.model.state_dict().items()}
    else:
        run.bad_epochs += 1


def run_key(model: nn.Module, *datasets: ClassificationData, config: TrainConfig) -> str:
    """A short hash of the initial weights, which of them train, the data and the config.

    Use it to name ``checkpoint_dir``: re-running the same training then finds its finished
    checkpoint and :func:`fit` returns at once (notebook 05 caches its runs this way).
    """
    digest = hashlib.sha256(model_fingerprint(model).encode())
    digest.update(repr(profiled_config(model, config)).encode())
    digest.update(str([n for n, p in model.named_parameters() if p.requires_grad]).encode())
    for data in datasets:
        digest.update(data.labels.numpy().tobytes())
        if isinstance(data.inputs, torch.Tensor):
            digest.update(data.inputs.numpy().tobytes())
        else:
            digest.update(str(data.inputs).encode())
    return digest.hexdigest()[:16]


SEARCH_RESULTS = ("results", "finetune_search.jsonl")  # inside the package: paths.package_file


def best_searched_config(
    model_name: str, path: str | os.PathLike[str] | None = None
) -> tuple[TrainConfig | None, list[dict[str, Any]]]:
    """The validation-best fine-tuning settings that ``bench/search_finetune.py`` found.

    Reads the JSON lines the search wrote (default: ``results/finetune_search.jsonl``, shipped
    inside the package) and keeps the runs of ``model_name``. Returns ``(config, runs)``:
    ``config`` has the epochs, learning rate, batch size and patience of the run with the highest
    validation AUC; ``None`` with ``runs == []`` when the file holds no run of this model (e.g.
    DistilBERT, which the search, run offline, could not reach). ``model_name`` is the full id
    the search recorded (``sentence-transformers/all-MiniLM-L6-v2``): a name that matches a
    recorded one only without its organisation is an error that names it, never "no search".
    A missing or malformed file is an error. Notebook 05, section "Fine-tuning".
    """
    file = Path(path) if path is not None else package_file(*SEARCH_RESULTS)
    if not file.is_file():
        raise FileNotFoundError(f"{file} does not exist: bench/search_finetune.py writes it.")
    runs = []
    for number, line in enumerate(file.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            run = json.loads(line)
            run["config"]["patience"], run["best_val_auc"]  # noqa: B018 - fields every run needs
        except (json.JSONDecodeError, KeyError, TypeError) as error:
            raise ValueError(
                f"{file}, line {number}: not a search result ({error}); re-run "
                "bench/search_finetune.py or delete the line."
            ) from error
        if run.get("model") == model_name:
            runs.append(run)
        elif str(run.get("model", "")).rsplit("/", 1)[-1] == model_name.rsplit("/", 1)[-1]:
            raise ValueError(
                f"{file}, line {number}: the search recorded {run['model']!r}, not {model_name!r}: "
                "pass the model's full id (load_encoder's name), not its short name."
            )
    if not runs:
        return None, []
    best = max(runs, key=lambda r: r["best_val_auc"])["config"]
    config = TrainConfig(
        epochs=int(best["epochs"]), lr=float(best["lr"]), batch_size=int(best["batch_size"]),
        patience=int(best["patience"]),
    )  # fmt: skip
    return config, runs
