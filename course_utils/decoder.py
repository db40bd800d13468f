"""A small GPT-style decoder: train it, sample from it, and the same API for GPT-2.

Taught in notebook 02 (``02_bertviz_attention``): section 7 (training the decoder), section 8
(next-token probabilities, temperature, top-k/top-p, greedy) and section 9 (its causal attention
in BertViz); notebook 00 samples from it with :func:`load_course_decoder` and :func:`generate`.

* :class:`TinyGPT`: token and learned position embeddings, the course's
  :class:`course_utils.transformer.EncoderBlock` in its pre-LayerNorm GELU form called with
  ``is_causal=True`` (which makes it a GPT-2-style decoder block: the course's ``DecoderBlock``
  has cross-attention for encoder-decoder models, which a decoder-only model has none of), and a
  tied output layer, in the spirit of nanoGPT. Its vocabulary is the part of a tokenizer's
  vocabulary seen in the training text (``token_ids`` maps the model's ids back to the
  tokenizer's); every other token becomes ``[UNK]``.
* :func:`train_tiny_decoder`: a deterministic training loop (fixed seed, fixed step count,
  fixed thread count) with a progress bar, cached as safetensors under ``$COURSE_CACHE_DIR``.
* :func:`generate`, :func:`sample_next_token`, :func:`filter_logits`: greedy decoding and
  sampling with temperature, top-k and top-p, identical for :class:`TinyGPT` and Hugging Face
  causal language models such as GPT-2 (:func:`load_gpt2`).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn import functional as F

from course_utils.paths import course_subdir
from course_utils.progress import progress as progress_bar
from course_utils.transformer import EncoderBlock

CACHE_SUBDIR = "decoder"
DEFAULT_SEED = 0
DEFAULT_THREADS = 1


@dataclass(frozen=True)
class DecoderConfig:
    """Sizes of :class:`TinyGPT`: ``context`` tokens, ``d_model`` wide, ``n_layers`` blocks."""

    vocab_size: int
    context: int = 32
    d_model: int = 128
    n_heads: int = 4
    n_layers: int = 2
    d_ff: int = 512
    dropout: float = 0.1

    def __post_init__(self) -> None:
        if self.d_model % self.n_heads:
            raise ValueError(f"d_model {self.d_model} is not divisible by n_heads {self.n_heads}")
        if min(self.vocab_size, self.context, self.n_layers) < 1:
            raise ValueError(f"vocab_size, context and n_layers must be positive: {self}")


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


@dataclass
class TrainingHistory:
    """Losses (nats per token) recorded by :func:`train_tiny_decoder`.

    ``seconds`` is wall time, ``cpu_seconds`` the process's CPU time (less than the wall time
    on a busy machine).
    """

    train_steps: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    val_steps: list[int] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    seconds: float = 0.0
    cpu_seconds: float = 0.0
    from_cache: bool = False

    @property
    def val_perplexity(self) -> float:
        """``exp`` of the final validation loss."""
        return math.exp(self.val_loss[-1])


class TinyGPT(nn.Module):
    """A GPT-style decoder over a compact vocabulary (see the module docstring).

    ``token_ids`` ``(vocab_size,)`` holds the tokenizer id of each model id; ``unk_id`` and
    ``eos_id`` are model ids. ``history`` is set by :func:`train_tiny_decoder`.
    """

    history: TrainingHistory | None = None

    def __init__(self, config: DecoderConfig, token_ids: Tensor, unk_id: int, eos_id: int) -> None:
        super().__init__()
        if token_ids.shape != (config.vocab_size,):
            raise ValueError(
                f"token_ids must be ({config.vocab_size},), got {tuple(token_ids.shape)}"
            )
        self.config = config
        self.unk_id, self.eos_id = unk_id, eos_id
        self.register_buffer("token_ids", token_ids.long().clone())
        self.tok_emb = nn.Embedding(config.vocab_size, config.d_model)
        self.pos_emb = nn.Embedding(config.context, config.d_model)
        self.drop = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(  # pre-norm GELU blocks, causal at call time (GPT-2 style)
            EncoderBlock(config.d_model, config.n_heads, config.d_ff, dropout=config.dropout,
                         activation="gelu", norm_first=True)
            for _ in range(config.n_layers)
        )  # fmt: skip
        self.ln_f = nn.LayerNorm(config.d_model)
        self.head = nn.Linear(config.d_model, config.vocab_size, bias=False)
        self.head.weight = self.tok_emb.weight  # weight tying (Press & Wolf, 2017)
        self.apply(_init_weights)

    def forward(
        self, idx: Tensor, *, return_attention: bool = False
    ) -> Tensor | tuple[Tensor, list[Tensor]]:
        """Model ids ``(B, T)`` with ``T <= context`` → logits ``(B, T, vocab)``.

        With ``return_attention=True`` also one ``(B, heads, T, T)`` tensor per layer.
        """
        B, T = idx.shape
        if self.config.context < T:
            raise ValueError(f"sequence of {T} tokens exceeds the context of {self.config.context}")
        pos = torch.arange(T, device=idx.device)
        x = self.drop(self.tok_emb(idx) + self.pos_emb(pos))  # (B, T, d)
        attentions = []
        for block in self.blocks:
            x, weights = block(x, is_causal=True, need_weights=return_attention)
            attentions.append(weights)  # (B, heads, T, T) or None
        logits = self.head(self.ln_f(x))  # (B, T, vocab)
        return (logits, attentions) if return_attention else logits

    def encode(self, tokenizer: Any, text: str) -> Tensor:
        """Tokenizer ids of ``text`` mapped to model ids (``[UNK]`` outside the vocabulary)."""
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        return self.to_model_ids(torch.tensor(ids, dtype=torch.long))

    def to_model_ids(self, tokenizer_ids: Tensor) -> Tensor:
        """Map tokenizer ids to model ids; ids outside the vocabulary become ``unk_id``."""
        lookup = {int(t): i for i, t in enumerate(self.token_ids.tolist())}
        return torch.tensor(
            [lookup.get(int(t), self.unk_id) for t in tokenizer_ids.flatten().tolist()],
            dtype=torch.long,
        ).view(tokenizer_ids.shape)


def _init_weights(module: nn.Module) -> None:
    if isinstance(module, nn.Linear | nn.Embedding):
        nn.init.normal_(module.weight, mean=0.0, std=0.02)
    if isinstance(module, nn.Linear) and module.bias is not None:
        nn.init.zeros_(module.bias)


# --- data ---------------------------------------------------------------------------------


def eos_token_id(tokenizer: Any) -> int:
    """The tokenizer id that separates texts: ``[SEP]`` (WordPiece) or ``eos`` (GPT-2)."""
    for attr in ("sep_token_id", "eos_token_id"):
        value = getattr(tokenizer, attr, None)
        if value is not None:
            return int(value)
    raise ValueError("the tokenizer has neither a sep_token nor an eos_token to end texts with")


def token_stream(texts: Sequence[str], tokenizer: Any) -> Tensor:
    """All texts as one 1-D tensor of tokenizer ids, each text preceded by the end token."""
    if isinstance(texts, str) or len(texts) == 0:
        raise ValueError("texts must be a non-empty list of strings")
    eos = eos_token_id(tokenizer)
    ids: list[int] = []
    for row in tokenizer(list(texts), add_special_tokens=False)["input_ids"]:
        ids.append(eos)
        ids.extend(row)
    return torch.tensor(ids, dtype=torch.long)


def build_vocab(stream: Tensor, tokenizer: Any, min_count: int = 2) -> tuple[Tensor, int, int]:
    """Tokenizer ids seen at least ``min_count`` times (sorted), plus ``[UNK]`` and the end token.

    Returns ``(token_ids, unk_id, eos_id)`` with model ids for ``[UNK]`` and the end token.
    """
    unk = tokenizer.unk_token_id if tokenizer.unk_token_id is not None else eos_token_id(tokenizer)
    eos = eos_token_id(tokenizer)
    counts = Counter(stream.tolist())
    kept = sorted({t for t, c in counts.items() if c >= min_count} | {unk, eos})
    token_ids = torch.tensor(kept, dtype=torch.long)
    return token_ids, kept.index(unk), kept.index(eos)


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
    Taught in notebook 02, section 7."""
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
    device = _device(model)
    total = 0.0
    for i in range(0, len(x), batch_size):
        logits = model(x[i : i + batch_size].to(device))
        total += F.cross_entropy(
            logits.flatten(0, 1), y[i : i + batch_size].to(device).flatten(), reduction="sum"
        ).item()
    model.train(was_training)
    return total / y.numel()


