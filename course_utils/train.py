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
configuration and checksums; see :func:`_save_checkpoint`) from which an interrupted run
resumes and ends exactly as an uninterrupted one. Under ``torchrun`` (or any
launcher that sets ``WORLD_SIZE``/``RANK``) it runs data-parallel: every global batch is
split across the processes and gradients are averaged (DistributedDataParallel).
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from safetensors.torch import load_model
from torch import nn
from torch.nn import functional as F

from course_utils.embeddings import Pooling, model_fingerprint, pool, tokenize
from course_utils.evaluate import classification_metrics
from course_utils.notebook import autocast, autocast_dtype, pick_device, seed_everything
from course_utils.paths import package_file

BUCKET_BATCHES = 50  # length bucketing sorts windows of this many batches


class TextClassifier(nn.Module):
    """A pretrained encoder, pooling and a linear head: ``(batch, seq)`` ids → ``(batch, k)``.

    ``pooling`` is ``"mean"`` or ``"cls"`` (see :func:`course_utils.embeddings.pool`). A BERT
    encoder's own pooler (a dense layer on the CLS token) is unused here and is removed from
    ``encoder``, so that it costs no compute and data-parallel training sees no idle weights.
    Notebook 05, section "Fine-tuning".
    """

    def __init__(
        self,
        encoder: nn.Module,
        num_labels: int = 2,
        pooling: Pooling = "mean",
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        if getattr(encoder, "pooler", None) is not None:
            encoder.pooler = None
        self.encoder = encoder
        self.pooling = pooling
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(encoder.config.hidden_size, num_labels)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        return self.head(self.dropout(pool(hidden, attention_mask, self.pooling)))


class LinearHead(nn.Module):
    """A linear (softmax) classifier on frozen features: ``(batch, d)`` → logits ``(batch, k)``.

    Notebook 05, section "A head on frozen features".
    """

    def __init__(self, dim: int, num_labels: int = 2, dropout: float = 0.0) -> None:
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(dim, num_labels)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.head(self.dropout(features))


def encoder_blocks(encoder: nn.Module) -> nn.ModuleList:
    """The transformer blocks of a BERT-like (``encoder.layer``) or DistilBERT model."""
    for owner in ("encoder", "transformer"):
        blocks = getattr(getattr(encoder, owner, None), "layer", None)
        if isinstance(blocks, nn.ModuleList):
            return blocks
    raise TypeError(f"Cannot find the transformer blocks of {type(encoder).__name__}.")


def set_trainable_blocks(model: TextClassifier, top: int | None) -> int:
    """Train only the head and the ``top`` last blocks (``None``: everything; ``0``: head only).

    Frozen parameters get ``requires_grad=False``, so autograd skips the frozen lower part.
    Returns the number of trainable parameters. Notebook 05, section "Middle ground".
    """
    blocks = encoder_blocks(model.encoder)
    if top is not None and not 0 <= top <= len(blocks):
        raise ValueError(
            f"top must be between 0 and {len(blocks)} (the model's blocks), got {top}."
        )
    for param in model.encoder.parameters():
        param.requires_grad = top is None
    if top:
        for block in blocks[len(blocks) - top :]:
            for param in block.parameters():
                param.requires_grad = True
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


@dataclass
class ClassificationData:
    """Labelled examples: token ids per text (``lengths`` set) or a feature matrix ``(n, d)``.

    Build with :meth:`from_texts` or :meth:`from_features`; these check the input.
    """

    inputs: list[list[int]] | torch.Tensor
    labels: torch.Tensor  # (n,) int64 in [0, num_labels)
    num_labels: int
    pad_id: int = 0
    lengths: np.ndarray | None = None  # tokens per text; None for features

    @classmethod
    def from_texts(
        cls,
        texts: Sequence[str],
        labels: Sequence[int],
        tokenizer: Any,
        *,
        num_labels: int = 2,
        max_length: int = 128,
    ) -> ClassificationData:
        """Tokenize ``texts`` (cut to ``max_length`` tokens, with a warning when any is; no
        padding yet)."""
        texts = list(texts)
        bad = [i for i, t in enumerate(texts) if not isinstance(t, str) or not t.strip()]
        if bad:
            raise ValueError(
                f"{len(bad)} empty or non-string text(s), first at index {bad[0]}; "
                "every example needs a non-empty text."
            )
        y = _check_labels(labels, len(texts), num_labels)
        ids = tokenize(tokenizer, texts, max_length)
        lengths = np.array([len(x) for x in ids])
        return cls(ids, y, num_labels, tokenizer.pad_token_id or 0, lengths)

    @classmethod
    def from_features(
        cls, features: np.ndarray | torch.Tensor, labels: Sequence[int], *, num_labels: int = 2
    ) -> ClassificationData:
        """Wrap a float feature matrix ``(n, d)``, e.g. from ``embeddings.encode``."""
        x = torch.as_tensor(np.asarray(features), dtype=torch.float32)
        if x.ndim != 2:
            raise ValueError(f"features must be a 2-d (n, d) matrix, got shape {tuple(x.shape)}.")
        if not torch.isfinite(x).all():
            raise ValueError("features contain NaN or infinite values.")
        return cls(x, _check_labels(labels, len(x), num_labels), num_labels)

    def __len__(self) -> int:
        return len(self.labels)

    def batches(
        self, batch_size: int, *, shuffle: bool, seed: int = 0, epoch: int = 0
    ) -> list[np.ndarray]:
        """Index arrays, one per batch; the same for the same ``(seed, epoch)`` on any process.

        Texts are length-bucketed: windows of ``BUCKET_BATCHES`` batches are sorted by length,
        cut into batches, and the batches shuffled, so padding stays small while the order
        stays random. Without ``shuffle`` all texts are sorted by length (fast inference).
        """
        n = len(self)
        rng = np.random.default_rng([seed, epoch])
        order = rng.permutation(n) if shuffle else np.arange(n)
        if self.lengths is not None:
            window = batch_size * BUCKET_BATCHES if shuffle else n
            order = np.concatenate(
                [
                    chunk[np.argsort(self.lengths[chunk], kind="stable")]
                    for chunk in np.split(order, range(window, n, window))
                ]
            )
        batches = np.split(order, range(batch_size, n, batch_size))
        if shuffle:
            batches = [batches[i] for i in rng.permutation(len(batches))]
        return batches

    def collate(self, index: np.ndarray) -> dict[str, torch.Tensor]:
        """The model inputs and ``labels`` of the examples at ``index``, padded to the longest."""
        labels = self.labels[torch.as_tensor(index)]
        if isinstance(self.inputs, torch.Tensor):
            return {"features": self.inputs[torch.as_tensor(index)], "labels": labels}
        rows = [self.inputs[i] for i in index]
        width = max(len(r) for r in rows)
        input_ids = torch.full((len(rows), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for j, row in enumerate(rows):
            input_ids[j, : len(row)] = torch.as_tensor(row)
            mask[j, : len(row)] = 1
        return {"input_ids": input_ids, "attention_mask": mask, "labels": labels}


def _check_labels(labels: Sequence[int], n: int, num_labels: int) -> torch.Tensor:
    if n == 0:
        raise ValueError("No examples: the dataset is empty.")
    y = np.asarray(labels)
    if y.shape != (n,):
        raise ValueError(f"Expected {n} labels (one per example), got shape {y.shape}.")
    if not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"Labels must be integer class ids, got dtype {y.dtype}.")
    outside = np.flatnonzero((y < 0) | (y >= num_labels))
    if outside.size:
        raise ValueError(
            f"{outside.size} label(s) outside the classes 0..{num_labels - 1}, "
            f"e.g. {y[outside[0]]} at index {outside[0]}."
        )
    return torch.as_tensor(y, dtype=torch.long)


@dataclass
class TrainConfig:
    """Hyper-parameters of :func:`fit`. ``lr`` is the peak learning rate after warm-up."""

    epochs: int = 3
    lr: float = 5e-5
    batch_size: int = 32
    weight_decay: float = 0.01
    warmup_ratio: float = 0.1  # fraction of all steps spent warming up linearly
    max_grad_norm: float = 1.0
    patience: int | None = 2  # stop after this many epochs without a better validation AUC
    seed: int = 42
    mixed_precision: bool = True  # on CUDA only: notebook.autocast_dtype (bf16, or fp16+scaler)
    eval_batch_size: int = 128


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
    from course_utils.progress import progress as progress_bar

    device = device or next(model.parameters()).device
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
    Notebook 05, sections "A head on frozen features" and "Fine-tuning".
    """
    config = config or TrainConfig()
    if len(torch.unique(train.labels)) < 2:
        raise ValueError(
            f"The training set holds a single class ({int(train.labels[0])}); a classifier "
            "needs examples of at least two classes."
        )
    if train.num_labels != val.num_labels:
        raise ValueError("train and val have different numbers of classes.")
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
    optimizer = torch.optim.AdamW(
        [
            {"params": decay, "weight_decay": config.weight_decay},
            {"params": no_decay, "weight_decay": 0.0},
        ],
        lr=config.lr,
    )
    steps_per_epoch = math.ceil(len(train) / config.batch_size)
    total = steps_per_epoch * config.epochs
    warmup = int(config.warmup_ratio * total)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer,
        lambda step: min((step + 1) / max(warmup, 1), (total - step) / max(total - warmup, 1)),
    )
    result = TrainResult()
    best_state: dict[str, torch.Tensor] = {}
    bad_epochs = 0
    start_epoch = 0
    folder = Path(checkpoint_dir) if checkpoint_dir is not None else None
    manifest = _read_manifest(folder, config) if folder is not None else None
    if folder is not None and manifest is not None:
        state = _load_checkpoint(folder, manifest, model, optimizer, scheduler, device)
        start_epoch = state["epoch"] + 1
        result.history = state["history"]
        result.best_epoch, result.best_auc = state["best_epoch"], state["best_auc"]
        bad_epochs = state["bad_epochs"]
        best_state = _best_from_disk(folder, manifest, model)

    amp_dtype = autocast_dtype(device) if config.mixed_precision else None  # None on the CPU
    # fp16 needs its loss scaled so small gradients do not underflow; bf16 and fp32 do not
    scaler = torch.amp.GradScaler(device.type, enabled=amp_dtype == torch.float16)
    trained, train_seconds = 0, 0.0
    from course_utils.progress import progress as progress_bar

    for epoch in range(start_epoch, config.epochs):
        if config.patience is not None and bad_epochs >= config.patience:
            break
        net.train()
        batches = train.batches(config.batch_size, shuffle=True, seed=config.seed, epoch=epoch)
        bar = progress_bar(batches, desc=f"epoch {epoch + 1}/{config.epochs}", disable=not progress)
        loss_sum = 0.0
        tic = time.perf_counter()
        for step, index in enumerate(bar, 1):
            batch = {k: v.to(device) for k, v in train.collate(shard(index, rank, world)).items()}
            labels = batch.pop("labels")
            with autocast(device, amp_dtype):
                logits = net(**batch)
            loss = F.cross_entropy(logits.float(), labels)
            if not torch.isfinite(loss):
                raise FloatingPointError(
                    f"The loss became {loss.item()} at epoch {epoch + 1}, step {step} "
                    f"(lr {scheduler.get_last_lr()[0]:.2e}); lower the learning rate or check "
                    "the inputs for NaN/inf."
                )
            scaler.scale(loss).backward()
            if config.max_grad_norm:
                scaler.unscale_(optimizer)  # clip the true gradients
                nn.utils.clip_grad_norm_(params, config.max_grad_norm)
            scaler.step(optimizer)  # skipped (fp16 only) when a gradient overflowed
            scaler.update()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            loss_sum += loss.item()
            trained += len(index)  # the global batch, over all processes
            bar.set_postfix(loss=f"{loss_sum / step:.3f}", refresh=False)
        train_seconds += time.perf_counter() - tic
        metrics = classification_metrics(
            val.labels.numpy(),
            predict_proba(
                model,
                val,
                batch_size=config.eval_batch_size,
                device=device,
                mixed_precision=amp_dtype is not None,
                progress=False,
            ),
        )
        result.history.append({"epoch": epoch + 1, "train_loss": loss_sum / len(batches)})
        result.history[-1].update({f"val_{k}": v for k, v in metrics.items()})
        if metrics["auc"] > result.best_auc:
            result.best_epoch, result.best_auc, bad_epochs = epoch + 1, metrics["auc"], 0
            best_state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
        else:
            bad_epochs += 1
        if folder is not None:
            state = {
                "epoch": epoch,
                "history": result.history,
                "best_epoch": result.best_epoch,
                "best_auc": result.best_auc,
                "bad_epochs": bad_epochs,
            }
            _save_checkpoint(folder, model, optimizer, scheduler, state, best_state, config, rank)
    if best_state:
        model.load_state_dict(best_state)
    result.samples_per_s = trained / train_seconds if train_seconds else 0.0
    return result


def run_key(model: nn.Module, *datasets: ClassificationData, config: TrainConfig) -> str:
    """A short hash of the initial weights, which of them train, the data and the config.

    Use it to name ``checkpoint_dir``: re-running the same training then finds its finished
    checkpoint and :func:`fit` returns at once (notebook 05 caches its runs this way).
    """
    digest = hashlib.sha256(model_fingerprint(model).encode())
    digest.update(repr(config).encode())
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
    DistilBERT, which the search, run offline, could not reach). A missing file is an error.
    Notebook 05, section "Fine-tuning".
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
    if not runs:
        return None, []
    best = max(runs, key=lambda r: r["best_val_auc"])["config"]
    config = TrainConfig(
        epochs=int(best["epochs"]), lr=float(best["lr"]), batch_size=int(best["batch_size"]),
        patience=int(best["patience"]),
    )  # fmt: skip
    return config, runs


CHECKPOINT_MANIFEST = "checkpoint.json"
CHECKPOINT_FORMAT = 1


class CheckpointError(RuntimeError):
    """A checkpoint folder cannot be resumed from (other settings, or damaged files)."""


def _write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that ``path`` is either absent, the old file, or complete:
    a temporary file, flushed and synced, renamed over ``path`` (then the folder is synced)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _weights_bytes(tensors: dict[str, torch.Tensor]) -> bytes:
    from safetensors.torch import save

    # cloned: tied weights share storage, which safetensors refuses; each name gets its own copy
    return save({k: v.detach().cpu().contiguous().clone() for k, v in tensors.items()})


def _config_dict(config: TrainConfig) -> dict[str, Any]:
    return json.loads(json.dumps(asdict(config)))


def _save_checkpoint(
    folder: Path,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    state: dict[str, Any],
    best_state: dict[str, torch.Tensor],
    config: TrainConfig,
    rank: int,
) -> None:
    """Write one epoch's checkpoint (rank 0 only), crash-safe.

    Each file (``model-eN.safetensors``, ``best-eM.safetensors``, ``state-eN.pt``) is written
    atomically under a new name; the manifest ``checkpoint.json`` (epoch, configuration, file
    names and SHA-256 sums) is written last, atomically, and is the only thing a resume trusts.
    A crash at any point leaves the previous manifest and the files it names intact. Files no
    manifest names any more are then removed.
    """
    if rank == 0:
        folder.mkdir(parents=True, exist_ok=True)
        epoch = state["epoch"] + 1
        manifest_path = folder / CHECKPOINT_MANIFEST  # for the best file's name only:
        previous = json.loads(manifest_path.read_text()) if manifest_path.is_file() else None
        files = {"model": f"model-e{epoch}.safetensors", "state": f"state-e{epoch}.pt"}
        _write_atomic(folder / files["model"], _weights_bytes(model.state_dict()))
        if best_state and state["best_epoch"] == epoch:
            files["best"] = f"best-e{epoch}.safetensors"
            _write_atomic(folder / files["best"], _weights_bytes(best_state))
        elif previous is not None and "best" in previous["files"]:
            files["best"] = previous["files"]["best"]["name"]
        extra = {
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "torch_rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        }
        buffer = io.BytesIO()
        torch.save(extra, buffer)
        _write_atomic(folder / files["state"], buffer.getvalue())
        manifest = {
            "format": CHECKPOINT_FORMAT,
            "config": _config_dict(config),
            "state": state,
            "files": {
                role: {"name": name, "sha256": _sha256(folder / name)}
                for role, name in files.items()
            },
        }
        _write_atomic(folder / CHECKPOINT_MANIFEST, json.dumps(manifest, indent=1).encode())
        keep = {CHECKPOINT_MANIFEST, *files.values()}
        for path in folder.iterdir():
            if path.name not in keep and path.suffix in {".safetensors", ".pt", ".tmp"}:
                path.unlink(missing_ok=True)
    if dist.is_initialized():
        dist.barrier()


def _read_manifest(folder: Path, config: TrainConfig | None = None) -> dict[str, Any] | None:
    """The checkpoint manifest of ``folder``, its files verified; ``None`` when there is none.

    With ``config``, a checkpoint written under another configuration is refused: resuming it
    would mix two trainings. Raises :class:`CheckpointError` saying what differs.
    """
    path = folder / CHECKPOINT_MANIFEST
    if not path.is_file():
        return None
    try:
        manifest = json.loads(path.read_text())
        files = manifest["files"]
    except (json.JSONDecodeError, KeyError, TypeError) as err:
        raise CheckpointError(
            f"{path} is not a checkpoint manifest ({err}); delete the folder to start afresh."
        ) from err
    if manifest.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(
            f"{path} has format {manifest.get('format')}, not {CHECKPOINT_FORMAT}; delete it."
        )
    ours = _config_dict(config) if config is not None else manifest["config"]
    if manifest["config"] != ours:
        differs = {
            k: (manifest["config"].get(k), ours.get(k))
            for k in sorted(set(ours) | set(manifest["config"]))
            if manifest["config"].get(k) != ours.get(k)
        }
        raise CheckpointError(
            f"The checkpoint in {folder} was written with other settings "
            f"((checkpoint, this run): {differs}). Resuming would mix two trainings: use "
            "another checkpoint_dir (train.run_key names one per configuration) or delete it."
        )
    for role, entry in files.items():
        file = folder / entry["name"]
        if not file.is_file() or _sha256(file) != entry["sha256"]:
            raise CheckpointError(
                f"{file} ({role}) is missing or does not match its checksum in {path}: the "
                "checkpoint was damaged after it was written. Delete the folder to start afresh."
            )
    return manifest


def _load_checkpoint(
    folder: Path,
    manifest: dict[str, Any],
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    device: torch.device,
) -> dict[str, Any]:
    files = manifest["files"]
    extra = torch.load(folder / files["state"]["name"], map_location="cpu", weights_only=True)
    load_model(model, str(folder / files["model"]["name"]), device=str(device))
    optimizer.load_state_dict(extra["optimizer"])
    scheduler.load_state_dict(extra["scheduler"])
    torch.set_rng_state(extra["torch_rng"])
    if extra["cuda_rng"]:
        torch.cuda.set_rng_state_all(extra["cuda_rng"])
    return manifest["state"]


def _best_from_disk(
    folder: Path, manifest: dict[str, Any], model: nn.Module
) -> dict[str, torch.Tensor]:
    """The best epoch's weights, read without disturbing ``model``'s current ones."""
    from safetensors.torch import load_file

    if "best" not in manifest["files"]:
        return {}
    best = load_file(str(folder / manifest["files"]["best"]["name"]))
    current = model.state_dict()
    return {k: best.get(k, v.detach().cpu()) for k, v in current.items()}
