"""Exercises of 02_bertviz_attention: 02.1 a head for your relation (real model), 02.2 perplexity
of a padded batch, 02.3 min-p sampling."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from course_utils.core.models import short_name

from ._core import (
    _array,
    _call,
    _course,
    _encoder,
    _exercise,
    _experiment,
    _float,
    _held,
    _match,
    _NotDone,
    _shape,
    _softmax,
    _Wrong,
)

#: The sentences the check first runs a learner's ``link_weights`` on: notebook 02's verb ->
#: subject examples (section 6), whose words are single tokens in both course models.
_CHECK_LINKS = (
    ("The flowers in the old vase are dying.", "are", "flowers"),
    ("The leader of the small groups was angry.", "was", "leader"),
    ("The keys to the cabinet are on the table.", "are", "keys"),
)
RELATION_CHOICES = ("yes", "no")
MIN_CHOOSE, MIN_HELD_OUT = 4, 2


def _link_reference(model: Any, tokenizer: Any, examples: Any) -> dict[str, np.ndarray]:
    """The mean weight from word to word per head, and the typical mistakes, each computed."""
    rows: dict[str, list[np.ndarray]] = {"right": [], "swapped": [], "shifted": []}
    for sentence, source, target in examples:
        enc = tokenizer(sentence, return_tensors="pt")
        tokens = tokenizer.convert_ids_to_tokens(enc["input_ids"][0])
        with torch.inference_mode():
            attn = torch.stack(model(**enc, output_attentions=True).attentions)[:, 0].double()
        i, j = tokens.index(source), tokens.index(target)
        rows["right"].append(attn[:, :, i, j].numpy())
        rows["swapped"].append(attn[:, :, j, i].numpy())
        rows["shifted"].append(attn[:, :, i - 1, j - 1].numpy())
    mean = {k: np.mean(v, axis=0) for k, v in rows.items()}
    mean["summed"] = np.sum(rows["right"], axis=0)
    return mean


def ordinal(offset: int) -> str:
    """``to_word``'s place relative to ``from_word``, in words."""
    if offset == 0:
        return "the two words are the same token"
    side = "after" if offset > 0 else "before"
    count = abs(offset)
    return f"to_word comes {count} token{'s' if count > 1 else ''} {side} from_word"


def _examples(value: Any, name: str, least: int, tokenizer: Any) -> list[tuple[str, str, str]]:
    """The learner's ``(sentence, from_word, to_word)`` examples, checked: too few is "not
    done", a word that is not one token of its sentence is "wrong" (saying which)."""
    try:
        examples = [tuple(e) for e in value or ()]
    except TypeError:
        raise _Wrong(f"{name} must be a list of (sentence, from_word, to_word) tuples") from None
    if len(examples) < least:
        raise _NotDone(
            f"write at least {MIN_CHOOSE} (sentence, from_word, to_word) examples of your "
            f"relation into CHOOSE and {MIN_HELD_OUT} new ones into HELD_OUT"
        )
    out = []
    for n, example in enumerate(examples):
        if len(example) != 3 or not all(isinstance(x, str) for x in example):
            raise _Wrong(f"{name}[{n}] must be (sentence, from_word, to_word), three strings")
        sentence, source, target = example
        tokens = tokenizer.tokenize(sentence)
        for word in (source, target):
            if word not in tokens:
                raise _Wrong(
                    f"in {name}[{n}], {word!r} is not one token of the sentence (its tokens: "
                    f"{' '.join(tokens)}); pick words the tokenizer keeps whole, spelled as it "
                    "spells them"
                )
        out.append((sentence, source, target))
    return out


