"""BertViz for any model's attention, saved as pages that render with no network.

Taught in notebook 02 (``02_bertviz_attention``): section 1 (getting attention out of a
model), sections 2-4 (head and model views beside static heatmaps, offline export), section 5
(the neuron view from safetensors weights), section 6 (the course's from-scratch encoder) and
section 9 (the decoder's causal attention).

BertViz expects, per layer, a tensor ``(1, heads, seq, seq)`` and one token per position. It
gives a misleading message for a batch of several examples and fails on 3-D tensors and NumPy
arrays; padding shows up as attention to ``[PAD]``. :func:`to_bertviz` turns Hugging Face
outputs, raw tensors or arrays (any batch size, padded or not) into an
:class:`AttentionView` that BertViz draws, with a clear error for every wrong shape.

BertViz's HTML loads require.js, d3 and jQuery from a CDN, so a saved view is blank offline.
:func:`export_html` writes a standalone page with the vendored copies of those scripts
(``course_utils/vendor``, see its README) inlined.

BertViz's neuron view ships its own BERT class that reads only ``pytorch_model.bin``
(pickle); :func:`load_neuron_view_model` converts a safetensors BERT or DistilBERT checkpoint
into a cache folder (safetensors + JSON, no pickle anywhere) and loads it into that class.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

from course_utils.paths import course_subdir, package_file

#: The scripts BertViz loads from cdnjs, as vendored files (see ``vendor/README.md``).
VENDOR_FILES = {
    "require": "require-2.3.6.js",
    "jquery": "jquery-3.7.1.min.js",
    "d3": "d3-5.7.0.min.js",
}
NEURON_CACHE_SUBDIR = "neuron_view"
ViewKind = Literal["head", "model"]
VIEW_KINDS = ("head", "model")
ROW_SUM_TOLERANCE = 1e-3
_BERTVIZ_ID = re.compile(r"bertviz-[0-9a-f]{32}")
_CDN_SCRIPT = re.compile(
    r'<script src="https://cdnjs\.cloudflare\.com/[^"]*require[^"]*"></script>'
)
_REQUIRE_CONFIG = re.compile(r"require\.config\(\{.*?\}\);", re.DOTALL)
_NEURON_PARAMS = re.compile(r"window\.bertviz_params = (\{.*\})")
_TOKENIZER_FILES = (
    "vocab.txt",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
)


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
    device = next(model.parameters()).device  # weights come back to the CPU in to_bertviz
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


#: Whether this process (a notebook's kernel) has already sent the vendored scripts.
_scripts_sent = False
_MAIN_SCRIPT_TAG = '<script type="text/javascript">'
_REQUIRE_CDN = "https://cdnjs.cloudflare.com/ajax/libs/require.js/2.3.6/require.min.js"


def show(html: str, *, scripts: bool | None = None) -> Any:
    """An IPython HTML object for a rendered view (a cell's last expression displays it).

    The output draws with no network in JupyterLab and Jupyter Notebook 7: the first view a
    kernel shows carries the vendored require.js, jQuery and d3 (about 400 KB, once per
    notebook), which stay defined on the page for every later view; each view waits for them
    and, where they are missing (Colab draws every output in its own frame, or the page was
    reloaded), loads them from the CDN as BertViz does. ``scripts`` forces (``True``) or
    leaves out (``False``) the vendored copy; ``None`` sends it once per kernel. Renderers that
    run no scripts (GitHub) show nothing here: notebook 02 puts a static heatmap beside each
    view. Taught in notebook 02, section 2.
    """
    from IPython.display import HTML

    global _scripts_sent
    send = not _scripts_sent if scripts is None else scripts
    output = notebook_html(html, scripts=send)
    _scripts_sent = _scripts_sent or send
    return HTML(output)


def notebook_html(fragment: str, *, scripts: bool) -> str:
    """A BertViz fragment as a notebook output that needs no network when ``scripts`` is true
    or when an earlier output on the page defined require.js (see :func:`show`).

    The CDN ``<script src=...require.min.js>`` tag is dropped and BertViz's drawing code is
    wrapped in a loader: it runs at once when ``window.requirejs`` exists (the vendored copy,
    which defines the ``jquery`` and ``d3`` modules) and otherwise loads require.js from the
    CDN first, or, offline, says in the output why nothing is drawn.
    """
    if not _CDN_SCRIPT.search(fragment):
        raise ValueError("not a BertViz fragment: no require.js <script> tag found")
    body = _CDN_SCRIPT.sub("", fragment, count=1)
    start = body.rfind(_MAIN_SCRIPT_TAG)  # the last script draws (the neuron view has two)
    end = body.rfind("</script>")
    code = body[start + len(_MAIN_SCRIPT_TAG) : end]
    if start < 0 or end < start or body[end + 9 :].strip() or "</script" in code.lower():
        raise ValueError("not a BertViz fragment: its drawing <script> was not found at the end")
    root = _BERTVIZ_ID.search(body)
    root_id = root.group(0) if root else ""
    message = (
        "<p style=\\'color:#a00\\'>This view needs require.js, which is neither on this page nor "
        "reachable online: run the cell again with <code>av.show(..., scripts=True)</code>.</p>"
    )
    loader = (
        '<script type="text/javascript">\n(function () {\n'
        f"  var draw = function () {{{code}}};\n"
        "  if (window.requirejs) { draw(); return; }\n"
        '  var tag = document.createElement("script");\n'
        f'  tag.src = "{_REQUIRE_CDN}";\n'
        "  tag.onload = draw;\n"
        "  tag.onerror = function () {\n"
        f'    var root = document.getElementById("{root_id}");\n'
        f"    if (root) {{ root.insertAdjacentHTML('beforeend', '{message}'); }}\n"
        "  };\n"
        "  document.head.appendChild(tag);\n"
        "})();\n</script>\n"
    )
    prefix = vendored_scripts() + "\n" if scripts else ""
    return prefix + body[:start] + loader


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


# --- standalone offline HTML -------------------------------------------------------------


def vendored_scripts() -> str:
    """``<script>`` blocks that define require.js and the AMD modules ``jquery`` and ``d3``.

    jQuery registers itself as the named module ``jquery``; d3 5's UMD header would make an
    anonymous ``define`` that require.js rejects outside its loader, so ``define`` is hidden
    while d3 installs ``window.d3``, which is then registered under the name ``d3``.
    """
    sources = {}
    for name, filename in VENDOR_FILES.items():
        text = package_file("vendor", filename).read_text(encoding="utf-8")
        if "</script" in text.lower():
            raise ValueError(f"{filename} contains '</script' and cannot be inlined")
        sources[name] = text
    return "\n".join(
        [
            f"<script>\n{sources['require']}\n</script>",
            f"<script>\n{sources['jquery']}\n</script>",
            "<script>window.__amdDefine = window.define; window.define = undefined;</script>",
            f"<script>\n{sources['d3']}\n</script>",
            "<script>window.define = window.__amdDefine; delete window.__amdDefine;\n"
            "define('d3', [], function () { return window.d3; });</script>",
        ]
    )


def standalone_html(fragment: str, title: str) -> str:
    """A complete page that renders a BertViz fragment with no network access.

    The CDN ``<script src=...require.min.js>`` tag is replaced by the vendored scripts and
    BertViz's ``require.config`` (CDN paths for d3 and jQuery) is removed.
    """
    if not _CDN_SCRIPT.search(fragment):
        raise ValueError("not a BertViz fragment: no require.js <script> tag found")
    body = _CDN_SCRIPT.sub(lambda _: vendored_scripts(), fragment, count=1)
    body = _REQUIRE_CONFIG.sub("", body)
    if "cdnjs.cloudflare.com" in body:
        raise ValueError("the fragment still refers to the CDN after inlining the scripts")
    safe_title = title.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<title>{safe_title}</title>\n</head>\n<body>\n<h3 style="font-family:sans-serif">'
        f"{safe_title}</h3>\n{body}\n</body>\n</html>\n"
    )


def export_html(fragment: str, path: str | os.PathLike[str], title: str) -> Path:
    """Write :func:`standalone_html` of a rendered view to ``path`` (folders created).

    Views go under the course folder (see :func:`views_dir`). Returns the path.
    Taught in notebook 02, section 4.
    """
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(standalone_html(fragment, title), encoding="utf-8")
    return out


def views_dir() -> Path:
    """``views/`` in the course folder (:func:`course_utils.paths.course_dir`)."""
    return course_subdir("views")


# --- neuron view from safetensors --------------------------------------------------------


def neuron_cache_dir() -> Path:
    """``neuron_view/`` in the course folder (:func:`course_utils.paths.course_dir`)."""
    return course_subdir(NEURON_CACHE_SUBDIR)


_DISTILBERT_KEYS = {
    "attention.q_lin": "attention.self.query",
    "attention.k_lin": "attention.self.key",
    "attention.v_lin": "attention.self.value",
    "attention.out_lin": "attention.output.dense",
    "sa_layer_norm": "attention.output.LayerNorm",
    "ffn.lin1": "intermediate.dense",
    "ffn.lin2": "output.dense",
    "output_layer_norm": "output.LayerNorm",
}


def _neuron_config(config: dict[str, Any]) -> dict[str, Any]:
    """BertViz's BERT config (JSON) for a Hugging Face BERT or DistilBERT config."""
    kind = config.get("model_type")
    if kind == "bert":
        keys = (
            "vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads",
            "intermediate_size", "hidden_act", "max_position_embeddings", "type_vocab_size",
            "layer_norm_eps",
        )  # fmt: skip
        out = {k: config[k] for k in keys if k in config}
    elif kind == "distilbert":
        out = {
            "vocab_size": config["vocab_size"],
            "hidden_size": config["dim"],
            "num_hidden_layers": config["n_layers"],
            "num_attention_heads": config["n_heads"],
            "intermediate_size": config["hidden_dim"],
            "hidden_act": config.get("activation", "gelu"),
            "max_position_embeddings": config["max_position_embeddings"],
            "type_vocab_size": 2,
            "layer_norm_eps": 1e-12,
        }
    else:
        raise ValueError(
            f"BertViz's neuron view has BERT-style classes only; model_type {kind!r} is "
            "not supported here (BERT and DistilBERT are)"
        )
    if out.get("hidden_act") != "gelu":
        raise ValueError(f"activation {out.get('hidden_act')!r}: the neuron view model uses gelu")
    out.update(hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0, output_attentions=True)
    return out


def _neuron_state_dict(
    state: dict[str, torch.Tensor], config: dict[str, Any], neuron_config: dict[str, Any]
) -> dict[str, torch.Tensor]:
    """Rename a Hugging Face state dict to BertViz's BERT names (DistilBERT mapped onto BERT)."""
    out: dict[str, torch.Tensor] = {}
    for key, tensor in state.items():
        name = key.removeprefix("bert.").removeprefix("distilbert.")
        name = name.replace("LayerNorm.gamma", "LayerNorm.weight").replace(
            "LayerNorm.beta", "LayerNorm.bias"
        )
        if name.endswith("position_ids"):
            continue
        if config.get("model_type") == "distilbert":
            name = name.replace("transformer.layer.", "encoder.layer.")
            for old, new in _DISTILBERT_KEYS.items():
                name = name.replace(f".{old}.", f".{new}.")
        out[name] = tensor.contiguous()
    if config.get("model_type") == "distilbert":
        # DistilBERT has no segment embeddings and no pooler: zero segments change nothing,
        # the pooler is not used by the attention the view shows
        hidden = neuron_config["hidden_size"]
        out["embeddings.token_type_embeddings.weight"] = torch.zeros(2, hidden)
        out["pooler.dense.weight"] = torch.zeros(hidden, hidden)
        out["pooler.dense.bias"] = torch.zeros(hidden)
    return out


def convert_for_neuron_view(
    source: str | os.PathLike[str] | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
) -> Path:
    """Convert a safetensors BERT/DistilBERT folder for BertViz's neuron view; return the folder.

    ``source`` defaults to the bundled all-MiniLM-L6-v2. The result (``config.json``,
    ``model.safetensors`` with BertViz's parameter names, the tokenizer files) is cached in
    ``cache_dir`` (default :func:`neuron_cache_dir`) under a key made from the source's
    config and weights, so a changed checkpoint is converted again. Reads JSON and
    safetensors only: nothing is unpickled. Taught in notebook 02, section 5.
    """
    from safetensors.torch import load_file, save_file

    if source is None:
        from course_utils.models import bundled_model_path

        source = bundled_model_path()
    src = Path(source)
    weights, config_file = src / "model.safetensors", src / "config.json"
    if not weights.is_file() or not config_file.is_file():
        raise FileNotFoundError(
            f"{src} needs config.json and model.safetensors (only safetensors weights are read)"
        )
    digest = hashlib.sha256(config_file.read_bytes())
    with weights.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 24), b""):
            digest.update(block)
    folder = Path(cache_dir or neuron_cache_dir()) / f"{src.name}-{digest.hexdigest()[:16]}"
    if (folder / "model.safetensors").is_file():
        return folder

    config = json.loads(config_file.read_text(encoding="utf-8"))
    neuron_config = _neuron_config(config)
    state = _neuron_state_dict(load_file(weights), config, neuron_config)
    _check_neuron_keys(state, neuron_config)
    tmp = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    (tmp / "config.json").write_text(json.dumps(neuron_config, indent=2), encoding="utf-8")
    for name in _TOKENIZER_FILES:
        if (src / name).is_file():
            shutil.copy2(src / name, tmp / name)
    save_file(state, str(tmp / "model.safetensors"))
    shutil.rmtree(folder, ignore_errors=True)
    tmp.rename(folder)
    return folder


