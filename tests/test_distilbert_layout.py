"""course_utils.core.distilbert_layout: the bundled MiniLM as a real-weights DistilBertModel."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from transformers import DistilBertModel

from course_utils.classification.classifier import (
    TextClassifier,
    encoder_blocks,
    set_trainable_blocks,
)
from course_utils.core import distilbert_layout as dl
from course_utils.core.models import bundled_model_path, load_encoder, resolve_encoder
from course_utils.transformer.bert import BertEncoder
from course_utils.views import attention as av
from course_utils.views import neuron as nv

TEXTS = [
    "The animal didn't cross the street because it was too tired.",
    "A gripping, funny and beautifully acted film.",
    "Naïve, über-long: 退屈な映画",
    "ok",
]


@pytest.fixture(scope="module")
def converted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import os

    os.environ["COURSE_CACHE_DIR"] = str(tmp_path_factory.mktemp("cache"))
    try:
        yield dl.distilbert_layout_path()
    finally:
        os.environ.pop("COURSE_CACHE_DIR")


def test_same_hidden_states_as_the_bundled_bert(converted: Path) -> None:
    tok_b, bert, _ = load_encoder("bundled", verbose=False)
    tok_d, distil, name = load_encoder(str(converted), verbose=False)
    assert isinstance(distil, DistilBertModel) and type(tok_d).__name__.startswith("DistilBert")
    enc_b = tok_b(TEXTS, padding=True, return_tensors="pt")
    enc_d = tok_d(TEXTS, padding=True, return_tensors="pt")
    assert "token_type_ids" not in enc_d  # DistilBERT has no segments
    assert torch.equal(enc_b["input_ids"], enc_d["input_ids"])
    with torch.no_grad():
        expected = bert(**enc_b).last_hidden_state
        got = distil(**enc_d).last_hidden_state
    real = enc_b["attention_mask"].bool()
    assert (got - expected)[real].abs().max().item() <= 1e-5


def test_named_for_what_it_is_and_selected_by_course_model(converted, monkeypatch) -> None:
    monkeypatch.setenv("COURSE_MODEL", "distilbert-layout")
    choice = resolve_encoder()
    assert choice.name == dl.NAME and choice.source == "converted"
    assert Path(choice.location) == converted
    assert "not DistilBERT" in choice.describe()
    assert json.loads((converted / "config.json").read_text())["model_type"] == "distilbert"


def test_written_once_and_rebuilt_when_stale(converted: Path) -> None:
    weights = converted / "model.safetensors"
    before = weights.stat().st_mtime_ns
    assert dl.distilbert_layout_path() == converted and weights.stat().st_mtime_ns == before
    (converted / "converted.json").write_text(json.dumps({"digest": "stale"}))
    assert dl.distilbert_layout_path() == converted
    assert json.loads((converted / "converted.json").read_text())["digest"] != "stale"
    assert not list(converted.parent.glob(".*.tmp"))


def test_sentence_transformers_gives_the_bundled_embeddings(converted: Path) -> None:
    from sentence_transformers import SentenceTransformer

    ours = SentenceTransformer(str(converted), device="cpu").encode(TEXTS)
    theirs = SentenceTransformer(str(bundled_model_path()), device="cpu").encode(TEXTS)
    np.testing.assert_allclose(ours, theirs, atol=1e-5)


def test_the_course_reads_it_through_its_distilbert_paths(converted: Path) -> None:
    """BertEncoder's DistilBERT renames, the neuron view and top-block fine-tuning."""
    scratch = BertEncoder.from_pretrained(converted)
    tok, distil, _ = load_encoder(str(converted), attentions=True, verbose=False)
    enc = tok(TEXTS[:2], padding=True, return_tensors="pt")
    with torch.no_grad():
        expected = distil(**enc, output_attentions=True)
        got = scratch(enc["input_ids"], enc["attention_mask"], output_attentions=True)
    real = enc["attention_mask"].bool()
    assert (got.last_hidden_state - expected.last_hidden_state)[real].abs().max() <= 1e-5

    neuron_model, neuron_tok = nv.load_neuron_view_model(converted)
    reference = av.extract_attention(distil, tok, TEXTS[0], decimals=None).stacked()
    np.testing.assert_allclose(nv.neuron_attention(neuron_model, neuron_tok, TEXTS[0]), reference,
                               atol=1e-5)  # fmt: skip

    classifier = TextClassifier(distil, pooling="mean")
    assert len(encoder_blocks(distil)) == 6
    assert set_trainable_blocks(classifier, 2) > 0
    trainable = {n.split(".")[2] for n, p in distil.named_parameters()
                 if p.requires_grad and n.startswith("transformer.layer.")}  # fmt: skip
    assert trainable == {"4", "5"}


def test_an_unknown_weight_is_refused() -> None:
    state = {"embeddings.token_type_embeddings.weight": torch.zeros(2, 4),
             "encoder.layer.0.attention.self.rotary.weight": torch.zeros(4)}  # fmt: skip
    with pytest.raises(ValueError, match="no DistilBERT counterpart"):
        dl.to_distilbert_state_dict(state)
