"""Attention kernels written with plain tensor operations, checked against PyTorch's fused op.

Taught in notebook 01 (``01_attention_from_scratch``): section 2 (scaled dot-product
attention), section 4 (masks) and section 8 (the memory-efficient kernel). Used by the
from-scratch blocks in :mod:`course_utils.transformer.blocks`.

Shapes follow :func:`torch.nn.functional.scaled_dot_product_attention`:

* ``query`` ``(..., L, E)``, ``key`` ``(..., S, E)``, ``value`` ``(..., S, Ev)``, where ``...``
  are batch/head dimensions that broadcast against each other (e.g. ``(batch, heads)``);
* ``attn_mask`` broadcastable to ``(..., L, S)``: boolean (``True`` = may attend) or a float
  mask added to the scores (``-inf`` = may not attend);
* the output is ``(..., L, Ev)``.

A query row that may attend to no key at all gets an all-zero output (and zero weights and
gradients), as PyTorch's op gives, instead of the NaN that a plain softmax would spread.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import torch
from torch import Tensor

DEFAULT_QUERY_CHUNK = 128
DEFAULT_KEY_CHUNK = 1024
T = TypeVar("T")


def causal_mask(
    query_len: int, key_len: int | None = None, device: torch.device | str | None = None
) -> Tensor:
    """Boolean ``(L, S)`` mask, ``True`` where query ``i`` may attend to key ``j <= i``.

    Top-left aligned like PyTorch's ``is_causal=True``. Taught in notebook 01, section 4.
    """
    key_len = query_len if key_len is None else key_len
    return torch.ones(query_len, key_len, dtype=torch.bool, device=device).tril()


def padding_mask(attention_mask: Tensor) -> Tensor:
    """Turn a tokenizer's ``attention_mask`` ``(batch, S)`` (1 = real token) into a boolean
    key mask ``(batch, 1, 1, S)`` that broadcasts over heads and queries.

    Taught in notebook 01, section 4.
    """
    if attention_mask.dim() != 2:
        raise ValueError(
            f"attention_mask must be (batch, seq_len), got shape {tuple(attention_mask.shape)}"
        )
    return attention_mask.bool()[:, None, None, :]


def scaled_dot_product_attention(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    attn_mask: Tensor | None = None,
    dropout_p: float = 0.0,
    is_causal: bool = False,
    scale: float | None = None,
    *,
    return_weights: bool = False,
) -> Tensor | tuple[Tensor, Tensor]:
    """``softmax(Q Kᵀ · scale + mask) V``, the textbook kernel: it materialises the scores.

    Same arguments and results as :func:`torch.nn.functional.scaled_dot_product_attention`
    (see the module docstring for shapes); ``scale`` defaults to ``1/sqrt(E)``. With
    ``return_weights=True`` it returns ``(output, weights)``, the weights ``(..., L, S)`` as
    used (after dropout). Memory grows as ``L * S`` per head: see :func:`chunked_attention`.
    Taught in notebook 01, sections 2 and 4.
    """
    _check_inputs(query, key, value, attn_mask, is_causal)
    if not 0.0 <= dropout_p < 1.0:
        raise ValueError(f"dropout_p must be in [0, 1), got {dropout_p}")
    scale = 1.0 / math.sqrt(query.size(-1)) if scale is None else scale
    if is_causal:
        attn_mask = causal_mask(query.size(-2), key.size(-2), device=query.device)

    scores = (query @ key.transpose(-2, -1)) * scale  # (..., L, S)
    if attn_mask is not None and attn_mask.dtype == torch.bool:
        scores = scores.masked_fill(~attn_mask, float("-inf"))
    elif attn_mask is not None:
        scores = scores + attn_mask
    # (..., L, S), rows sum to 1 (or to 0 where the mask leaves nothing to attend to)
    weights = torch.softmax(scores, dim=-1) if attn_mask is None else masked_softmax(scores)
    if dropout_p > 0.0:
        weights = torch.dropout(weights, dropout_p, train=True)
    output = weights @ value  # (..., L, Ev)
    return (output, weights) if return_weights else output


def masked_softmax(scores: Tensor) -> Tensor:
    """Softmax over the last dimension where rows that are all ``-inf`` give zeros, not NaN.

    Taught in notebook 01, section 4.
    """
    dead = scores.amax(dim=-1, keepdim=True) == float("-inf")  # (..., L, 1)
    weights = torch.softmax(scores.masked_fill(dead, 0.0), dim=-1)
    return weights.masked_fill(dead, 0.0)


def chunked_attention(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    attn_mask: Tensor | None = None,
    is_causal: bool = False,
    scale: float | None = None,
    chunk_size: int = DEFAULT_KEY_CHUNK,
    query_chunk_size: int = DEFAULT_QUERY_CHUNK,
) -> Tensor:
    """Memory-efficient attention: same result as :func:`scaled_dot_product_attention`.

    Each head is processed in blocks of ``query_chunk_size`` queries against
    ``chunk_size`` keys/values at a time, with an *online softmax*: a running row maximum
    ``m``, a running denominator ``l`` and an unnormalised output ``acc`` are rescaled by
    ``exp(m_old - m_new)`` whenever a new block raises the maximum (the idea behind
    FlashAttention, Dao et al. 2022). Only one ``(query_chunk_size, chunk_size)`` block of
    scores per worker exists at a time, so the extra memory is the output ``O(L * Ev)``
    instead of ``O(L * S)`` per head; with ``is_causal`` the blocks above the diagonal are
    skipped. Shapes as in the module docstring; no dropout.

    On CPU, outside autograd, the heads are shared among ``torch.get_num_threads()`` worker
    threads that each run single-threaded ops (PyTorch's own per-op threading costs more
    than it gains on blocks this small). Taught in notebook 01, section 8.
    """
    batch_shape = _check_inputs(query, key, value, attn_mask, is_causal)
    if chunk_size < 1 or query_chunk_size < 1:
        raise ValueError(
            f"chunk sizes must be positive, got chunk_size={chunk_size}, "
            f"query_chunk_size={query_chunk_size}"
        )
    L, S, Ev = query.size(-2), key.size(-2), value.size(-1)
    scale = 1.0 / math.sqrt(query.size(-1)) if scale is None else scale
    # broadcast views (no copies) so that every (batch, head) index selects a 2-D slice
    q = query.expand(*batch_shape, L, query.size(-1))
    k_t = key.expand(*batch_shape, S, key.size(-1)).transpose(-2, -1)  # (..., E, S)
    v = value.expand(*batch_shape, S, Ev)
    mask = None if attn_mask is None else attn_mask.expand(*batch_shape, L, S)
    out = query.new_empty(*batch_shape, L, Ev)

    def attend(idx: tuple[int, ...]) -> None:
        head_mask = None if mask is None else mask[idx]
        _online_softmax_attention(
            q[idx],
            k_t[idx],
            v[idx],
            head_mask,
            out[idx],
            is_causal,
            scale,
            chunk_size,
            query_chunk_size,
        )

    records_grad = torch.is_grad_enabled() and any(
        t is not None and t.requires_grad for t in (query, key, value, attn_mask)
    )
    if query.device.type == "cpu" and not records_grad:
        _run_on_worker_threads(attend, list(itertools.product(*(range(n) for n in batch_shape))))
    else:  # GPU, or recording autograd: every head at once, block by block (no Python loop)
        _online_softmax_attention(
            q, k_t, v, mask, out, is_causal, scale, chunk_size, query_chunk_size
        )
    return out


def _online_softmax_attention(
    q: Tensor,
    k_t: Tensor,
    v: Tensor,
    mask: Tensor | None,
    out: Tensor,
    is_causal: bool,
    scale: float,
    chunk_size: int,
    query_chunk_size: int,
) -> None:
    """:func:`chunked_attention` for one head, ``q`` (L, E), ``k_t`` (E, S), ``v`` (S, Ev),
    ``mask`` (L, S) or None, or for all heads at once, the same with leading batch dimensions
    (``mask`` broadcast to them); writes ``out`` (..., L, Ev) in place."""
    L, S = q.size(-2), k_t.size(-1)
    may_mask_rows = is_causal or mask is not None  # then a row may see only -inf in a block
    for i0 in range(0, L, query_chunk_size):
        i1 = min(i0 + query_chunk_size, L)
        q_blk = q[..., i0:i1, :] * scale  # (..., cq, E)
        row_max = denom = acc = None  # m, l = sum exp(s - m), acc = sum exp(s - m) * v
        key_end = min(i1, S) if is_causal else S  # causal: keys j >= i1 are never attended
        for j0 in range(0, key_end, chunk_size):
            j1 = min(j0 + chunk_size, key_end)
            s = q_blk @ k_t[..., j0:j1]  # (..., cq, ck) scores
            if is_causal and j1 - 1 > i0:  # the block crosses the diagonal
                rows = torch.arange(i0, i1, device=s.device)[:, None]
                s.masked_fill_(torch.arange(j0, j1, device=s.device) > rows, -math.inf)
            elif mask is not None and mask.dtype == torch.bool:
                s.masked_fill_(~mask[..., i0:i1, j0:j1], -math.inf)
            elif mask is not None:
                s.add_(mask[..., i0:i1, j0:j1])
            # the maximum only keeps exp() in range: the result does not depend on it, so it
            # is a constant for autograd (which also lets s be overwritten in place below)
            new_max = s.detach().amax(dim=-1, keepdim=True)  # (cq, 1)
            if row_max is not None:
                new_max = torch.maximum(row_max, new_max)
            # a row that has seen only -inf so far keeps max -inf (so a later block's scores,
            # however negative, are not measured against a made-up 0 and lost to underflow),
            # but subtracts 0: exp(-inf - (-inf)) would be NaN
            shift = new_max.masked_fill(new_max == -math.inf, 0.0) if may_mask_rows else new_max
            p = s.sub_(shift).exp_()  # (cq, ck), in place: no second block in memory
            v_blk = v[..., j0:j1, :]
            if row_max is None:  # first block
                denom, acc = p.sum(dim=-1, keepdim=True), p @ v_blk
            else:  # rescale what the earlier blocks summed to the new maximum
                # exp(m_old - shift): 1 or less; 0 for a row whose earlier blocks were all -inf
                # (their denom and acc are 0)
                correction = torch.exp(row_max - shift)  # (cq, 1)
                denom = denom * correction + p.sum(dim=-1, keepdim=True)
                if p.dim() == 2:  # one head: one fused multiply-add
                    acc = torch.addmm(acc * correction, p, v_blk)
                else:
                    acc = torch.baddbmm(
                        (acc * correction).flatten(0, -3), p.flatten(0, -3), v_blk.flatten(0, -3)
                    ).view(acc.shape)
            row_max = new_max
        if acc is None:  # causal with no keys at all (S = 0)
            out[..., i0:i1, :] = 0.0
        elif may_mask_rows:  # rows that attended to nothing have acc = 0 and denom = 0
            out[..., i0:i1, :] = acc / denom.masked_fill(denom == 0, 1.0)
        else:
            out[..., i0:i1, :] = acc / denom


def _run_on_worker_threads(fn: Callable[[T], None], items: list[T]) -> None:
    """Call ``fn`` on every item, spread over ``torch.get_num_threads()`` Python threads that
    each run PyTorch ops single-threaded; the thread setting is restored afterwards."""
    threads = torch.get_num_threads()
    workers = min(threads, len(items))
    if workers <= 1:
        for item in items:
            fn(item)
        return

    def work(share: list[T]) -> None:
        with torch.inference_mode():  # no autograd here; may write inference-mode tensors
            for item in share:
                fn(item)

    torch.set_num_threads(1)
    try:
        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(work, [items[w::workers] for w in range(workers)]))
    finally:
        torch.set_num_threads(threads)


def _check_inputs(
    query: Tensor, key: Tensor, value: Tensor, attn_mask: Tensor | None, is_causal: bool
) -> tuple[int, ...]:
    """Validate shapes and dtypes; return the broadcast batch/head shape ``...``."""
    for name, t in (("query", query), ("key", key), ("value", value)):
        if t.dim() < 2:
            raise ValueError(f"{name} must be (..., seq_len, dim), got shape {tuple(t.shape)}")
    if not query.dtype == key.dtype == value.dtype:
        raise ValueError(
            "query, key and value must share a dtype, got "
            f"{query.dtype}, {key.dtype}, {value.dtype}"
        )
    if query.size(-1) != key.size(-1):
        raise ValueError(
            f"query and key must have the same feature size E, got {query.size(-1)} and "
            f"{key.size(-1)}"
        )
    if key.size(-2) != value.size(-2):
        raise ValueError(
            f"key and value must have the same sequence length S, got {key.size(-2)} and "
            f"{value.size(-2)}"
        )
    try:
        batch_shape = torch.broadcast_shapes(query.shape[:-2], key.shape[:-2], value.shape[:-2])
    except RuntimeError as err:
        raise ValueError(
            "the batch/head dimensions of query, key and value do not broadcast: "
            f"{tuple(query.shape[:-2])}, {tuple(key.shape[:-2])}, {tuple(value.shape[:-2])} "
            "(mismatched number of heads? repeat the key/value heads for grouped-query attention)"
        ) from err
    if attn_mask is not None:
        if is_causal:
            raise ValueError("pass either attn_mask or is_causal=True, not both")
        if attn_mask.dtype != torch.bool and not attn_mask.is_floating_point():
            raise ValueError(f"attn_mask must be boolean or floating point, got {attn_mask.dtype}")
        target = (*batch_shape, query.size(-2), key.size(-2))
        try:
            full = torch.broadcast_shapes(attn_mask.shape, target)
        except RuntimeError:
            full = None
        if full != torch.Size(target):
            raise ValueError(
                f"attn_mask of shape {tuple(attn_mask.shape)} does not broadcast to "
                f"(..., L, S) = {target}"
            )
    return tuple(batch_shape)
