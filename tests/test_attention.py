"""The attention kernels against torch.nn.functional.scaled_dot_product_attention."""

from __future__ import annotations

import math
import zlib

import pytest
import torch
import torch.nn.functional as F

from course_utils.transformer.attention import (
    causal_mask,
    chunked_attention,
    masked_softmax,
    padding_mask,
    scaled_dot_product_attention,
)

TOL = {torch.float32: 1e-5, torch.float64: 1e-10}

# (query batch dims, key/value batch dims, L, S, E, Ev): heads broadcast, L != S, Ev != E
SHAPES = [
    ((2, 3), (2, 3), 5, 5, 8, 8),
    ((2, 3), (2, 1), 7, 4, 6, 3),
    ((1,), (4,), 1, 9, 4, 5),
    ((3, 2, 2), (3, 2, 2), 6, 11, 5, 7),
    ((), (), 13, 6, 16, 2),
]
MASKS = ["none", "bool", "float", "causal", "padding"]


def _random_case(seed: int, shape: tuple, mask_kind: str, dtype: torch.dtype):
    """Inputs and keyword arguments for one random case (fixed seed)."""
    q_batch, kv_batch, L, S, E, Ev = shape
    gen = torch.Generator().manual_seed(seed)
    q = torch.randn(*q_batch, L, E, generator=gen, dtype=dtype)
    k = torch.randn(*kv_batch, S, E, generator=gen, dtype=dtype)
    v = torch.randn(*kv_batch, S, Ev, generator=gen, dtype=dtype)
    kwargs: dict = {}
    if mask_kind == "bool":
        kwargs["attn_mask"] = torch.rand(L, S, generator=gen) > 0.3
    elif mask_kind == "float":
        kwargs["attn_mask"] = torch.randn(*q_batch, L, S, generator=gen, dtype=dtype)
    elif mask_kind == "causal":
        kwargs["is_causal"] = True
    elif mask_kind == "padding":
        lengths = torch.randint(1, S + 1, (math.prod(q_batch[:1]) or 1,), generator=gen)
        keep = torch.arange(S) < lengths[:, None]  # (batch, S), True = real token
        kwargs["attn_mask"] = keep.view(*q_batch[:1], *[1] * (len(q_batch) - 1), 1, S)
    return q, k, v, kwargs


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("mask_kind", MASKS)
@pytest.mark.parametrize("shape", SHAPES)
def test_kernels_match_torch(shape, mask_kind, dtype):
    seed = zlib.crc32(repr((shape, mask_kind)).encode())  # stable across runs (unlike hash)
    q, k, v, kwargs = _random_case(seed, shape, mask_kind, dtype)
    for scale in (None, 0.3):
        expected = F.scaled_dot_product_attention(q, k, v, scale=scale, **kwargs)
        textbook = scaled_dot_product_attention(q, k, v, scale=scale, **kwargs)
        chunked = chunked_attention(
            q, k, v, scale=scale, chunk_size=3, query_chunk_size=2, **kwargs
        )
        default_chunks = chunked_attention(q, k, v, scale=scale, **kwargs)
        for got in (textbook, chunked, default_chunks):
            assert got.shape == expected.shape
            torch.testing.assert_close(got, expected, atol=TOL[dtype], rtol=TOL[dtype])


def test_weights_are_the_softmax_of_scaled_scores():
    q, k, v, _ = _random_case(0, SHAPES[1], "none", torch.float64)
    out, weights = scaled_dot_product_attention(q, k, v, return_weights=True)
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))
    torch.testing.assert_close(weights, torch.softmax(scores, dim=-1).expand_as(weights))
    torch.testing.assert_close(weights.sum(-1), torch.ones(weights.shape[:-1], dtype=q.dtype))
    torch.testing.assert_close(out, weights @ v)


def test_causal_is_top_left_aligned_and_weights_are_zero_above_the_diagonal():
    q, k, v, _ = _random_case(1, ((2,), (2,), 4, 6, 3, 3), "none", torch.float64)
    _, weights = scaled_dot_product_attention(q, k, v, is_causal=True, return_weights=True)
    assert torch.equal(weights[0] > 0, causal_mask(4, 6))
    assert causal_mask(3).tolist() == [[True, False, False], [True, True, False], [True] * 3]


def test_padding_mask_broadcasts_a_tokenizer_mask():
    mask = padding_mask(torch.tensor([[1, 1, 0], [1, 0, 0]]))
    assert mask.shape == (2, 1, 1, 3)
    assert mask[:, 0, 0].tolist() == [[True, True, False], [True, False, False]]
    with pytest.raises(ValueError, match="batch, seq_len"):
        padding_mask(torch.ones(3))


