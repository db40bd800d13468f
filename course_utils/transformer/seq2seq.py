"""An encoder-decoder Transformer trained live: reversing digit strings, cross-attention shown.

Taught beside notebook 01, section 6.2 (the encoder-decoder family run, not only described). The
model is :class:`course_utils.transformer.blocks.Transformer` (the paper's encoder-decoder, equal to
``torch.nn.Transformer``) with token embeddings, sinusoidal positions and an output layer. The
task is one a learner checks by eye: the target is the source digits in reverse order. A trained
model's cross-attention mostly reads, for each output digit, the source position it copies (an
anti-diagonal), though not always: the encoder's self-attention may already have moved a digit's
identity to a neighbouring position. :func:`alignment` measures how often.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn import functional as F

from course_utils.transformer.blocks import Transformer
from course_utils.transformer.positional import sinusoidal_encoding

PAD, BOS, EOS = 10, 11, 12  # the digits are tokens 0-9
VOCAB = 13


@dataclass(frozen=True)
class Seq2SeqConfig:
    """Model size and training settings (defaults: about half a minute on two CPU cores)."""

    d_model: int = 64
    num_heads: int = 4
    layers: int = 2
    d_ff: int = 128
    min_len: int = 4
    max_len: int = 9
    steps: int = 1500
    batch_size: int = 64
    lr: float = 2e-3
    seed: int = 0


@dataclass
class Seq2SeqHistory:
    """Training loss per step and the wall seconds of the loop."""

    loss: list[float] = field(default_factory=list)
    seconds: float = 0.0


class Seq2Seq(nn.Module):
    """Embeddings + sinusoidal positions -> :class:`Transformer` -> logits over the vocabulary."""

    def __init__(self, config: Seq2SeqConfig) -> None:
        super().__init__()
        self.config = config
        self.embed = nn.Embedding(VOCAB, config.d_model, padding_idx=PAD)
        self.transformer = Transformer(
            config.d_model, config.num_heads, config.layers, config.layers, config.d_ff,
            dropout=0.0,
        )  # fmt: skip
        self.out = nn.Linear(config.d_model, VOCAB)
        positions = sinusoidal_encoding(config.max_len + 2, config.d_model)
        self.register_buffer("positions", torch.as_tensor(positions, dtype=torch.float32))

    def _inputs(self, ids: Tensor) -> Tensor:
        scale = math.sqrt(self.config.d_model)
        return self.embed(ids) * scale + self.positions[: ids.shape[1]]

    def forward(self, src: Tensor, tgt_in: Tensor) -> Tensor:
        """``src`` (B, S) and ``tgt_in`` (B, T) token ids -> logits (B, T, VOCAB)."""
        memory = self.transformer.encode(self._inputs(src), src_padding_mask=src != PAD)
        hidden = self.transformer.decode(
            self._inputs(tgt_in), memory, tgt_is_causal=True, memory_padding_mask=src != PAD
        )
        return self.out(hidden)


def make_batch(
    rng: np.random.Generator, batch_size: int, config: Seq2SeqConfig
) -> tuple[Tensor, Tensor, Tensor]:
    """Random digit strings: ``(src, tgt_in, tgt_out)``, padded; ``tgt_out`` is the reversed
    source followed by EOS, ``tgt_in`` the same shifted right behind BOS."""
    lengths = rng.integers(config.min_len, config.max_len + 1, size=batch_size)
    width = int(lengths.max())
    src = np.full((batch_size, width), PAD)
    tgt_in = np.full((batch_size, width + 1), PAD)
    tgt_out = np.full((batch_size, width + 1), PAD)
    for row, n in enumerate(lengths):
        digits = rng.integers(0, 10, size=n)
        src[row, :n] = digits
        tgt_in[row, : n + 1] = [BOS, *digits[::-1]]
        tgt_out[row, : n + 1] = [*digits[::-1], EOS]
    return tuple(torch.as_tensor(a, dtype=torch.long) for a in (src, tgt_in, tgt_out))  # type: ignore[return-value]


def train_reverser(
    config: Seq2SeqConfig | None = None, *, progress: bool = True
) -> tuple[Seq2Seq, Seq2SeqHistory]:
    """Train a :class:`Seq2Seq` to reverse digit strings (seeded: the same model every run on
    the same machine). Returns the model in eval mode and its loss history."""
    from course_utils.core.progress import progress as progress_bar

    config = config or Seq2SeqConfig()
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    model = Seq2Seq(config)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr)
    warmup = max(config.steps // 10, 1)
    scheduler = torch.optim.lr_scheduler.LambdaLR(  # warm-up, then cosine decay to zero
        optimizer,
        lambda step: min((step + 1) / warmup, 0.5 * (1 + math.cos(math.pi * step / config.steps))),
    )
    history = Seq2SeqHistory()
    start = time.perf_counter()
    model.train()
    for _ in progress_bar(range(config.steps), desc="seq2seq", disable=not progress):
        src, tgt_in, tgt_out = make_batch(rng, config.batch_size, config)
        logits = model(src, tgt_in)
        loss = F.cross_entropy(logits.reshape(-1, VOCAB), tgt_out.reshape(-1), ignore_index=PAD)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        scheduler.step()
        history.loss.append(loss.item())
    history.seconds = time.perf_counter() - start
    return model.eval(), history


@torch.inference_mode()
def reverse(model: Seq2Seq, digits: str) -> tuple[str, np.ndarray]:
    """Greedy decoding of ``digits`` (a string of 0-9): ``(output digits, cross-attention
    (output steps, source positions) of the last decoder block, averaged over heads)``."""
    if not digits or not digits.isdigit():
        raise ValueError(f"reverse() takes a non-empty string of digits, got {digits!r}")
    if len(digits) > model.config.max_len:
        raise ValueError(f"at most {model.config.max_len} digits (the trained length)")
    src = torch.tensor([[int(d) for d in digits]])
    memory = model.transformer.encode(model._inputs(src))
    out = [BOS]
    weights = []
    for _ in range(len(digits) + 1):
        x = model._inputs(torch.tensor([out]))
        for block in model.transformer.decoder["layers"]:
            x, cross = block(x, memory, tgt_is_causal=True, need_weights=True)
        token = int(model.out(model.transformer.decoder["norm"](x))[0, -1].argmax())
        weights.append(cross[0, :, -1].mean(0).numpy())
        if token == EOS:
            break
        out.append(token)
    return "".join(str(t) for t in out[1:] if t < 10), np.stack(weights)


def accuracy(model: Seq2Seq, n: int = 200, seed: int = 1) -> float:
    """Share of ``n`` fresh random digit strings reversed exactly (held out: another seed)."""
    rng = np.random.default_rng(seed)
    config = model.config
    right = 0
    for _ in range(n):
        digits = "".join(
            map(str, rng.integers(0, 10, rng.integers(config.min_len, config.max_len + 1)))
        )
        right += reverse(model, digits)[0] == digits[::-1]
    return right / n


def alignment(model: Seq2Seq, n: int = 100, seed: int = 2) -> tuple[float, float]:
    """How often the cross-attention points at the digit being copied.

    For ``n`` fresh random strings, each output digit ``i`` of a string of length ``L`` copies
    source position ``L - 1 - i``; returns ``(share of output digits whose head-averaged
    last-block cross-attention peaks there, the share expected by chance (mean of 1 / L))``.
    """
    rng = np.random.default_rng(seed)
    config = model.config
    hits, chance, total = 0, 0.0, 0
    for _ in range(n):
        length = int(rng.integers(config.min_len, config.max_len + 1))
        digits = "".join(map(str, rng.integers(0, 10, length)))
        _, weights = reverse(model, digits)
        rows = min(length, len(weights))
        hits += int((weights[:rows].argmax(1) == length - 1 - np.arange(rows)).sum())
        chance += rows / length
        total += rows
    return hits / total, chance / total


def plot_cross_attention(weights: np.ndarray, source: str, output: str) -> object:
    """Heatmap of :func:`reverse`'s cross-attention: output steps down (the digits written,
    then EOS), source digits across. A reverser's is mostly an anti-diagonal."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(3.6, 3.4))
    ax.imshow(weights, vmin=0.0, vmax=1.0, cmap="Blues")
    ax.set_xticks(range(len(source)), list(source))
    ax.set_yticks(range(len(weights)), [*output, "EOS"][: len(weights)])
    ax.set(xlabel="source digit (attended to)", ylabel="output step", title="cross-attention")
    ax.grid(False)
    return fig
