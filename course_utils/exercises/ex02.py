"""Exercises of 02_bertviz_attention: 02.1 previous-token heads, 02.2 perplexity, 02.3 top-p."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from ._core import _array, _call, _exercise, _float, _match, _shape, _softmax, _Wrong


@_exercise("02.1", "Find the previous-token heads", 1, "previous_token_share")
def check_previous_token_share(previous_token_share: Callable[[np.ndarray], Any]) -> str:
    """Exercise 02.1: ``previous_token_share(attn)`` ``(layers, heads, n, n)`` →
    ``(layers, heads)``: each head's mean weight from token ``i`` to token ``i - 1``."""
    rng = np.random.default_rng(5)
    for layers, heads, n in ((2, 3, 7), (1, 2, 4)):
        attn = rng.dirichlet(np.ones(n), size=(layers, heads, n))
        attn[0, 0] = 0.1 / n + 0.9 * np.eye(n, k=-1)  # one strong previous-token head
        attn[0, 0, 0] = np.full(n, 1 / n)
        got = _array(_call(previous_token_share, attn.copy(), when=f"for n={n}"))
        _shape(got, (layers, heads), f"your result for attention of shape {attn.shape}")
        expected = np.diagonal(attn, offset=-1, axis1=2, axis2=3).mean(-1)
        if np.allclose(got, expected, atol=1e-9):
            continue
        why = _match(
            got,
            {
                "it measures the weight on the next token (i + 1), not the previous one": (
                    np.diagonal(attn, offset=1, axis1=2, axis2=3).mean(-1)
                ),
                "it measures the weight a token puts on itself": np.diagonal(
                    attn, axis1=2, axis2=3
                ).mean(-1),
                "it averages over all n queries; the first token has no previous token, so "
                "average over the n - 1 that do": np.diagonal(
                    attn, offset=-1, axis1=2, axis2=3
                ).sum(-1)
                / n,
            },
            lambda a, b: np.allclose(a, b, atol=1e-9),
        )
        raise _Wrong(why or f"your shares differ from the mean weight on token i - 1 (n={n})")
    return "each head's mean weight on the previous token, on random attention of 2 shapes"


@_exercise("02.2", "Perplexity from next-token logits", 2, "perplexity")
def check_perplexity(perplexity: Callable[..., Any]) -> str:
    """Exercise 02.2: ``perplexity(logits, targets)`` is ``exp`` of the mean cross-entropy
    of the next-token predictions."""
    gen = torch.Generator().manual_seed(6)
    logits = torch.randn(12, 20, generator=gen) * 2
    targets = torch.randint(0, 20, (12,), generator=gen)
    cases = [(logits, targets), (torch.zeros(5, 7), torch.tensor([0, 3, 6, 2, 2]))]
    for x, y in cases:
        got = _float(_call(perplexity, x.clone(), y.clone(), when=f"for logits {tuple(x.shape)}"))
        nll = -torch.log_softmax(x.double(), -1)[torch.arange(len(y)), y]
        expected = nll.mean().exp().item()
        if math.isclose(got, expected, rel_tol=1e-5):
            continue
        uniform = (
            " (all logits equal: the model is as unsure as a uniform choice)" if not x.any() else ""
        )
        raw = -x.double()[torch.arange(len(y)), y]
        why = _match(
            got,
            {
                "this is the cross-entropy; perplexity is its exponential": nll.mean().item(),
                "it exponentiates the sum of the losses, not their mean": nll.sum().exp().item(),
                "it averages the per-token exp(loss); exponentiate the mean loss": (
                    nll.exp().mean().item()
                ),
                "it raises 2, not e, to a loss in nats": (2 ** nll.mean()).item(),
                "it uses the raw logits as log-probabilities; they need a log-softmax first": (
                    raw.mean().exp().item()
                ),
                "its softmax runs over the positions (dim 0), not the vocabulary": (
                    -torch.log_softmax(x.double(), 0)[torch.arange(len(y)), y]
                )
                .mean()
                .exp()
                .item(),
            },
            lambda a, b: math.isclose(a, b, rel_tol=1e-5),
        )
        raise _Wrong(why or f"wrong perplexity for logits of shape {tuple(x.shape)}{uniform}")
    return "exp(mean cross-entropy) on random logits; the vocabulary size (7) for uniform ones"


