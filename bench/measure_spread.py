"""How far the notebooks' stochastic results move between seeds and numerical environments.

For every quantity that a notebook makes a claim about (``course_utils.tooling.stability.BOUNDS``),
this runs the notebook's computation in a fresh process for each seed and each profile:

* ``native``: this machine's defaults (all cores, the best CPU kernels);
* ``perturbed``: ``course_utils.tooling.stability.PERTURBED_ENV`` (one thread, AVX2 kernels in
  PyTorch, OpenBLAS's Haswell kernels), as on another CPU.

Each profile gets its own cold embedding cache, so embeddings are recomputed under it. One JSON
line per run is appended to ``course_utils/results/spread.jsonl`` (package data: the notebooks
show it with ``stability.spread_table``); ``tests/test_stability.py`` checks every bound
against it.

    python bench/measure_spread.py --parts 00 02 03 04 --seeds 42 0 1
    python bench/measure_spread.py --parts 05 --seeds 42 0 --profiles perturbed
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from record import append_jsonl  # bench/record.py, beside this script

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "course_utils" / "results" / "spread.jsonl"  # package data: notebooks read it
NOTEBOOKS = {
    "00": "00_llm_overview",
    "02": "02_bertviz_attention",
    "03": "03_contextual_embeddings",
    "04": "04_bertopic_rotten_tomatoes",
    "05": "05_classification_finetuning",
}


# ------------------------------------------------------------------ one run per process
def _corpus():
    import numpy as np

    from course_utils.core.data import load_rotten_tomatoes

    rt = load_rotten_tomatoes()
    texts = [t for split in ("train", "validation", "test") for t in rt[split]["text"]]
    labels = np.array([y for split in ("train", "validation", "test") for y in rt[split]["label"]])
    return rt, texts, labels


def part_00(seed: int) -> dict[str, float]:
    """Notebook 00: logistic regression on mean-pooled embeddings; three new reviews."""
    from sklearn.linear_model import LogisticRegression

    from course_utils.classification.evaluate import classification_metrics
    from course_utils.core.models import load_encoder
    from course_utils.embeddings.sentence import encode

    rt, texts, labels = _corpus()
    tokenizer, model, _ = load_encoder(verbose=False)
    emb = encode(texts, model, tokenizer, pooling="mean", progress=False)
    n_train, n_test = rt["train"].num_rows, rt["test"].num_rows
    clf = LogisticRegression(max_iter=2000).fit(emb[:n_train], labels[:n_train])
    metrics = classification_metrics(labels[-n_test:], clf.predict_proba(emb[-n_test:])[:, 1])
    reviews = ["an absolute delight from start to finish .", "i wanted my two hours back ."]
    p_pos = clf.predict_proba(encode(reviews, model, tokenizer, cache=False, progress=False))[:, 1]
    return {
        "classify_test_accuracy": metrics["accuracy"],
        "classify_test_auc": metrics["auc"],
        "p_pos_delight": float(p_pos[0]),
        "p_pos_two_hours_back": float(p_pos[1]),
    }


def part_02(seed: int) -> dict[str, float]:
    """Notebook 02: TinyGPT's validation perplexity against the unigram baseline."""
    from course_utils.core.models import load_encoder
    from course_utils.decoder import training as dt

    rt, _, _ = _corpus()
    tokenizer, _, _ = load_encoder(verbose=False)
    train, val = rt["train"]["text"], rt["validation"]["text"]
    settings = dt.TrainSettings(seed=seed)
    gpt = dt.train_tiny_decoder(
        train, tokenizer, val, settings=settings, cache=False, progress=False
    )
    unigram = dt.unigram_baseline(gpt, tokenizer, train, val)
    return {
        "val_perplexity": gpt.history.val_perplexity,
        "val_perplexity_ratio": gpt.history.val_perplexity / unigram,
    }


def part_03(seed: int) -> dict[str, float]:
    """Notebook 03: 2-D maps of the embeddings and clusters of the UMAP map."""
    os.environ["NUMBA_NUM_THREADS"] = "1"  # as the notebook, before numba is imported
    import torch
    from threadpoolctl import threadpool_limits

    from course_utils.core.models import load_encoder
    from course_utils.embeddings import clustering as cl
    from course_utils.embeddings import reduction as rd
    from course_utils.embeddings.sentence import encode

    _, texts, labels = _corpus()
    tokenizer, model, _ = load_encoder(verbose=False)
    x = encode(texts, model, tokenizer, pooling="mean", normalize=True, progress=False)
    threadpool_limits(1)
    torch.set_num_threads(1)
    sample = rd.stratified_sample(labels, 2000, random_state=seed)
    maps, table = rd.compare_reductions(x, labels, sample, random_state=seed, progress=False)
    _, clusters = cl.compare_clusterings(
        maps["UMAP"].embedding, labels, random_state=seed, progress=False
    )
    values = rd.comparison_claims(table)
    values |= {f"probe_acc {name}": float(acc) for name, acc in table["probe_acc"].items()}
    values |= {
        "max_abs_ari": float(clusters["ari"].abs().max()),
        "dbscan_clusters": float(clusters.loc["dbscan", "n_clusters"]),
        "hdbscan_clusters": float(clusters.loc["hdbscan", "n_clusters"]),
    }
    return values


