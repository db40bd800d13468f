"""Transformer blocks built on the course's attention kernel: the paper's encoder and decoder.

Taught in notebook 01 (``01_attention_from_scratch``): :class:`MultiHeadAttention` in
section 3, the blocks and :class:`Transformer` in section 6 (BERT made of these blocks is
:mod:`course_utils.transformer.bert`, section 7).
Notebook 02's GPT-style decoder reuses the kernel and the blocks' conventions.

Conventions (all modules are batch-first, ``(batch, seq, d_model)``):

* boolean masks mean ``True`` = *may attend*, as in ``F.scaled_dot_product_attention``
  (``torch.nn.MultiheadAttention`` and ``torch.nn.Transformer`` use the opposite);
* ``padding_mask`` ``(batch, S)`` is a tokenizer's ``attention_mask``: 1/``True`` = real token;
* ``attn_mask`` is ``(L, S)``, ``(batch, L, S)`` or ``(batch, heads, L, S)``, boolean or additive;
* modules return ``(output, weights)``, the weights ``(batch, heads, L, S)`` when asked for.

The semantics equal PyTorch's ``nn.MultiheadAttention``, ``nn.TransformerEncoderLayer``,
``nn.TransformerDecoderLayer`` and ``nn.Transformer`` (``batch_first=True``); see
:func:`convert_torch_state_dict` to copy their weights across.
"""

from __future__ import annotations

import re

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from course_utils.transformer.attention import causal_mask, scaled_dot_product_attention

ACTIVATIONS = {"relu": F.relu, "gelu": F.gelu}


class MultiHeadAttention(nn.Module):
    """Project to queries/keys/values, split into heads, attend, concatenate, project.

    ``d_model`` is split into ``num_heads`` heads of ``d_model // num_heads`` features. The
    kernel is :func:`course_utils.transformer.attention.scaled_dot_product_attention`.
    Taught in notebook 01, section 3.
    """

    def __init__(
        self,
        d_model: int,
        num_heads: int,
        dropout: float = 0.0,
        bias: bool = True,
        kdim: int | None = None,
        vdim: int | None = None,
    ) -> None:
        super().__init__()
        if num_heads < 1 or d_model % num_heads:
            raise ValueError(f"d_model ({d_model}) must be divisible by num_heads ({num_heads})")
        self.num_heads = num_heads
        self.head_dim = d_model // num_heads
        self.dropout = dropout
        self.q_proj = nn.Linear(d_model, d_model, bias=bias)
        self.k_proj = nn.Linear(kdim or d_model, d_model, bias=bias)
        self.v_proj = nn.Linear(vdim or d_model, d_model, bias=bias)
        self.out_proj = nn.Linear(d_model, d_model, bias=bias)

    def forward(
        self,
        query: Tensor,
        key: Tensor | None = None,
        value: Tensor | None = None,
        *,
        attn_mask: Tensor | None = None,
        padding_mask: Tensor | None = None,
        is_causal: bool = False,
        need_weights: bool = False,
    ) -> tuple[Tensor, Tensor | None]:
        """``query`` (B, L, d_model), ``key``/``value`` (B, S, kdim/vdim), default ``query``
        (self-attention). Returns ``(output (B, L, d_model), weights (B, H, L, S) or None)``."""
        key = query if key is None else key
        value = key if value is None else value
        if query.dim() != 3 or key.dim() != 3 or value.dim() != 3:
            raise ValueError(
                "query, key and value must be (batch, seq, features), got "
                f"{tuple(query.shape)}, {tuple(key.shape)}, {tuple(value.shape)}"
            )
        B, L, _ = query.shape
        S = key.size(1)
        if key.size(0) != B or value.shape[:2] != key.shape[:2]:
            raise ValueError(
                "key and value must share batch and length, and the batch must match the "
                f"query's: got {tuple(query.shape)}, {tuple(key.shape)}, {tuple(value.shape)}"
            )
        checks = [
            ("query", query, self.q_proj),
            ("key", key, self.k_proj),
            ("value", value, self.v_proj),
        ]
        for name, t, proj in checks:
            if t.size(-1) != proj.in_features:
                raise ValueError(f"{name} has {t.size(-1)} features, expected {proj.in_features}")
        H, Dh = self.num_heads, self.head_dim
        q = self.q_proj(query).view(B, L, H, Dh).transpose(1, 2)  # (B, H, L, Dh)
        k = self.k_proj(key).view(B, S, H, Dh).transpose(1, 2)  # (B, H, S, Dh)
        v = self.v_proj(value).view(B, S, H, Dh).transpose(1, 2)  # (B, H, S, Dh)
        mask = merge_masks(attn_mask, padding_mask, is_causal, L, S, q.device)
        out, weights = scaled_dot_product_attention(
            q,
            k,
            v,
            attn_mask=mask,
            dropout_p=self.dropout if self.training else 0.0,
            return_weights=True,
        )
        out = out.transpose(1, 2).reshape(B, L, H * Dh)  # concatenate the heads
        return self.out_proj(out), weights if need_weights else None