def _neuron_model(neuron_config: dict[str, Any]) -> torch.nn.Module:
    from bertviz.transformers_neuron_view import BertConfig, BertModel

    return BertModel(BertConfig.from_dict(neuron_config))


def _check_neuron_keys(state: dict[str, torch.Tensor], neuron_config: dict[str, Any]) -> None:
    expected = _neuron_model(neuron_config).state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    wrong = [k for k in expected if k in state and state[k].shape != expected[k].shape]
    if missing or unexpected or wrong:
        raise ValueError(
            "the checkpoint does not map onto BertViz's BERT: "
            f"missing {missing[:5]}, unexpected {unexpected[:5]}, wrong shapes {wrong[:5]}"
        )


def load_neuron_view_model(
    source: str | os.PathLike[str] | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
) -> tuple[torch.nn.Module, Any]:
    """BertViz's BERT (with query/key outputs) and the tokenizer, from safetensors weights.

    See :func:`convert_for_neuron_view` for ``source`` and ``cache_dir``. The model is in eval
    mode. Taught in notebook 02, section 5.
    """
    from safetensors.torch import load_file
    from transformers import AutoTokenizer

    folder = convert_for_neuron_view(source, cache_dir)
    neuron_config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    model = _neuron_model(neuron_config)
    model.load_state_dict(load_file(folder / "model.safetensors"), strict=True)
    model.eval()
    tokenizer = AutoTokenizer.from_pretrained(
        str(folder), local_files_only=True, trust_remote_code=False
    )
    return model, tokenizer