NEW_SENTENCES = {  # notebook 04, "Save, load, predict": sentence -> a word its topic should have
    "a genuinely frightening ghost story that kept me awake all night .": "horror",
    "the kids in the audience loved every minute , and so did their parents .": "kids",
    "a warm documentary portrait of a forgotten jazz musician .": "music",
    "i laughed so hard at the jokes that i missed half the dialogue .": "laugh",
}


def part_04(seed: int) -> dict[str, float]:
    """Notebook 04: BERTopic with its defaults, then the tuned model (KeyBERT/MMR aspects
    left out: they do not change the c-TF-IDF topics the claims are about)."""
    import numpy as np

    from course_utils.topics import outliers as topic_outliers
    from course_utils.topics import pipeline as topics
    from course_utils.topics import plots as topic_plots
    from course_utils.topics import store as topic_store

    _, docs, labels = _corpus()
    emb_model = topics.load_embedding_model(None, verbose=False)
    embeddings = topics.embed_documents(docs, emb_model, progress=False)
    knn = topics.nearest_neighbours(embeddings, k=15)
    baseline = topics.build_topic_model(emb_model.sentence_model, knn=knn, random_state=seed)
    default = topics.topic_summary(baseline.fit_transform(docs, embeddings)[0])
    sweep = topic_outliers.cluster_sweep(
        baseline.umap_model.embedding_, [25, 50, 100], [None, 5], ["eom"]
    )
    final = topics.build_topic_model(
        emb_model.sentence_model, knn=knn, min_cluster_size=50, min_samples=5,
        selection="leaf", calculate_probabilities=True, random_state=seed,
    )  # fmt: skip
    clustered, _ = final.fit_transform(docs, embeddings)
    own = topic_outliers.similarity_to_own_topic(final, embeddings, clustered)
    threshold = float(np.round(np.percentile(own, 10), 3))
    assigned = topic_outliers.reassign_outliers(final, docs, clustered, embeddings, threshold)
    summary = topics.topic_summary(assigned)
    names = topic_plots.topic_labels(final)
    leaning = topics.sentiment_by_topic(assigned, labels, min_size=50)
    leaning = leaning.drop(index=-1, errors="ignore")
    with tempfile.TemporaryDirectory() as folder:
        topic_store.save_topic_model(final, Path(folder) / "model", embedding_model="spread")
        loaded = topic_store.load_topic_model(Path(folder) / "model", emb_model.sentence_model)
        new = list(NEW_SENTENCES)
        new_emb = topics.embed_documents(new, emb_model, cache=False, progress=False)
        predicted, _ = loaded.transform(new, embeddings=new_emb)
    on_topic = sum(
        word in names[int(t)] for t, word in zip(predicted, NEW_SENTENCES.values(), strict=True)
    )
    return {
        "default_topics": float(default["topics"]),
        "default_outlier_share": float(default["outlier_share"]),
        "eom_collapse_largest_share": float(sweep["largest_share"].max()),
        "final_topics": float(summary["topics"]),
        "final_outlier_share": float(summary["outlier_share"]),
        "most_positive_topic_share": float(leaning["positive_share"].iloc[0]),
        "most_negative_topic_share": float(leaning["positive_share"].iloc[-1]),
        "topic_sentiment_range": float(
            leaning["positive_share"].iloc[0] - leaning["positive_share"].iloc[-1]
        ),
        "new_sentences_on_topic": float(on_topic),
    }