def merge_masks(
    attn_mask: Tensor | None,
    padding_mask: Tensor | None,
    is_causal: bool,
    query_len: int,
    key_len: int,
    device: torch.device,
) -> Tensor | None:
    """One mask broadcastable to ``(B, H, L, S)`` from an ``attn_mask``, a key
    ``padding_mask`` (B, S) (True = real token) and/or causality. Taught in notebook 01,
    section 4."""
    masks = []
    if attn_mask is not None:
        if attn_mask.dim() not in (2, 3, 4):
            raise ValueError(
                f"attn_mask must be (L, S), (B, L, S) or (B, H, L, S), got {tuple(attn_mask.shape)}"
            )
        masks.append(attn_mask.unsqueeze(1) if attn_mask.dim() == 3 else attn_mask)
    if padding_mask is not None:
        if padding_mask.dim() != 2 or padding_mask.size(1) != key_len:
            raise ValueError(
                f"padding_mask must be (batch, {key_len}), got {tuple(padding_mask.shape)}"
            )
        masks.append(padding_mask.bool()[:, None, None, :])  # (B, 1, 1, S)
    if is_causal:
        masks.append(causal_mask(query_len, key_len, device=device))
    if not masks:
        return None
    merged = masks[0]
    for mask in masks[1:]:
        if merged.dtype == torch.bool and mask.dtype == torch.bool:
            merged = merged & mask
        elif merged.dtype == torch.bool:
            merged = mask.masked_fill(~merged, float("-inf"))
        else:
            merged = merged.masked_fill(~mask, float("-inf"))
    return merged


class FeedForward(nn.Module):
    """Position-wise ``linear2(dropout(activation(linear1(x))))``: d_model -> d_ff -> d_model.

    Taught in notebook 01, section 6.
    """

    def __init__(self, d_model: int, d_ff: int, dropout: float = 0.0, activation: str = "relu"):
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}")
        self.linear1 = nn.Linear(d_model, d_ff)
        self.activation = ACTIVATIONS[activation]
        self.dropout = nn.Dropout(dropout)
        self.linear2 = nn.Linear(d_ff, d_model)

    def forward(self, x: Tensor) -> Tensor:
        """(..., d_model) -> (..., d_model)."""
        return self.linear2(self.dropout(self.activation(self.linear1(x))))


class EncoderBlock(nn.Module):
    """Self-attention and a feed-forward network, each with a residual connection and
    layer norm: after the residual (post-norm, as in Vaswani et al. and BERT) or before the
    sublayer (``norm_first``, as in GPT-2). With ``is_causal`` it is a GPT-style decoder
    block. Same semantics as ``nn.TransformerEncoderLayer(batch_first=True)``.
    Taught in notebook 01, section 6.
    """

    def __init__(
        self,
        d_model: int,
        num_heads: int,
        d_ff: int,
        dropout: float = 0.1,
        activation: str = "relu",
        norm_first: bool = False,
        layer_norm_eps: float = 1e-5,
    ) -> None:
        super().__init__()
        self.norm_first = norm_first
        self.self_attn = MultiHeadAttention(d_model, num_heads, dropout=dropout)
        self.ff = FeedForward(d_model, d_ff, dropout=dropout, activation=activation)
        self.norm1 = nn.LayerNorm(d_model, eps=layer_norm_eps)
        self.norm2 = nn.LayerNorm(d_model, eps=layer_norm_eps)
        self.dropout1 = nn.Dropout(dropout)
        self.dropout2 = nn.Dropout(dropout)

    def forward(
        self,
        x: Tensor,
        *,
        attn_mask: Tensor | None = None,
        padding_mask: Tensor | None = None,
        is_causal: bool = False,
        need_weights: bool = False,
    ) -> tuple[Tensor, Tensor | None]:
        """``x`` (B, L, d_model) -> ``(x (B, L, d_model), self-attention weights or None)``."""
        masks = {"attn_mask": attn_mask, "padding_mask": padding_mask, "is_causal": is_causal}
        if self.norm_first:
            attended, weights = self.self_attn(self.norm1(x), **masks, need_weights=need_weights)
            x = x + self.dropout1(attended)
            x = x + self.dropout2(self.ff(self.norm2(x)))
        else:
            attended, weights = self.self_attn(x, **masks, need_weights=need_weights)
            x = self.norm1(x + self.dropout1(attended))
            x = self.norm2(x + self.dropout2(self.ff(x)))
        return x, weights


