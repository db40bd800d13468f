"""course_utils.classification.train: one loop for heads and fine-tuning, resume, data parallel, bad
input."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from safetensors.torch import load_file, save_file
from tiny_models import tiny_bert, toy_reviews

from course_utils.classification import train as train_mod
from course_utils.classification.checkpoint import CheckpointError
from course_utils.classification.classifier import (
    ClassificationData,
    LinearHead,
    TextClassifier,
    set_trainable_blocks,
)
from course_utils.classification.train import TrainConfig, fit, predict_proba, run_key


def toy_data(folder: Path, n_train: int = 96, n_val: int = 32):
    tokenizer, encoder = tiny_bert(folder)
    texts, labels = toy_reviews(n_train + n_val)
    train = ClassificationData.from_texts(texts[:n_train], labels[:n_train], tokenizer)
    val = ClassificationData.from_texts(texts[n_train:], labels[n_train:], tokenizer)
    return encoder, train, val


def new_classifier(folder: Path) -> TextClassifier:
    """The same freshly initialised classifier every call (the tiny encoder is seeded)."""
    _, encoder = tiny_bert(folder)
    torch.manual_seed(1)
    return TextClassifier(encoder, pooling="mean", dropout=0.0)


CONFIG = TrainConfig(epochs=3, lr=3e-3, batch_size=8, patience=None, warmup_ratio=0.1)


def test_head_on_features_learns_a_separable_problem() -> None:
    gen = np.random.default_rng(0)
    x = gen.normal(size=(200, 5))
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).astype(int)
    train = ClassificationData.from_features(x[:150], y[:150])
    val = ClassificationData.from_features(x[150:], y[150:])
    result = fit(LinearHead(5), train, val, TrainConfig(epochs=20, lr=0.05, batch_size=16),
                 device="cpu", progress=False)  # fmt: skip
    assert result.best_auc > 0.98
    assert len(result.history) <= 20 and result.history[0]["epoch"] == 1
    assert result.history[result.best_epoch - 1]["val_auc"] == result.best_auc


def test_fine_tuning_a_tiny_model_learns_the_toy_task(tmp_path: Path) -> None:
    _, train, val = toy_data(tmp_path / "m")
    model = new_classifier(tmp_path / "m")
    result = fit(model, train, val, TrainConfig(epochs=4, lr=3e-3, batch_size=8),
                 device="cpu", progress=False)  # fmt: skip
    assert result.best_auc >= 0.95
    probs = predict_proba(model, val, progress=False)
    assert probs.shape == (len(val), 2)
    np.testing.assert_allclose(probs.sum(1), 1.0, atol=1e-6)
    # the best epoch's weights were restored: predicting again gives its validation AUC
    from course_utils.classification.evaluate import classification_metrics

    assert classification_metrics(val.labels.numpy(), probs)["auc"] == pytest.approx(
        result.best_auc
    )


def test_batches_are_length_bucketed_deterministic_and_cover_every_example(tmp_path) -> None:
    _, train, _ = toy_data(tmp_path / "m", n_train=400)
    first = train.batches(8, shuffle=True, seed=3, epoch=1)
    again = train.batches(8, shuffle=True, seed=3, epoch=1)
    other = train.batches(8, shuffle=True, seed=3, epoch=2)
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
    assert not all(np.array_equal(a, b) for a, b in zip(first, other, strict=True))
    assert sorted(np.concatenate(first).tolist()) == list(range(400))
    padding = sum(train.lengths[b].max() * len(b) - train.lengths[b].sum() for b in first)
    rng = np.random.default_rng(0)
    random = np.split(rng.permutation(400), range(8, 400, 8))
    random_padding = sum(train.lengths[b].max() * len(b) - train.lengths[b].sum() for b in random)
    assert padding < 0.5 * random_padding


def test_interrupted_run_resumes_to_the_same_result(tmp_path: Path, monkeypatch) -> None:
    _, train, val = toy_data(tmp_path / "m")
    reference = new_classifier(tmp_path / "m")
    expected = fit(reference, train, val, CONFIG, device="cpu", progress=False,
                   checkpoint_dir=tmp_path / "uninterrupted")  # fmt: skip

    real_predict = train_mod.predict_proba
    calls = []

    def crash_in_epoch_two(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt  # the machine goes away during epoch 2
        return real_predict(*args, **kwargs)

    monkeypatch.setattr(train_mod, "predict_proba", crash_in_epoch_two)
    with pytest.raises(KeyboardInterrupt):
        fit(new_classifier(tmp_path / "m"), train, val, CONFIG, device="cpu", progress=False,
            checkpoint_dir=tmp_path / "run")  # fmt: skip
    monkeypatch.setattr(train_mod, "predict_proba", real_predict)
    torch.manual_seed(123)  # a resumed run must not depend on the RNG state it starts with
    resumed_model = new_classifier(tmp_path / "m")
    resumed = fit(resumed_model, train, val, CONFIG, device="cpu", progress=False,
                  checkpoint_dir=tmp_path / "run")  # fmt: skip
    assert resumed.history == expected.history
    assert resumed.best_epoch == expected.best_epoch
    for key, value in reference.state_dict().items():
        torch.testing.assert_close(resumed_model.state_dict()[key], value, rtol=0, atol=0)
    best = f"best-e{expected.best_epoch}.safetensors"
    assert {p.name for p in (tmp_path / "run").iterdir()} == {
        "checkpoint.json", "model-e3.safetensors", best, "state-e3.pt",
    }  # fmt: skip


def test_resume_refuses_a_checkpoint_of_other_settings(tmp_path: Path) -> None:
    _, train, val = toy_data(tmp_path / "m")
    fit(new_classifier(tmp_path / "m"), train, val, replace(CONFIG, epochs=1), device="cpu",
        progress=False, checkpoint_dir=tmp_path / "run")  # fmt: skip
    with pytest.raises(CheckpointError, match=r"other settings.*'lr': \(0.003, 0.01\)"):
        fit(new_classifier(tmp_path / "m"), train, val, replace(CONFIG, epochs=1, lr=0.01),
            device="cpu", progress=False, checkpoint_dir=tmp_path / "run")  # fmt: skip


def test_a_damaged_checkpoint_is_refused_not_loaded(tmp_path: Path) -> None:
    _, train, val = toy_data(tmp_path / "m")
    config = replace(CONFIG, epochs=1)
    fit(new_classifier(tmp_path / "m"), train, val, config, device="cpu", progress=False,
        checkpoint_dir=tmp_path / "run")  # fmt: skip
    weights = tmp_path / "run" / "model-e1.safetensors"
    weights.write_bytes(weights.read_bytes()[:-10])  # truncated after the manifest was written
    with pytest.raises(CheckpointError, match="does not match its checksum"):
        fit(new_classifier(tmp_path / "m"), train, val, config, device="cpu", progress=False,
            checkpoint_dir=tmp_path / "run")  # fmt: skip


def _ddp_worker(rank: int, world: int, folder: str, init_file: str) -> None:
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank,
                            world_size=world)  # fmt: skip
    torch.set_num_threads(1)
    try:
        _, train, val = toy_data(Path(folder) / "m")
        model = new_classifier(Path(folder) / "m")
        fit(model, train, val, CONFIG, device="cpu", progress=False)
        if rank == 0:
            save_file(model.state_dict(), str(Path(folder) / "ddp.safetensors"))
    finally:
        dist.destroy_process_group()


def test_two_processes_match_one(tmp_path: Path) -> None:
    _, train, val = toy_data(tmp_path / "m")
    single = new_classifier(tmp_path / "m")
    fit(single, train, val, CONFIG, device="cpu", progress=False)
    mp.spawn(_ddp_worker, args=(2, str(tmp_path), str(tmp_path / "init")), nprocs=2)
    parallel = load_file(str(tmp_path / "ddp.safetensors"))
    moved = 0.0
    for key, value in single.state_dict().items():
        torch.testing.assert_close(parallel[key], value, rtol=1e-4, atol=1e-4)
        moved = max(moved, float((value - new_classifier(tmp_path / "m").state_dict()[key])
                                 .abs().max()))  # fmt: skip
    assert moved > 1e-2  # training really changed the weights, so the match means something


def test_top_blocks_only_leaves_the_rest_unchanged(tmp_path: Path) -> None:
    _, train, val = toy_data(tmp_path / "m")
    model = new_classifier(tmp_path / "m")
    before = {k: v.clone() for k, v in model.state_dict().items()}
    trainable = set_trainable_blocks(model, 1)
    assert trainable == sum(p.numel() for p in model.encoder.encoder.layer[1].parameters()) + 66
    fit(model, train, val, TrainConfig(epochs=1, lr=1e-2, batch_size=8), device="cpu",
        progress=False)  # fmt: skip
    after = model.state_dict()
    assert torch.equal(after["encoder.encoder.layer.0.output.dense.weight"],
                       before["encoder.encoder.layer.0.output.dense.weight"])  # fmt: skip
    assert torch.equal(after["encoder.embeddings.word_embeddings.weight"],
                       before["encoder.embeddings.word_embeddings.weight"])  # fmt: skip
    assert not torch.equal(after["encoder.encoder.layer.1.output.dense.weight"],
                           before["encoder.encoder.layer.1.output.dense.weight"])  # fmt: skip
    with pytest.raises(ValueError, match="between 0 and 2"):
        set_trainable_blocks(model, 3)


def test_bad_input_is_a_clear_error(tmp_path: Path) -> None:
    tokenizer, encoder = tiny_bert(tmp_path / "m")
    with pytest.raises(ValueError, match="empty"):
        ClassificationData.from_texts(["good", ""], [1, 0], tokenizer)
    with pytest.raises(ValueError, match="dataset is empty"):
        ClassificationData.from_texts([], [], tokenizer)
    with pytest.raises(ValueError, match="outside the classes 0..1"):
        ClassificationData.from_texts(["good", "bad"], [1, 2], tokenizer)
    with pytest.raises(ValueError, match="one per example"):
        ClassificationData.from_texts(["good", "bad"], [1], tokenizer)
    with pytest.raises(ValueError, match="NaN"):
        ClassificationData.from_features(np.array([[0.0, np.nan]]), [1])
    one_class = ClassificationData.from_texts(["good", "great"], [1, 1], tokenizer)
    val = ClassificationData.from_texts(["good", "bad"], [1, 0], tokenizer)
    with pytest.raises(ValueError, match="single class"):
        fit(TextClassifier(encoder), one_class, val, device="cpu", progress=False)
    head = LinearHead(2)
    with torch.no_grad():
        head.head.weight.fill_(float("nan"))
    data = ClassificationData.from_features(np.eye(2), [0, 1])
    with pytest.raises(FloatingPointError, match="loss became nan"):
        fit(head, data, data, device="cpu", progress=False)


def test_run_key_names_weights_data_and_settings(tmp_path: Path) -> None:
    _, train, val = toy_data(tmp_path / "m")
    key = run_key(new_classifier(tmp_path / "m"), train, val, config=CONFIG)
    assert key == run_key(new_classifier(tmp_path / "m"), train, val, config=CONFIG)
    assert len(key) == 16
    other_config = TrainConfig(epochs=4, lr=3e-3, batch_size=8, patience=None)
    assert key != run_key(new_classifier(tmp_path / "m"), train, val, config=other_config)
    assert key != run_key(new_classifier(tmp_path / "m"), val, train, config=CONFIG)
    frozen = new_classifier(tmp_path / "m")
    set_trainable_blocks(frozen, 0)
    assert key != run_key(frozen, train, val, config=CONFIG)


def test_best_searched_config_picks_the_validation_best_run_of_the_model(tmp_path: Path) -> None:
    import json

    file = tmp_path / "search.jsonl"
    rows = [
        {
            "model": "m",
            "config": {"epochs": 3, "lr": 1e-4, "batch_size": 32, "patience": 1},
            "best_val_auc": 0.91,
        },
        {
            "model": "m",
            "config": {"epochs": 2, "lr": 5e-5, "batch_size": 16, "patience": 2},
            "best_val_auc": 0.93,
        },
        {
            "model": "other",
            "config": {"epochs": 9, "lr": 1.0, "batch_size": 8, "patience": 1},
            "best_val_auc": 0.99,
        },
    ]
    file.write_text("\n".join(json.dumps(r) for r in rows) + "\n\n")
    config, runs = train_mod.best_searched_config("m", file)
    assert len(runs) == 2
    assert (config.epochs, config.lr, config.batch_size, config.patience) == (2, 5e-5, 16, 2)
    assert train_mod.best_searched_config("unknown", file) == (None, [])
    named = tmp_path / "named.jsonl"  # issue 29: a short name once found nothing, silently
    named.write_text(json.dumps({**rows[0], "model": "org/m"}) + "\n")
    assert train_mod.best_searched_config("org/m", named)[0].lr == 1e-4
    with pytest.raises(ValueError, match="recorded 'org/m', not 'm'"):
        train_mod.best_searched_config("m", named)
    with pytest.raises(FileNotFoundError, match="search_finetune.py"):
        train_mod.best_searched_config("m", tmp_path / "missing.jsonl")
    file.write_text('{"model": "m"}\n')
    with pytest.raises(ValueError, match="line 1: not a search result"):
        train_mod.best_searched_config("m", file)


def test_shards_are_never_empty() -> None:
    from course_utils.classification.train import shard

    assert [shard(np.arange(5), r, 2).tolist() for r in range(2)] == [[0, 2, 4], [1, 3]]
    assert [shard(np.array([7]), r, 3).tolist() for r in range(3)] == [[7], [7], [7]]


def test_torchrun_trains_the_notebook_head_like_one_process(tmp_path: Path, rt_folder) -> None:
    """`torchrun --nproc_per_node=2` on CPU, dropout on: the same validation AUC as one process
    within 0.005 (each rank has its own dropout stream, so the runs are not bitwise equal)."""
    import os
    import subprocess
    import sys

    from course_utils.core.data import load_from_folder
    from course_utils.core.models import load_encoder
    from course_utils.embeddings.sentence import encode

    ds = load_from_folder(rt_folder)
    tokenizer, encoder, _ = load_encoder("bundled", verbose=False)
    picks = {"train": np.r_[0:600, 4265:4865], "validation": np.arange(len(ds["validation"]))}
    arrays = {}
    for split, key in (("train", "train"), ("validation", "val")):
        rows = ds[split].select(picks[split])
        arrays[f"x_{key}"] = encode(list(rows["text"]), encoder, tokenizer, progress=False)
        arrays[f"y_{key}"] = np.array(rows["label"])
    np.savez(tmp_path / "features.npz", **arrays)
    script = str(Path(__file__).with_name("ddp_head.py"))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    runs = {}
    for world in (1, 2):
        out = tmp_path / f"world{world}.json"
        launcher = ["-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={world}"]
        cmd = [sys.executable, *(launcher if world > 1 else []), script,
               str(tmp_path / "features.npz"), str(out)]  # fmt: skip
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr[-3000:]
        runs[world] = json.loads(out.read_text())
    assert runs[2]["world"] == 2 and len(runs[2]["history"]) == len(runs[1]["history"])
    assert runs[1]["best_auc"] > 0.8  # the head really learned the task
    one, two = runs[1]["best_auc"], runs[2]["best_auc"]
    print(f"validation AUC: 1 process {one:.4f}, 2 processes {two:.4f}")
    assert abs(runs[2]["best_auc"] - runs[1]["best_auc"]) <= 0.005, runs


def _separable(seed: int = 0):
    gen = np.random.default_rng(seed)
    x = gen.normal(size=(200, 5)).astype(np.float32)
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).astype(int)
    return (ClassificationData.from_features(x[:150], y[:150]),
            ClassificationData.from_features(x[150:], y[150:]))  # fmt: skip


def test_mixed_precision_changes_nothing_on_the_cpu() -> None:
    train, val = _separable()
    weights = []
    for amp in (False, True):
        torch.manual_seed(0)
        head = LinearHead(5)
        fit(head, train, val, TrainConfig(epochs=3, lr=0.05, batch_size=16, mixed_precision=amp),
            device="cpu", progress=False)  # fmt: skip
        weights.append(head.state_dict())
    for name, tensor in weights[0].items():
        assert torch.equal(tensor, weights[1][name]), name


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_the_reduced_precision_paths_train(monkeypatch: pytest.MonkeyPatch, dtype) -> None:
    """What CUDA runs (autocast; fp16 with a gradient scaler), exercised through CPU autocast."""
    monkeypatch.setattr(train_mod, "autocast_dtype", lambda device: dtype)
    scaled = []
    real_scaler = torch.amp.GradScaler

    def spy(*args, **kwargs):
        scaler = real_scaler(*args, **kwargs)
        scaled.append(scaler.is_enabled())
        return scaler

    monkeypatch.setattr(torch.amp, "GradScaler", spy)
    train, val = _separable()
    torch.manual_seed(0)
    result = fit(LinearHead(5), train, val, TrainConfig(epochs=15, lr=0.05, batch_size=16),
                 device="cpu", progress=False)  # fmt: skip
    assert scaled == [dtype == torch.float16]  # the scaler only for fp16
    assert result.best_auc > 0.95
    assert all(np.isfinite(h["train_loss"]) for h in result.history)
