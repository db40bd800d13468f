"""course_utils.transformer.seq2seq: the encoder-decoder reverser's data, training loop and
decoding."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from course_utils.transformer import seq2seq as s2s

TINY = s2s.Seq2SeqConfig(d_model=32, num_heads=2, layers=1, d_ff=64, steps=150, batch_size=32)


def test_batches_pair_each_source_with_its_reverse() -> None:
    src, tgt_in, tgt_out = s2s.make_batch(np.random.default_rng(0), 8, s2s.Seq2SeqConfig())
    for s, i, o in zip(src.tolist(), tgt_in.tolist(), tgt_out.tolist(), strict=True):
        digits = [t for t in s if t != s2s.PAD]
        n = len(digits)
        assert o[: n + 1] == [*digits[::-1], s2s.EOS] and i[: n + 1] == [s2s.BOS, *digits[::-1]]
        assert set(o[n + 1 :]) <= {s2s.PAD}


@pytest.mark.usefixtures("one_thread")
def test_training_learns_and_decoding_is_checked() -> None:
    model, history = s2s.train_reverser(TINY, progress=False)
    assert np.mean(history.loss[-20:]) < 0.8 * np.mean(history.loss[:20])  # from ln 13
    again, _ = s2s.train_reverser(TINY, progress=False)  # seeded: the same model
    for a, b in zip(model.parameters(), again.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    out, weights = s2s.reverse(model, "3141")
    assert out.isdigit() or out == ""
    assert weights.shape[1] == 4 and np.allclose(weights.sum(1), 1.0, atol=1e-5)
    share, chance = s2s.alignment(model, n=10)
    assert 0.0 <= share <= 1.0 and 1 / TINY.max_len <= chance <= 1 / TINY.min_len
    for bad in ("", "12a", "1" * (TINY.max_len + 1)):
        with pytest.raises(ValueError):
            s2s.reverse(model, bad)
