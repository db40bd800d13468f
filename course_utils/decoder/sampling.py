"""Decoding a causal language model: next-token probabilities, sampling and generation.

Taught in notebook 02, sections 4-5 (next-token probabilities, temperature, top-k/top-p, greedy);
notebook 00 samples with :func:`generate`. The same functions serve the course's
:class:`~course_utils.decoder.model.TinyGPT` and Hugging Face causal language models such as GPT-2
(:mod:`course_utils.decoder.gpt2`). Sampling happens on the CPU from one generator, so a seed gives
the same sample wherever the logits were computed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from course_utils.core.devices import model_device
from course_utils.decoder.model import DEFAULT_SEED, TinyGPT, eos_token_id


def filter_logits(logits: Tensor, top_k: int | None = None, top_p: float | None = None) -> Tensor:
    """Set to ``-inf`` the logits outside the top-``k`` and outside the nucleus of mass ``p``.

    ``logits`` ``(..., vocab)``. Top-p keeps the smallest set of most likely tokens whose
    probabilities add up to at least ``top_p`` (always at least one token). Ties at the k-th
    value are all kept. Taught in notebook 02, section 5.
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
    and sampled with ``generator``. Taught in notebook 02, section 5.
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


class BigramReference:
    """A fixed reference model to score samples with: token bigrams counted on a corpus, add-one
    smoothed. It shares nothing with the decoder being sampled, so "typical text scores higher"
    is a claim about the samples, not about the model that drew them. Taught in notebook 00.
    """

    def __init__(self, texts: Sequence[str], tokenizer: Any) -> None:
        self.tokenizer = tokenizer
        self.vocab_size = len(tokenizer)
        pairs: Counter[tuple[int, int]] = Counter()
        firsts: Counter[int] = Counter()
        for text in (t for t in texts if t.strip()):
            ids = self._ids(text)
            pairs.update(zip(ids[:-1], ids[1:], strict=True))
            firsts.update(ids[:-1])
        if not pairs:
            raise ValueError("BigramReference needs texts with at least one token")
        self.pairs, self.firsts = pairs, firsts

    def _ids(self, text: str) -> list[int]:
        return list(self.tokenizer(text)["input_ids"])  # with the tokenizer's start/end marks

    def log_prob(self, text: str) -> float:
        """Mean log-probability per bigram of ``text`` (natural log; add-one smoothing)."""
        if not text.strip():
            raise ValueError("text has no tokens to score; pass a non-empty text")
        ids = self._ids(text)
        total = 0.0
        for a, b in zip(ids[:-1], ids[1:], strict=True):
            total += float(np.log((self.pairs[a, b] + 1) / (self.firsts[a] + self.vocab_size)))
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
    return ids.to(model_device(model))


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
    Taught in notebook 02, section 5.
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
    Taught in notebook 02, section 5.
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