@pytest.mark.parametrize("kernel", [scaled_dot_product_attention, chunked_attention])
@pytest.mark.parametrize("masked_value", ["bool", "-inf"])
def test_fully_masked_rows_give_zeros_like_torch_and_no_nan_gradients(kernel, masked_value):
    gen = torch.Generator().manual_seed(2)
    q, k, v = (torch.randn(2, 3, 4, 5, generator=gen, dtype=torch.float64) for _ in range(3))
    keep = torch.rand(4, 4, generator=gen) > 0.4
    keep[1] = False  # query 1 may attend to nothing
    keep[:, 0] |= torch.arange(4) != 1
    mask = keep if masked_value == "bool" else torch.zeros(4, 4).masked_fill(~keep, -math.inf)
    mask = mask.to(torch.float64) if mask.is_floating_point() else mask
    ours_in = [t.clone().requires_grad_() for t in (q, k, v)]
    ref_in = [t.clone().requires_grad_() for t in (q, k, v)]
    ours = kernel(*ours_in, attn_mask=mask)
    expected = F.scaled_dot_product_attention(*ref_in, attn_mask=mask)
    assert torch.isfinite(ours).all()
    assert torch.equal(ours[..., 1, :], torch.zeros_like(ours[..., 1, :]))
    torch.testing.assert_close(ours, expected)
    (ours * torch.arange(5.0, dtype=torch.float64)).sum().backward()
    (expected * torch.arange(5.0, dtype=torch.float64)).sum().backward()
    for a, b in zip(ours_in, ref_in, strict=True):
        assert torch.isfinite(a.grad).all()
        torch.testing.assert_close(a.grad, b.grad)


@pytest.mark.parametrize("mask_kind", ["bool", "float"])
def test_chunked_keeps_very_negative_scores_after_a_fully_masked_block(mask_kind):
    """A row whose first key block is all masked and whose live scores are far below 0
    (here about -200) must still attend: measured against a stand-in maximum of 0 they would
    underflow to exp(-200) = 0 in float32 and the row would come out as zeros."""
    gen = torch.Generator().manual_seed(3)
    q = torch.full((1, 4), 10.0)
    k = -5.0 * torch.ones(6, 4) + 0.1 * torch.randn(6, 4, generator=gen)
    v = torch.randn(6, 3, generator=gen)
    keep = torch.tensor([[False, False, True, True, True, True]])  # block 1 (keys 0-1) masked
    mask = keep if mask_kind == "bool" else torch.zeros(1, 6).masked_fill(~keep, -math.inf)
    expected = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, scale=1.0)
    assert (q @ k.T).max() < -150  # the live scores are far below 0
    ours = chunked_attention(q, k, v, attn_mask=mask, scale=1.0, chunk_size=2)
    torch.testing.assert_close(ours, expected)
    assert ours.abs().sum() > 0


@pytest.mark.parametrize("kernel", [scaled_dot_product_attention, chunked_attention])
@pytest.mark.parametrize("mask_kind", ["none", "float", "causal"])
def test_gradients_match_torch(kernel, mask_kind):
    q, k, v, kwargs = _random_case(3, SHAPES[1], mask_kind, torch.float64)
    if "attn_mask" in kwargs:
        kwargs["attn_mask"] = kwargs["attn_mask"].requires_grad_()
    ours_in = [t.clone().requires_grad_() for t in (q, k, v)]
    ref_in = [t.clone().requires_grad_() for t in (q, k, v)]
    grad_out = torch.randn(2, 3, 7, 3, dtype=torch.float64)
    extra = {"chunk_size": 3, "query_chunk_size": 4} if kernel is chunked_attention else {}
    ours = kernel(*ours_in, **kwargs, **extra)
    ours_grads = torch.autograd.grad(ours, ours_in, grad_out)
    ref_grads = torch.autograd.grad(
        F.scaled_dot_product_attention(*ref_in, **kwargs), ref_in, grad_out
    )
    for a, b in zip(ours_grads, ref_grads, strict=True):
        torch.testing.assert_close(a, b)


@pytest.mark.parametrize("kernel", [scaled_dot_product_attention, chunked_attention])
def test_gradcheck_float64(kernel):
    gen = torch.Generator().manual_seed(4)
    q = torch.randn(1, 2, 3, 4, generator=gen, dtype=torch.float64, requires_grad=True)
    k = torch.randn(1, 2, 5, 4, generator=gen, dtype=torch.float64, requires_grad=True)
    v = torch.randn(1, 2, 5, 2, generator=gen, dtype=torch.float64, requires_grad=True)
    mask = torch.randn(3, 5, generator=gen, dtype=torch.float64, requires_grad=True)
    extra = {"chunk_size": 2, "query_chunk_size": 2} if kernel is chunked_attention else {}
    assert torch.autograd.gradcheck(lambda *t: kernel(*t, **extra), (q, k, v, mask))