# --- training -----------------------------------------------------------------------------


def default_cache_dir() -> Path:
    """``decoder/`` in the course folder (:func:`course_utils.paths.course_dir`)."""
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
    Taught in notebook 02, section 7.
    """
    from safetensors.torch import save_file

    from course_utils.notebook import pick_device, seed_everything

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


def _metadata(model: TinyGPT) -> dict[str, str]:
    history = asdict(model.history) if model.history is not None else None
    return {
        "config": json.dumps(asdict(model.config)),
        "unk_id": str(model.unk_id),
        "eos_id": str(model.eos_id),
        "history": json.dumps(history),
    }


def load_decoder(path: str | os.PathLike[str]) -> TinyGPT:
    """Load a :class:`TinyGPT` saved by :func:`train_tiny_decoder` (safetensors only)."""
    from safetensors import safe_open
    from safetensors.torch import load_file

    with safe_open(str(path), framework="pt") as fh:
        meta = fh.metadata()
    state = load_file(str(path))
    config = DecoderConfig(**json.loads(meta["config"]))
    model = TinyGPT(config, state["token_ids"], int(meta["unk_id"]), int(meta["eos_id"]))
    state["head.weight"] = state["tok_emb.weight"]
    model.load_state_dict(state, strict=True)
    history = json.loads(meta["history"])
    if history is not None:
        model.history = TrainingHistory(**{**history, "from_cache": True})
    return model.eval()


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

    from course_utils.data import load_rotten_tomatoes
    from course_utils.models import bundled_model_path

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


# --- sampling -----------------------------------------------------------------------------


def filter_logits(logits: Tensor, top_k: int | None = None, top_p: float | None = None) -> Tensor:
    """Set to ``-inf`` the logits outside the top-``k`` and outside the nucleus of mass ``p``.

    ``logits`` ``(..., vocab)``. Top-p keeps the smallest set of most likely tokens whose
    probabilities add up to at least ``top_p`` (always at least one token). Ties at the k-th
    value are all kept. Taught in notebook 02, section 8.
    """
    if top_k is not None:
        if top_k < 1:
            raise ValueError(f"top_k must be >= 1, got {top_k}")
        kth = torch.topk(logits, min(top_k, logits.size(-1)), dim=-1).values[..., -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p is not None:
        if not 0.0 < top_p <= 1.0:
            raise ValueError(f"top_p must be in (0, 1], got {top_p}")
        sorted_logits, order = torch.sort(logits, dim=-1, descending=True)
        probs = torch.softmax(sorted_logits, dim=-1)
        mass_before = probs.cumsum(dim=-1) - probs  # mass of the strictly more likely tokens
        drop_sorted = mass_before >= top_p  # the first token always stays (mass_before = 0)
        drop = drop_sorted.scatter(-1, order, drop_sorted)
        logits = logits.masked_fill(drop, float("-inf"))
    return logits


def sample_next_token(
    logits: Tensor,
    *,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Pick the next token from ``logits`` ``(B, vocab)``; returns ids ``(B,)``.

    ``temperature == 0`` is greedy decoding (argmax); otherwise the logits are divided by
    ``temperature`` (below 1 sharpens, above 1 flattens), filtered by :func:`filter_logits`
    and sampled with ``generator``. Taught in notebook 02, section 8.
    """
    if temperature < 0:
        raise ValueError(f"temperature must be >= 0, got {temperature}")
    if logits.dim() != 2:
        raise ValueError(f"logits must be (batch, vocab), got {tuple(logits.shape)}")
    if temperature == 0:
        return logits.argmax(dim=-1)
    filtered = filter_logits(logits.double() / temperature, top_k, top_p)
    probs = torch.softmax(filtered, dim=-1)
    return torch.multinomial(probs, 1, generator=generator).squeeze(-1)