class DecoderBlock(nn.Module):
    """Masked self-attention over the target, cross-attention to the encoder's ``memory``
    (queries from the target, keys and values from the source), then a feed-forward network;
    residuals and layer norms as in :class:`EncoderBlock`. Same semantics as
    ``nn.TransformerDecoderLayer(batch_first=True)``. Taught in notebook 01, section 6.1.
    """

    def __init__(
        self,
        d_model: int,
        num_heads: int,
        d_ff: int,
        dropout: float = 0.1,
        activation: str = "relu",
        norm_first: bool = False,
        layer_norm_eps: float = 1e-5,
    ) -> None:
        super().__init__()
        self.norm_first = norm_first
        self.self_attn = MultiHeadAttention(d_model, num_heads, dropout=dropout)
        self.cross_attn = MultiHeadAttention(d_model, num_heads, dropout=dropout)
        self.ff = FeedForward(d_model, d_ff, dropout=dropout, activation=activation)
        self.norm1 = nn.LayerNorm(d_model, eps=layer_norm_eps)
        self.norm2 = nn.LayerNorm(d_model, eps=layer_norm_eps)
        self.norm3 = nn.LayerNorm(d_model, eps=layer_norm_eps)
        self.dropout1 = nn.Dropout(dropout)
        self.dropout2 = nn.Dropout(dropout)
        self.dropout3 = nn.Dropout(dropout)

    def forward(
        self,
        x: Tensor,
        memory: Tensor,
        *,
        tgt_mask: Tensor | None = None,
        memory_mask: Tensor | None = None,
        tgt_padding_mask: Tensor | None = None,
        memory_padding_mask: Tensor | None = None,
        tgt_is_causal: bool = False,
        need_weights: bool = False,
    ) -> tuple[Tensor, Tensor | None]:
        """``x`` (B, T, d_model), ``memory`` (B, S, d_model) -> ``(x (B, T, d_model),
        cross-attention weights (B, H, T, S) or None)``."""
        self_masks = {"attn_mask": tgt_mask, "padding_mask": tgt_padding_mask}
        cross_masks = {"attn_mask": memory_mask, "padding_mask": memory_padding_mask}
        if self.norm_first:
            h = self.norm1(x)
            x = x + self.dropout1(self.self_attn(h, **self_masks, is_causal=tgt_is_causal)[0])
            h = self.norm2(x)
            attended, weights = self.cross_attn(h, memory, **cross_masks, need_weights=need_weights)
            x = x + self.dropout2(attended)
            x = x + self.dropout3(self.ff(self.norm3(x)))
        else:
            attended = self.self_attn(x, **self_masks, is_causal=tgt_is_causal)[0]
            x = self.norm1(x + self.dropout1(attended))
            attended, weights = self.cross_attn(x, memory, **cross_masks, need_weights=need_weights)
            x = self.norm2(x + self.dropout2(attended))
            x = self.norm3(x + self.dropout3(self.ff(x)))
        return x, weights


