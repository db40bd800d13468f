"""course_utils.embeddings.sentence: pooling, order, equality with sentence-transformers, the
cache."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from tiny_models import tiny_bert

from course_utils.core.models import bundled_model_path, load_encoder
from course_utils.embeddings.sentence import default_cache_dir, encode, model_fingerprint

SENTENCES = [
    "A gripping, beautifully acted film.",
    "The plot is thin and the jokes fall flat.",
    "Not bad at all.",
    "an utterly forgettable two hours , with one great scene .",
    "Oh great, another sequel nobody asked for.",
]


@pytest.fixture
def tiny(tmp_path: Path):
    return tiny_bert(tmp_path / "tiny")


def test_matches_sentence_transformers_on_the_bundled_model(tmp_path: Path) -> None:
    from sentence_transformers import SentenceTransformer

    tokenizer, model, _ = load_encoder("bundled", verbose=False)
    ours = encode(SENTENCES, model, tokenizer, normalize=True, cache_dir=tmp_path, progress=False)
    st = SentenceTransformer(str(bundled_model_path()), device="cpu")
    theirs = st.encode(SENTENCES, normalize_embeddings=True)
    assert ours.shape == theirs.shape == (5, 384)
    assert ours.dtype == np.float32
    assert (ours * theirs).sum(1).min() >= 0.9999
    np.testing.assert_allclose(ours, theirs, atol=2e-5)


def test_rows_in_input_order_and_pooling_matches_a_direct_call(tiny, tmp_path: Path) -> None:
    tokenizer, model = tiny
    texts = ["the film is good .", "bad", "a very very very long movie and plot", "great !"]
    for pooling in ("mean", "cls", "max"):
        batched = encode(texts, model, tokenizer, pooling=pooling, batch_size=2, cache=False,
                         progress=False)  # fmt: skip
        for i, text in enumerate(texts):
            enc = tokenizer([text], return_tensors="pt")
            with torch.no_grad():
                hidden = model(**enc).last_hidden_state[0]
            expected = {"mean": hidden.mean(0), "cls": hidden[0], "max": hidden.amax(0)}[pooling]
            np.testing.assert_allclose(batched[i], expected.numpy(), atol=1e-5)


def test_layers_are_concatenated_and_normalize_gives_unit_rows(tiny) -> None:
    tokenizer, model = tiny
    texts = ["the film is good .", "bad plot"]
    last = encode(texts, model, tokenizer, cache=False, progress=False)
    mixed = encode(texts, model, tokenizer, layers=[0, -1], cache=False, progress=False)
    assert mixed.shape == (2, 64)
    np.testing.assert_allclose(mixed[:, 32:], last, atol=1e-6)
    unit = encode(texts, model, tokenizer, normalize=True, cache=False, progress=False)
    np.testing.assert_allclose(np.linalg.norm(unit, axis=1), 1.0, atol=1e-6)


def test_cache_hit_returns_the_same_array_without_running_the_model(tiny, tmp_path) -> None:
    tokenizer, model = tiny
    texts = ["the film is good .", "bad plot", "great"]
    first = encode(texts, model, tokenizer, cache_dir=tmp_path, progress=False)
    assert len(list(tmp_path.glob("*.npy"))) == 1
    calls = []
    model.register_forward_hook(lambda *args: calls.append(1))
    again = encode(texts, model, tokenizer, cache_dir=tmp_path, progress=False)
    assert calls == []
    np.testing.assert_array_equal(again, first)
    # a different pooling, text list or weights is a different entry (and runs the model)
    encode(texts, model, tokenizer, pooling="cls", cache_dir=tmp_path, progress=False)
    encode(texts[:2], model, tokenizer, cache_dir=tmp_path, progress=False)
    before = model_fingerprint(model)
    with torch.no_grad():
        model.pooler.dense.bias.add_(1.0)
    assert model_fingerprint(model) != before
    encode(texts, model, tokenizer, cache_dir=tmp_path, progress=False)
    assert len(calls) == 3
    assert len(list(tmp_path.glob("*.npy"))) == 4


def test_default_cache_dir_follows_the_environment(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("COURSE_CACHE_DIR", str(tmp_path))
    assert default_cache_dir() == tmp_path / "embeddings"
    monkeypatch.delenv("COURSE_CACHE_DIR")
    assert default_cache_dir() == Path.home() / ".cache" / "course_utils" / "embeddings"


def test_bad_input_is_a_clear_error(tiny) -> None:
    tokenizer, model = tiny
    with pytest.raises(ValueError, match="empty list"):
        encode([], model, tokenizer, cache=False)
    with pytest.raises(ValueError, match="index 1"):
        encode(["good", "  ", "bad"], model, tokenizer, cache=False)
    with pytest.raises(TypeError, match="single string"):
        encode("good film", model, tokenizer, cache=False)
    with pytest.raises(ValueError, match="pooling"):
        encode(["good"], model, tokenizer, pooling="median", cache=False)


def test_pool_ignores_whatever_sits_in_padded_positions() -> None:
    """Known answers on a hand-made batch: junk (1e6) in padded slots changes nothing."""
    from course_utils.embeddings.sentence import pool

    hidden = torch.tensor(
        [[[1.0, 2.0], [3.0, -4.0], [1e6, 1e6]], [[5.0, 6.0], [1e6, -1e6], [1e6, 1e6]]]
    )
    mask = torch.tensor([[1, 1, 0], [1, 0, 0]])
    torch.testing.assert_close(pool(hidden, mask, "mean"), torch.tensor([[2.0, -1.0], [5.0, 6.0]]))
    torch.testing.assert_close(pool(hidden, mask, "max"), torch.tensor([[3.0, 2.0], [5.0, 6.0]]))
    torch.testing.assert_close(pool(hidden, mask, "cls"), torch.tensor([[1.0, 2.0], [5.0, 6.0]]))
    with pytest.raises(ValueError, match="pooling must be one of"):
        pool(hidden, mask, "sum")  # type: ignore[arg-type]


def test_mixed_precision_is_off_on_the_cpu_and_keyed_when_on(tiny, tmp_path, monkeypatch) -> None:
    import course_utils.core.devices as nb

    tokenizer, model = tiny
    texts = ["the film is good .", "bad plot"]
    full = encode(texts, model, tokenizer, cache_dir=tmp_path, progress=False)
    same = encode(texts, model, tokenizer, cache_dir=tmp_path, mixed_precision=False,
                  progress=False)  # fmt: skip
    assert len(list(tmp_path.glob("*.npy"))) == 1  # on the CPU the flag changes nothing
    np.testing.assert_array_equal(full, same)
    # what CUDA does, through CPU autocast: bf16 compute, fp32 vectors, a cache file of its own
    monkeypatch.setattr(nb, "autocast_dtype", lambda device: torch.bfloat16)
    half = encode(texts, model, tokenizer, cache_dir=tmp_path, progress=False)
    assert half.dtype == np.float32 and len(list(tmp_path.glob("*.npy"))) == 2
    assert not np.array_equal(half, full)
    np.testing.assert_allclose(half, full, atol=0.1)