@_experiment(
    "02.1",
    "A head for a relation you choose",
    2,
    "link_weights",
    RELATION_CHOICES,
    inputs=("CHOOSE", "HELD_OUT"),
)
def check_relation_head(
    link_weights: Callable[..., Any], prediction: str, choose: Any = None, held_out: Any = None
) -> str:
    """Exercise 02.1: ``link_weights(model, tokenizer, examples)`` → ``(layers, heads)``, each
    head's mean attention weight from ``from_word`` to ``to_word``; checked against the course's
    reference on section 6's sentences, then the best head on the learner's ``CHOOSE`` is read
    on ``HELD_OUT``: does it put over twice a uniform share on the relation there?"""
    tokenizer, model, name = _course(_encoder)
    choose = _examples(choose, "CHOOSE", MIN_CHOOSE, tokenizer)
    held_out = _examples(held_out, "HELD_OUT", MIN_HELD_OUT, tokenizer)
    shape = (model.config.num_hidden_layers, model.config.num_attention_heads)
    for examples, where in ((_CHECK_LINKS, "on section 6's sentences"), (choose, "on CHOOSE")):
        got = _array(_call(link_weights, model, tokenizer, list(examples), when=where))
        _shape(got, shape, f"your result {where} (layers, heads)")
        ref = _link_reference(model, tokenizer, examples)
        if np.allclose(got, ref["right"], atol=1e-5):
            continue
        why = _match(
            got,
            {
                "it reads the weight from to_word to from_word; a row of attention is a query, "
                "so the weight from word i to word j is attn[i, j]": ref["swapped"],
                "the positions are one token off: the model's input starts with [CLS], so find "
                "the words among the tokens of the input ids, not of tokenizer.tokenize": ref[
                    "shifted"
                ],
                "it adds the examples up; average them, so that the score does not grow with "
                "the number of sentences": ref["summed"],
            },
            lambda a, b: np.allclose(a, b, atol=1e-5),
        )
        raise _Wrong(why or f"your weights {where} differ from the mean weight from word to word")
    chosen = _link_reference(model, tokenizer, choose)["right"]
    layer, head = (int(x) for x in np.unravel_index(chosen.argmax(), chosen.shape))
    there = _link_reference(model, tokenizer, held_out)["right"][layer, head]
    uniform = float(np.mean([1 / len(tokenizer(s)["input_ids"]) for s, _, _ in held_out]))
    outcome = "yes" if there > 2 * uniform else "no"
    why = (
        "the head carries your relation to sentences it was not chosen on, as section 6's "
        "head carries verb -> subject"
        if outcome == "yes"
        else "the head may have fitted something of your CHOOSE sentences (a position, a word) "
        "more than the relation; more varied sentences, or another relation, may find one that "
        "holds"
    )
    gaps = []
    for sentence, source, target in held_out:
        tokens = tokenizer.tokenize(sentence)
        gaps.append(tokens.index(target) - tokens.index(source))
    if len(set(gaps)) == 1:
        why += (
            f". Careful: in every HELD_OUT sentence {ordinal(gaps[0])}, so a head that just "
            "looks that far along scores as well; vary the distance to tell the two apart, as "
            "section 6 chose sentences where the nearest noun is not the subject"
        )
    return (
        f"your weights match the reference on section 6's sentences and on CHOOSE "
        f"({short_name(name)}). Head L{layer}-H{head}, best on your {len(choose)} CHOOSE "
        f"sentences, puts {there:.2f} on the relation in HELD_OUT (uniform share "
        f"{uniform:.2f}). Over twice uniform? {outcome}. {_held(prediction, outcome)}. Why: {why}"
    )


@_exercise("02.2", "Perplexity of a padded batch", 2, "perplexity")
def check_perplexity(perplexity: Callable[..., Any]) -> str:
    """Exercise 02.2: ``perplexity(logits, targets)`` for a padded batch, logits ``(B, T, V)``
    and targets ``(B, T)`` with ``-100`` on padding: ``exp`` of the mean cross-entropy over the
    real target tokens (each token counts once, whatever its sentence's length)."""
    gen = torch.Generator().manual_seed(6)
    logits = torch.randn(3, 8, 20, generator=gen) * 2
    targets = torch.randint(0, 20, (3, 8), generator=gen)
    targets[0, 5:] = -100  # three sentences of 5, 8 and 2 tokens
    targets[2, 2:] = -100
    flat = torch.zeros(2, 4, 7)
    flat_targets = torch.tensor([[0, 3, 6, -100], [2, 2, -100, -100]])
    for x, y in ((logits, targets), (flat, flat_targets)):
        where = f"for logits {tuple(x.shape)}"
        got = _float(_call(perplexity, x.clone(), y.clone(), when=where))
        real = y != -100
        nll = -torch.log_softmax(x.double(), -1).gather(-1, y.clamp_min(0)[..., None])[..., 0]
        expected = nll[real].mean().exp().item()
        if math.isclose(got, expected, rel_tol=1e-5):
            continue
        per_sentence = (nll * real).sum(1) / real.sum(1)
        why = _match(
            got,
            {
                "it averages each sentence's loss and then the sentences, so a 2-token "
                "sentence weighs as much as an 8-token one; average over all real tokens": (
                    per_sentence.mean().exp().item()
                ),
                "it averages the sentences' perplexities; exponentiate the mean loss over all "
                "real tokens": per_sentence.exp().mean().item(),
                "the padding positions (-100) are counted; leave them out": nll.mean().exp().item(),
                "this is the cross-entropy; perplexity is its exponential": nll[real].mean().item(),
                "it raises 2, not e, to a loss in nats": (2 ** nll[real].mean()).item(),
            },
            lambda a, b: math.isclose(a, b, rel_tol=1e-5),
        )
        uniform = " (all logits equal: perplexity is the vocabulary size)" if not x.any() else ""
        raise _Wrong(why or f"wrong perplexity {where}{uniform}")
    return (
        "exp(mean cross-entropy over the real tokens) on a padded batch of 5, 8 and 2 tokens; "
        "the vocabulary size (7) for uniform logits"
    )