def part_05(seed: int) -> dict[str, float]:
    """Notebook 05: the frozen head it chose (mean pooling of layers 0-6, logistic regression
    C=0.001 or a calibrated RBF SVM, whichever wins on validation), the PyTorch linear head on
    the same features, the top 2 blocks trained for an epoch, and full fine-tuning with the
    searched settings; ``seed`` replaces the notebook's 42."""
    from dataclasses import replace

    import numpy as np
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.frozen import FrozenEstimator
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    from course_utils.classification.classifier import (
        ClassificationData,
        LinearHead,
        TextClassifier,
        set_trainable_blocks,
    )
    from course_utils.classification.evaluate import classification_metrics
    from course_utils.classification.train import (
        FROZEN_HEAD_CONFIG,
        best_searched_config,
        fit,
        predict_proba,
        run_key,
    )
    from course_utils.core.models import load_encoder
    from course_utils.core.notebook import seed_everything
    from course_utils.core.paths import course_subdir
    from course_utils.embeddings.sentence import encode

    rt, _, _ = _corpus()
    y = {split: np.array(rt[split]["label"]) for split in rt}
    tokenizer, encoder, name = load_encoder(verbose=False)
    layers = range(encoder.config.num_hidden_layers + 1)
    x = {s: encode(rt[s]["text"], encoder, tokenizer, pooling="mean", layers=layers, progress=False)
         for s in rt}  # fmt: skip
    linear = make_pipeline(StandardScaler(), LogisticRegression(C=0.001, max_iter=2000))
    linear.fit(x["train"], y["train"])
    svm = make_pipeline(StandardScaler(), SVC(C=1.0)).fit(x["train"], y["train"])
    svm = CalibratedClassifierCV(FrozenEstimator(svm), method="sigmoid")
    svm.fit(x["validation"], y["validation"])
    heads = {"linear": linear, "svm": svm}
    val_auc = {
        k: classification_metrics(y["validation"], h.predict_proba(x["validation"]))["auc"]
        for k, h in heads.items()
    }
    frozen = heads[max(val_auc, key=val_auc.get)]
    frozen_auc = classification_metrics(y["test"], frozen.predict_proba(x["test"]))["auc"]

    scaler = StandardScaler().fit(x["train"])
    head_data = {s: ClassificationData.from_features(scaler.transform(x[s]), y[s]) for s in rt}
    seed_everything(seed)
    head = LinearHead(x["train"].shape[1])
    head_config = replace(FROZEN_HEAD_CONFIG, seed=seed)
    head_run = fit(head, head_data["train"], head_data["validation"], head_config, device="cpu",
                   progress=False)  # fmt: skip
    head_probs = predict_proba(head, head_data["test"], progress=False)
    head_auc = classification_metrics(y["test"], head_probs)

    config, _ = best_searched_config(name)
    config = replace(config, seed=seed)
    data = {s: ClassificationData.from_texts(rt[s]["text"], y[s], tokenizer) for s in rt}
    runs = {}
    for what, top, run_config in (
        ("top2", 2, replace(config, epochs=1, patience=1)),
        ("all", None, config),
    ):
        _, ft_encoder, _ = load_encoder(verbose=False)
        seed_everything(seed)
        model = TextClassifier(ft_encoder, pooling="mean")
        set_trainable_blocks(model, top)
        folder = course_subdir("runs") / run_key(
            model, data["train"], data["validation"], config=run_config
        )
        runs[what] = fit(model, data["train"], data["validation"], run_config, device="cpu",
                         checkpoint_dir=folder, progress=False)  # fmt: skip
    probs = predict_proba(model, data["test"], progress=False)
    ft_auc = classification_metrics(y["test"], probs)["auc"]
    return {
        "frozen_test_auc": frozen_auc,
        "torch_head_test_auc": head_auc["auc"],
        "finetuned_test_auc": ft_auc,
        "finetune_gain_test_auc": ft_auc - frozen_auc,
        "top2_gain_val_auc": runs["top2"].best_auc - head_run.best_auc,
    }


PARTS = {"00": part_00, "02": part_02, "03": part_03, "04": part_04, "05": part_05}


# --------------------------------------------------------------------- the driver
def profile_env(profile: str, cache_root: Path) -> dict[str, str]:
    """The environment of one run: the profile's variables and its own embedding cache."""
    from course_utils.tooling.stability import PERTURBED_ENV

    env = {k: v for k, v in os.environ.items() if k not in PERTURBED_ENV}
    if profile == "perturbed":
        env |= PERTURBED_ENV
    elif profile != "native":
        raise ValueError(f"unknown profile {profile!r}: native or perturbed")
    env["COURSE_CACHE_DIR"] = str(cache_root / profile / "cache")
    env.setdefault("HF_HUB_OFFLINE", "1")
    return env


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", nargs="+", default=["00", "02", "03", "04"], choices=PARTS)
    parser.add_argument("--seeds", type=int, nargs="+", default=[42, 0, 1])
    parser.add_argument("--profiles", nargs="+", default=["native", "perturbed"])
    parser.add_argument("--cache-root", type=Path, default=ROOT / "build" / "spread")
    parser.add_argument("--worker", choices=PARTS, help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.worker:  # one run: print its values as the last line
        print(json.dumps(PARTS[args.worker](args.seed)))
        return

    for part in args.parts:
        for profile in args.profiles:
            for seed in args.seeds:
                start = time.perf_counter()
                done = subprocess.run(
                    [sys.executable, __file__, "--worker", part, "--seed", str(seed)],
                    env=profile_env(profile, args.cache_root),
                    capture_output=True,
                    text=True,
                    cwd=ROOT,
                )
                if done.returncode != 0:
                    sys.exit(f"part {part}, {profile}, seed {seed} failed:\n{done.stderr[-3000:]}")
                row = {
                    "date": date.today().isoformat(),
                    "notebook": NOTEBOOKS[part],
                    "seed": seed,
                    "profile": profile,
                    "values": json.loads(done.stdout.strip().splitlines()[-1]),
                    "wall_s": round(time.perf_counter() - start, 1),
                }
                append_jsonl(RESULTS, row)


if __name__ == "__main__":
    main()
