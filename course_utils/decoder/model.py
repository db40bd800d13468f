"""A small GPT-style decoder, TinyGPT: the model, its vocabulary, saving and loading.

Taught in notebook 02 (``02_bertviz_attention``), section 4 (the decoder side). Training is
:mod:`course_utils.decoder.training`, sampling :mod:`course_utils.decoder.sampling`, GPT-2
:mod:`course_utils.decoder.gpt2`.

:class:`TinyGPT` has token and learned position embeddings, the course's
:class:`course_utils.transformer.blocks.EncoderBlock` in its pre-LayerNorm GELU form called with
``is_causal=True`` (which makes it a GPT-2-style decoder block: the course's ``DecoderBlock``
has cross-attention for encoder-decoder models, which a decoder-only model has none of), and a
tied output layer, in the spirit of nanoGPT. Its vocabulary is the part of a tokenizer's
vocabulary seen in the training text (``token_ids`` maps the model's ids back to the
tokenizer's); every other token becomes ``[UNK]``.
"""

from __future__ import annotations

import json
import math
import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from course_utils.transformer.blocks import EncoderBlock

DEFAULT_SEED = 0  # the decoder's training and sampling seed


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


# --- training -----------------------------------------------------------------------------


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


# --- sampling -----------------------------------------------------------------------------


# --- figures ------------------------------------------------------------------------------