_MIN_P_BASE = np.log(np.array([0.4, 0.25, 0.15, 0.1, 0.06, 0.04]))
_MIN_P_CASES = ((1.0, 0.3), (2.0, 0.45), (0.7, 0.2))  # (temperature, min_p), no token near a cut
_MIN_P_DRAWS = 2000


def _min_p(logits: np.ndarray, min_p: float, temperature: float, *, absolute: bool = False):
    """The min-p distribution: tokens with probability >= ``min_p`` x the top one's, renormalised
    (``absolute``: >= ``min_p`` itself, a typical mistake)."""
    p = _softmax(logits / temperature)
    keep = p >= (min_p if absolute else min_p * p.max())
    keep[p.argmax()] = True
    q = np.where(keep, p, 0.0)
    return q / q.sum()


@_exercise("02.3", "Min-p sampling with a temperature", 3, "sample_min_p")
def check_sample_min_p(sample_min_p: Callable[..., Any]) -> str:
    """Exercise 02.3: ``sample_min_p(logits, min_p, temperature, generator)`` draws one token
    id among those at least ``min_p`` times as likely as the most likely token; checked
    statistically (2,000 draws per setting) on a fixed distribution."""
    logits = torch.tensor(_MIN_P_BASE, dtype=torch.float32)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(7)
        for case, (t, min_p) in enumerate(_MIN_P_CASES):
            gen = torch.Generator().manual_seed(100 + case)
            draws = []
            for _ in range(_MIN_P_DRAWS):
                token = _call(
                    sample_min_p, logits.clone(), min_p, t, gen, when=f"at T={t}, min_p={min_p}"
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
            expected = _min_p(_MIN_P_BASE, min_p, t)
            setting = f"at temperature {t}, min_p {min_p},"
            outside = [j for j in range(len(freq)) if freq[j] > 0 and expected[j] == 0]
            missing = [j for j in range(len(freq)) if freq[j] == 0 and expected[j] > 0]
            tv = 0.5 * np.abs(freq - expected).sum()
            if not outside and not missing and tv <= 0.06:
                continue
            variants = {
                "your temperature seems to multiply the logits; it divides them": _min_p(
                    _MIN_P_BASE, min_p, 1 / t
                ),
                "your sampler seems to ignore the temperature": _min_p(_MIN_P_BASE, min_p, 1.0),
                "your threshold seems to be min_p itself; min-p keeps the tokens at least min_p "
                "times as likely as the most likely one": _min_p(
                    _MIN_P_BASE, min_p, t, absolute=True
                ),
                "the kept tokens seem to be drawn uniformly; keep their relative probabilities": (
                    expected > 0
                )
                / (expected > 0).sum(),
                "there seems to be no min-p filtering": _softmax(_MIN_P_BASE / t),
                "it always picks the most likely token": np.eye(len(freq))[0],
            }
            tvs = {why: 0.5 * np.abs(freq - q).sum() for why, q in variants.items()}
            why = min(tvs, key=tvs.get)
            hint = f": {why}" if tvs[why] < 0.04 else ""
            if outside:
                raise _Wrong(
                    f"{setting} you drew token {outside[0]}, which min-p should have cut{hint}"
                )
            if missing:
                raise _Wrong(
                    f"{setting} token {missing[0]} was never drawn, but min-p keeps it{hint}"
                )
            raise _Wrong(
                f"{setting} your draws' frequencies are far from the min-p distribution "
                f"(total variation {tv:.2f}){hint}"
            )
    return (
        f"{_MIN_P_DRAWS} draws at each of 3 (temperature, min_p) settings: only the tokens "
        "min-p keeps, with their renormalised probabilities"
    )
