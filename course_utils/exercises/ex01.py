"""Exercises of 01_attention_from_scratch: 01.1 positional layers (real model), 01.2 attention,
01.3 sin/cos, 01.4 chunks."""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from course_utils.core.models import short_name

from ._core import (
    _allclose,
    _array,
    _call,
    _course,
    _encoder,
    _exercise,
    _experiment,
    _held,
    _match,
    _sentences,
    _shape,
    _tensor,
    _Wrong,
)

DATA = "Rotten Tomatoes"


#: Reviews the check shuffles and the thirds of the layers a prediction names.
POSITIONAL_REVIEWS = 12
LAYER_THIRDS = ("early", "middle", "late")


def _third(layer: int, num_layers: int) -> str:
    """``"early"``, ``"middle"`` or ``"late"``: which third of ``num_layers`` holds ``layer``."""
    return LAYER_THIRDS[min(3 * layer // num_layers, 2)]


def _shuffled_pairs(tokenizer: Any, count: int) -> list[tuple[list[int], list[int]]]:
    """``count`` test reviews as token ids, each with its words' tokens shuffled (``[CLS]``
    stays first and ``[SEP]`` last), seeded."""
    gen = torch.Generator().manual_seed(0)
    pairs = []
    for review in _sentences("test")[:count]:
        ids = tokenizer(review)["input_ids"]
        middle = torch.tensor(ids[1:-1])[torch.randperm(len(ids) - 2, generator=gen)]
        pairs.append((ids, [ids[0], *middle.tolist(), ids[-1]]))
    return pairs


@functools.lru_cache(maxsize=64)
def _attention_stack(model: Any, ids: tuple[int, ...]) -> torch.Tensor:
    """Every head's attention on ``ids``: ``(layers, heads, T, T)`` (cached: the checks of a
    session ask for the same reviews again)."""
    with torch.inference_mode():
        out = model(torch.tensor([ids]), output_attentions=True)
    return torch.stack([a[0] for a in out.attentions]).double()  # (L, H, T, T)


@_experiment("01.1", "Which layers attend by position?", 2, "positional_agreement", LAYER_THIRDS)
def check_positional_agreement(positional_agreement: Callable[..., Any], prediction: str) -> str:
    """Exercise 01.1: ``positional_agreement(model, ids, shuffled_ids)`` gives, per layer, the
    mean over heads and query rows of ``1 - TV`` between a row of attention on a review and the
    same row (same position) on the review with its tokens shuffled; the check averages it over
    12 test reviews on the bundled MiniLM and tells whether the most positional layer lies in
    the third the learner predicted."""
    tokenizer, model, name = _course(lambda: _encoder("bundled"))
    pairs = _course(lambda: _shuffled_pairs(tokenizer, POSITIONAL_REVIEWS))
    num_layers = model.config.num_hidden_layers
    got = []
    for n, (ids, shuffled) in enumerate(pairs):
        value = _array(
            _call(positional_agreement, model, list(ids), list(shuffled), when=f"on review {n}")
        )
        _shape(value, (num_layers,), "your result (one number per layer)")
        a, b = _attention_stack(model, tuple(ids)), _attention_stack(model, tuple(shuffled))
        tv = 0.5 * (a - b).abs().sum(-1)  # (L, H, T)
        got.append(value)
        if _allclose(1e-4, 1e-4)(value, (1 - tv).mean((1, 2))):
            continue
        why = _match(
            value,
            {
                "the distance between two rows is half the sum of |a - b| (total variation, "
                "0 to 1); without the half, rows with nothing in common score -1, not 0": (
                    1 - 2 * tv
                ).mean((1, 2)),
                "you returned how much the rows differ (TV); the task asks how much they agree, "
                "1 - TV": tv.mean((1, 2)),
                "the maximum over heads hides the layer's other heads; average over heads (and "
                "query rows)": (1 - tv).mean(2).max(1).values,
            },
            _allclose(1e-4, 1e-4),
        )
        raise _Wrong(
            why
            or f"on review {n} your agreement per layer differs from 1 - TV averaged over heads "
            "and query rows; run both orders with output_attentions=True and compare row i with "
            "row i"
        )
    mean = np.mean(got, axis=0)
    best = int(mean.argmax())
    outcome = _third(best, num_layers)
    why = {
        "early": "a head whose rows stay put when the words move looks at places, not words (a "
        "neighbour, [CLS] or [SEP], or everything evenly); here such heads weigh most in the "
        "first layers, and the numbers show how the agreement falls with depth",
        "middle": "heads whose rows stay put when the words move (a neighbour, [CLS] or [SEP], "
        "or everything evenly) weigh most in the middle layers here; the numbers show where",
        "late": "heads whose rows stay put when the words move (a neighbour, [CLS] or [SEP], or "
        "everything evenly) weigh most in the last layers here; the numbers show where",
    }[outcome]
    return (
        f"your agreement matches the reference on {len(pairs)} shuffled {DATA} reviews "
        f"({short_name(name)}); per layer: "
        + ", ".join(f"{v:.2f}" for v in mean)
        + f". The most positional is layer {best}, {outcome}. {_held(prediction, outcome)}. "
        f"Why: {why}"
    )


def _attention_variants(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> dict[str, Any]:
    """Typical mistakes in causal attention, each computed."""
    d, t = q.size(-1), q.size(-2)
    allow = torch.ones(t, t, dtype=torch.bool).tril()

    def attend(scale: float, mask: torch.Tensor | None, dim: int = -1, after: bool = False):
        scores = q @ k.transpose(-2, -1) * scale
        if mask is not None and not after:
            scores = scores.masked_fill(~mask, -math.inf)
        weights = torch.softmax(scores, dim=dim)
        if mask is not None and after:
            weights = weights * mask
        return weights @ v

    root = 1 / math.sqrt(d)
    return {
        "the scores are not divided by √d (the outputs equal unscaled attention)": attend(
            1.0, allow
        ),
        "the scores are divided by d instead of √d": attend(1 / d, allow),
        "no causal mask: each output also depends on later tokens": attend(root, None),
        "the mask lets tokens see the future and hides the past": attend(root, allow.T),
        "the weights are zeroed after the softmax, so the rows no longer add up to 1": attend(
            root, allow, after=True
        ),
        "the softmax runs over the queries (dim=-2) instead of the keys": attend(root, allow, -2),
    }


def _is_causal_attention(
    got: torch.Tensor,
    expected: torch.Tensor,
    qkv: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
    where: str,
    nan_why: str,
) -> bool:
    """Whether ``got`` equals causal attention ``expected`` of ``qkv``; a wrong shape, a NaN
    (``nan_why`` says how it arises) or a typical mistake raise :class:`_Wrong` saying so ``where``
    (e.g. ``"for chunk=3"``). ``False``: wrong, but not in a way the check recognises."""
    _shape(got, expected.shape, f"your output {where}")
    if torch.isnan(got).any():
        raise _Wrong(f"NaN in your output {where}: {nan_why}; may a token attend to itself?")
    if torch.allclose(got.double(), expected.double(), atol=1e-5, rtol=1e-4):
        return True
    why = _match(got, _attention_variants(*qkv), _allclose(1e-5, 1e-4))
    if why:
        raise _Wrong(f"{where}, {why}")
    return False


@_exercise("01.2", "Causal self-attention", 2, "causal_attention")
def check_causal_attention(causal_attention: Callable[..., Any]) -> str:
    """Exercise 01.2: ``causal_attention(q, k, v)`` equals
    ``F.scaled_dot_product_attention(q, k, v, is_causal=True)``."""
    gen = torch.Generator().manual_seed(0)
    shapes = [((5, 4), 3), ((2, 3, 7, 8), 6), ((1, 16), 5)]
    for shape, dv in shapes:
        q = torch.randn(*shape, generator=gen) * 2
        k = torch.randn(*shape, generator=gen) * 2
        v = torch.randn(*shape[:-1], dv, generator=gen)
        got = _tensor(
            _call(causal_attention, q.clone(), k.clone(), v.clone(), when=f"for q {shape}")
        )
        expected = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        where = f"for q of shape {shape}"
        nan_why = "some query attends to nothing (a whole row of scores is -inf)"
        if not _is_causal_attention(got, expected, (q, k, v), where, nan_why):
            raise _Wrong(f"your output differs from causal attention {where}")
    return (
        "equals F.scaled_dot_product_attention(is_causal=True) for 3 shapes, with batch and "
        "head dimensions and a single token"
    )


@_exercise("01.3", "Sinusoidal positional encoding", 2, "sinusoidal_encoding")
def check_sinusoidal_encoding(sinusoidal_encoding: Callable[[int, int], Any]) -> str:
    """Exercise 01.3: ``sinusoidal_encoding(num_positions, dim)`` is Vaswani et al.'s table;
    with it added, attention is no longer blind to the order of the tokens."""
    from course_utils.transformer.positional import sinusoidal_encoding as reference

    for p, d in ((6, 4), (50, 16), (3, 2)):
        got = _tensor(_call(sinusoidal_encoding, p, d, when=f"for ({p}, {d})"))
        _shape(got, (p, d), f"sinusoidal_encoding({p}, {d})")
        expected = reference(p, d).double()
        got = got.double()
        if torch.allclose(got, expected, atol=1e-5):
            continue
        pos = torch.arange(p, dtype=torch.float64)[:, None]
        i2 = torch.arange(0, d, 2, dtype=torch.float64)
        angle = pos / 10000 ** (i2 / d)
        swapped = torch.stack([angle.cos(), angle.sin()], -1).flatten(1)
        halves = torch.cat([angle.sin(), angle.cos()], -1)
        per_column = pos / 10000 ** (torch.arange(d, dtype=torch.float64) / d)
        by_column = torch.where(torch.arange(d) % 2 == 0, per_column.sin(), per_column.cos())
        one_based = reference(p + 1, d).double()[1:]
        why = _match(
            got,
            {
                "sin and cos are swapped: even columns (2i) hold the sines": swapped,
                "the sines fill the first half and the cosines the second; they alternate, "
                "column 2i a sine and 2i+1 the cosine of the same angle": halves,
                "each column has its own frequency; columns 2i and 2i+1 share the exponent "
                "2i/dim": by_column,
                "positions start at 1; the first position is 0": one_based,
            },
            _allclose(1e-5, 1e-5),
        )
        raise _Wrong(
            f"for ({p}, {d}), {why}"
            if why
            else f"your table for ({p}, {d}) differs from the formula"
        )
    # What the table is for: attention on x + PE is no longer permutation-equivariant.
    gen = torch.Generator().manual_seed(3)
    x = torch.randn(8, 16, generator=gen)
    w_q, w_k, w_v = (torch.randn(16, 16, generator=gen) / 4 for _ in range(3))
    perm = torch.randperm(8, generator=gen)

    def attend(h: torch.Tensor) -> torch.Tensor:
        return F.scaled_dot_product_attention(h @ w_q, h @ w_k, h @ w_v)

    pe = _tensor(_call(sinusoidal_encoding, 8, 16)).float()
    blind = (attend(x[perm]) - attend(x)[perm]).abs().max().item()
    seeing = (attend(x[perm] + pe) - attend(x + pe)[perm]).abs().max().item()
    return (
        "the table matches the formula for 3 sizes; shuffling 8 tokens changes attention's "
        f"outputs by up to {seeing:.2f} with it added (without: {blind:.0e}), so attention now "
        "sees word order"
    )


@_exercise(
    "01.4", "Causal attention in chunks, with an online softmax", 3, "online_causal_attention"
)
def check_online_causal_attention(online_causal_attention: Callable[..., Any]) -> str:
    """Exercise 01.4: ``online_causal_attention(q, k, v, chunk)`` visits the keys ``chunk``
    at a time and equals causal attention for every chunk size."""
    gen = torch.Generator().manual_seed(4)
    q, k = torch.randn(7, 8, generator=gen) * 2, torch.randn(7, 8, generator=gen) * 2
    v = torch.randn(7, 5, generator=gen)
    expected = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    for chunk in (16, 1, 3, 4):
        got = _tensor(
            _call(
                online_causal_attention,
                q.clone(),
                k.clone(),
                v.clone(),
                chunk,
                when=f"for chunk={chunk}",
            )
        )
        nan_why = (
            "for some query every score seen so far is -inf, so its maximum is -inf and "
            "exp(-inf - (-inf)) is NaN"
        )
        if _is_causal_attention(got, expected, (q, k, v), f"for chunk={chunk}", nan_why):
            continue
        if chunk < 16:
            raise _Wrong(
                f"right when all keys fit in one chunk, wrong for chunk={chunk}: check how the "
                "running maximum, sum and output are rescaled when a chunk raises the maximum"
            )
        raise _Wrong("your output differs from causal attention even with a single chunk")
    t1 = _tensor(_call(online_causal_attention, q[:1], k[:1], v[:1], 2, when="for one token"))
    if not torch.allclose(t1.double(), v[:1].double(), atol=1e-6):
        raise _Wrong("for a single token the output must be that token's value vector")
    return (
        "equals causal attention for 7 tokens with chunks of 1, 3, 4 and 16 keys, and for 1 token"
    )