class Transformer(nn.Module):
    """The encoder-decoder of Vaswani et al. (2017) without embeddings: ``num_encoder_layers``
    :class:`EncoderBlock` and ``num_decoder_layers`` :class:`DecoderBlock`, each stack closed by
    a layer norm. Same semantics as ``nn.Transformer(batch_first=True)``.
    Taught in notebook 01, section 6.1.
    """

    def __init__(
        self,
        d_model: int = 512,
        num_heads: int = 8,
        num_encoder_layers: int = 6,
        num_decoder_layers: int = 6,
        d_ff: int = 2048,
        dropout: float = 0.1,
        activation: str = "relu",
        norm_first: bool = False,
        layer_norm_eps: float = 1e-5,
    ) -> None:
        super().__init__()
        block_args = (d_model, num_heads, d_ff, dropout, activation, norm_first, layer_norm_eps)
        self.encoder = nn.ModuleDict(
            {
                "layers": nn.ModuleList(
                    EncoderBlock(*block_args) for _ in range(num_encoder_layers)
                ),
                "norm": nn.LayerNorm(d_model, eps=layer_norm_eps),
            }
        )
        self.decoder = nn.ModuleDict(
            {
                "layers": nn.ModuleList(
                    DecoderBlock(*block_args) for _ in range(num_decoder_layers)
                ),
                "norm": nn.LayerNorm(d_model, eps=layer_norm_eps),
            }
        )

    def encode(
        self, src: Tensor, src_mask: Tensor | None = None, src_padding_mask: Tensor | None = None
    ) -> Tensor:
        """``src`` (B, S, d_model) -> ``memory`` (B, S, d_model)."""
        x = src
        for block in self.encoder["layers"]:
            x, _ = block(x, attn_mask=src_mask, padding_mask=src_padding_mask)
        return self.encoder["norm"](x)

    def decode(
        self,
        tgt: Tensor,
        memory: Tensor,
        tgt_mask: Tensor | None = None,
        memory_mask: Tensor | None = None,
        tgt_padding_mask: Tensor | None = None,
        memory_padding_mask: Tensor | None = None,
        tgt_is_causal: bool = False,
    ) -> Tensor:
        """``tgt`` (B, T, d_model) attending to ``memory`` (B, S, d_model) -> (B, T, d_model)."""
        x = tgt
        for block in self.decoder["layers"]:
            x, _ = block(
                x,
                memory,
                tgt_mask=tgt_mask,
                memory_mask=memory_mask,
                tgt_padding_mask=tgt_padding_mask,
                memory_padding_mask=memory_padding_mask,
                tgt_is_causal=tgt_is_causal,
            )
        return self.decoder["norm"](x)

    def forward(
        self,
        src: Tensor,
        tgt: Tensor,
        src_mask: Tensor | None = None,
        tgt_mask: Tensor | None = None,
        memory_mask: Tensor | None = None,
        src_padding_mask: Tensor | None = None,
        tgt_padding_mask: Tensor | None = None,
        memory_padding_mask: Tensor | None = None,
        tgt_is_causal: bool = False,
    ) -> Tensor:
        """``src`` (B, S, d_model), ``tgt`` (B, T, d_model) -> (B, T, d_model)."""
        memory = self.encode(src, src_mask, src_padding_mask)
        return self.decode(
            tgt, memory, tgt_mask, memory_mask, tgt_padding_mask, memory_padding_mask, tgt_is_causal
        )


def convert_torch_state_dict(state_dict: dict[str, Tensor]) -> dict[str, Tensor]:
    """Rename the weights of ``nn.MultiheadAttention``, ``nn.TransformerEncoderLayer``,
    ``nn.TransformerDecoderLayer`` or ``nn.Transformer`` to this module's names: the packed
    ``in_proj_weight``/``in_proj_bias`` are split into ``q_proj``/``k_proj``/``v_proj``
    (``q_proj_weight`` etc. become ``q_proj.weight``),
    ``multihead_attn`` becomes ``cross_attn``, ``linear1``/``linear2`` move into ``ff``.
    Taught in notebook 01, section 6.1.
    """
    converted: dict[str, Tensor] = {}
    for name, tensor in state_dict.items():
        name = name.replace("multihead_attn.", "cross_attn.")
        name = re.sub(r"(^|\.)(linear[12])\.", r"\1ff.\2.", name)
        packed = re.fullmatch(r"(.*?)in_proj_(weight|bias)", name)
        if packed:  # (3 * d_model, ...) -> three (d_model, ...)
            prefix, kind = packed.groups()
            for part, chunk in zip(("q", "k", "v"), tensor.chunk(3), strict=True):
                converted[f"{prefix}{part}_proj.{kind}"] = chunk
        else:  # separate q/k/v_proj_weight when kdim or vdim differ from d_model
            converted[re.sub(r"([qkv])_proj_weight$", r"\1_proj.weight", name)] = tensor
    return converted