_TOP_P_BASE = np.log(np.array([0.4, 0.25, 0.15, 0.1, 0.06, 0.04]))
_TOP_P_CASES = ((1.0, 0.7), (2.0, 0.85), (0.5, 0.9))  # (temperature, top_p)
_TOP_P_DRAWS = 2000


def _nucleus(
    logits: np.ndarray, top_p: float, temperature: float, *, cross: bool = True
) -> np.ndarray:
    """The top-p distribution; ``cross=False`` drops the token that crosses ``top_p``."""
    p = _softmax(logits / temperature)
    order = np.argsort(-p, kind="stable")
    before = np.cumsum(p[order]) - p[order]
    keep_sorted = before < top_p if cross else np.cumsum(p[order]) < top_p
    keep_sorted[0] = True
    keep = np.zeros(len(p), dtype=bool)
    keep[order] = keep_sorted
    q = np.where(keep, p, 0.0)
    return q / q.sum()


@_exercise("02.3", "Top-p (nucleus) sampling with a temperature", 3, "sample_top_p")
def check_sample_top_p(sample_top_p: Callable[..., Any]) -> str:
    """Exercise 02.3: ``sample_top_p(logits, top_p, temperature, generator)`` draws one token
    id; checked statistically (2,000 draws per setting) on a fixed distribution."""
    logits = torch.tensor(_TOP_P_BASE, dtype=torch.float32)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(7)
        for case, (t, top_p) in enumerate(_TOP_P_CASES):
            gen = torch.Generator().manual_seed(100 + case)
            draws = []
            for _ in range(_TOP_P_DRAWS):
                token = _call(
                    sample_top_p, logits.clone(), top_p, t, gen, when=f"at T={t}, top_p={top_p}"
                )
                try:
                    draws.append(int(token))
                except (TypeError, ValueError, RuntimeError):
                    raise _Wrong(f"expected one token id (an int), got {token!r}") from None
            bad = [d for d in draws if not 0 <= d < len(logits)]
            if bad:
                raise _Wrong(
                    f"drew token id {bad[0]}, but the vocabulary has ids 0-{len(logits) - 1}"
                )
            freq = np.bincount(draws, minlength=len(logits)) / len(draws)
            expected = _nucleus(_TOP_P_BASE, top_p, t)
            setting = f"at temperature {t}, top_p {top_p},"
            outside = [j for j in range(len(freq)) if freq[j] > 0 and expected[j] == 0]
            missing = [j for j in range(len(freq)) if freq[j] == 0 and expected[j] > 0]
            tv = 0.5 * np.abs(freq - expected).sum()
            if not outside and not missing and tv <= 0.06:
                continue
            variants = {
                "your temperature seems to multiply the logits; it divides them": _nucleus(
                    _TOP_P_BASE, top_p, 1 / t
                ),
                "your sampler seems to ignore the temperature": _nucleus(_TOP_P_BASE, top_p, 1.0),
                "the token whose probability carries the total past top_p seems to be left "
                "out; the nucleus is the smallest set that reaches top_p": _nucleus(
                    _TOP_P_BASE, top_p, t, cross=False
                ),
                "the tokens in the nucleus seem to be drawn uniformly; keep their relative "
                "probabilities": (expected > 0) / (expected > 0).sum(),
                "there seems to be no top-p filtering": _softmax(_TOP_P_BASE / t),
                "it always picks the most likely token": np.eye(len(freq))[0],
            }
            tvs = {why: 0.5 * np.abs(freq - q).sum() for why, q in variants.items()}
            why = min(tvs, key=tvs.get)
            hint = f": {why}" if tvs[why] < 0.04 else ""
            if outside:
                raise _Wrong(
                    f"{setting} you drew token {outside[0]}, which lies outside the nucleus{hint}"
                )
            if missing:
                raise _Wrong(
                    f"{setting} token {missing[0]} was never drawn, but it is in the nucleus{hint}"
                )
            raise _Wrong(
                f"{setting} your draws' frequencies are far from the nucleus distribution "
                f"(total variation {tv:.2f}){hint}"
            )
    return (
        f"{_TOP_P_DRAWS} draws at each of 3 (temperature, top_p) settings: only nucleus tokens, "
        "with the renormalised probabilities"
    )
