"""Training the course's small decoder: a deterministic loop, a unigram baseline, a cache.

Taught in notebook 02, section 4 (training the decoder); notebooks 00 and 02 get the trained
model with :func:`load_course_decoder`, which trains it once (fixed seed, step count and thread
count, with a progress bar) and then loads it from the cache as safetensors.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch.nn import functional as F

from course_utils.core.devices import model_device
from course_utils.core.paths import course_subdir
from course_utils.core.progress import progress as progress_bar
from course_utils.decoder.model import (
    DEFAULT_SEED,
    DecoderConfig,
    TinyGPT,
    TrainingHistory,
    _metadata,
    build_vocab,
    load_decoder,
    token_stream,
)

CACHE_SUBDIR = "decoder"


DEFAULT_THREADS = 1


@dataclass(frozen=True)
class TrainSettings:
    """How :func:`train_tiny_decoder` trains: ``steps`` AdamW steps of ``batch_size`` windows."""

    steps: int = 400
    batch_size: int = 32
    lr: float = 3e-3
    warmup: int = 40
    weight_decay: float = 0.1
    eval_every: int = 100
    min_count: int = 2
    seed: int = DEFAULT_SEED


def unigram_perplexity(train_ids: Tensor, targets: Tensor, vocab_size: int) -> float:
    """Perplexity of add-one-smoothed unigram frequencies (from ``train_ids``) on ``targets``.

    The baseline a language model must beat: it knows how common each token is, not context.
    """
    counts = torch.bincount(train_ids, minlength=vocab_size).double() + 1.0
    log_p = torch.log(counts / counts.sum())
    return math.exp(-log_p[targets].mean().item())


def unigram_baseline(
    model: TinyGPT, tokenizer: Any, texts: Sequence[str], val_texts: Sequence[str]
) -> float:
    """Validation perplexity of the unigram baseline over ``model``'s vocabulary: counts from
    ``texts``, scored on the next-token targets of ``val_texts`` that ``model`` is evaluated on.
    Taught in notebook 02, section 4."""
    train_ids = model.to_model_ids(token_stream(texts, tokenizer))
    val_ids = model.to_model_ids(token_stream(val_texts, tokenizer))
    _, targets = _windows(val_ids, model.config.context)
    return unigram_perplexity(train_ids, targets.flatten(), model.config.vocab_size)


def _windows(stream: Tensor, context: int) -> tuple[Tensor, Tensor]:
    """Non-overlapping inputs ``(N, context)`` and next-token targets ``(N, context)``."""
    n = (stream.numel() - 1) // context
    if n < 1:
        raise ValueError(f"the validation text has {stream.numel()} tokens, fewer than a window")
    x = stream[: n * context].view(n, context)
    y = stream[1 : n * context + 1].view(n, context)
    return x, y


@torch.no_grad()
def evaluate_loss(model: TinyGPT, stream: Tensor, batch_size: int = 64) -> float:
    """Mean next-token cross-entropy (nats) of ``model`` over ``stream`` (model ids)."""
    was_training = model.training
    model.eval()
    x, y = _windows(stream, model.config.context)
    device = model_device(model)
    total = 0.0
    for i in range(0, len(x), batch_size):
        logits = model(x[i : i + batch_size].to(device))
        total += F.cross_entropy(
            logits.flatten(0, 1), y[i : i + batch_size].to(device).flatten(), reduction="sum"
        ).item()
    model.train(was_training)
    return total / y.numel()


def default_cache_dir() -> Path:
    """``decoder/`` in the course folder (:func:`course_utils.core.paths.course_dir`)."""
    return course_subdir(CACHE_SUBDIR)


def _cache_key(
    texts: Sequence[str],
    val_texts: Sequence[str],
    tokenizer: Any,
    config: dict[str, Any],
    settings: TrainSettings,
    threads: int | str,
) -> str:
    digest = hashlib.sha256()
    vocab = sorted(tokenizer.get_vocab().items())
    digest.update(json.dumps([type(tokenizer).__name__, vocab]).encode())
    digest.update(json.dumps([config, asdict(settings), threads, torch.__version__]).encode())
    for part in (texts, val_texts):
        digest.update(str(len(part)).encode())
        for text in part:
            digest.update(text.encode())
            digest.update(b"\0")
    return digest.hexdigest()[:20]


def train_tiny_decoder(
    texts: Sequence[str],
    tokenizer: Any,
    val_texts: Sequence[str],
    *,
    context: int = 32,
    d_model: int = 128,
    n_heads: int = 4,
    n_layers: int = 2,
    settings: TrainSettings | None = None,
    threads: int | None = DEFAULT_THREADS,
    device: torch.device | str | None = "cpu",
    cache: bool = True,
    cache_dir: str | os.PathLike[str] | None = None,
    progress: bool = True,
) -> TinyGPT:
    """Train a :class:`TinyGPT` on ``texts`` to predict the next token; return it in eval mode.

    Training is deterministic: it seeds with ``settings.seed``, draws batches of random
    windows from its own generator, runs exactly ``settings.steps`` AdamW steps (warm-up, then
    cosine decay) and uses ``threads`` CPU threads (restored afterwards). ``model.history``
    holds the train and validation losses (on ``val_texts``) and the training seconds.
    With ``cache`` the trained weights are saved as safetensors in ``cache_dir`` (default
    :func:`default_cache_dir`) under a key made of the texts, tokenizer, sizes and settings,
    and loaded from there next time (``history.from_cache`` is then true).
    ``device`` is where it trains and where the returned model lives (default the CPU, whose
    run is the same on every machine; another device trains weights of its own, cached apart).
    Taught in notebook 02, section 4.
    """
    from safetensors.torch import save_file

    from course_utils.core.devices import pick_device
    from course_utils.core.notebook import seed_everything

    device = pick_device(str(device) if device is not None else None)

    settings = settings or TrainSettings()
    sizes = {
        "context": context,
        "d_model": d_model,
        "n_heads": n_heads,
        "n_layers": n_layers,
        "d_ff": 4 * d_model,
    }
    threads = threads or torch.get_num_threads()
    path = None
    if cache:
        trained_on = threads if device.type == "cpu" else f"{threads} {device.type}"
        key = _cache_key(texts, val_texts, tokenizer, sizes, settings, trained_on)
        path = Path(cache_dir or default_cache_dir()) / f"tiny_gpt-{key}.safetensors"
        if path.is_file():
            return load_decoder(path).to(device)

    train_raw = token_stream(texts, tokenizer)
    token_ids, unk_id, eos_id = build_vocab(train_raw, tokenizer, settings.min_count)
    config = DecoderConfig(vocab_size=len(token_ids), **sizes)
    previous_threads = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        seed_everything(settings.seed)
        model = TinyGPT(config, token_ids, unk_id, eos_id).to(device)
        train = model.to_model_ids(train_raw).to(device)
        val = model.to_model_ids(token_stream(val_texts, tokenizer))
        history = _fit(model, train, val, settings, progress)
    finally:
        torch.set_num_threads(previous_threads)
    model.history = history
    model.eval()
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        save_file(
            {k: v.contiguous() for k, v in model.state_dict().items() if k != "head.weight"},
            str(tmp),
            metadata=_metadata(model),
        )
        tmp.replace(path)
    return model


def _fit(
    model: TinyGPT, train: Tensor, val: Tensor, settings: TrainSettings, progress: bool
) -> TrainingHistory:
    """The loop of :func:`train_tiny_decoder` (``train``/``val`` are model-id streams)."""
    ctx = model.config.context
    if train.numel() <= ctx + 1:
        raise ValueError(f"{train.numel()} training tokens: need more than the context {ctx}")
    gen = torch.Generator().manual_seed(settings.seed)
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": settings.weight_decay},
         {"params": no_decay, "weight_decay": 0.0}],
        lr=settings.lr, betas=(0.9, 0.95),
    )  # fmt: skip

    def lr_at(step: int) -> float:
        if step < settings.warmup:
            return settings.lr * (step + 1) / settings.warmup
        done = (step - settings.warmup) / max(1, settings.steps - settings.warmup)
        return settings.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * done)))

    history = TrainingHistory()
    offsets = torch.arange(ctx + 1)
    model.train()
    start, start_cpu = time.perf_counter(), time.process_time()
    bar = progress_bar(range(settings.steps), desc="training", disable=not progress)
    for step in bar:
        starts = torch.randint(0, train.numel() - ctx - 1, (settings.batch_size,), generator=gen)
        chunk = train[starts.to(train.device)[:, None] + offsets.to(train.device)]  # (B, ctx+1)
        logits = model(chunk[:, :-1])
        loss = F.cross_entropy(logits.flatten(0, 1), chunk[:, 1:].flatten())
        for group in optimizer.param_groups:
            group["lr"] = lr_at(step)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        history.train_steps.append(step + 1)
        history.train_loss.append(loss.item())
        if (step + 1) % settings.eval_every == 0 or step + 1 == settings.steps:
            history.val_steps.append(step + 1)
            history.val_loss.append(evaluate_loss(model, val))
            bar.set_postfix(val_loss=f"{history.val_loss[-1]:.3f}", refresh=False)
    history.seconds = time.perf_counter() - start
    history.cpu_seconds = time.process_time() - start_cpu
    return history


def load_course_decoder(
    *, device: torch.device | str | None = "cpu", cache: bool = True, progress: bool = True
) -> tuple[TinyGPT, Any]:
    """The course's small decoder: trained on the Rotten Tomatoes training sentences with the
    bundled all-MiniLM-L6-v2 WordPiece tokenizer (validation split for the loss), cached.

    Returns ``(model, tokenizer)``, the model on ``device`` (see :func:`train_tiny_decoder`).
    About 100 s of CPU time (one thread) the first time, then loaded from the cache in well
    under a second. Used by notebooks 00 and 02.
    """
    from transformers import AutoTokenizer

    from course_utils.core.data import load_rotten_tomatoes
    from course_utils.core.models import bundled_model_path

    data = load_rotten_tomatoes()
    tokenizer = AutoTokenizer.from_pretrained(
        str(bundled_model_path()), local_files_only=True, trust_remote_code=False
    )
    model = train_tiny_decoder(
        data["train"]["text"],
        tokenizer,
        data["validation"]["text"],
        device=device,
        cache=cache,
        progress=progress,
    )
    return model, tokenizer


def plot_loss(history: TrainingHistory, unigram_ppl: float | None = None) -> Any:
    """Training loss (smoothed over 20 steps) and validation loss per step, in nats/token.

    ``unigram_ppl`` draws the unigram baseline's loss, ``log(perplexity)``, as a line.
    Taught in notebook 02, section 4.
    """
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.5))
    raw = np.asarray(history.train_loss)
    window = min(20, len(raw))
    smooth = np.convolve(raw, np.ones(window) / window, mode="valid")
    ax.plot(history.train_steps, raw, color="tab:blue", alpha=0.25, lw=0.8)
    ax.plot(history.train_steps[window - 1 :], smooth, color="tab:blue", label="train (smoothed)")
    ax.plot(history.val_steps, history.val_loss, "o-", color="tab:orange", label="validation")
    if unigram_ppl is not None:
        ax.axhline(math.log(unigram_ppl), color="grey", ls="--", label="unigram baseline")
    ax.set_xlabel("training step")
    ax.set_ylabel("cross-entropy (nats / token)")
    ax.legend()
    return fig
