"""The from-scratch blocks against torch.nn, and BertEncoder against the pretrained MiniLM."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest
import torch
from tiny_models import tiny_bert, tiny_bert_config, tiny_distilbert
from torch import nn

from course_utils.core.models import bundled_model_path
from course_utils.embeddings.sentence import pool
from course_utils.transformer.bert import BertConfig, BertEncoder
from course_utils.transformer.blocks import (
    DecoderBlock,
    EncoderBlock,
    MultiHeadAttention,
    Transformer,
    convert_torch_state_dict,
    merge_masks,
)
from course_utils.transformer.positional import SinusoidalPositionalEncoding, sinusoidal_encoding

ATOL = 1e-5
SENTENCES = [
    "A gripping, beautifully shot film.",
    "the plot is thin, but the acting carries it -- mostly.",
    "Dull.",
    "It's the kind of movie you forget before the credits finish rolling, and that's a shame "
    "given its cast.",
]


def _copy(ours: nn.Module, theirs: nn.Module) -> None:
    ours.load_state_dict(convert_torch_state_dict(theirs.state_dict()))


def _lengths_mask(lengths: list[int], size: int) -> torch.Tensor:
    """(batch, size) True for real tokens."""
    return torch.arange(size) < torch.tensor(lengths)[:, None]


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def test_multihead_self_attention_matches_torch_with_masks():
    theirs = nn.MultiheadAttention(16, 4, batch_first=True)
    ours = MultiHeadAttention(16, 4)
    _copy(ours, theirs)
    x = torch.randn(3, 6, 16)
    keep = _lengths_mask([6, 4, 2], 6)
    allowed = torch.rand(6, 6) > 0.3
    allowed |= torch.eye(6, dtype=torch.bool)
    expected, expected_w = theirs(
        x, x, x, key_padding_mask=~keep, attn_mask=~allowed, average_attn_weights=False
    )
    got, weights = ours(x, attn_mask=allowed, padding_mask=keep, need_weights=True)
    torch.testing.assert_close(got, expected, atol=ATOL, rtol=0)
    torch.testing.assert_close(weights, expected_w, atol=ATOL, rtol=0)
    assert weights.shape == (3, 4, 6, 6)


def test_multihead_cross_attention_with_other_key_dims_matches_torch():
    theirs = nn.MultiheadAttention(12, 3, kdim=5, vdim=7, batch_first=True)
    ours = MultiHeadAttention(12, 3, kdim=5, vdim=7)
    _copy(ours, theirs)
    q, k, v = torch.randn(2, 4, 12), torch.randn(2, 9, 5), torch.randn(2, 9, 7)
    float_mask = torch.randn(2 * 3, 4, 9)  # torch's (batch * heads, L, S) layout
    expected, _ = theirs(q, k, v, attn_mask=float_mask)
    got, no_weights = ours(q, k, v, attn_mask=float_mask.view(2, 3, 4, 9))
    torch.testing.assert_close(got, expected, atol=ATOL, rtol=0)
    assert no_weights is None


def test_causal_self_attention_matches_torch_and_returns_causal_weights():
    theirs = nn.MultiheadAttention(8, 2, batch_first=True)
    ours = MultiHeadAttention(8, 2)
    _copy(ours, theirs)
    x = torch.randn(2, 5, 8)
    expected, _ = theirs(x, x, x, attn_mask=nn.Transformer.generate_square_subsequent_mask(5))
    got, weights = ours(x, is_causal=True, need_weights=True)
    torch.testing.assert_close(got, expected, atol=ATOL, rtol=0)
    assert torch.equal(weights[0, 0] > 0, torch.ones(5, 5, dtype=torch.bool).tril())


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("activation", ["relu", "gelu"])
def test_encoder_block_matches_torch_layer_values_and_gradients(norm_first, activation):
    kwargs = {"dropout": 0.0, "activation": activation, "norm_first": norm_first}
    theirs = nn.TransformerEncoderLayer(16, 4, 32, batch_first=True, **kwargs)
    ours = EncoderBlock(16, 4, 32, **kwargs)
    _copy(ours, theirs)
    x = torch.randn(3, 7, 16, requires_grad=True)
    keep = _lengths_mask([7, 5, 3], 7)
    expected = theirs(x, src_key_padding_mask=~keep)
    got, _ = ours(x, padding_mask=keep)
    torch.testing.assert_close(got, expected, atol=ATOL, rtol=0)
    grad_out = torch.randn_like(got)
    (ours_grad,) = torch.autograd.grad(got, x, grad_out)
    (their_grad,) = torch.autograd.grad(expected, x, grad_out)
    torch.testing.assert_close(ours_grad, their_grad, atol=ATOL, rtol=0)


@pytest.mark.parametrize("norm_first", [False, True])
def test_decoder_block_matches_torch_layer(norm_first):
    theirs = nn.TransformerDecoderLayer(16, 4, 32, 0.0, batch_first=True, norm_first=norm_first)
    ours = DecoderBlock(16, 4, 32, 0.0, norm_first=norm_first)
    _copy(ours, theirs)
    tgt, memory = torch.randn(2, 5, 16), torch.randn(2, 8, 16)
    memory_keep = _lengths_mask([8, 6], 8)
    expected = theirs(
        tgt,
        memory,
        tgt_mask=nn.Transformer.generate_square_subsequent_mask(5),
        tgt_is_causal=True,
        memory_key_padding_mask=~memory_keep,
    )
    got, cross = ours(
        tgt, memory, tgt_is_causal=True, memory_padding_mask=memory_keep, need_weights=True
    )
    torch.testing.assert_close(got, expected, atol=ATOL, rtol=0)
    assert cross.shape == (2, 4, 5, 8)
    assert torch.all(cross[1, :, :, 6:] == 0)  # padded memory positions get no weight


def test_transformer_matches_torch_transformer():
    theirs = nn.Transformer(16, 4, 2, 2, 32, dropout=0.0, batch_first=True)
    ours = Transformer(16, 4, 2, 2, 32, dropout=0.0)
    _copy(ours, theirs)
    src, tgt = torch.randn(2, 7, 16), torch.randn(2, 5, 16)
    src_keep, tgt_keep = _lengths_mask([7, 4], 7), _lengths_mask([5, 3], 5)
    expected = theirs(
        src,
        tgt,
        tgt_mask=torch.ones(5, 5, dtype=torch.bool).triu(1),  # torch: True = may NOT attend
        src_key_padding_mask=~src_keep,
        tgt_key_padding_mask=~tgt_keep,
        memory_key_padding_mask=~src_keep,
        tgt_is_causal=True,
    )
    got = ours(
        src,
        tgt,
        src_padding_mask=src_keep,
        tgt_padding_mask=tgt_keep,
        memory_padding_mask=src_keep,
        tgt_is_causal=True,
    )
    torch.testing.assert_close(got, expected, atol=ATOL, rtol=0)


def test_merge_masks_combines_float_bool_and_causal():
    float_mask = torch.randn(3, 3)
    keep = torch.tensor([[True, True, False]])
    merged = merge_masks(float_mask, keep, True, 3, 3, torch.device("cpu"))
    allowed = torch.ones(3, 3, dtype=torch.bool).tril() & keep[0]
    expected = float_mask.masked_fill(~allowed, -math.inf)
    assert torch.equal(merged[0, 0], expected)
    assert merge_masks(None, None, False, 3, 3, torch.device("cpu")) is None


def test_wrong_arguments_raise_clear_errors():
    with pytest.raises(ValueError, match="divisible by num_heads"):
        MultiHeadAttention(10, 3)
    attn = MultiHeadAttention(8, 2)
    with pytest.raises(ValueError, match="padding_mask must be"):
        attn(torch.zeros(2, 4, 8), padding_mask=torch.ones(2, 5))
    with pytest.raises(ValueError, match=r"\(batch, seq, features\)"):
        attn(torch.zeros(4, 8))
    with pytest.raises(ValueError, match="query has 6 features, expected 8"):
        attn(torch.zeros(2, 4, 6))
    with pytest.raises(ValueError, match="key and value must share batch and length"):
        attn(torch.zeros(2, 4, 8), torch.zeros(2, 5, 8), torch.zeros(2, 3, 8))
    with pytest.raises(ValueError, match="attn_mask must be"):
        attn(torch.zeros(2, 4, 8), attn_mask=torch.ones(4, dtype=torch.bool))
    with pytest.raises(ValueError, match="activation must be one of"):
        EncoderBlock(8, 2, 16, activation="swish")


def test_sinusoidal_encoding_matches_the_formula():
    table = sinusoidal_encoding(50, 8)
    for pos in (0, 1, 17, 49):
        for i in range(4):
            angle = pos / 10000 ** (2 * i / 8)
            assert table[pos, 2 * i].item() == pytest.approx(math.sin(angle), abs=1e-6)
            assert table[pos, 2 * i + 1].item() == pytest.approx(math.cos(angle), abs=1e-6)
    x = torch.randn(2, 5, 8)
    torch.testing.assert_close(SinusoidalPositionalEncoding(8, max_len=10)(x), x + table[:5])
    with pytest.raises(ValueError, match="even"):
        sinusoidal_encoding(10, 7)
    with pytest.raises(ValueError, match="exceeds max_len"):
        SinusoidalPositionalEncoding(8, max_len=4)(x)


@pytest.fixture(scope="module")
def minilm():
    """The bundled all-MiniLM-L6-v2: its folder, our encoder, tokenized sentences."""
    from transformers import AutoTokenizer

    path = bundled_model_path()
    tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
    batch = tokenizer(SENTENCES, padding=True, return_tensors="pt")
    return path, BertEncoder.from_pretrained(path), batch


def test_bert_encoder_reproduces_hugging_face_hidden_states_and_attentions(minilm):
    from transformers import AutoModel

    path, ours, batch = minilm
    assert not batch["attention_mask"].all()  # the batch has padding
    hf = AutoModel.from_pretrained(
        str(path), use_safetensors=True, local_files_only=True, attn_implementation="eager"
    ).eval()
    with torch.inference_mode():
        expected = hf(**batch, output_attentions=True)
        got = ours(**batch, output_attentions=True)
    assert (got.last_hidden_state - expected.last_hidden_state).abs().max() <= 1e-4
    assert len(got.attentions) == hf.config.num_hidden_layers
    for mine, theirs in zip(got.attentions, expected.attentions, strict=True):
        assert mine.shape == (len(SENTENCES), 12, batch["input_ids"].size(1), mine.size(-1))
        torch.testing.assert_close(mine, theirs, atol=1e-5, rtol=0)


def test_bert_encoder_mean_pooled_embeddings_match_sentence_transformers(minilm):
    from sentence_transformers import SentenceTransformer

    path, ours, batch = minilm
    reference = SentenceTransformer(str(path), device="cpu").encode(
        SENTENCES, convert_to_tensor=True
    )
    with torch.inference_mode():
        hidden = ours(batch["input_ids"], batch["attention_mask"]).last_hidden_state
    cosine = torch.cosine_similarity(pool(hidden, batch["attention_mask"]), reference, dim=-1)
    assert cosine.min() >= 0.99999


def test_from_pretrained_needs_safetensors(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(FileNotFoundError, match="model.safetensors"):
        BertEncoder.from_pretrained(tmp_path)


# --- the common BERT checkpoint layouts -------------------------------------------------------


def _round_trip(folder: Path, hf_encoder, batch) -> BertEncoder:
    """Load ``folder`` with BertEncoder and check it reproduces ``hf_encoder``'s hidden states."""
    ours = BertEncoder.from_pretrained(folder)
    with torch.inference_mode():
        expected = hf_encoder(**batch).last_hidden_state
        got = ours(batch["input_ids"], batch["attention_mask"]).last_hidden_state
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=0)
    return ours


