"""course_utils.decoder: the tiny GPT, its training loop and cache, sampling, and the GPT-2
path (a tiny random GPT2Config, so no weights are needed)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from tiny_models import VOCAB, tiny_bert, toy_reviews
from transformers import BertTokenizerFast, GPT2Config, GPT2LMHeadModel

from course_utils.decoder import gpt2
from course_utils.decoder import model as dec
from course_utils.decoder import sampling as sp
from course_utils.decoder import training as dt
from course_utils.decoder.model import DecoderConfig, TinyGPT
from course_utils.decoder.sampling import filter_logits, generate, sample_next_token
from course_utils.decoder.training import TrainSettings


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory: pytest.TempPathFactory) -> BertTokenizerFast:
    tok, _ = tiny_bert(tmp_path_factory.mktemp("tok"))
    return tok


pytestmark = pytest.mark.usefixtures("one_thread")


def tiny_gpt(vocab: int = 12, context: int = 8, seed: int = 0) -> TinyGPT:
    torch.manual_seed(seed)
    config = DecoderConfig(vocab_size=vocab, context=context, d_model=16, n_heads=2,
                           n_layers=2, d_ff=32, dropout=0.0)  # fmt: skip
    return TinyGPT(config, torch.arange(vocab), unk_id=1, eos_id=3).eval()


# --- sampling ----------------------------------------------------------------------------


def test_top_k_never_samples_outside_the_k_largest() -> None:
    logits = torch.randn(4, 50, generator=torch.Generator().manual_seed(0))
    allowed = torch.topk(logits, 5, dim=-1).indices
    gen = torch.Generator().manual_seed(1)
    for _ in range(100):
        picked = sample_next_token(logits, temperature=2.0, top_k=5, generator=gen)
        assert all(int(p) in allowed[i].tolist() for i, p in enumerate(picked))
    assert torch.isinf(filter_logits(logits, top_k=5)).sum(-1).tolist() == [45] * 4


def test_top_p_keeps_the_smallest_nucleus() -> None:
    probs = torch.tensor([[0.5, 0.3, 0.15, 0.05]])
    logits = probs.log()
    kept = lambda p: torch.isfinite(filter_logits(logits, top_p=p))[0].tolist()  # noqa: E731
    assert kept(0.5) == [True, False, False, False]
    assert kept(0.6) == [True, True, False, False]
    assert kept(0.8) == [True, True, False, False]  # 0.5 + 0.3 reaches 0.8
    assert kept(0.81) == [True, True, True, False]
    assert kept(1.0) == [True, True, True, True]
    gen = torch.Generator().manual_seed(0)
    draws = {int(sample_next_token(logits, top_p=0.6, generator=gen)) for _ in range(300)}
    assert draws == {0, 1}


def test_top_p_is_order_independent() -> None:
    logits = torch.randn(3, 30, generator=torch.Generator().manual_seed(2))
    perm = torch.randperm(30, generator=torch.Generator().manual_seed(3))
    direct = torch.isfinite(filter_logits(logits, top_p=0.7))
    permuted = torch.isfinite(filter_logits(logits[:, perm], top_p=0.7))
    assert torch.equal(direct[:, perm], permuted)
    # reference: sort, keep while the mass before a token is below p
    for row in range(3):
        p = torch.softmax(logits[row], -1)
        order = p.argsort(descending=True)
        before = p[order].cumsum(0) - p[order]
        assert set(order[before < 0.7].tolist()) == set(direct[row].nonzero().flatten().tolist())


def test_temperature_to_zero_equals_greedy() -> None:
    logits = torch.randn(8, 40, generator=torch.Generator().manual_seed(4))
    gen = torch.Generator().manual_seed(5)
    assert torch.equal(sample_next_token(logits, temperature=0), logits.argmax(-1))
    assert torch.equal(
        sample_next_token(logits, temperature=1e-4, generator=gen), logits.argmax(-1)
    )


def test_temperature_reshapes_the_distribution() -> None:
    logits = torch.tensor([[2.0, 1.0, 0.0]])
    gen = torch.Generator().manual_seed(0)
    hot = [int(sample_next_token(logits, temperature=5.0, generator=gen)) for _ in range(2000)]
    cold = [int(sample_next_token(logits, temperature=0.2, generator=gen)) for _ in range(2000)]
    expected_hot = torch.softmax(logits / 5.0, -1)[0, 2].item()
    assert abs(hot.count(2) / 2000 - expected_hot) < 0.04
    assert cold.count(0) / 2000 > 0.98


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"temperature": -1.0}, "temperature must be >= 0"),
        ({"top_k": 0}, "top_k must be >= 1"),
        ({"top_p": 0.0}, "top_p must be in"),
        ({"top_p": 1.5}, "top_p must be in"),
    ],
)
def test_bad_sampling_arguments(kwargs, message) -> None:
    with pytest.raises(ValueError, match=message):
        sample_next_token(torch.zeros(1, 4), **kwargs)


# --- the model ---------------------------------------------------------------------------


def test_causal_model_ignores_future_tokens_and_attention_is_lower_triangular() -> None:
    model = tiny_gpt()
    x = torch.tensor([[3, 5, 6, 7, 8, 9]])
    y = x.clone()
    y[0, 4:] = torch.tensor([2, 2])
    logits_x, attn = model(x, return_attention=True)
    logits_y = model(y)
    torch.testing.assert_close(logits_x[:, :4], logits_y[:, :4])
    assert not torch.allclose(logits_x[:, 4:], logits_y[:, 4:])
    assert len(attn) == 2 and attn[0].shape == (1, 2, 6, 6)
    for a in attn:
        assert torch.all(a.triu(diagonal=1) == 0)
        torch.testing.assert_close(a.sum(-1), torch.ones(1, 2, 6))


def test_context_limit_is_enforced() -> None:
    with pytest.raises(ValueError, match="exceeds the context of 8"):
        tiny_gpt()(torch.zeros(1, 9, dtype=torch.long))


def test_training_steps_decrease_the_loss_on_a_small_batch() -> None:
    model = tiny_gpt(context=8).train()
    batch = torch.randint(0, 12, (4, 9), generator=torch.Generator().manual_seed(0))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(30):
        loss = torch.nn.functional.cross_entropy(model(batch[:, :-1]).flatten(0, 1),
                                                 batch[:, 1:].flatten())  # fmt: skip
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[0] == pytest.approx(math.log(12), abs=0.1)  # small init: near uniform
    assert losses[-1] < 0.5 * losses[0]


def test_unigram_perplexity_known_answers() -> None:
    uniform = torch.arange(10).repeat(5)
    assert dt.unigram_perplexity(uniform, uniform, 10) == pytest.approx(10.0)
    skewed = torch.tensor([0] * 98 + [1] * 2)  # add-one: p(0) = 99/102
    assert dt.unigram_perplexity(skewed, torch.tensor([0]), 2) == pytest.approx(102 / 99)


def test_build_vocab_and_mapping(tokenizer) -> None:
    stream = dec.token_stream(["the film good", "the film bad"], tokenizer)
    sep = tokenizer.sep_token_id
    assert stream.tolist()[0] == sep and stream.tolist().count(sep) == 2
    token_ids, unk_id, eos_id = dec.build_vocab(stream, tokenizer, min_count=2)
    kept = tokenizer.convert_ids_to_tokens(token_ids.tolist())
    assert set(kept) == {"the", "film", "[UNK]", "[SEP]"}  # good/bad seen once
    assert kept[unk_id] == "[UNK]" and kept[eos_id] == "[SEP]"


# --- training, cache, generation ---------------------------------------------------------


SMALL = {"context": 8, "d_model": 16, "n_heads": 2, "n_layers": 1}
SETTINGS = TrainSettings(steps=60, batch_size=8, lr=1e-2, warmup=5, eval_every=20, min_count=1)


def test_training_is_deterministic_cached_and_beats_unigram(tokenizer, tmp_path: Path) -> None:
    texts, _ = toy_reviews(200, seed=0)
    val, _ = toy_reviews(40, seed=1)
    first = dt.train_tiny_decoder(texts, tokenizer, val, **SMALL, settings=SETTINGS,
                                   cache_dir=tmp_path, progress=False)  # fmt: skip
    again = dt.train_tiny_decoder(texts, tokenizer, val, **SMALL, settings=SETTINGS,
                                   cache=False, progress=False)  # fmt: skip
    assert first.history.train_loss == again.history.train_loss  # same seed, same numbers
    assert first.history.val_steps == [20, 40, 60]
    assert not first.history.from_cache

    cached = dt.train_tiny_decoder(texts, tokenizer, val, **SMALL, settings=SETTINGS,
                                    cache_dir=tmp_path, progress=False)  # fmt: skip
    assert cached.history.from_cache
    assert cached.history.val_loss == first.history.val_loss
    assert len(list(tmp_path.glob("*.safetensors"))) == 1
    for name, tensor in first.state_dict().items():
        assert torch.equal(tensor, cached.state_dict()[name]), name
    assert cached.head.weight is cached.tok_emb.weight  # tying survives the round trip

    for kwargs in ({"temperature": 0}, {"temperature": 0.8, "top_k": 5, "seed": 3}):
        assert generate(first, tokenizer, "the film", 6, **kwargs) == generate(
            cached, tokenizer, "the film", 6, **kwargs
        )

    # the trained model beats unigram frequencies on held-out text
    train_ids = first.to_model_ids(dec.token_stream(texts, tokenizer))
    val_ids = first.to_model_ids(dec.token_stream(val, tokenizer))
    _, targets = dt._windows(val_ids, first.config.context)
    unigram = dt.unigram_perplexity(train_ids, targets.flatten(), first.config.vocab_size)
    assert first.history.val_perplexity < 0.8 * unigram
    assert dt.unigram_baseline(first, tokenizer, texts, val) == unigram  # the notebook's helper


def test_generate_is_reproducible_and_greedy_is_temperature_zero(tokenizer) -> None:
    model = tiny_gpt(vocab=len(VOCAB), context=16)
    sampled = [generate(model, tokenizer, "the film", 8, temperature=1.0, seed=s,
                        stop_at_eos=False) for s in (0, 0, 1)]  # fmt: skip
    assert sampled[0] == sampled[1]
    assert generate(model, tokenizer, "the film", 8, temperature=0, stop_at_eos=False) == generate(
        model, tokenizer, "the film", 8, temperature=1e-5, seed=9, stop_at_eos=False
    )
    assert generate(model, tokenizer, "the film", 0).startswith("the film")


def test_decoder_attention_view(tokenizer) -> None:
    model = tiny_gpt(vocab=len(VOCAB), context=16)
    view = gpt2.decoder_attention(model, tokenizer, "the film was good")
    assert view.tokens == ["[SEP]", "the", "film", "was", "good"]
    stacked = view.stacked()
    assert stacked.shape == (2, 2, 5, 5)
    assert np.all(np.triu(stacked, k=1) == 0)


def test_next_token_probs_sum_to_one(tokenizer) -> None:
    model = tiny_gpt(vocab=len(VOCAB), context=16)
    cold, tokens = sp.next_token_probs(model, tokenizer, "the film", temperature=0.2)
    hot, _ = sp.next_token_probs(model, tokenizer, "the film", temperature=1.5)
    assert len(tokens) == len(VOCAB) and tokens[5] == "the"
    assert cold.sum() == pytest.approx(1.0) and hot.sum() == pytest.approx(1.0)
    assert cold.max() > hot.max()  # lower temperature, sharper distribution


def test_text_log_prob_is_the_chain_of_next_token_probabilities(tokenizer) -> None:
    model = tiny_gpt(vocab=len(VOCAB), context=16)
    words = ["the", "film", "was", "good"]
    expected = 0.0
    for i, word in enumerate(words):
        probs, tokens = sp.next_token_probs(model, tokenizer, " ".join(words[:i]))
        expected += math.log(probs[tokens.index(word)])
    got = sp.text_log_prob(model, tokenizer, "the film was good")
    assert got == pytest.approx(expected / len(words), rel=1e-9)
    assert got < 0
    with pytest.raises(ValueError, match="no tokens"):
        sp.text_log_prob(model, tokenizer, "")


# --- GPT-2 behind the same API (tiny random config, no weights) ---------------------------


@pytest.fixture(scope="module")
def tiny_gpt2(tokenizer) -> GPT2LMHeadModel:
    torch.manual_seed(0)
    config = GPT2Config(
        vocab_size=len(VOCAB), n_positions=32, n_embd=16, n_layer=2, n_head=2,
        eos_token_id=tokenizer.sep_token_id, bos_token_id=tokenizer.sep_token_id,
        pad_token_id=tokenizer.pad_token_id, attn_implementation="eager",
    )  # fmt: skip
    return GPT2LMHeadModel(config).eval()


def test_gpt2_greedy_matches_hf_generate(tiny_gpt2, tokenizer) -> None:
    ours = generate(tiny_gpt2, tokenizer, "the film", 6, temperature=0, stop_at_eos=False)
    prompt = [tokenizer.sep_token_id, *tokenizer("the film", add_special_tokens=False)["input_ids"]]
    with torch.no_grad():
        ref = tiny_gpt2.generate(
            torch.tensor([prompt]), max_new_tokens=6, min_new_tokens=6, do_sample=False,
            attention_mask=torch.ones(1, len(prompt), dtype=torch.long),
        )  # fmt: skip
    assert ours == tokenizer.decode(ref[0, 1:].tolist(), skip_special_tokens=True)


def test_gpt2_sampling_and_attention(tiny_gpt2, tokenizer) -> None:
    a = generate(tiny_gpt2, tokenizer, "the film", 5, temperature=0.9, top_p=0.9, seed=1)
    assert a == generate(tiny_gpt2, tokenizer, "the film", 5, temperature=0.9, top_p=0.9, seed=1)
    view = gpt2.decoder_attention(tiny_gpt2, tokenizer, "the film")
    assert view.tokens == ["[SEP]", "the", "film"]
    assert np.all(np.triu(view.stacked(), k=1) == 0)
    probs, tokens = sp.next_token_probs(tiny_gpt2, tokenizer, "the film")
    assert probs.shape == (len(VOCAB),) and tokens == VOCAB


def test_the_decoder_refuses_a_device_it_cannot_use(tokenizer) -> None:
    texts, _ = toy_reviews(50, seed=0)
    bad = "cuda:99" if torch.cuda.is_available() else "cuda"
    with pytest.raises(ValueError, match="cannot use it here"):
        dt.train_tiny_decoder(texts, tokenizer, texts, **SMALL, settings=SETTINGS, device=bad,
                               cache=False, progress=False)  # fmt: skip


def test_sampling_follows_the_model_to_its_device(tokenizer) -> None:
    """Inputs go where the weights are; sampling and results come back to the CPU."""
    model = tiny_gpt(vocab=len(VOCAB), context=8)
    model.token_ids = torch.arange(len(VOCAB))
    seen = []
    model.register_forward_pre_hook(lambda m, args: seen.append(args[0].device))
    text = generate(model, tokenizer, "the film", 4, temperature=0.7, seed=0)
    probs, tokens = sp.next_token_probs(model, tokenizer, "the film")
    assert isinstance(text, str) and probs.shape == (len(tokens),)
    assert seen and all(d == next(model.parameters()).device for d in seen)


def test_bigram_reference_prefers_text_like_its_corpus(tokenizer) -> None:
    corpus = ["the film is good", "the film is bad", "a good film", "the plot is bad"]
    reference = sp.BigramReference(corpus, tokenizer)
    typical = reference.log_prob("the film is good")
    shuffled = reference.log_prob("good is film the")
    assert typical > shuffled  # seen bigrams score higher than unseen ones
    assert typical < 0 and reference.log_prob("the film is good") == typical
    with pytest.raises(ValueError, match="no tokens"):
        reference.log_prob("  ")
    with pytest.raises(ValueError, match="at least one token"):
        sp.BigramReference(["", " "], tokenizer)
