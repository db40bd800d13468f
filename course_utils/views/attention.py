"""Attention out of any model, into BertViz's head and model views and static heatmaps.

Taught in notebook 02 (``02_bertviz_attention``): section 1 (getting attention out of a
model), sections 2-4 (head and model views beside static heatmaps), section 6 (the course's
from-scratch encoder) and section 7 (the decoder's causal attention).

BertViz expects, per layer, a tensor ``(1, heads, seq, seq)`` and one token per position. It
gives a misleading message for a batch of several examples and fails on 3-D tensors and NumPy
arrays; padding shows up as attention to ``[PAD]``. :func:`to_bertviz` turns Hugging Face
outputs, raw tensors or arrays (any batch size, padded or not) into an
:class:`AttentionView` that BertViz draws, with a clear error for every wrong shape.

Showing the views offline is :mod:`course_utils.views.offline`; the neuron view is
:mod:`course_utils.views.neuron`.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch

from course_utils.core.devices import model_device

ViewKind = Literal["head", "model"]
VIEW_KINDS = ("head", "model")
ROW_SUM_TOLERANCE = 1e-3
_BERTVIZ_ID = re.compile(r"bertviz-[0-9a-f]{32}")


class AttentionShapeError(ValueError):
    """Attention weights that BertViz cannot draw; the message says what was expected."""


@dataclass(frozen=True)
class AttentionView:
    """One example's self-attention, ready for BertViz.

    ``attention`` holds one float64 tensor per layer, each ``(1, heads, n, n)`` (rows are
    queries, columns keys, each row sums to 1); ``tokens`` has the ``n`` tokens;
    ``sentence_b_start`` is the first position of the second sentence of a pair.
    """

    attention: tuple[torch.Tensor, ...]
    tokens: list[str]
    sentence_b_start: int | None = None

    @property
    def num_layers(self) -> int:
        return len(self.attention)

    @property
    def num_heads(self) -> int:
        return int(self.attention[0].shape[1])

    def matrix(self, layer: int, head: int) -> np.ndarray:
        """The ``(n, n)`` weights of one head (query rows, key columns) as a NumPy array."""
        if not (0 <= layer < self.num_layers and 0 <= head < self.num_heads):
            raise IndexError(
                f"layer {layer}, head {head} out of range: this view has {self.num_layers} "
                f"layers and {self.num_heads} heads"
            )
        return self.attention[layer][0, head].numpy()

    def stacked(self) -> np.ndarray:
        """All weights as one array ``(layers, heads, n, n)``."""
        return torch.cat(self.attention).numpy()


# --- from any model's output to what BertViz expects ------------------------------------


def to_bertviz(
    attentions: Any,
    tokens: Sequence[str] | Sequence[Sequence[str]],
    *,
    index: int | None = None,
    attention_mask: Any = None,
    sentence_b_start: int | None = None,
    decimals: int | None = 4,
) -> AttentionView:
    """Turn attention weights into an :class:`AttentionView` for one example.

    ``attentions`` may be a Hugging Face output (its ``.attentions`` is used), a sequence of
    per-layer tensors or NumPy arrays ``(batch, heads, q, k)`` or ``(heads, q, k)``, or a single
    tensor/array ``(layers, batch, heads, q, k)`` or ``(layers, heads, q, k)``. With a batch of
    several examples ``index`` picks one. ``attention_mask`` (``(batch, seq)`` or ``(seq,)``,
    1 = real token) removes padded positions (left or right padding); ``tokens`` may then list
    every position (pads included) or only the real ones, and may be one list per example.
    Weights are rounded to ``decimals`` (so that views are small and identical run to run).
    Taught in notebook 02, section 1.
    """
    layers = _as_layers(attentions)
    shape = layers[0].shape
    for i, layer in enumerate(layers):
        if layer.shape != shape:
            raise AttentionShapeError(
                f"every layer must have the same shape; layer 0 is {tuple(shape)}, "
                f"layer {i} is {tuple(layer.shape)}"
            )
    batch, heads, q_len, k_len = shape
    if q_len != k_len:
        raise AttentionShapeError(
            f"self-attention must be square (seq, seq), got ({q_len}, {k_len}): for "
            "encoder-decoder cross-attention call bertviz.head_view(encoder_attention=..., "
            "decoder_attention=..., cross_attention=...) directly"
        )
    index = _pick_index(batch, index)
    weights = torch.stack([layer[index] for layer in layers])  # (layers, heads, n, n)

    keep = _kept_positions(attention_mask, index, q_len)
    weights = weights[:, :, keep][:, :, :, keep]
    toks = _pick_tokens(tokens, index, q_len, keep)
    _check_probabilities(weights)
    if sentence_b_start is not None and not 0 < sentence_b_start < len(toks):
        raise AttentionShapeError(
            f"sentence_b_start must be inside the sequence (1..{len(toks) - 1}), "
            f"got {sentence_b_start}"
        )
    if decimals is not None:
        weights = torch.round(weights, decimals=decimals)
    return AttentionView(tuple(w.unsqueeze(0) for w in weights), toks, sentence_b_start)


def _as_layers(attentions: Any) -> list[torch.Tensor]:
    """Normalise the accepted inputs to a list of float64 tensors ``(batch, heads, q, k)``."""
    if hasattr(attentions, "attentions") and not isinstance(attentions, torch.Tensor):
        attentions = attentions.attentions
    if attentions is None or (isinstance(attentions, tuple | list) and len(attentions) == 0):
        raise AttentionShapeError(
            "no attention weights: the model returned none. Pass output_attentions=True and load "
            "the model with attn_implementation='eager' (load_encoder(attentions=True)); with "
            "transformers 5 the default 'sdpa' kernel returns an empty tuple."
        )
    if isinstance(attentions, np.ndarray | torch.Tensor):
        whole = _as_tensor(attentions, "attentions")
        if whole.dim() == 4:  # (layers, heads, q, k): one example
            whole = whole.unsqueeze(1)
        if whole.dim() != 5:
            raise AttentionShapeError(
                "a single array of attentions must be (layers, batch, heads, q, k) or "
                f"(layers, heads, q, k), got shape {tuple(whole.shape)}; pass a list with one "
                "array per layer otherwise"
            )
        return list(whole.unbind(0))
    if isinstance(attentions, str) or not isinstance(attentions, Sequence):
        raise AttentionShapeError(
            f"attentions must be a model output, a list of per-layer arrays or one array, "
            f"got {type(attentions).__name__}"
        )
    layers = []
    for i, layer in enumerate(attentions):
        t = _as_tensor(layer, f"layer {i}")
        if t.dim() == 3:  # (heads, q, k)
            t = t.unsqueeze(0)
        if t.dim() != 4:
            raise AttentionShapeError(
                f"layer {i} must be (batch, heads, q, k) or (heads, q, k), "
                f"got shape {tuple(t.shape)}"
            )
        layers.append(t)
    return layers


def _as_tensor(value: Any, what: str) -> torch.Tensor:
    if isinstance(value, np.ndarray):
        value = torch.from_numpy(value)
    if not isinstance(value, torch.Tensor):
        raise AttentionShapeError(f"{what} must be a tensor or NumPy array, got {type(value)}")
    if not (value.is_floating_point()):
        raise AttentionShapeError(f"{what} must hold floating point weights, got {value.dtype}")
    return value.detach().to("cpu", torch.float64)


def _pick_index(batch: int, index: int | None) -> int:
    if index is None:
        if batch > 1:
            raise AttentionShapeError(
                f"the attentions hold a batch of {batch} examples and BertViz draws one: "
                "pass index=i to choose which"
            )
        return 0
    if not -batch <= index < batch:
        raise AttentionShapeError(f"index {index} is outside the batch of {batch} examples")
    return index % batch


def _kept_positions(attention_mask: Any, index: int, seq_len: int) -> torch.Tensor:
    if attention_mask is None:
        return torch.arange(seq_len)
    mask = torch.as_tensor(
        np.asarray(attention_mask) if not torch.is_tensor(attention_mask) else attention_mask
    )
    if mask.dim() == 2:
        if not -mask.shape[0] <= index < mask.shape[0]:
            raise AttentionShapeError(
                f"attention_mask has {mask.shape[0]} rows, no row for example {index}"
            )
        mask = mask[index]
    if mask.dim() != 1 or mask.shape[0] != seq_len:
        raise AttentionShapeError(
            f"attention_mask must be (batch, {seq_len}) or ({seq_len},), "
            f"got shape {tuple(torch.as_tensor(attention_mask).shape)}"
        )
    keep = mask.bool().nonzero().flatten()
    if keep.numel() == 0:
        raise AttentionShapeError(f"example {index} has no real token in attention_mask")
    return keep


def _pick_tokens(
    tokens: Sequence[str] | Sequence[Sequence[str]],
    index: int,
    seq_len: int,
    keep: torch.Tensor,
) -> list[str]:
    if isinstance(tokens, str) or not isinstance(tokens, Sequence) or len(tokens) == 0:
        raise AttentionShapeError("tokens must be a non-empty list of strings (or one per example)")
    if not isinstance(tokens[0], str):  # one list per example
        tokens = tokens[index]
    toks = [str(t) for t in tokens]
    if len(toks) == seq_len:
        return [toks[i] for i in keep.tolist()]
    if len(toks) == keep.numel():
        return toks
    raise AttentionShapeError(
        f"{len(toks)} tokens for attention over {seq_len} positions"
        + (f" ({keep.numel()} real tokens)" if keep.numel() != seq_len else "")
        + f": {' '.join(toks[:12])}{' ...' if len(toks) > 12 else ''}"
    )


def _check_probabilities(weights: torch.Tensor) -> None:
    if not torch.isfinite(weights).all():
        raise AttentionShapeError("attention weights contain NaN or infinity")
    sums = weights.sum(-1)
    worst = (sums - 1).abs().max().item()
    if weights.min().item() < 0 or worst > ROW_SUM_TOLERANCE:
        raise AttentionShapeError(
            "attention rows must be probabilities that sum to 1 over the real tokens (worst row "
            f"sums to {1 + worst:.4f} or {1 - worst:.4f}): pass softmax weights, not scores, "
            "and pass the attention_mask of padded batches"
        )


def extract_attentions(
    model: torch.nn.Module,
    tokenizer: Any,
    texts: Sequence[str],
    pairs: Sequence[str] | None = None,
    *,
    decimals: int | None = 4,
) -> list[AttentionView]:
    """Run a Hugging Face model on a padded batch and return one view per text.

    ``pairs`` makes sentence pairs (second sentences), marked by ``sentence_b_start``. The
    model must be loaded with eager attention (``load_encoder(attentions=True)``).
    Taught in notebook 02, section 1.
    """
    if isinstance(texts, str):
        raise TypeError("texts must be a list of strings; use extract_attention for one text")
    if pairs is not None and len(pairs) != len(texts):
        raise ValueError(f"{len(texts)} texts but {len(pairs)} second sentences")
    enc = tokenizer(list(texts), list(pairs) if pairs else None, padding=True, return_tensors="pt")
    device = model_device(model)  # weights come back to the CPU in to_bertviz
    with torch.no_grad():
        out = model(**{k: v.to(device) for k, v in enc.items()}, output_attentions=True)
    views = []
    for i in range(len(texts)):
        mask = enc["attention_mask"][i]
        tokens = tokenizer.convert_ids_to_tokens(enc["input_ids"][i].tolist())
        b_start = None
        if pairs is not None:
            seq_ids = [s for s, m in zip(enc.sequence_ids(i), mask.tolist(), strict=True) if m]
            b_start = seq_ids.index(1)
        view = to_bertviz(
            out,
            tokens,
            index=i,
            attention_mask=enc["attention_mask"],
            sentence_b_start=b_start,
            decimals=decimals,
        )
        views.append(view)
    return views


def extract_attention(
    model: torch.nn.Module,
    tokenizer: Any,
    text: str,
    pair: str | None = None,
    *,
    decimals: int | None = 4,
) -> AttentionView:
    """:func:`extract_attentions` for one text (or one sentence pair)."""
    return extract_attentions(
        model, tokenizer, [text], None if pair is None else [pair], decimals=decimals
    )[0]


def link_scores(views: Sequence[AttentionView], links: Sequence[tuple[str, str]]) -> np.ndarray:
    """How strongly each head links a query token to a key token, averaged over examples.

    ``links[i] = (query, key)`` names two tokens of ``views[i]`` (first occurrence of each,
    e.g. ``("are", "keys")`` for a verb and its subject). Returns ``(layers, heads)``: the
    mean attention weight from query to key. Ranking heads by it finds the ones that track a
    relation (coreference, subject-verb, ...), the way Clark et al. (2019) probed BERT.
    """
    if len(views) != len(links) or not views:
        raise ValueError(
            f"need one (query, key) link per view, got {len(views)} views, {len(links)} links"
        )
    shapes = {(v.num_layers, v.num_heads) for v in views}
    if len(shapes) != 1:
        raise AttentionShapeError(f"views come from different models (layers, heads): {shapes}")
    total = np.zeros(shapes.pop())
    for view, (query, key) in zip(views, links, strict=True):
        missing = [t for t in (query, key) if t not in view.tokens]
        if missing:
            raise ValueError(
                f"token(s) {missing} not in this view's tokens {view.tokens}; use the "
                "tokenizer's spelling (e.g. lower case for uncased models)"
            )
        total += view.stacked()[:, :, view.tokens.index(query), view.tokens.index(key)]
    return total / len(views)


# --- drawing: BertViz HTML and a static heatmap -----------------------------------------


def render_view(
    view: AttentionView,
    kind: ViewKind = "head",
    *,
    layer: int | None = None,
    heads: Sequence[int] | None = None,
    include_layers: Sequence[int] | None = None,
) -> str:
    """BertViz's HTML for a head or model view (loads its scripts from the CDN).

    The element id is derived from the content, so the same view gives the same HTML.
    Display it with :func:`show`, save it for offline use with :func:`export_html`.
    Taught in notebook 02, section 2.
    """
    from bertviz import head_view, model_view

    common = {
        "attention": view.attention,
        "tokens": view.tokens,
        "sentence_b_start": view.sentence_b_start,
        "include_layers": None if include_layers is None else list(include_layers),
        "html_action": "return",
    }
    if kind == "head":
        html = head_view(layer=layer, heads=None if heads is None else list(heads), **common)
    elif kind == "model":
        html = model_view(
            include_heads=None if heads is None else list(heads), display_mode="light", **common
        )
    else:
        raise ValueError(f"kind must be one of {VIEW_KINDS}, got {kind!r}")
    return _stable_ids(html.data)


def _stable_ids(html: str) -> str:
    """Replace BertViz's random element id by a hash of the page (same view, same id)."""
    digest = hashlib.md5(_BERTVIZ_ID.sub("bertviz-", html).encode()).hexdigest()
    return _BERTVIZ_ID.sub(f"bertviz-{digest}", html)