def test_dropout_zeroes_and_rescales_weights_deterministically():
    q, k, v, _ = _random_case(5, SHAPES[0], "none", torch.float64)
    _, clean = scaled_dot_product_attention(q, k, v, return_weights=True)
    torch.manual_seed(0)
    out, dropped = scaled_dot_product_attention(q, k, v, dropout_p=0.5, return_weights=True)
    kept = dropped != 0
    assert 0 < kept.float().mean() < 1
    torch.testing.assert_close(dropped[kept], clean[kept] * 2)
    torch.testing.assert_close(out, dropped @ v)
    torch.manual_seed(0)
    torch.testing.assert_close(scaled_dot_product_attention(q, k, v, dropout_p=0.5), out)


def test_masked_softmax_matches_softmax_on_live_rows():
    scores = torch.tensor([[1.0, 2.0, -math.inf], [-math.inf, -math.inf, -math.inf]])
    weights = masked_softmax(scores)
    torch.testing.assert_close(weights[0], torch.softmax(scores[0], dim=-1))
    assert weights[1].tolist() == [0.0, 0.0, 0.0]


def test_chunked_worker_threads_give_the_autograd_result_and_restore_threads():
    q, k, v, kwargs = _random_case(6, ((2, 4), (2, 4), 9, 10, 8, 8), "bool", torch.float32)
    threads = torch.get_num_threads()
    with torch.inference_mode():  # the worker-thread path
        fast = chunked_attention(q, k, v, chunk_size=4, query_chunk_size=3, **kwargs)
    assert torch.get_num_threads() == threads
    graded = chunked_attention(
        q.requires_grad_(), k, v, chunk_size=4, query_chunk_size=3, **kwargs
    )  # the autograd path: all heads at once, as on a GPU (other kernels: last-bit differences)
    torch.testing.assert_close(fast, graded.detach(), atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("kernel", [scaled_dot_product_attention, chunked_attention])
def test_wrong_shapes_raise_clear_errors(kernel):
    q, k, v = torch.zeros(2, 4, 5, 8), torch.zeros(2, 4, 6, 8), torch.zeros(2, 4, 6, 3)
    with pytest.raises(ValueError, match="same feature size E"):
        kernel(q, k[..., :7], v)
    with pytest.raises(ValueError, match="same sequence length S"):
        kernel(q, k, v[..., :5, :])
    with pytest.raises(ValueError, match="mismatched number of heads"):
        kernel(q, torch.zeros(2, 3, 6, 8), torch.zeros(2, 3, 6, 3))
    with pytest.raises(ValueError, match="does not broadcast"):
        kernel(q, k, v, attn_mask=torch.ones(5, 5, dtype=torch.bool))
    with pytest.raises(ValueError, match="not both"):
        kernel(q, k, v, attn_mask=torch.ones(5, 6, dtype=torch.bool), is_causal=True)
    with pytest.raises(ValueError, match="boolean or floating point"):
        kernel(q, k, v, attn_mask=torch.ones(5, 6, dtype=torch.long))
    with pytest.raises(ValueError, match="share a dtype"):
        kernel(q, k.double(), v)
    with pytest.raises(ValueError, match=r"\(\.\.\., seq_len, dim\)"):
        kernel(torch.zeros(8), k, v)


def test_argument_ranges_are_checked():
    q = torch.zeros(2, 3, 4)
    with pytest.raises(ValueError, match="dropout_p"):
        scaled_dot_product_attention(q, q, q, dropout_p=1.0)
    with pytest.raises(ValueError, match="chunk sizes must be positive"):
        chunked_attention(q, q, q, chunk_size=0)


def test_chunked_batches_all_heads_at_once_off_the_cpu_worker_path(monkeypatch):
    """Under autograd (and on a GPU) every head goes through one blocked pass, not a Python
    loop over batch x heads."""
    from course_utils.transformer import attention

    calls = []
    real = attention._online_softmax_attention
    monkeypatch.setattr(
        attention, "_online_softmax_attention", lambda *a: calls.append(a[0].shape) or real(*a)
    )
    q, k, v = (torch.randn(3, 4, 10, 8, requires_grad=True) for _ in range(3))
    out = chunked_attention(q, k, v, chunk_size=4, query_chunk_size=3, is_causal=True)
    assert calls == [(3, 4, 10, 8)]
    expected = scaled_dot_product_attention(q, k, v, is_causal=True)
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=1e-5)
    out.sum().backward()
    assert q.grad is not None and torch.isfinite(q.grad).all()