def next_token_probs(
    model: nn.Module, tokenizer: Any, prompt: str, temperature: float = 1.0
) -> tuple[np.ndarray, list[str]]:
    """Probabilities of every next token after ``prompt`` at ``temperature`` (> 0).

    Returns ``(probs, tokens)`` with the tokenizer's token strings, for plots.
    """
    if temperature <= 0:
        raise ValueError("temperature must be > 0 for a distribution (0 is argmax)")
    ids = _prompt_ids(model, tokenizer, prompt)
    with torch.no_grad():
        logits = _next_logits(model, ids[None])[0].double()
    probs = torch.softmax(logits / temperature, dim=-1).cpu().numpy()
    return probs, _vocab_tokens(model, tokenizer)


def text_log_prob(model: nn.Module, tokenizer: Any, text: str) -> float:
    """Mean log-probability per token that ``model`` gives ``text`` (natural log, temperature 1).

    The text is scored from the start token, each token given the ones before it (the context is
    cropped for texts longer than the model's). Higher means more typical of the training data:
    low-temperature samples score high, high-temperature samples low. Taught in notebook 00.
    """
    ids = _prompt_ids(model, tokenizer, text)  # start token + the text's tokens
    if len(ids) < 2:
        raise ValueError("text has no tokens to score; pass a non-empty text")
    total = 0.0
    with torch.no_grad():
        for t in range(1, len(ids)):
            logits = _next_logits(model, ids[None, :t])[0].double()
            total += float(torch.log_softmax(logits, dim=-1)[ids[t]])
    return total / (len(ids) - 1)