def _toy_batch(tokenizer):
    return tokenizer(["the film is good .", "a very bad movie and plot ."], padding=True,
                     return_tensors="pt", return_token_type_ids=False)  # fmt: skip


def test_from_pretrained_reads_a_bert_checkpoint_with_prefix_and_task_heads(tmp_path: Path):
    from transformers import BertForPreTraining

    tokenizer, _ = tiny_bert(tmp_path / "base")
    torch.manual_seed(3)
    pretraining = BertForPreTraining(tiny_bert_config(hidden_dropout_prob=0.0)).eval()
    pretraining.save_pretrained(tmp_path / "pretraining")
    ours = _round_trip(tmp_path / "pretraining", pretraining.bert, _toy_batch(tokenizer))
    assert any(n.startswith("cls.predictions") for n in ours.ignored_weights)
    assert "cls.seq_relationship.weight" in ours.ignored_weights


def test_from_pretrained_reads_gamma_beta_layer_norm_names(tmp_path: Path):
    from safetensors.torch import load_file, save_file

    tokenizer, hf = tiny_bert(tmp_path / "m")
    weights = tmp_path / "m" / "model.safetensors"
    old_names = {r"LayerNorm\.weight$": "LayerNorm.gamma", r"LayerNorm\.bias$": "LayerNorm.beta"}
    renamed = {}
    for name, tensor in load_file(str(weights)).items():
        for pattern, replacement in old_names.items():
            name = re.sub(pattern, replacement, name)
        renamed[name] = tensor
    assert any(k.endswith(".gamma") for k in renamed)
    save_file({f"bert.{k}": v.contiguous() for k, v in renamed.items()}, str(weights))
    _round_trip(tmp_path / "m", hf, _toy_batch(tokenizer))


def test_from_pretrained_reads_distilbert(tmp_path: Path):
    tokenizer, hf = tiny_distilbert(tmp_path / "d")
    ours = _round_trip(tmp_path / "d", hf, _toy_batch(tokenizer))
    assert ours.config.type_vocab_size == 1 and ours.ignored_weights == []


def test_unsupported_variants_are_refused_by_name(tmp_path: Path):
    (tmp_path / "config.json").write_text('{"model_type": "roberta", "vocab_size": 5}')
    with pytest.raises(ValueError, match="'roberta' is not 'bert'"):
        BertConfig.from_json(tmp_path / "config.json")