def neuron_attention(model: torch.nn.Module, tokenizer: Any, text: str) -> np.ndarray:
    """The neuron-view model's attention for ``text``: ``(layers, heads, n, n)``.

    Used to check that the converted model attends exactly like the Hugging Face model.
    """
    from bertviz.neuron_view import get_attention

    data = get_attention(model, "bert", tokenizer, text)
    return np.asarray(data["all"]["attn"], dtype=np.float64)


def render_neuron_view(
    model: torch.nn.Module,
    tokenizer: Any,
    sentence_a: str,
    sentence_b: str | None = None,
    *,
    layer: int | None = None,
    head: int | None = None,
    decimals: int = 3,
) -> str:
    """BertViz's neuron view (queries, keys, their product) as HTML, rounded and stable.

    ``model`` and ``tokenizer`` come from :func:`load_neuron_view_model`. Attention, query and
    key values are rounded to ``decimals`` so the page is smaller and identical run to run.
    Taught in notebook 02, section 5.
    """
    from bertviz.neuron_view import show as neuron_show

    html = neuron_show(
        model,
        "bert",
        tokenizer,
        sentence_a,
        sentence_b,
        display_mode="light",
        layer=layer,
        head=head,
        html_action="return",
    ).data
    match = _NEURON_PARAMS.search(html)
    if match is None:  # pragma: no cover - guards against a BertViz layout change
        raise RuntimeError("unexpected BertViz neuron-view HTML: no window.bertviz_params")
    params = _round_floats(json.loads(match.group(1)), decimals)
    html = html[: match.start(1)] + json.dumps(params) + html[match.end(1) :]
    return _stable_ids(html)


def _round_floats(value: Any, decimals: int) -> Any:
    if isinstance(value, float):
        return round(value, decimals)
    if isinstance(value, list):
        return [_round_floats(v, decimals) for v in value]
    if isinstance(value, dict):
        return {k: _round_floats(v, decimals) for k, v in value.items()}
    return value