def _vocab_tokens(model: nn.Module, tokenizer: Any) -> list[str]:
    ids = model.token_ids.tolist() if isinstance(model, TinyGPT) else range(_vocab_size(model))
    return tokenizer.convert_ids_to_tokens(list(ids))


def _vocab_size(model: nn.Module) -> int:
    return int(model.get_output_embeddings().weight.shape[0])


def _prompt_ids(model: nn.Module, tokenizer: Any, prompt: str) -> Tensor:
    """Model ids of the end token (start of a text) followed by the prompt, 1-D."""
    if isinstance(model, TinyGPT):
        ids = torch.cat([torch.tensor([model.eos_id]), model.encode(tokenizer, prompt)])
    else:
        ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
        ids = torch.tensor([eos_token_id(tokenizer), *ids], dtype=torch.long)
    return ids.to(_device(model))


def _device(model: nn.Module) -> torch.device:
    """Where the model's weights are: its inputs go there."""
    return next(model.parameters()).device


def _next_logits(model: nn.Module, ids: Tensor) -> Tensor:
    """Logits ``(B, vocab)`` for the token after ``ids`` ``(B, T)`` (context cropped)."""
    if isinstance(model, TinyGPT):
        return model(ids[:, -model.config.context :])[:, -1]
    limit = getattr(model.config, "n_positions", None) or getattr(
        model.config, "max_position_embeddings", ids.shape[1]
    )
    return model(input_ids=ids[:, -limit:]).logits[:, -1]


def generate(
    model: nn.Module,
    tokenizer: Any,
    prompt: str,
    max_new_tokens: int = 30,
    *,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    seed: int = DEFAULT_SEED,
    stop_at_eos: bool = True,
) -> str:
    """Continue ``prompt`` by up to ``max_new_tokens`` tokens; return prompt + continuation.

    Works for :class:`TinyGPT` and for Hugging Face causal LMs (GPT-2) alike. ``temperature=0``
    is greedy decoding; ``seed`` makes sampling reproducible (its own generator, the global
    RNG is untouched). Stops at the end token unless ``stop_at_eos`` is false.
    Taught in notebook 02, section 8.
    """
    if max_new_tokens < 0:
        raise ValueError(f"max_new_tokens must be >= 0, got {max_new_tokens}")
    was_training = model.training
    model.eval()
    gen = torch.Generator().manual_seed(seed)
    ids = _prompt_ids(model, tokenizer, prompt)[None]  # (1, T)
    eos = model.eos_id if isinstance(model, TinyGPT) else eos_token_id(tokenizer)
    with torch.no_grad():
        for _ in range(max_new_tokens):
            logits = _next_logits(model, ids).cpu()  # sampled on the CPU: one generator anywhere
            nxt = sample_next_token(
                logits, temperature=temperature, top_k=top_k, top_p=top_p, generator=gen
            )
            if stop_at_eos and int(nxt) == eos:
                break
            ids = torch.cat([ids, nxt[:, None].to(ids.device)], dim=1)
    model.train(was_training)
    out = ids[0, 1:].cpu()  # drop the start token
    if isinstance(model, TinyGPT):
        out = model.token_ids.cpu()[out]
    return tokenizer.decode(out.tolist(), skip_special_tokens=True)