def plot_attention_heatmap(
    view: AttentionView,
    layer: int,
    heads: Sequence[int],
    *,
    title: str = "",
    max_cols: int = 3,
) -> Any:
    """Static heatmaps of ``heads`` in ``layer``: query tokens down, key tokens across.

    The figure a reader sees on GitHub beside each interactive view. Returns the matplotlib
    figure. Taught in notebook 02, section 2.
    """
    import matplotlib.pyplot as plt

    heads = list(heads)
    if not heads:
        raise ValueError("heads must name at least one head")
    cols = min(max_cols, len(heads))
    rows = -(-len(heads) // cols)
    n = len(view.tokens)
    size = max(3.0, 0.28 * n + 1.2)
    fig, axes = plt.subplots(rows, cols, figsize=(size * cols, size * rows), squeeze=False)
    for ax, head in zip(axes.flat, heads, strict=False):
        image = ax.imshow(view.matrix(layer, head), vmin=0.0, vmax=1.0, cmap="Blues")
        ax.set_xticks(range(n), view.tokens, rotation=90, fontsize=8)
        ax.set_yticks(range(n), view.tokens, fontsize=8)
        ax.set_title(f"layer {layer}, head {head}", fontsize=9)
        ax.grid(False)
        if view.sentence_b_start is not None:
            for line in (ax.axhline, ax.axvline):
                line(view.sentence_b_start - 0.5, color="tab:orange", lw=0.8)
    for ax in list(axes.flat)[len(heads) :]:
        ax.axis("off")
    fig.colorbar(image, ax=axes.ravel().tolist(), shrink=0.6, label="attention weight")
    fig.supxlabel("key (attended to)", fontsize=9)
    fig.supylabel("query (attending)", fontsize=9)
    if title:
        fig.suptitle(title, fontsize=10)
    return fig