def load_gpt2(name: str = "gpt2") -> tuple[Any, nn.Module]:
    """GPT-2 from the Hugging Face Hub (or its local cache) as ``(tokenizer, model)``.

    Safetensors weights only, eager attention so that its attention can be drawn; use it with
    :func:`generate` exactly like :class:`TinyGPT`. Needs the Hub (or a cached copy).
    """
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from course_utils.models import hub_status

    local_only = hub_status() is not None
    try:
        tokenizer = AutoTokenizer.from_pretrained(
            name, local_files_only=local_only, trust_remote_code=False
        )
        model = AutoModelForCausalLM.from_pretrained(
            name,
            local_files_only=local_only,
            use_safetensors=True,
            trust_remote_code=False,
            attn_implementation="eager",
        )
    except OSError as err:
        raise RuntimeError(
            f"Could not load '{name}' ({str(err).splitlines()[0]}): GPT-2 needs the Hugging Face "
            "Hub once; offline, use the course's TinyGPT (load_course_decoder())."
        ) from err
    return tokenizer, model.eval()


def decoder_attention(model: nn.Module, tokenizer: Any, text: str) -> Any:
    """The causal self-attention of a decoder on ``text`` as a BertViz view.

    For :class:`TinyGPT` and Hugging Face causal LMs loaded with eager attention; the first
    position is the start (end-of-text) token. Taught in notebook 02, section 9.
    """
    from course_utils.attention_views import to_bertviz

    ids = _prompt_ids(model, tokenizer, text)[None]
    was_training = model.training
    model.eval()
    with torch.no_grad():
        if isinstance(model, TinyGPT):
            _, attentions = model(ids[:, -model.config.context :], return_attention=True)
            tok_ids = model.token_ids[ids[0, -model.config.context :]].cpu()
        else:
            attentions = model(input_ids=ids, output_attentions=True).attentions
            tok_ids = ids[0].cpu()
    model.train(was_training)
    return to_bertviz(attentions, tokenizer.convert_ids_to_tokens(tok_ids.tolist()))


# --- figures ------------------------------------------------------------------------------


def plot_loss(history: TrainingHistory, unigram_ppl: float | None = None) -> Any:
    """Training loss (smoothed over 20 steps) and validation loss per step, in nats/token.

    ``unigram_ppl`` draws the unigram baseline's loss, ``log(perplexity)``, as a line.
    Taught in notebook 02, section 7.
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


def plot_next_token_distribution(
    model: nn.Module,
    tokenizer: Any,
    prompt: str,
    temperatures: Sequence[float] = (0.2, 0.8, 1.5),
    top: int = 12,
) -> Any:
    """Bars of the ``top`` most likely next tokens after ``prompt``, one panel per temperature.

    The tokens are the most likely ones at temperature 1, the same in every panel, so the
    panels show how temperature sharpens (< 1) or flattens (> 1) one distribution.
    Taught in notebook 02, section 8.
    """
    import matplotlib.pyplot as plt

    base, tokens = next_token_probs(model, tokenizer, prompt, 1.0)
    order = np.argsort(-base, kind="stable")[:top]
    fig, axes = plt.subplots(1, len(temperatures), figsize=(3.2 * len(temperatures), 3.4),
                             sharey=True)  # fmt: skip
    for ax, temp in zip(np.atleast_1d(axes), temperatures, strict=True):
        probs, _ = next_token_probs(model, tokenizer, prompt, temp)
        ax.bar(range(top), probs[order], color="tab:blue")
        ax.set_xticks(range(top), [tokens[i] for i in order], rotation=90, fontsize=8)
        ax.set_title(f"T = {temp}: top-{top} mass {probs[order].sum():.2f}", fontsize=9)
        ax.grid(axis="x", visible=False)
    np.atleast_1d(axes)[0].set_ylabel("probability")
    fig.suptitle(f"next token after '{prompt}'", fontsize=10)
    return fig
